"""The object the suite is built around, on a small example (notebook 00_start_here).

MMCL's optimum is a truncated SVD of a cross-covariance-like matrix. For the CLIP loss
with linear encoders ``M = G1^T G2``, the negative gradient in M is the contrastive
cross-covariance ``S(beta)`` (Nakada et al. 2023): the temperature decides how the
pairs are weighted, and the top singular subspace of ``S(beta)`` is where the encoders
move next.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from .._checks import check_int, check_real
from ..data.synthetic import spiked_pairs
from ..device import make_rng
from ..spectral import (contrastive_cross_covariance, cross_covariance, normalized_cooccurrence,
                        truncated_svd, sin_theta_distance)

__all__ = ["svd_view", "temperature_sweep", "clip_gradient_in_m", "identity_checks", "cooccurrence_spectrum"]


def _data(n_pairs, dim_a, dim_b, rank, noise_std, seed):
    return spiked_pairs(n_pairs, dim_a, dim_b, rank, noise_std, make_rng(seed))


def _partially_trained_m(data: dict, rank: int, similarity_scale: float) -> np.ndarray:
    """M = similarity_scale * (rank-r SVD direction of the sample cross-covariance)."""
    U, _, Vt = truncated_svd(cross_covariance(data["X"], data["Y"]), rank)
    return similarity_scale * U @ Vt


def svd_view(temperature: float = 0.3, n_pairs: int = 48, dim_a: int = 10, dim_b: int = 8,
             rank: int = 2, noise_std: float = 0.3, similarity_scale: float = 2.0, seed: int = 0) -> dict:
    """CLIP weights and the spectrum of S(beta) at a partially trained encoder.

    The encoders sit at ``M = similarity_scale * U_r V_r^T`` (the direction of the top-r SVD
    of the sample cross-covariance), so similarities are informative and the temperature
    matters: a small temperature puts the negative weight on a few hard negatives.

    Reproduces: Nakada et al. 2023, gradient step = SVD of S(beta) (docs/papers/nakada2023.md).

    Args:
        temperature: CLIP temperature tau > 0.
        n_pairs: number of pairs n >= 2.
        dim_a, dim_b: dimensions of the two modalities (>= rank).
        rank: latent dimension r >= 1 of the spiked model.
        noise_std: standard deviation of the isotropic noise, >= 0.
        similarity_scale: spectral norm of M, >= 0 (0 gives uniform weights).
        seed: data seed.

    Returns:
        dict with ``beta`` (n, n), ``S`` (d1, d2), ``singular_values`` (min(d1, d2),),
        ``population_singular_values`` (r,), ``sin_theta`` (top-r left subspace of S vs U1),
        ``linear_loss_S`` ((n-1)/n times the sample cross-covariance: the tau -> inf limit),
        ``offdiag_weight_max``, ``offdiag_weight_entropy`` (nats, log(n(n-1)) when uniform),
        and the inputs ``temperature``, ``rank``.
    """
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    similarity_scale = check_real("similarity_scale", similarity_scale, low=0.0)
    data = _data(n_pairs, dim_a, dim_b, rank, noise_std, seed)
    M = _partially_trained_m(data, rank, similarity_scale)
    S, beta = contrastive_cross_covariance(data["X"], data["Y"], M, temperature, return_weights=True)
    U, s_top, _ = truncated_svd(S, min(S.shape))
    off = beta[~np.eye(beta.shape[0], dtype=bool)]
    return {
        "temperature": temperature,
        "rank": rank,
        "beta": beta,
        "S": S,
        "linear_loss_S": (n_pairs - 1) / n_pairs * cross_covariance(data["X"], data["Y"]),
        "singular_values": s_top,
        "population_singular_values": np.ones(rank),  # E[x y^T] = U1 U2^T with Sigma_z = I
        "sin_theta": sin_theta_distance(U[:, :rank], data["U1"]),
        "offdiag_weight_max": float(off.max()),
        # scipy's entropy normalises and treats 0 log 0 as 0 (weights underflow at small tau).
        "offdiag_weight_entropy": float(scipy.stats.entropy(off)),
    }


def clip_gradient_in_m(X: np.ndarray, Y: np.ndarray, M: np.ndarray, temperature: float) -> np.ndarray:
    """``grad_M (temperature * clip_loss)`` at ``s_ij = x_i^T M y_j`` by torch autograd, float64.

    An independent route to the gradient, to check ``S(beta) = -grad`` against.
    """
    import torch

    from ..losses import clip_loss

    Xt, Yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(Y, dtype=torch.float64)
    Mt = torch.tensor(M, dtype=torch.float64, requires_grad=True)
    # z_a = X M and z_b = Y give z_a z_b^T = X M Y^T.
    loss = temperature * clip_loss(Xt @ Mt, Yt, temperature=temperature)
    (grad,) = torch.autograd.grad(loss, Mt)
    return grad.numpy()


def identity_checks(temperature: float = 0.3, n_pairs: int = 48, dim_a: int = 10, dim_b: int = 8,
                    rank: int = 2, noise_std: float = 0.3, similarity_scale: float = 2.0, seed: int = 0) -> dict:
    """The exact identities behind the SVD view, as numbers to assert on.

    Returns:
        dict with ``gradient_rel_error`` (||S(beta) + grad|| / ||grad||, autograd in float64),
        ``uniform_weight_error`` (max |beta - uniform| at M = 0),
        ``zero_m_covariance_rel_error`` (||S(beta)|_{M=0} - (n-1)/n C_xy|| / ||C_xy||).
    """
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    data = _data(n_pairs, dim_a, dim_b, rank, noise_std, seed)
    X, Y = data["X"], data["Y"]
    M = _partially_trained_m(data, rank, similarity_scale)
    S = contrastive_cross_covariance(X, Y, M, temperature)
    grad = clip_gradient_in_m(X, Y, M, temperature)
    n = X.shape[0]
    S0, beta0 = contrastive_cross_covariance(X, Y, np.zeros_like(M), temperature, return_weights=True)
    uniform = np.full((n, n), 1.0 / n)
    np.fill_diagonal(uniform, (n - 1) / n)
    C = cross_covariance(X, Y)
    return {
        "gradient_rel_error": float(np.linalg.norm(S + grad) / np.linalg.norm(grad)),
        "uniform_weight_error": float(np.abs(beta0 - uniform).max()),
        "zero_m_covariance_rel_error": float(np.linalg.norm(S0 - (n - 1) / n * C) / np.linalg.norm(C)),
    }


def cooccurrence_spectrum(n_images: int = 8, n_texts: int = 6, seed: int = 0) -> np.ndarray:
    """Singular values of the normalised co-occurrence of a random joint distribution.

    Reproduces: Zhang et al. 2023, sigma_1 = 1 with all sigma_i in [0, 1] (docs/papers/zhang2023.md, Result A).

    Args:
        n_images, n_texts: sizes of the finite image and text sets (>= 1).
        seed: seed of the Dirichlet draw.

    Returns:
        (min(n_images, n_texts),) singular values, descending.
    """
    n_images = check_int("n_images", n_images, low=1)
    n_texts = check_int("n_texts", n_texts, low=1)
    P = make_rng(seed).dirichlet(np.ones(n_images * n_texts)).reshape(n_images, n_texts)
    return np.linalg.svd(normalized_cooccurrence(P), compute_uv=False)


def temperature_sweep(temperatures=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0), **example) -> dict:
    """:func:`svd_view` over a grid of temperatures (same data and M at every point).

    Args:
        temperatures: increasing positive temperatures.
        **example: the other keyword arguments of :func:`svd_view`.

    Returns:
        dict with ``temperatures`` (T,), ``singular_values`` (T, min(d1, d2)), ``sin_theta`` (T,),
        ``weight_entropy`` (T,), ``max_entropy`` (log(n(n-1))) and ``linear_gap`` (T,): the
        relative distance ``||S(beta) - S_linear|| / ||S_linear||`` to the linear-loss limit.
    """
    temps = np.asarray(temperatures, dtype=float)
    if temps.ndim != 1 or temps.size == 0 or not np.all(np.isfinite(temps)) or np.any(temps <= 0):
        raise ValueError("temperatures must be a non-empty 1-D sequence of positive finite numbers")
    views = [svd_view(temperature=float(t), **example) for t in temps]
    n = views[0]["beta"].shape[0]
    S_lin = views[0]["linear_loss_S"]
    return {
        "temperatures": temps,
        "singular_values": np.stack([v["singular_values"] for v in views]),
        "sin_theta": np.array([v["sin_theta"] for v in views]),
        "weight_entropy": np.array([v["offdiag_weight_entropy"] for v in views]),
        "max_entropy": float(np.log(n * (n - 1))),
        "linear_gap": np.array([np.linalg.norm(v["S"] - S_lin) / np.linalg.norm(S_lin) for v in views]),
        "rank": views[0]["rank"],
    }
