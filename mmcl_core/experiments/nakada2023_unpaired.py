"""Nakada et al. (AISTATS 2023), §5.1: unpaired data on the released synthetic experiment (E1) and its linear
proxy. Re-exported by :mod:`mmcl_core.experiments.nakada2023`; the project's notes: docs/papers/nakada2023.md.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .._checks import check_choice, check_int, check_real, resolve_setting
from ..data.synthetic import spiked_model
from ..spectral import cross_covariance, sin_theta_distance, truncated_svd

__all__ = ["OFFICIAL_E1", "E1Setting", "unpaired_sweep", "unpaired_synthetic", "unpaired_linear_proxy",
           "linear_proxy_panel",
           "unpaired_lookup"]


OFFICIAL_E1 = {  # official notebook's stored single-seed outputs (docs/papers/nakada2023.md)
    "n_unpaired": (500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000),
    "paired_acc": (.3878, .3914, .4221, .4322, .4333, .3779, .3787, .3734, .3754, .4156),
    "unpaired_acc": (.4480, .5207, .5665, .5765, .5924, .5865, .5958, .6009, .5937, .5962),
}


def _draw_e1(gens, n_pairs, n_unpaired, n_test, dim_a, dim_b, rank, noise_std):
    """E1 data and initial weights, one generator per model (so a model's draw depends only on its seed).

    Returns:
        ``((xp, yp), (xu, yu), (xt, yt), (W1, W2))`` float32 tensors with a leading model axis.
    """
    import torch

    def one(gen):
        def haar(d):
            q, r = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))
            return (q * torch.sign(torch.diagonal(r)))[:, :rank]

        U1, U2 = haar(dim_a), haar(dim_b)

        def pairs(n):
            z = torch.randn(n, rank, generator=gen, dtype=torch.float64)
            x = z @ U1.T + noise_std * torch.randn(n, dim_a, generator=gen, dtype=torch.float64)
            y = z @ U2.T + noise_std * torch.randn(n, dim_b, generator=gen, dtype=torch.float64)
            return x.float(), y.float()

        data = (pairs(n_pairs), pairs(n_unpaired), pairs(n_test))
        # PyTorch's default nn.Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        W = ((torch.rand(rank, dim_a, generator=gen) * 2 - 1) / np.sqrt(dim_a),
             (torch.rand(rank, dim_b, generator=gen) * 2 - 1) / np.sqrt(dim_b))
        return (*data, W)

    per_model = [one(g) for g in gens]
    return tuple(tuple(torch.stack([m[i][j] for m in per_model]) for j in range(2)) for i in range(4))


def _retrieval_accuracy(W1, W2, x, y, chunk: int = 2000):
    """Top-1 cross-modal retrieval over all test pairs (cosine), per model. Shapes: W (M, r, d), x (M, n, d)."""
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        a = F.normalize(x @ W1.transpose(1, 2), dim=2)
        b = F.normalize(y @ W2.transpose(1, 2), dim=2)
        hits = torch.zeros(x.shape[0], device=x.device)
        for lo in range(0, x.shape[1], chunk):
            best = (a[:, lo:lo + chunk] @ b.transpose(1, 2)).argmax(dim=2)
            hits += (best == torch.arange(lo, min(lo + chunk, x.shape[1]), device=x.device)).sum(1)
    return (hits / x.shape[1]).cpu().numpy()


@dataclasses.dataclass(frozen=True)
class E1Setting:
    """The released synthetic unpaired experiment's setting (§5.1), validated once: n paired and ``n_test`` test
    samples of the spiked model (``dim_a`` x ``dim_b``, ``rank``, noise std), bias-free linear encoders, cosine / tau,
    AdamW at ``lr`` in batches of ``batch_size``, the epochs of both phases, the pseudo-pair rule
    (``"global_top_b"`` or ``"row_argmax"``) and whether unpaired batches are partner-aligned."""

    n_pairs: int = 300
    n_test: int = 10000
    dim_a: int = 40
    dim_b: int = 39
    rank: int = 10
    noise_std: float = 0.3
    temperature: float = 1.0
    lr: float = 2e-3
    batch_size: int = 50
    paired_epochs: int = 100
    unpaired_epochs: int = 100
    pseudo_pair_rule: str = "global_top_b"
    aligned_batches: bool = True

    def __post_init__(self):
        for name in ("n_pairs", "n_test", "paired_epochs", "unpaired_epochs"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), low=1))
        object.__setattr__(self, "batch_size", check_int("batch_size", self.batch_size, low=2, high=self.n_pairs))
        object.__setattr__(self, "rank", check_int("rank", self.rank, low=1))
        for name in ("dim_a", "dim_b"):
            object.__setattr__(self, name, check_int(name, getattr(self, name), low=self.rank))
        object.__setattr__(self, "noise_std", check_real("noise_std", self.noise_std, low=0.0))
        for name in ("temperature", "lr"):
            object.__setattr__(self, name, check_real(name, getattr(self, name), low=0.0, low_open=True))
        check_choice("pseudo_pair_rule", self.pseudo_pair_rule, ("global_top_b", "row_argmax"))
        if not isinstance(self.aligned_batches, bool):
            raise TypeError(f"aligned_batches must be a bool, got {type(self.aligned_batches).__name__}")


def unpaired_sweep(n_unpaired_values=(500, 2000, 5000), seeds=(0, 1, 2, 3, 4), *, setting: E1Setting | None = None,
                   device: str = "auto", progress: bool = False, **overrides) -> dict:
    """The official synthetic unpaired experiment, all seeds trained as one batched program.

    Per N and seed: Haar U1 (d1 x r), U2 (d2 x r), noise std 0.3; bias-free linear encoders with cosine
    similarity / tau; phase 1: symmetric CLIP on n paired samples (AdamW, batches of B, no shuffling);
    phase 2: the same model and optimiser on N unpaired samples in partner-aligned batches (each y-batch
    holds the partners of its x-batch in an unknown order), taking the global top-B entries of each
    batch's B x B logits as pseudo pairs (``"global_top_b"``) or each row's argmax (``"row_argmax"``).
    ``aligned_batches=False`` shuffles the y's across the whole unpaired set instead (a harder task).

    Reproduces: Nakada et al. 2023, §5.1 (docs/papers/nakada2023.md).

    Args:
        setting: an :class:`E1Setting` (default: the released one); ``overrides`` replace its fields by name.

    Returns:
        dict with ``n_unpaired`` (K,), ``paired_acc`` and ``unpaired_acc`` (K, S) test retrieval accuracy after each
        phase, ``pseudo_pair_precision`` (K, S) fraction of selected pseudo pairs that are true pairs (over phase 2),
        ``seeds``, ``seconds``, ``steps`` (batched optimiser steps in total: each trains every seed at once),
        ``setting``.
    """
    import time

    from tqdm.auto import tqdm

    from ..device import get_device

    setting = resolve_setting(E1Setting, setting, overrides)
    dev, seeds = get_device(device), list(seeds)
    n_values = [check_int("n_unpaired", int(v), low=setting.batch_size) for v in n_unpaired_values]
    out = {key: np.zeros((len(n_values), len(seeds))) for key in ("paired_acc", "unpaired_acc",
                                                                    "pseudo_pair_precision")}
    start, steps = time.perf_counter(), 0
    for k, n_unpaired in enumerate(tqdm(n_values, desc="unpaired sweep", disable=not progress)):
        run = _e1_one_size(seeds, n_unpaired, setting, dev)
        for key in ("paired_acc", "unpaired_acc", "pseudo_pair_precision"):
            out[key][k] = run[key]
        steps += run["steps"]
    out.update(n_unpaired=np.array(n_values), seeds=seeds, seconds=time.perf_counter() - start, steps=steps,
               setting=setting)
    return out


def _e1_one_size(seeds, n_unpaired: int, setting: E1Setting, dev) -> dict:
    """:func:`unpaired_sweep` at one unpaired-set size: both phases for every seed at once."""
    import torch
    import torch.nn.functional as F

    from ..losses import clip_loss_from_logits

    st = setting
    n_pairs, batch_size, temperature, rule = st.n_pairs, st.batch_size, st.temperature, st.pseudo_pair_rule
    gens = [torch.Generator().manual_seed(1_000_003 * n_unpaired + s) for s in seeds]
    (xp, yp), (xu, yu), (xt, yt), (W1, W2) = (tuple(t.to(dev) for t in p) for p in
                                              _draw_e1(gens, n_pairs, n_unpaired, st.n_test, st.dim_a, st.dim_b,
                                                       st.rank, st.noise_std))
    W1.requires_grad_(True)
    W2.requires_grad_(True)
    opt = torch.optim.AdamW([W1, W2], lr=st.lr, weight_decay=0.01)  # elementwise: seeds stay independent

    def logits_of(xb, yb):
        a = F.normalize(xb @ W1.transpose(1, 2), dim=2)
        b = F.normalize(yb @ W2.transpose(1, 2), dim=2)
        return a @ b.transpose(1, 2) / temperature  # (S, B, B)

    def step(loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    steps = 0
    for _ in range(st.paired_epochs):
        for lo in range(0, n_pairs - batch_size + 1, batch_size):
            step(clip_loss_from_logits(logits_of(xp[:, lo:lo + batch_size], yp[:, lo:lo + batch_size])).sum())
            steps += 1
    paired_acc = _retrieval_accuracy(W1, W2, xt, yt)
    n_batches = n_unpaired // batch_size
    partner_of_y = _hidden_order(n_unpaired, n_batches, batch_size, st.aligned_batches).to(dev)
    yu_perm = yu[:, partner_of_y]  # y position p holds the partner of x index partner_of_y[p]
    correct, selected = torch.zeros(len(seeds), device=dev), 0
    for _ in range(st.unpaired_epochs):
        for b in range(n_batches):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            lg = logits_of(xu[:, sl], yu_perm[:, sl])
            rows, cols, picked = _pseudo_pairs(lg, rule)
            with torch.no_grad():
                correct += (partner_of_y[sl][cols] - b * batch_size == rows).float().sum(1)
                selected += rows.shape[1]
            step(clip_loss_from_logits(lg, positive_sum=picked.sum(1)).sum())
            steps += 1
    return {"paired_acc": paired_acc, "unpaired_acc": _retrieval_accuracy(W1, W2, xt, yt),
            "pseudo_pair_precision": (correct / selected).cpu().numpy(), "steps": steps}


def _hidden_order(n_unpaired: int, n_batches: int, batch_size: int, aligned: bool):
    """The unknown order of the partners: a fixed permutation of the y's inside each batch (or across the set),
    the same for every model."""
    import torch

    order_gen = torch.Generator().manual_seed(n_unpaired)
    if aligned:
        return torch.stack([torch.randperm(batch_size, generator=order_gen) + b * batch_size
                            for b in range(n_batches)]).reshape(-1)
    return torch.randperm(n_batches * batch_size, generator=order_gen)


def _pseudo_pairs(lg, rule: str) -> tuple:
    """Pseudo pairs of a batch's (S, B, B) logits: the global top-B entries or each row's argmax; returns their rows,
    columns and logits."""
    import torch

    S, B = lg.shape[:2]
    with torch.no_grad():
        if rule == "global_top_b":
            flat = lg.reshape(S, -1).topk(B, dim=1).indices
            rows, cols = flat // B, flat % B
        else:
            rows, cols = torch.arange(B, device=lg.device).expand(S, -1), lg.argmax(2)
    picked = (lg.gather(2, cols.unsqueeze(2)).squeeze(2) if rule == "row_argmax"
              else lg.reshape(S, -1).gather(1, rows * B + cols))
    return rows, cols, picked


def unpaired_synthetic(n_unpaired: int, seed: int = 0, profile: str = "quick", **params) -> dict:
    """One point of the official unpaired experiment (see :func:`unpaired_sweep` for ``params``).

    Both profiles train and test as the official notebook does, with 10,000 test pairs: retrieval accuracy falls as
    the number of candidates grows, so fewer test pairs would give numbers not comparable with the paper's (an
    explicit ``n_test`` overrides this, and the result says ``comparable_with_official: False``).

    Returns:
        dict with ``paired_acc``, ``unpaired_acc``, ``pseudo_pair_precision`` (floats) and
        ``comparable_with_official`` (bool: 10,000 test pairs).
    """
    check_choice("profile", profile, ("quick", "full"))
    params.setdefault("n_test", 10000)
    res = unpaired_sweep((n_unpaired,), (check_int("seed", seed, low=0),), **params)
    out = {key: float(res[key][0, 0]) for key in ("paired_acc", "unpaired_acc", "pseudo_pair_precision")}
    return {**out, "comparable_with_official": params["n_test"] == 10000}


def unpaired_linear_proxy(n_unpaired_values=(0, 1000, 5000, 20000), seeds=(0, 1, 2, 3, 4), *, n_pairs: int = 300,
                          dim_a: int = 40, dim_b: int = 39, rank: int = 10, noise_std: float = 0.3,
                          batch_size: int = 50, rounds: int = 5, pseudo_pair_rule: str = "global_top_b") -> dict:
    """Pseudo pairs in the linear (SVD) model: even imperfect detection helps, because MMCL tolerates wrong pairs.

    Start from the linear-loss SVD on the n pairs; then, for ``rounds`` rounds, score every partner-aligned
    batch of the unpaired pool by ``x^T M y``, take the global top-B entries as pseudo pairs, and refit the
    SVD on paired + pseudo pairs (``pseudo_pair_rule="row_argmax"``: each row's best column instead). The oracle
    uses the true partners of all n + N samples.

    Reproduces: Nakada et al. 2023, T4 mechanism (docs/papers/nakada2023.md).

    Returns:
        dict with ``n_unpaired`` (K,), ``sin_theta`` (K, S), ``oracle`` (K, S), ``precision`` (K, S) (nan for N = 0).
    """
    n_values = [check_int("n_unpaired", int(v), low=0) for v in n_unpaired_values]
    check_choice("pseudo_pair_rule", pseudo_pair_rule, ("global_top_b", "row_argmax"))
    batch_size = check_int("batch_size", batch_size, low=2)
    seeds = list(seeds)
    out = {key: np.full((len(n_values), len(seeds)), np.nan) for key in ("sin_theta", "oracle", "precision")}
    for j, seed in enumerate(seeds):
        rng = np.random.default_rng(check_int("seed", seed, low=0))
        for k, n_unpaired in enumerate(n_values):
            data = spiked_model(n_pairs + n_unpaired, dim_a, dim_b, rank, noise_std=noise_std, rng=rng)
            X, Y, U1 = data["X"], data["Y"], data["U1"]
            Xp, Yp, Xu, Yu = X[:n_pairs], Y[:n_pairs], X[n_pairs:], Y[n_pairs:]
            fit = lambda A, B: truncated_svd(cross_covariance(A, B), rank)  # noqa: E731
            U, s, Vt = fit(Xp, Yp)
            out["oracle"][k, j] = sin_theta_distance(truncated_svd(cross_covariance(X, Y), rank)[0], U1)
            n_batches = n_unpaired // batch_size
            if n_batches == 0:
                out["sin_theta"][k, j] = sin_theta_distance(U, U1)
                continue
            # Partner-aligned batches with the partners in an unknown (shuffled) order.
            perm = np.concatenate([rng.permutation(batch_size) + b * batch_size for b in range(n_batches)])
            Yu = Yu[: n_batches * batch_size][perm]
            Xu = Xu[: n_batches * batch_size]
            for _ in range(check_int("rounds", rounds, low=1)):
                M = (U * s) @ Vt
                xs, ys, hits = [Xp], [Yp], 0
                for b in range(n_batches):
                    sl = slice(b * batch_size, (b + 1) * batch_size)
                    scores = Xu[sl] @ M @ Yu[sl].T
                    if pseudo_pair_rule == "global_top_b":
                        top = np.argpartition(scores.ravel(), -batch_size)[-batch_size:]
                        rows, cols = np.unravel_index(top, scores.shape)
                    else:
                        rows, cols = np.arange(batch_size), scores.argmax(1)
                    hits += int(np.sum(perm[sl][cols] - b * batch_size == rows))
                    xs.append(Xu[sl][rows])
                    ys.append(Yu[sl][cols])
                U, s, Vt = fit(np.concatenate(xs), np.concatenate(ys))
            out["sin_theta"][k, j] = sin_theta_distance(U, U1)
            out["precision"][k, j] = hits / (n_batches * batch_size)
    out["n_unpaired"] = np.array(n_values)
    return out


def linear_proxy_panel(n_unpaired: int = 5000, batch_size: int = 50, pseudo_pair_rule: str = "global_top_b",
                       noise_std: float = 0.3, n_pairs: int = 300, seed: int = 0) -> dict:
    """The live widget on the linear-SVD pseudo-pair proxy: one setting, one seed, closed-form SVDs.

    Returns:
        dict with ``paired_only``, ``pseudo`` (with pseudo pairs), ``oracle`` (sinΘ to U1), ``precision`` and the
        inputs under ``settings``.
    """
    noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
    res = unpaired_linear_proxy((0, n_unpaired), (seed,), n_pairs=check_int("n_pairs", n_pairs, low=2),
                                noise_std=noise_std, batch_size=batch_size, pseudo_pair_rule=pseudo_pair_rule)
    return {"paired_only": float(res["sin_theta"][0, 0]), "pseudo": float(res["sin_theta"][1, 0]),
            "oracle": float(res["oracle"][1, 0]), "precision": float(res["precision"][1, 0]),
            "settings": dict(n_unpaired=n_unpaired, batch_size=batch_size, pseudo_pair_rule=pseudo_pair_rule,
                             noise_std=noise_std, n_pairs=n_pairs, seed=seed)}


def unpaired_lookup(sweeps: dict, n_unpaired: int, pseudo_pair_rule: str = "global_top_b") -> dict:
    """The cached-sweep widget: one (N, rule) cell of precomputed :func:`unpaired_sweep` results.

    Args:
        sweeps: dict rule -> :func:`unpaired_sweep` result (trained once in the notebook's batch cell).
        n_unpaired: one of the swept N.

    Returns:
        dict with per-seed ``paired_acc``, ``unpaired_acc``, ``pseudo_pair_precision`` (S,) and ``settings``.
    """
    sweep = sweeps[check_choice("pseudo_pair_rule", pseudo_pair_rule, tuple(sweeps))]
    hits = np.flatnonzero(sweep["n_unpaired"] == n_unpaired)
    if hits.size == 0:
        raise ValueError(f"n_unpaired must be one of {sweep['n_unpaired'].tolist()}, got {n_unpaired!r}")
    k = int(hits[0])
    out = {key: sweep[key][k] for key in ("paired_acc", "unpaired_acc", "pseudo_pair_precision")}
    out["settings"] = dict(n_unpaired=int(n_unpaired), pseudo_pair_rule=pseudo_pair_rule)
    return out
