"""Nakada et al. (AISTATS 2023), §5.3 proxy: semi-supervised CLIP with pseudo-paired data on two modalities that
share only the class. Re-exported by :mod:`mmcl_core.experiments.nakada2023`; the project's notes:
docs/papers/nakada2023.md.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_real, check_seeds
from ..data.pairings import class_paired_modalities

__all__ = ["SEMI_PAIR_RULES", "semi_supervised_proxy", "semi_supervised_study", "semi_lookup"]


def _class_retrieval(enc_a, enc_b, split) -> float:
    """For each A item, the class of its most similar B item (cosine) against its own class."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        za = F.normalize(enc_a(torch.as_tensor(split["a"])), dim=1)
        zb = F.normalize(enc_b(torch.as_tensor(split["b"])), dim=1)
        pred = split["labels"][(za @ zb.T).argmax(1).numpy()]
    return float(np.mean(pred == split["labels"]))


SEMI_PAIR_RULES = ("argmax", "mutual", "transposed")


def semi_supervised_proxy(seed: int = 0, *, paired_epochs: int = 100, unpaired_epochs: int = 60,
                          loop_epochs: int = 5, paired_lr: float = 2e-3, unpaired_lr: float = 2e-4,
                          batch_size: int = 64, refresh_factor: float = 1.1, pair_rule: str = "argmax",
                          data: dict | None = None) -> dict:
    """One seed, one pseudo-pair rule of :func:`semi_supervised_study` (the same arguments).

    Returns:
        dict with per-epoch test accuracy curves ``paired`` (paired_epochs,), ``semi`` and ``oracle``
        (unpaired_epochs,), their maxima ``paired_max``, ``semi_max``, ``oracle_max``, ``teacher_repeat``
        (mean fraction of batch items the teacher's column argmax selects more than once), ``refreshes``, and
        ``precision`` (unpaired_epochs,): per epoch, the fraction of used pseudo pairs whose classes match.
    """
    common, rules = _semi_supervised_runs(seed, (pair_rule,), paired_epochs=paired_epochs,
                                          unpaired_epochs=unpaired_epochs, loop_epochs=loop_epochs,
                                          paired_lr=paired_lr, unpaired_lr=unpaired_lr, batch_size=batch_size,
                                          refresh_factor=refresh_factor, data=data)
    return {**common, **rules[pair_rule]}


def semi_supervised_study(seeds=(0, 1, 2, 3, 4), pair_rules=SEMI_PAIR_RULES, **kwargs) -> dict:
    """Paired-only, semi-supervised (one run per pseudo-pair rule) and oracle curves over seeds, on the proxy.

    Phase 1: symmetric CLIP (cosine, tau = 1) on the paired split. Then, from that model, either the
    semi-supervised phase — unpaired batches whose pseudo pairs come from a frozen teacher's logits; after every
    ``loop_epochs`` epochs the student replaces the teacher if its validation accuracy exceeds ``refresh_factor``
    times the best so far — or the oracle phase, the same epochs with the true (class) pairs. ``unpaired_lr`` is
    10x the official 2e-5 because the proxy's unpaired pool is ~50x smaller (a documented deviation).

    Pseudo-pair rules (``pair_rule``):
        ``"argmax"``: clean indexing — each B column is paired with the teacher's best A row and each A row with
            its best B column (the pairs the teacher already ranks first).
        ``"mutual"``: only pairs that are each other's argmax (a confidence filter).
        ``"transposed"``: the official code's index quirk — A row j is paired with B item ``best_row[j]``. Batches
            hold class-aligned pairs in hidden positions, so this pair is a *fresh* same-class pair exactly when the
            teacher is right: it uses the hidden alignment and is not a pure unpaired method.

    Reproduces: Nakada et al. 2023, §5.3 (docs/papers/nakada2023.md) on a digits proxy
    (:func:`class_paired_modalities`).

    Args:
        seeds: seeds of the data split, the towers and the batch orders.
        pair_rules: rules from ``SEMI_PAIR_RULES`` (each trains its own student from the same phase-1 model,
            on the same batch order).
        **kwargs: the keyword arguments of :func:`semi_supervised_proxy` other than ``pair_rule``.

    Returns:
        dict with ``seeds``, ``paired`` (S, paired_epochs), ``oracle`` (S, unpaired_epochs), ``paired_max`` and
        ``oracle_max`` (S,), and ``rules``: rule -> {``semi`` (S, unpaired_epochs), ``semi_max`` (S,), ``precision``
        (S, unpaired_epochs), ``teacher_repeat`` (S,), ``refreshes`` (S,)}.
    """
    seeds = check_seeds(seeds)
    runs = [_semi_supervised_runs(s, tuple(pair_rules), **kwargs) for s in seeds]
    out = {"seeds": seeds, **{k: np.stack([np.asarray(c[k]) for c, _ in runs])
                              for k in ("paired", "oracle", "paired_max", "oracle_max")}}
    out["rules"] = {rule: {k: np.stack([np.asarray(r[rule][k]) for _, r in runs])
                           for k in ("semi", "semi_max", "precision", "teacher_repeat", "refreshes")}
                    for rule in pair_rules}
    return out


def semi_lookup(study: dict, pair_rule: str = "argmax") -> dict:
    """The E3 widget: the curves of one pseudo-pair rule from a :func:`semi_supervised_study` result.

    Returns:
        dict with ``paired``, ``semi``, ``oracle`` (S, epochs), ``precision``, their seed-mean maxima and ``pair_rule``.
    """
    rule = study["rules"][check_choice("pair_rule", pair_rule, tuple(study["rules"]))]
    return {"paired": study["paired"], "semi": rule["semi"], "oracle": study["oracle"], "precision": rule["precision"],
            "paired_max": float(study["paired"].mean(0).max()), "semi_max": float(rule["semi"].mean(0).max()),
            "oracle_max": float(study["oracle"].mean(0).max()), "pair_rule": pair_rule}


def _semi_supervised_runs(seed: int, pair_rules: tuple, *, paired_epochs: int = 100, unpaired_epochs: int = 60,
                          loop_epochs: int = 5, paired_lr: float = 2e-3, unpaired_lr: float = 2e-4,
                          batch_size: int = 64, refresh_factor: float = 1.1, data: dict | None = None):
    """One seed of :func:`semi_supervised_study`: phase 1, the oracle phase, and one semi phase per rule.

    Reproduces: Nakada et al. 2023, §5.3 (docs/papers/nakada2023.md) on a digits proxy.

    Returns:
        ``(common, rules)``: common = {``paired``, ``oracle`` curves, ``paired_max``, ``oracle_max``}; rules = rule ->
        {``semi`` curve, ``semi_max``, ``precision`` per epoch, ``teacher_repeat``, ``refreshes``}.
    """
    import copy

    from ..models import make_tower

    seed = check_int("seed", seed, low=0)
    for rule in pair_rules:
        check_choice("pair_rule", rule, SEMI_PAIR_RULES)
    schedule = dict(seed=seed, batch_size=check_int("batch_size", batch_size, low=2),
                    loop_epochs=check_int("loop_epochs", loop_epochs, low=1),
                    refresh_factor=check_real("refresh_factor", refresh_factor, low=0.0, low_open=True))
    paired_epochs = check_int("paired_epochs", paired_epochs, low=1)
    unpaired_epochs = check_int("unpaired_epochs", unpaired_epochs, low=1)
    paired_lr = check_real("paired_lr", paired_lr, low=0.0, low_open=True)
    unpaired_lr = check_real("unpaired_lr", unpaired_lr, low=0.0, low_open=True)
    data = data if data is not None else class_paired_modalities(seed)
    models = (make_tower(16, 16, hidden_dim=16, seed=seed, device="cpu"),
              make_tower(16, 16, hidden_dim=16, seed=seed + 1, device="cpu"))
    paired_curve = _semi_epochs(models, data["paired"], data["test"], paired_epochs, paired_lr, 0, **schedule)[0]
    start = copy.deepcopy(models)
    oracle_curve = _semi_epochs(copy.deepcopy(start), data["unpaired"], data["test"], unpaired_epochs, unpaired_lr, 2,
                                **schedule)[0]
    common = {"paired": np.array(paired_curve), "oracle": np.array(oracle_curve),
              "paired_max": float(max(paired_curve)), "oracle_max": float(max(oracle_curve))}
    rules = {}
    for rule in pair_rules:
        curve, repeats, precision, refreshes = _semi_epochs(
            copy.deepcopy(start), data["unpaired"], data["test"], unpaired_epochs, unpaired_lr, 1, pair_rule=rule,
            teacher=copy.deepcopy(start), val=data["val"], **schedule)
        rules[rule] = {"semi": np.array(curve), "semi_max": float(max(curve)), "precision": np.array(precision),
                       "teacher_repeat": float(np.mean(repeats)), "refreshes": refreshes}
    return common, rules


def _logits(model_a, model_b, a, b):
    import torch.nn.functional as F

    return F.normalize(model_a(a), dim=1) @ F.normalize(model_b(b), dim=1).T  # tau = 1


def _semi_epochs(models, split, test, epochs, lr, phase, *, seed, batch_size, loop_epochs, refresh_factor,
                 pair_rule=None, teacher=None, val=None):
    """Train ``models`` on ``split``: on its true pairs, or (``teacher`` given) on the teacher's pseudo pairs by
    ``pair_rule``, the teacher replaced by a copy of the student whenever the student beats it on ``val`` by
    ``refresh_factor`` (checked every ``loop_epochs``). Returns the test curve, the teacher's repeat rates, the
    pseudo-pair precision per epoch and the number of refreshes."""
    import copy

    import torch

    from ..losses import clip_loss

    gen = torch.Generator().manual_seed(seed * 10 + phase)  # every rule sees the same batch order
    opt = torch.optim.AdamW([p for m in models for p in m.parameters()], lr=lr)
    a_all, b_all, split_labels = (torch.as_tensor(split[k]) for k in ("a", "b", "labels"))
    best = _class_retrieval(*teacher, val) if teacher is not None else None
    curve, repeats, precision, refreshes = [], [], [], 0
    for epoch in range(epochs):
        hits = []
        order = torch.randperm(len(a_all), generator=gen)  # class-aligned pairs, shuffled jointly
        for lo in range(0, len(order) - 1, batch_size):
            idx = order[lo:lo + batch_size]
            a, b = a_all[idx], b_all[idx]
            lg = _logits(*models, a, b)
            if teacher is None:
                loss = clip_loss(lg, torch.eye(len(idx)), temperature=1.0)  # z_a z_b^T = lg
            else:
                loss, repeat, hit = _pseudo_pair_loss(lg, _teacher_logits(teacher, a, b), split_labels[idx], pair_rule)
                repeats.append(repeat)
                if loss is None:
                    continue
                hits.append(hit)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        curve.append(_class_retrieval(*models, test))
        precision.append(float(np.mean(hits)) if hits else float("nan"))
        if teacher is not None and (epoch + 1) % loop_epochs == 0:
            score = _class_retrieval(*models, val)
            if score > refresh_factor * best:
                teacher, best, refreshes = copy.deepcopy(models), score, refreshes + 1
    return curve, repeats, precision, refreshes


def _teacher_logits(teacher, a, b):
    import torch

    with torch.no_grad():
        return _logits(*teacher, a, b)


def _pseudo_pair_loss(lg, t_lg, labels, pair_rule: str) -> tuple:
    """The student's CLIP loss on the teacher's pseudo pairs of one batch (None when the rule keeps none), the
    fraction of B items the teacher picks more than once, and the picked pairs' label agreement."""
    import torch

    n = lg.shape[0]
    with torch.no_grad():
        best_row = t_lg.argmax(0)  # for each B column, the teacher's A row
        best_col = t_lg.argmax(1)  # for each A row, the teacher's B column
        repeat = float((torch.bincount(best_row, minlength=n) > 1).sum()) / n
    cols = torch.arange(n)
    if pair_rule in ("argmax", "transposed"):  # every row and every column gets its argmax
        keep_c = keep_r = torch.ones(n, dtype=torch.bool)
    else:  # "mutual": only pairs that are each other's argmax (a confidence filter)
        keep_r = best_row[best_col] == cols
        keep_c = best_col[best_row] == cols
    if not keep_r.any():
        return None, repeat, None
    hit = float((labels[best_col][keep_r] == labels[keep_r]).float().mean())
    if pair_rule == "transposed":  # the official index quirk: (A j, B best_row[j]), (A best_col[i], B i)
        v1, v2 = lg[cols, best_row], lg[best_col, cols]
    else:
        v1, v2 = lg[best_row, cols][keep_c], lg[cols, best_col][keep_r]
    loss = 0.5 * ((-v1.mean() + lg.logsumexp(0)[keep_c].mean()) + (-v2.mean() + lg.logsumexp(1)[keep_r].mean()))
    return loss, repeat, hit
