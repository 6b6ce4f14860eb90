"""Synthetic paired data models.

``spiked_pairs`` is the shared-latent (spiked) model of Nakada et al. 2023 in its simplest
form: ``x = U1 z + xi``, ``y = U2 z + zeta`` with z ~ N(0, I_r), isotropic Gaussian noise
and Haar-random ``U1``, ``U2`` (the released code's instance; docs/papers/nakada2023.md).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ortho_group

from .._checks import check_int, check_real, check_rng

__all__ = ["haar_basis", "sparse_basis", "spiked_pairs", "spiked_model", "MISMATCH_MODELS", "COHERENCE_KINDS"]


def haar_basis(dim: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    """First ``rank`` columns of a Haar-random orthogonal matrix, shape (dim, rank)."""
    dim = check_int("dim", dim, low=2)
    rank = check_int("rank", rank, low=1, high=dim)
    return ortho_group.rvs(dim, random_state=check_rng(rng))[:, :rank]


def spiked_pairs(n_pairs: int, dim_a: int, dim_b: int, rank: int, noise_std: float,
                 rng: np.random.Generator) -> dict:
    """Draw paired samples from the shared-latent model.

    Reproduces: Nakada et al. 2023, generative model (docs/papers/nakada2023.md); population
    cross-covariance ``E[x y^T] = U1 U2^T`` with top-r singular spaces U1, U2.

    Args:
        n_pairs: number of pairs n >= 2.
        dim_a: dimension d1 of modality a (rank <= d1).
        dim_b: dimension d2 of modality b (rank <= d2).
        rank: latent dimension r >= 1.
        noise_std: standard deviation of the isotropic Gaussian noise, >= 0.
        rng: NumPy generator (explicit seed, e.g. ``mmcl_core.device.make_rng(0)``).

    Returns:
        dict with ``X`` (n, d1), ``Y`` (n, d2), ``Z`` (n, r), ``U1`` (d1, r), ``U2`` (d2, r).
    """
    n_pairs = check_int("n_pairs", n_pairs, low=2)
    rank = check_int("rank", rank, low=1)
    dim_a = check_int("dim_a", dim_a, low=max(rank, 2))
    dim_b = check_int("dim_b", dim_b, low=max(rank, 2))
    noise_std = check_real("noise_std", noise_std, low=0.0)
    rng = check_rng(rng)
    U1, U2 = haar_basis(dim_a, rank, rng), haar_basis(dim_b, rank, rng)
    Z = rng.standard_normal((n_pairs, rank))
    X = Z @ U1.T + noise_std * rng.standard_normal((n_pairs, dim_a))
    Y = Z @ U2.T + noise_std * rng.standard_normal((n_pairs, dim_b))
    return {"X": X, "Y": Y, "Z": Z, "U1": U1, "U2": U2}


MISMATCH_MODELS = ("redraw", "permute")
COHERENCE_KINDS = ("haar", "sparse")


def sparse_basis(dim: int, rank: int, sparsity: int, rng: np.random.Generator) -> np.ndarray:
    """Orthonormal columns with ``sparsity`` non-zeros each, on disjoint supports (coherent features).

    Returns:
        (dim, rank) matrix; needs rank * sparsity <= dim.
    """
    dim = check_int("dim", dim, low=1)
    rank = check_int("rank", rank, low=1)
    sparsity = check_int("sparsity", sparsity, low=1)
    if rank * sparsity > dim:
        raise ValueError(f"sparsity must satisfy rank * sparsity <= dim ({rank} * {sparsity} > {dim})")
    rng = check_rng(rng)
    rows = rng.permutation(dim)[: rank * sparsity].reshape(rank, sparsity)
    U = np.zeros((dim, rank))
    for j in range(rank):
        v = rng.standard_normal(sparsity)
        U[rows[j], j] = v / np.linalg.norm(v)
    return U


def spiked_model(n_pairs: int, dim_a: int, dim_b: int, rank: int, *, noise_std: float = 1.0,
                 noise_var_range: tuple[float, float] | None = None, signal_std: float = 1.0,
                 coherence: str = "haar", sparsity: int = 2, eps: float = 0.0, mismatch: str = "redraw",
                 rng: np.random.Generator) -> dict:
    """The shared-latent (spiked) model with heteroskedastic noise and wrongly matched pairs.

    ``x = U1 z + xi``, ``y~ = U2 z + zeta`` with ``z ~ N(0, signal_std^2 I_r)``; the observed partner
    ``y_i`` is ``y~_i`` with probability 1 - eps, else a wrong one: an independent fresh draw
    (``"redraw"``) or another sample's partner (``"permute"``: the wrong pairs are shuffled among
    themselves). E[x y^T] = (1 - eps) U1 Sigma_z U2^T: wrong pairs shrink the signal, not the subspace.

    Reproduces: Nakada et al. 2023, generative model and wrong pairs (docs/papers/nakada2023.md).

    Args:
        n_pairs: n >= 2.
        dim_a, dim_b: d1, d2 (>= rank).
        rank: r >= 1.
        noise_std: standard deviation of isotropic noise (used when ``noise_var_range`` is None).
        noise_var_range: (low, high): heteroskedastic noise, each coordinate's variance ~ U(low, high)
            (drawn once per model).
        signal_std: standard deviation nu of each latent coordinate.
        coherence: "haar" (incoherent, Haar-random U) or "sparse" (coherent: ``sparsity`` non-zeros per column).
        eps: wrong-pair rate in [0, 1).
        mismatch: one of ``MISMATCH_MODELS``.
        rng: NumPy generator.

    Returns:
        dict with ``X`` (n, d1), ``Y`` (n, d2) observed pairs, ``Y_true`` (n, d2), ``wrong`` (n,) bool,
        ``U1``, ``U2``, ``noise_var_a`` (d1,), ``noise_var_b`` (d2,).
    """
    from .._checks import check_choice

    n_pairs = check_int("n_pairs", n_pairs, low=2)
    rank = check_int("rank", rank, low=1)
    dim_a = check_int("dim_a", dim_a, low=rank)
    dim_b = check_int("dim_b", dim_b, low=rank)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    signal_std = check_real("signal_std", signal_std, low=0.0, low_open=True)
    check_choice("coherence", coherence, COHERENCE_KINDS)
    check_choice("mismatch", mismatch, MISMATCH_MODELS)
    eps = check_real("eps", eps, low=0.0, high=1.0, high_open=True)
    rng = check_rng(rng)
    var_a, var_b = _noise_variances(noise_var_range, noise_std, dim_a, dim_b, rng)
    if coherence == "haar":
        U1, U2 = haar_basis(dim_a, rank, rng), haar_basis(dim_b, rank, rng)
    else:
        U1, U2 = sparse_basis(dim_a, rank, sparsity, rng), sparse_basis(dim_b, rank, sparsity, rng)
    Z = signal_std * rng.standard_normal((n_pairs, rank))
    X = Z @ U1.T + rng.standard_normal((n_pairs, dim_a)) * np.sqrt(var_a)
    Y_true = Z @ U2.T + rng.standard_normal((n_pairs, dim_b)) * np.sqrt(var_b)
    wrong = rng.random(n_pairs) < eps
    Y = _mismatched(Y_true, np.flatnonzero(wrong), mismatch, signal_std, U2, var_b, rng)
    return {"X": X, "Y": Y, "Y_true": Y_true, "wrong": wrong, "U1": U1, "U2": U2,
            "noise_var_a": var_a, "noise_var_b": var_b}


def _noise_variances(noise_var_range, noise_std: float, dim_a: int, dim_b: int, rng) -> tuple:
    """Per-coordinate noise variances of both modalities: ~ U(low, high) when a range is given, else noise_std^2."""
    if noise_var_range is None:
        return np.full(dim_a, noise_std ** 2), np.full(dim_b, noise_std ** 2)
    lo = check_real("noise_var_range[0]", noise_var_range[0], low=0.0)
    hi = check_real("noise_var_range[1]", noise_var_range[1], low=lo)
    return rng.uniform(lo, hi, dim_a), rng.uniform(lo, hi, dim_b)


def _mismatched(Y_true, idx, mismatch: str, signal_std: float, U2, var_b, rng):
    """The observed partners: rows ``idx`` redrawn (``"redraw"``) or cyclically shifted among themselves."""
    Y = Y_true.copy()
    if idx.size:
        if mismatch == "redraw" or idx.size == 1:  # one wrong pair cannot be permuted: redraw it
            Z_new = signal_std * rng.standard_normal((idx.size, U2.shape[1]))
            Y[idx] = Z_new @ U2.T + rng.standard_normal((idx.size, U2.shape[0])) * np.sqrt(var_b)
        else:
            order = rng.permutation(idx)
            Y[order] = Y_true[np.roll(order, 1)]  # a cyclic shift: no wrong pair keeps its own partner
    return Y
