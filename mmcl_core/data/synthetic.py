"""Synthetic paired data models.

``spiked_pairs`` is the shared-latent (spiked) model of Nakada et al. 2023 in its simplest
form: ``x = U1 z + xi``, ``y = U2 z + zeta`` with z ~ N(0, I_r), isotropic Gaussian noise
and Haar-random ``U1``, ``U2`` (the official code's instance, digest §1.2).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ortho_group

from .._checks import check_int, check_real

__all__ = ["haar_basis", "spiked_pairs"]


def haar_basis(dim: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    """First ``rank`` columns of a Haar-random orthogonal matrix, shape (dim, rank)."""
    dim = check_int("dim", dim, low=2)
    rank = check_int("rank", rank, low=1, high=dim)
    return ortho_group.rvs(dim, random_state=rng)[:, :rank]


def spiked_pairs(n_pairs: int, dim_a: int, dim_b: int, rank: int, noise_std: float,
                 rng: np.random.Generator) -> dict:
    """Draw paired samples from the shared-latent model.

    Reproduces: Nakada et al. 2023, generative model (digest §1.2); population
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
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    U1, U2 = haar_basis(dim_a, rank, rng), haar_basis(dim_b, rank, rng)
    Z = rng.standard_normal((n_pairs, rank))
    X = Z @ U1.T + noise_std * rng.standard_normal((n_pairs, dim_a))
    Y = Z @ U2.T + noise_std * rng.standard_normal((n_pairs, dim_b))
    return {"X": X, "Y": Y, "Z": Z, "U1": U1, "U2": U2}
