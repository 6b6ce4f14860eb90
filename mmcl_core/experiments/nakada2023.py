"""Nakada et al. (AISTATS 2023): each gradient step of MMCL is an SVD of the contrastive
cross-covariance; feature recovery under wrong pairs; the unimodal comparison.

The project's notes (docs/papers/nakada2023.md) reconstruct the paper's theorem forms from its abstract and the authors' code;
the identities used here are exact and checked numerically, the rates are the Wedin-type
scalings derived there (flagged as reconstructed in the notebooks).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_matrix, check_real, check_rng, check_seeds
from ..data.pairings import class_paired_modalities
from ..data.synthetic import spiked_model
from ..spectral import contrastive_cross_covariance, cross_covariance, sin_theta_distance, truncated_svd

__all__ = ["linear_solution", "factor_gd_linear", "clip_objective", "projected_gd_clip", "factor_gd_clip",
           "masking_cl", "diagonal_deletion", "pca", "recovery_error", "UNIMODAL_METHODS", "rate_curves",
           "compare_methods", "recovery_panel", "svd_step_panel", "OFFICIAL_E1", "unpaired_sweep", "unpaired_synthetic",
           "unpaired_linear_proxy", "linear_proxy_panel", "unpaired_lookup", "class_paired_modalities",
           "SEMI_PAIR_RULES", "semi_supervised_proxy", "semi_supervised_study", "semi_lookup"]

UNIMODAL_METHODS = ("masking", "diagonal_deletion")


def linear_solution(X, Y, rank: int, rho: float = 1.0) -> dict:
    """Closed-form minimiser of the linear MMCL loss: ``M* = SVD_r(C)/rho`` with C the sample cross-covariance.

    Reproduces: Nakada et al. 2023, T1 for the linear loss (docs/papers/nakada2023.md): one SVD gives the global minimiser.

    Returns:
        dict with ``M`` (d1, d2), ``G1`` (r, d1), ``G2`` (r, d2), ``S`` (the cross-covariance),
        ``singular_values`` (r,), ``min_loss`` = -sum_{k<=r} sigma_k^2 / (2 rho).
    """
    rho = check_real("rho", rho, low=0.0, low_open=True)
    S = cross_covariance(X, Y)
    U, s, Vt = truncated_svd(S, rank)
    root = np.sqrt(s / rho)
    return {"M": (U * (s / rho)) @ Vt, "G1": root[:, None] * U.T, "G2": root[:, None] * Vt, "S": S,
            "singular_values": s, "min_loss": float(-np.sum(s ** 2) / (2 * rho))}


def _gd_on_factors(objective, rank: int, dim_a: int, dim_b: int, *, lr: float, steps: int, seed: int):
    """Plain gradient descent on (G1, G2) from a seeded small random start (float64); returns the factors."""
    import torch

    gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    G1 = (0.1 * torch.randn(rank, dim_a, generator=gen, dtype=torch.float64)).requires_grad_(True)
    G2 = (0.1 * torch.randn(rank, dim_b, generator=gen, dtype=torch.float64)).requires_grad_(True)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    for _ in range(check_int("steps", steps, low=1)):
        g1, g2 = torch.autograd.grad(objective(G1, G2), (G1, G2))
        with torch.no_grad():
            G1 -= lr * g1
            G2 -= lr * g2
    return G1, G2


def factor_gd_linear(X, Y, rank: int, rho: float = 1.0, *, lr: float = 0.05, steps: int = 20000,
                     seed: int = 0) -> dict:
    """Gradient descent on the factors (G1, G2) of the linear loss (torch autograd, float64).

    Returns:
        dict with ``rel_error`` ||G1^T G2 - M*|| / ||M*||, ``loss_rel_gap`` |L - L*| / |L*|, ``loss``,
        ``min_loss``, ``M``.
    """
    import torch

    from ..losses import linear_mmcl_loss

    sol = linear_solution(X, Y, rank, rho)
    Xt, Yt = torch.as_tensor(np.asarray(X, float)), torch.as_tensor(np.asarray(Y, float))
    G1, G2 = _gd_on_factors(lambda g1, g2: linear_mmcl_loss(Xt, Yt, g1, g2, rho=rho), rank, Xt.shape[1], Yt.shape[1],
                            lr=lr, steps=steps, seed=seed)
    M = (G1.T @ G2).detach().numpy()
    with torch.no_grad():
        final = linear_mmcl_loss(Xt, Yt, G1, G2, rho=rho).item()
    return {"rel_error": float(np.linalg.norm(M - sol["M"]) / np.linalg.norm(sol["M"])),
            "loss_rel_gap": abs(final - sol["min_loss"]) / abs(sol["min_loss"]), "loss": final,
            "min_loss": sol["min_loss"], "M": M}


def clip_objective(X, Y, M, temperature: float, rho: float) -> float:
    """``temperature * clip_loss`` at ``s_ij = x_i^T M y_j`` plus ``(rho/2)||M||_F^2`` (float64, logsumexp)."""
    M = np.asarray(M, float)
    logits = np.asarray(X, float) @ M @ np.asarray(Y, float).T / temperature
    diag = np.diagonal(logits)

    def logsumexp(a, axis):  # shifted by the maximum: exact in float64, and 5x faster than scipy's on 300 x 300
        top = a.max(axis=axis)
        return top + np.log(np.exp(a - np.expand_dims(top, axis)).sum(axis=axis))

    ce = 0.5 * (np.mean(logsumexp(logits, axis=1) - diag) + np.mean(logsumexp(logits, axis=0) - diag))
    return float(temperature * ce + 0.5 * rho * np.sum(M ** 2))


def projected_gd_clip(X, Y, rank: int, rho: float = 1.0, temperature: float = 0.5, eta: float = 0.1,
                      steps: int = 500, M0=None) -> dict:
    """Iterated SVD: ``M <- SVD_r((1 - eta rho) M + eta S(beta(M)))`` for the CLIP loss.

    With ``eta = 1/rho`` each step is ``SVD_r(S(beta_t))/rho``: one SVD of the current contrastive
    cross-covariance (Nakada et al. 2023, docs/papers/nakada2023.md). Small ``eta rho`` converges; the full step can oscillate.

    Returns:
        dict with ``M``, ``step_norms`` (steps,) ||M_{t+1} - M_t||, ``two_step_norms`` (steps,) ||M_{t+1} - M_{t-1}||
        (nan at the first step; near 0 while the step norm is not: a 2-cycle), ``objective`` (steps,), ``converged``
        (last step norm below 1e-10 relative).
    """
    rho = check_real("rho", rho, low=0.0, low_open=True)
    eta = check_real("eta", eta, low=0.0, low_open=True)
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    M = np.zeros((X.shape[1], Y.shape[1])) if M0 is None else np.asarray(M0, float).copy()
    norms, two_step, objective, previous = [], [], [], None
    for _ in range(check_int("steps", steps, low=1)):
        U, s, Vt = truncated_svd((1 - eta * rho) * M + eta * contrastive_cross_covariance(X, Y, M, temperature), rank)
        M_new = (U * s) @ Vt
        norms.append(float(np.linalg.norm(M_new - M)))
        two_step.append(float(np.linalg.norm(M_new - previous)) if previous is not None else np.nan)
        previous, M = M, M_new
        objective.append(clip_objective(X, Y, M, temperature, rho))
    scale = max(np.linalg.norm(M), 1e-300)
    return {"M": M, "step_norms": np.array(norms), "two_step_norms": np.array(two_step), "objective": np.array(objective),
            "converged": bool(norms[-1] <= 1e-10 * scale)}


def factor_gd_clip(X, Y, rank: int, rho: float = 1.0, temperature: float = 0.5, *, lr: float = 0.05,
                   steps: int = 20000, seed: int = 0) -> dict:
    """Gradient descent on (G1, G2) for ``temperature * clip_loss + (rho/2)||G1^T G2||^2`` (float64).

    Returns:
        dict with ``M`` = G1^T G2 and ``objective``.
    """
    import torch

    from ..losses import clip_loss

    Xt, Yt = torch.as_tensor(np.asarray(X, float)), torch.as_tensor(np.asarray(Y, float))

    def objective(g1, g2):
        M = g1.T @ g2
        return temperature * clip_loss(Xt @ M, Yt, temperature=temperature) + 0.5 * rho * M.pow(2).sum()

    G1, G2 = _gd_on_factors(objective, rank, Xt.shape[1], Yt.shape[1], lr=lr, steps=steps, seed=seed)
    M = (G1.T @ G2).detach().numpy()
    return {"M": M, "objective": clip_objective(X, Y, M, temperature, rho)}


def masking_cl(X, rank: int, *, mask_prob: float = 0.5, n_masks: int = 1, rng: np.random.Generator) -> np.ndarray:
    """Unimodal contrastive learning with complementary random masking (explicit augmentation).

    Each sample gets a Bernoulli mask a; the two views are ``a * x`` and ``(1 - a) * x``. The linear
    contrastive loss is maximised by the top-r eigenvectors of the symmetrised view cross-covariance,
    whose expectation is ``p(1-p) offdiag(Sigma_x)`` (Ji et al. 2023, docs/papers/nakada2023.md).

    Returns:
        (d, r) orthonormal basis.
    """
    X = check_matrix("X", X, min_rows=2)
    rank = check_int("rank", rank, low=1, high=X.shape[1])
    rng = check_rng(rng)
    p = check_real("mask_prob", mask_prob, low=0.0, high=1.0, low_open=True, high_open=True)
    C = np.zeros((X.shape[1], X.shape[1]))
    Xc = X - X.mean(0)
    for _ in range(check_int("n_masks", n_masks, low=1)):
        a = rng.random(X.shape) < p
        C += (a * Xc).T @ (~a * Xc) / len(X)
    C = (C + C.T) / (2 * n_masks)
    vals, vecs = np.linalg.eigh(C)
    return vecs[:, np.argsort(vals)[::-1][:rank]]


def diagonal_deletion(X, rank: int) -> np.ndarray:
    """Top-r eigenvectors of the sample covariance with its diagonal deleted (masking-CL's expectation)."""
    C = np.cov(np.asarray(X, float).T)
    np.fill_diagonal(C, 0.0)
    vals, vecs = np.linalg.eigh(C)
    return vecs[:, np.argsort(vals)[::-1][:rank]]


def pca(X, rank: int) -> np.ndarray:
    """Top-r principal directions of the sample covariance (rank in [1, X's columns])."""
    X = check_matrix("X", X, min_rows=2)
    rank = check_int("rank", rank, low=1, high=X.shape[1])
    vals, vecs = np.linalg.eigh(np.cov(X.T))
    return vecs[:, np.argsort(vals)[::-1][:rank]]


def recovery_error(n: int, eps: float, seed: int = 0, *, dim_a: int = 40, dim_b: int = 40, rank: int = 4,
                   coherence: str = "sparse", sparsity: int = 2, noise_std: float = 1.0,
                   noise_var_range: tuple[float, float] | None = (0.1, 2.0), signal_std: float = 1.0,
                   mismatch: str = "redraw", unimodal: str = "masking", n_masks: int = 20) -> dict:
    """Feature-recovery error ||sinTheta(., U1)||_F of MMCL (linear loss), unimodal CL and PCA.

    Reproduces: Nakada et al. 2023, T2-T3 (docs/papers/nakada2023.md): MMCL has no bias, wrong pairs shrink the signal
    by (1 - eps); masking-CL is biased for coherent features; PCA fails under heteroskedastic noise.

    Args:
        n: number of pairs.
        eps: wrong-pair rate.
        seed: data seed.
        dim_a, dim_b, rank, coherence, sparsity, noise_std, noise_var_range, signal_std, mismatch:
            the spiked model (see :func:`mmcl_core.data.synthetic.spiked_model`).
        unimodal: "masking" (explicit complementary masking) or "diagonal_deletion" (its closed form).
        n_masks: masks drawn per sample for "masking" (one per training epoch; more masks approach the closed form).

    Returns:
        dict with ``mmcl``, ``unimodal``, ``pca``: sin-Theta distances to U1 (float in [0, sqrt(r)]).
    """
    check_choice("unimodal", unimodal, UNIMODAL_METHODS)
    n = check_int("n", n, low=2)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    data = spiked_model(n, dim_a, dim_b, rank, noise_std=noise_std, noise_var_range=noise_var_range,
                        signal_std=signal_std, coherence=coherence, sparsity=sparsity, eps=eps, mismatch=mismatch,
                        rng=rng)
    U = truncated_svd(cross_covariance(data["X"], data["Y"]), rank)[0]
    uni = (masking_cl(data["X"], rank, n_masks=n_masks, rng=rng) if unimodal == "masking"
           else diagonal_deletion(data["X"], rank))
    return {"mmcl": sin_theta_distance(U, data["U1"]), "unimodal": sin_theta_distance(uni, data["U1"]),
            "pca": sin_theta_distance(pca(data["X"], rank), data["U1"])}


def rate_curves(ns=(2000, 8000, 32000), eps_values=(0.0, 0.3, 0.6), seeds=(0, 1, 2), **model) -> dict:
    """Mean MMCL recovery error against n for several wrong-pair rates (log-log slope and 1/(1-eps) ratios).

    Args:
        ns: increasing sample sizes.
        eps_values: wrong-pair rates (the first should be 0 for the ratios).
        seeds: data seeds averaged over.
        **model: keyword arguments of :func:`recovery_error` (dimensions, noise, coherence, ...).

    Returns:
        dict with ``n`` (N,), ``eps`` (E,), ``mmcl`` (E, N) mean sin-Theta, ``slope`` (E,) least-squares
        log-log slope over the points with error < 0.5 (nan if fewer than 2), ``ratio`` (E,) error(eps)/error(0)
        at the largest n, ``ratio_theory`` (E,) = 1/(1 - eps).
    """
    ns, eps_values = np.asarray(ns, dtype=int), np.asarray(eps_values, dtype=float)
    err = np.array([[np.mean([recovery_error(int(n), float(e), s, **model)["mmcl"] for s in seeds]) for n in ns]
                    for e in eps_values])
    slopes = []
    for row in err:
        keep = row < 0.5
        slopes.append(np.polyfit(np.log(ns[keep]), np.log(row[keep]), 1)[0] if keep.sum() >= 2 else np.nan)
    return {"n": ns, "eps": eps_values, "mmcl": err, "slope": np.array(slopes), "ratio": err[:, -1] / err[0, -1],
            "ratio_theory": 1.0 / (1.0 - eps_values)}


def compare_methods(ns=(200, 1000, 5000), eps_values=(0.0, 0.5), seeds=(0, 1, 2), **model) -> dict:
    """MMCL against masking-CL and PCA over n and eps (mean over seeds).

    Returns:
        dict with ``n`` (N,), ``eps`` (E,), and ``mmcl`` (E, N), ``unimodal`` (N,), ``pca`` (N,) mean errors
        (the single-modality baselines do not see the pairs, so they do not depend on eps).
    """
    ns, eps_values = np.asarray(ns, dtype=int), np.asarray(eps_values, dtype=float)
    runs = {(e, n): [recovery_error(int(n), float(e), s, **model) for s in seeds] for e in eps_values for n in ns}
    mean = lambda key, e, n: float(np.mean([r[key] for r in runs[(e, n)]]))  # noqa: E731
    return {"n": ns, "eps": eps_values,
            "mmcl": np.array([[mean("mmcl", e, n) for n in ns] for e in eps_values]),
            "unimodal": np.array([np.mean([mean("unimodal", e, n) for e in eps_values]) for n in ns]),
            "pca": np.array([np.mean([mean("pca", e, n) for e in eps_values]) for n in ns])}


def recovery_panel(n: int = 1000, eps: float = 0.0, dim: int = 40, rank: int = 4, noise_std: float = 1.0,
                   heteroskedastic: bool = True, coherence: str = "sparse", mismatch: str = "redraw",
                   n_seeds: int = 3) -> dict:
    """The widget's closed-form panel: mean errors of MMCL, masking-CL and PCA for one setting.

    Heteroskedastic noise draws each coordinate's variance from U(0.1, 2) x noise_std^2.

    Returns:
        dict with ``mmcl``, ``unimodal``, ``pca`` (means over ``n_seeds`` seeds) and ``settings``.
    """
    var_range = (0.1 * noise_std ** 2, 2.0 * noise_std ** 2) if heteroskedastic else None
    runs = [recovery_error(n, eps, s, dim_a=dim, dim_b=dim, rank=rank, noise_std=noise_std,
                           noise_var_range=var_range, coherence=coherence, mismatch=mismatch)
            for s in range(check_int("n_seeds", n_seeds, low=1))]
    out = {key: float(np.mean([r[key] for r in runs])) for key in ("mmcl", "unimodal", "pca")}
    out["settings"] = dict(n=n, eps=eps, dim=dim, rank=rank, noise_std=noise_std, heteroskedastic=heteroskedastic,
                           coherence=coherence, mismatch=mismatch)
    return out


def svd_step_panel(temperature: float = 0.5, eta: float = 0.1, rho: float = 1.0, n_pairs: int = 60, dim: int = 12,
                   rank: int = 3, noise_std: float = 0.5, steps: int = 60, seed: int = 0) -> dict:
    """The widget's iterated-SVD panel: step norms of ``M <- SVD_r((1 - eta rho) M + eta S(beta))``.

    Returns:
        dict with ``step_norms`` (steps,), ``full_step_norms`` and ``full_two_step_norms`` (the eta = 1/rho run: one-
        and two-step differences), ``beta`` (n, n) at the last
        iterate, ``singular_values`` of S(beta) there, ``converged``, and the inputs.
    """
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    data = spiked_model(n_pairs, dim, dim, rank, noise_std=noise_std, rng=rng)
    run = projected_gd_clip(data["X"], data["Y"], rank, rho=rho, temperature=temperature, eta=eta, steps=steps)
    full = projected_gd_clip(data["X"], data["Y"], rank, rho=rho, temperature=temperature, eta=1.0 / rho, steps=steps)
    S, beta = contrastive_cross_covariance(data["X"], data["Y"], run["M"], temperature, return_weights=True)
    return {"step_norms": run["step_norms"], "full_step_norms": full["step_norms"],
            "full_two_step_norms": full["two_step_norms"], "beta": beta,
            "singular_values": np.linalg.svd(S, compute_uv=False), "converged": run["converged"],
            "temperature": temperature, "eta": eta, "rho": rho, "rank": rank}


# --- Unpaired data (paper §5.1, official synthetic experiment E1) --------------------------------------

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


def unpaired_sweep(n_unpaired_values=(500, 2000, 5000), seeds=(0, 1, 2, 3, 4), *, n_pairs: int = 300,
                   n_test: int = 10000, dim_a: int = 40, dim_b: int = 39, rank: int = 10, noise_std: float = 0.3,
                   temperature: float = 1.0, lr: float = 2e-3, batch_size: int = 50, paired_epochs: int = 100,
                   unpaired_epochs: int = 100, pseudo_pair_rule: str = "global_top_b", aligned_batches: bool = True,
                   device: str = "auto", progress: bool = False) -> dict:
    """The official synthetic unpaired experiment, all seeds trained as one batched program.

    Per N and seed: Haar U1 (d1 x r), U2 (d2 x r), noise std 0.3; bias-free linear encoders with cosine
    similarity / tau; phase 1: symmetric CLIP on n paired samples (AdamW, batches of B, no shuffling);
    phase 2: the same model and optimiser on N unpaired samples in partner-aligned batches (each y-batch
    holds the partners of its x-batch in an unknown order), taking the global top-B entries of each
    batch's B x B logits as pseudo pairs (``"global_top_b"``) or each row's argmax (``"row_argmax"``).
    ``aligned_batches=False`` shuffles the y's across the whole unpaired set instead (a harder task).

    Reproduces: Nakada et al. 2023, §5.1 (docs/papers/nakada2023.md).

    Returns:
        dict with ``n_unpaired`` (K,), ``paired_acc`` and ``unpaired_acc`` (K, S) test retrieval accuracy after each
        phase, ``pseudo_pair_precision`` (K, S) fraction of selected pseudo pairs that are true pairs (over phase 2),
        ``seeds``, ``seconds``, ``steps`` (batched optimiser steps in total: each trains every seed at once).
    """
    import time

    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    from ..device import get_device
    from ..losses import clip_loss_from_logits

    check_choice("pseudo_pair_rule", pseudo_pair_rule, ("global_top_b", "row_argmax"))
    batch_size = check_int("batch_size", batch_size, low=2)
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    dev = get_device(device)
    seeds = list(seeds)
    n_values = [check_int("n_unpaired", int(v), low=batch_size) for v in n_unpaired_values]
    out = {key: np.zeros((len(n_values), len(seeds))) for key in ("paired_acc", "unpaired_acc",
                                                                    "pseudo_pair_precision")}
    start = time.perf_counter()
    steps = 0
    for k, n_unpaired in enumerate(tqdm(n_values, desc="unpaired sweep", disable=not progress)):
        gens = [torch.Generator().manual_seed(1_000_003 * n_unpaired + s) for s in seeds]
        S = len(seeds)
        (xp, yp), (xu, yu), (xt, yt), (W1, W2) = (tuple(t.to(dev) for t in p) for p in
                                                  _draw_e1(gens, n_pairs, n_unpaired, n_test, dim_a, dim_b, rank,
                                                           noise_std))
        W1.requires_grad_(True)
        W2.requires_grad_(True)
        opt = torch.optim.AdamW([W1, W2], lr=lr, weight_decay=0.01)  # elementwise: seeds stay independent

        def logits_of(xb, yb):
            a = F.normalize(xb @ W1.transpose(1, 2), dim=2)
            b = F.normalize(yb @ W2.transpose(1, 2), dim=2)
            return a @ b.transpose(1, 2) / temperature  # (S, B, B)

        def step(loss):
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        eye_idx = torch.arange(batch_size, device=dev)
        for _ in range(paired_epochs):
            for lo in range(0, n_pairs - batch_size + 1, batch_size):
                step(clip_loss_from_logits(logits_of(xp[:, lo:lo + batch_size], yp[:, lo:lo + batch_size])).sum())
                steps += 1
        out["paired_acc"][k] = _retrieval_accuracy(W1, W2, xt, yt)
        # Unknown order of the partners: a fixed permutation of the y's inside each batch (or across the set).
        n_batches = n_unpaired // batch_size
        order_gen = torch.Generator().manual_seed(n_unpaired)  # the same hidden order for every model
        if aligned_batches:
            perm = torch.stack([torch.randperm(batch_size, generator=order_gen) + b * batch_size
                                for b in range(n_batches)]).reshape(-1)
        else:
            perm = torch.randperm(n_batches * batch_size, generator=order_gen)
        partner_of_y = perm.to(dev)  # y position p holds the partner of x index partner_of_y[p]
        yu_perm = yu[:, partner_of_y]
        correct = torch.zeros(S, device=dev)
        selected = 0
        for _ in range(unpaired_epochs):
            for b in range(n_batches):
                sl = slice(b * batch_size, (b + 1) * batch_size)
                lg = logits_of(xu[:, sl], yu_perm[:, sl])
                with torch.no_grad():
                    if pseudo_pair_rule == "global_top_b":
                        flat = lg.reshape(S, -1).topk(batch_size, dim=1).indices
                        rows, cols = flat // batch_size, flat % batch_size
                    else:
                        rows = eye_idx.expand(S, -1)
                        cols = lg.argmax(2)
                    truth = partner_of_y[sl][cols] - b * batch_size == rows
                    correct += truth.float().sum(1)
                    selected += rows.shape[1]
                picked = lg.gather(2, cols.unsqueeze(2)).squeeze(2) if pseudo_pair_rule == "row_argmax" else \
                    lg.reshape(S, -1).gather(1, rows * batch_size + cols)
                step(clip_loss_from_logits(lg, positive_sum=picked.sum(1)).sum())
                steps += 1
        out["unpaired_acc"][k] = _retrieval_accuracy(W1, W2, xt, yt)
        out["pseudo_pair_precision"][k] = (correct / selected).cpu().numpy()
    out.update(n_unpaired=np.array(n_values), seeds=seeds, seconds=time.perf_counter() - start, steps=steps)
    return out


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


# --- Real-data proxy of the MNIST <-> Fashion-MNIST experiment (paper §5.3, docs/papers/nakada2023.md) -------------------

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

    Reproduces: Nakada et al. 2023, §5.3 (docs/papers/nakada2023.md) on a digits proxy (:func:`class_paired_modalities`).

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

    import torch
    import torch.nn.functional as F

    from ..losses import clip_loss
    from ..models import make_tower

    seed = check_int("seed", seed, low=0)
    for rule in pair_rules:
        check_choice("pair_rule", rule, SEMI_PAIR_RULES)
    batch_size = check_int("batch_size", batch_size, low=2)
    paired_epochs = check_int("paired_epochs", paired_epochs, low=1)
    unpaired_epochs = check_int("unpaired_epochs", unpaired_epochs, low=1)
    loop_epochs = check_int("loop_epochs", loop_epochs, low=1)
    paired_lr = check_real("paired_lr", paired_lr, low=0.0, low_open=True)
    unpaired_lr = check_real("unpaired_lr", unpaired_lr, low=0.0, low_open=True)
    refresh_factor = check_real("refresh_factor", refresh_factor, low=0.0, low_open=True)
    data = data if data is not None else class_paired_modalities(seed)
    enc_a = make_tower(16, 16, hidden_dim=16, seed=seed, device="cpu")
    enc_b = make_tower(16, 16, hidden_dim=16, seed=seed + 1, device="cpu")

    def logits(model_a, model_b, a, b):
        return F.normalize(model_a(a), dim=1) @ F.normalize(model_b(b), dim=1).T  # tau = 1

    def run_epochs(models, split, epochs, lr, source, phase, pair_rule=None, teacher=None, val=None, refresh=None):
        gen = torch.Generator().manual_seed(seed * 10 + phase)  # every rule sees the same batch order
        opt = torch.optim.AdamW([p for m in models for p in m.parameters()], lr=lr)
        a_all, b_all = torch.as_tensor(split["a"]), torch.as_tensor(split["b"])
        split_labels = torch.as_tensor(split["labels"])
        curve, repeats, precision = [], [], []
        for epoch in range(epochs):
            hits = []
            order = torch.randperm(len(a_all), generator=gen)  # class-aligned pairs, shuffled jointly
            for lo in range(0, len(order) - 1, batch_size):
                idx = order[lo:lo + batch_size]
                a, b = a_all[idx], b_all[idx]
                lg = logits(*models, a, b)
                if source == "true":
                    loss = clip_loss(lg, torch.eye(len(idx)), temperature=1.0)  # z_a z_b^T = lg
                else:
                    with torch.no_grad():
                        t_lg = logits(*teacher["models"], a, b)
                        best_row = t_lg.argmax(0)  # for each B column, the teacher's A row
                        best_col = t_lg.argmax(1)  # for each A row, the teacher's B column
                        counts = torch.bincount(best_row, minlength=len(idx))
                        repeats.append(float((counts > 1).sum()) / len(idx))
                        labels = split_labels[idx]
                    cols = torch.arange(len(idx))
                    if pair_rule in ("argmax", "transposed"):  # every row and every column gets its argmax
                        keep_c = keep_r = torch.ones(len(idx), dtype=torch.bool)
                    else:  # "mutual": only pairs that are each other's argmax (a confidence filter)
                        keep_r = best_row[best_col] == cols
                        keep_c = best_col[best_row] == cols
                    if not keep_r.any():
                        continue
                    hits.append(float((labels[best_col][keep_r] == labels[keep_r]).float().mean()))
                    if pair_rule == "transposed":  # the official index quirk: (A j, B best_row[j]), (A best_col[i], B i)
                        v1, v2 = lg[cols, best_row], lg[best_col, cols]
                    else:
                        v1 = lg[best_row, cols][keep_c]
                        v2 = lg[cols, best_col][keep_r]
                    loss = 0.5 * ((-v1.mean() + lg.logsumexp(0)[keep_c].mean())
                                  + (-v2.mean() + lg.logsumexp(1)[keep_r].mean()))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            curve.append(_class_retrieval(*models, data["test"]))
            precision.append(float(np.mean(hits)) if hits else float("nan"))
            if refresh is not None and (epoch + 1) % loop_epochs == 0:
                score = _class_retrieval(*models, val)
                if score > refresh_factor * teacher["best"]:
                    teacher.update(models=copy.deepcopy(models), best=score)
                    refresh["count"] += 1
        return curve, repeats, precision

    paired_curve, _, _ = run_epochs((enc_a, enc_b), data["paired"], paired_epochs, paired_lr, "true", 0)
    start = copy.deepcopy((enc_a, enc_b))
    oracle_curve, _, _ = run_epochs(copy.deepcopy(start), data["unpaired"], unpaired_epochs, unpaired_lr, "true", 2)
    common = {"paired": np.array(paired_curve), "oracle": np.array(oracle_curve),
              "paired_max": float(max(paired_curve)), "oracle_max": float(max(oracle_curve))}
    rules = {}
    for rule in pair_rules:
        teacher = {"models": copy.deepcopy(start), "best": _class_retrieval(*start, data["val"])}
        refresh = {"count": 0}
        curve, repeats, precision = run_epochs(copy.deepcopy(start), data["unpaired"], unpaired_epochs, unpaired_lr,
                                               "teacher", 1, pair_rule=rule, teacher=teacher, val=data["val"],
                                               refresh=refresh)
        rules[rule] = {"semi": np.array(curve), "semi_max": float(max(curve)), "precision": np.array(precision),
                       "teacher_repeat": float(np.mean(repeats)), "refreshes": refresh["count"]}
    return common, rules


# The two-dataset experiments (MNIST-5k <-> digits: unpaired data, pseudo-pair precision, the noisy class graph)
# and the sqrt(d) law live in nakada2023_real; they are part of this paper's API.
from .nakada2023_real import (E2_PROFILES, REAL_PROFILES, REAL_RULES, coclustering_precision,  # noqa: E402
                              crossover, detection_threshold, gain_vs_precision, mnist_digits_modalities, noisy_graph_study, real_lookup,
                              real_unpaired_study, sqrt_d_law)

__all__ += ["E2_PROFILES", "REAL_PROFILES", "REAL_RULES", "coclustering_precision", "crossover", "detection_threshold",
            "gain_vs_precision",
            "mnist_digits_modalities", "noisy_graph_study", "real_lookup", "real_unpaired_study", "sqrt_d_law"]
