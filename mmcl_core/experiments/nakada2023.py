"""Nakada et al. (AISTATS 2023): each gradient step of MMCL is an SVD of the contrastive
cross-covariance; feature recovery under wrong pairs; the unimodal comparison.

The project's notes (docs/papers/nakada2023.md) reconstruct the paper's theorem forms from its abstract and the
authors' code; the identities used here are exact and checked numerically, the rates are the Wedin-type
scalings derived there (flagged as reconstructed in the notebooks).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_matrix, check_real, check_rng
from ..data.pairings import class_paired_modalities
from ..data.synthetic import spiked_model
from ..spectral import contrastive_cross_covariance, cross_covariance, sin_theta_distance, truncated_svd

__all__ = ["linear_solution", "factor_gd_linear", "clip_objective", "projected_gd_clip", "factor_gd_clip",
           "masking_cl", "diagonal_deletion", "pca", "recovery_error", "UNIMODAL_METHODS", "rate_curves",
           "compare_methods", "recovery_panel", "svd_step_panel", "OFFICIAL_E1", "E1Setting", "unpaired_sweep",
           "unpaired_synthetic",
           "unpaired_linear_proxy", "linear_proxy_panel", "unpaired_lookup", "class_paired_modalities",
           "SEMI_PAIR_RULES", "semi_supervised_proxy", "semi_supervised_study", "semi_lookup"]

UNIMODAL_METHODS = ("masking", "diagonal_deletion")


def linear_solution(X, Y, rank: int, rho: float = 1.0) -> dict:
    """Closed-form minimiser of the linear MMCL loss: ``M* = SVD_r(C)/rho`` with C the sample cross-covariance.

    Reproduces: Nakada et al. 2023, T1 for the linear loss (docs/papers/nakada2023.md): one SVD gives the global
    minimiser.

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
    cross-covariance (Nakada et al. 2023, docs/papers/nakada2023.md). Small ``eta rho`` converges; the full step can
    oscillate.

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
    return {"M": M, "step_norms": np.array(norms), "two_step_norms": np.array(two_step),
            "objective": np.array(objective),
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


# Unpaired data (paper §5.1, the released synthetic experiment E1) and the real-data proxy of the MNIST <->
# Fashion-MNIST experiment (§5.3) live in nakada2023_unpaired and nakada2023_semi; they are part of this paper's API.
from .nakada2023_semi import SEMI_PAIR_RULES, semi_lookup, semi_supervised_proxy, semi_supervised_study  # noqa: E402
from .nakada2023_unpaired import (OFFICIAL_E1, E1Setting, linear_proxy_panel, unpaired_linear_proxy,  # noqa: E402
                                  unpaired_lookup, unpaired_sweep, unpaired_synthetic)

# The two-dataset experiments (MNIST-5k <-> digits: unpaired data and pseudo-pair precision in nakada2023_real; the
# noisy class graph and the sqrt(d) law in nakada2023_graph) are part of this paper's API.
from .nakada2023_graph import (E2_PROFILES, coclustering_precision, detection_threshold,  # noqa: E402
                               noisy_graph_study, sqrt_d_law)
from .nakada2023_real import (REAL_PROFILES, REAL_RULES, crossover, gain_vs_precision,  # noqa: E402
                              mnist_digits_modalities, real_lookup, real_unpaired_study)

__all__ += ["E2_PROFILES", "REAL_PROFILES", "REAL_RULES", "coclustering_precision", "crossover", "detection_threshold",
            "gain_vs_precision", "mnist_digits_modalities", "noisy_graph_study", "real_lookup", "real_unpaired_study",
            "sqrt_d_law"]
