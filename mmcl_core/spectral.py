"""The object three of the four papers share: MMCL's optimum is a truncated SVD of a
cross-covariance-like matrix.

* Zhang et al. 2023: the normalised co-occurrence ``D_V^{-1/2} P D_L^{-1/2}``.
* Nakada et al. 2023: the contrastive cross-covariance ``S(beta)``, the negative gradient
  of the CLIP loss in ``M = G1^T G2``.
* Xue et al. 2024: the sample image-text cross-covariance (the linear loss).

Matrix-valued functions accept NumPy arrays or torch tensors and return the same kind
(torch inputs stay on their device and dtype; float16/bfloat16 are computed in float32). Subspace functions return
NumPy values. Arguments that are used together must be of one kind (NumPy or torch), dtype and device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from ._checks import check_alike, check_finite_result, check_int, check_matrix, check_real, check_same_rows, is_torch

__all__ = [
    "normalized_cooccurrence",
    "cross_covariance",
    "clip_weights",
    "contrastive_cross_covariance",
    "truncated_svd",
    "linear_mmcl",
    "sin_theta_distance",
    "principal_angles",
]


def _to_numpy(x: Any) -> np.ndarray:
    if is_torch(x):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def normalized_cooccurrence(P: Any, *, atol: float | None = None) -> Any:
    """Normalised co-occurrence matrix ``D_V^{-1/2} P D_L^{-1/2}``.

    Entry (v, l) is ``P(v, l) / sqrt(P_V(v) P_L(l))``. Its top singular value is exactly 1
    with singular vectors ``sqrt(P_V)`` and ``sqrt(P_L)``; its SVD is correspondence analysis.

    Reproduces: Zhang et al. 2023, the matrix MMCL factorises (docs/papers/zhang2023.md, Result A).

    Args:
        P: (|X_V|, |X_L|) joint distribution: non-negative, sums to 1, no zero marginals.
        atol: tolerance for ``sum(P) == 1``; default ``max(1e-8, P.size * eps)`` with ``eps`` the machine epsilon of
            ``P``'s dtype (a float32 ``P / P.sum()`` sums to 1 only up to rounding).

    Returns:
        Same shape and array type as ``P``.

    Raises:
        ValueError: negative entries, zero row/column marginals, or total mass != 1.
    """
    dtype = P.dtype if hasattr(P, "dtype") else np.float64
    P = check_matrix("P", P)
    torch_in = is_torch(P)
    if atol is None:
        eps = (__import__("torch").finfo(dtype).eps if torch_in else np.finfo(dtype).eps
               if np.issubdtype(np.dtype(dtype), np.floating) else np.finfo(np.float64).eps)
        atol = max(1e-8, float(np.prod(P.shape)) * eps)
    else:
        atol = check_real("atol", atol, low=0.0)
    if bool((P < 0).any()):
        raise ValueError("P must have non-negative entries (a joint distribution)")
    total = float(P.sum())
    if abs(total - 1.0) > atol:
        raise ValueError(f"P must sum to 1 (a joint distribution), got sum {total:.6g}")
    p_v, p_l = P.sum(1), P.sum(0)
    if bool((p_v <= 0).any()) or bool((p_l <= 0).any()):
        raise ValueError("P must have strictly positive marginals (no all-zero row or column)")
    if torch_in:
        return P / (p_v.sqrt()[:, None] * p_l.sqrt()[None, :])
    return P / np.sqrt(np.outer(p_v, p_l))


def cross_covariance(X: Any, Y: Any) -> Any:
    """Unbiased sample cross-covariance ``1/(n-1) sum_i (x_i - xbar)(y_i - ybar)^T``.

    Equals the cross block ``np.cov(X.T, Y.T)[:d1, d1:]``; it is also exactly the S of the
    linear MMCL loss (Nakada et al. 2023, docs/papers/nakada2023.md).

    Args:
        X: (n, d1) samples, n >= 2.
        Y: (n, d2) paired samples.

    Returns:
        (d1, d2) matrix, same array type as ``X``.
    """
    check_alike(X=X, Y=Y)
    X = check_matrix("X", X, min_rows=2)
    Y = check_matrix("Y", Y, min_rows=2)
    check_same_rows("X", X, "Y", Y)
    Xc = X - X.mean(0, keepdims=True) if not is_torch(X) else X - X.mean(0, keepdim=True)
    Yc = Y - Y.mean(0, keepdims=True) if not is_torch(Y) else Y - Y.mean(0, keepdim=True)
    return check_finite_result(Xc.T @ Yc / (X.shape[0] - 1), "X, Y",
                               f"the cross-covariance overflows {X.dtype}: use smaller values or float64")


def _softmax(a: Any, axis: int) -> Any:
    if is_torch(a):
        return a.softmax(dim=axis)
    a = a - a.max(axis=axis, keepdims=True)  # shift for stability; exp(0) = 1 is the max
    e = np.exp(a)
    return e / e.sum(axis=axis, keepdims=True)


def _check_xym(X: Any, Y: Any, M: Any):
    check_alike(X=X, Y=Y, M=M)
    X = check_matrix("X", X, min_rows=2)
    Y = check_matrix("Y", Y, min_rows=2)
    M = check_matrix("M", M)
    check_same_rows("X", X, "Y", Y)
    if tuple(M.shape) != (X.shape[1], Y.shape[1]):
        raise ValueError(f"M must have shape (d1, d2) = ({X.shape[1]}, {Y.shape[1]}), got {tuple(M.shape)}")
    return X, Y, M


def clip_weights(X: Any, Y: Any, M: Any, temperature: float) -> Any:
    """CLIP weights beta of the contrastive cross-covariance.

    With ``s_ij = x_i^T M y_j``, ``p`` the row softmax and ``q`` the column softmax of
    ``s / temperature``: ``beta_ij = (p_ij + q_ij)/2`` for i != j and
    ``beta_ii = 1 - (p_ii + q_ii)/2``. At ``M = 0`` they are uniform: ``1/n`` and ``(n-1)/n``.

    Reproduces: Nakada et al. 2023, CLIP weights (docs/papers/nakada2023.md).

    Args:
        X: (n, d1) samples of modality 1.
        Y: (n, d2) paired samples of modality 2.
        M: (d1, d2) similarity matrix ``G1^T G2``.
        temperature: positive float.

    Returns:
        (n, n) matrix: off-diagonal entries beta_ij, diagonal entries beta_ii.
    """
    X, Y, M = _check_xym(X, Y, M)
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    return _clip_weights(X, Y, M, temperature)


def _with_diagonal(a: Any, diag: Any) -> Any:
    """Copy of square matrix ``a`` with its diagonal replaced by ``diag``."""
    if is_torch(a):
        a = a.clone()
        a.diagonal().copy_(diag)
        return a
    a = a.copy()
    np.fill_diagonal(a, diag)
    return a


def _clip_weights(X: Any, Y: Any, M: Any, temperature: float) -> Any:
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow becomes the ValueError below
        logits = (X @ M @ Y.T) / temperature
    logits = check_finite_result(logits, "temperature, X, Y, M",
                                 f"the logits x_i^T M y_j / temperature overflow {X.dtype}: use a larger "
                                 "temperature, smaller inputs or float64")
    beta = 0.5 * (_softmax(logits, 1) + _softmax(logits, 0))
    return _with_diagonal(beta, 1.0 - beta.diagonal())


def contrastive_cross_covariance(X: Any, Y: Any, M: Any, temperature: float, *,
                                 return_weights: bool = False) -> Any:
    """Contrastive cross-covariance ``S(beta)`` with the CLIP weights.

    ``S(beta) = (1/n) sum_i beta_ii x_i y_i^T - (1/n) sum_{i != j} beta_ij x_i y_j^T``.
    It equals ``-grad_M`` of ``temperature * clip_loss`` at similarities ``s_ij = x_i^T M y_j``,
    so one step of loss minimisation over rank-r M is a rank-r SVD of ``S(beta)``.

    Reproduces: Nakada et al. 2023, gradient = -S(beta) (docs/papers/nakada2023.md).

    Args:
        X: (n, d1) samples of modality 1, n >= 2.
        Y: (n, d2) paired samples of modality 2.
        M: (d1, d2) current ``G1^T G2``.
        temperature: positive float.
        return_weights: also return the (n, n) weights from :func:`clip_weights`.

    Returns:
        (d1, d2) matrix (same array type as X), or ``(S, beta)`` if ``return_weights``.
    """
    X, Y, M = _check_xym(X, Y, M)
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    beta = _clip_weights(X, Y, M, temperature)
    # Positive pairs are weighted up (+beta_ii), negative pairs down (-beta_ij).
    signed = _with_diagonal(-beta, beta.diagonal())
    S = check_finite_result(X.T @ signed @ Y / X.shape[0], "X, Y", f"S(beta) overflows {X.dtype}: use smaller "
                            "inputs or float64")
    return (S, beta) if return_weights else S


def truncated_svd(A: Any, rank: int):
    """Top-r singular triplets, ``A ~= U diag(s) Vt`` (Eckart-Young best rank-r approximation).

    Args:
        A: (m, n) matrix (NumPy or torch; computed in float64 by ``scipy.linalg.svd``).
        rank: 1 <= rank <= min(m, n).

    Returns:
        ``(U, s, Vt)`` NumPy arrays of shapes (m, rank), (rank,), (rank, n); ``s`` descending.
    """
    A = _to_numpy(check_matrix("A", A))
    rank = check_int("rank", rank, low=1, high=min(A.shape))
    U, s, Vt = scipy.linalg.svd(A, full_matrices=False)
    return U[:, :rank], s[:rank], Vt[:rank]


def linear_mmcl(X: Any, Y: Any, rank: int | None = None, rho: float = 1.0) -> np.ndarray:
    """The minimiser of the linear MMCL loss ``-tr(M^T S) + (rho/2) ||M||_F^2`` over rank <= ``rank``:
    ``M = SVD_rank(S) / rho`` with S the sample cross-covariance of X (n, d1) and Y (n, d2) (Eckart-Young). The
    encoders are any factorisation ``M = G1^T G2``. ``rank=None``: full rank."""
    S = cross_covariance(X, Y)
    S = _to_numpy(S)
    rank = min(S.shape) if rank is None else check_int("rank", rank, low=1, high=min(S.shape))
    U, s, Vt = truncated_svd(S, rank)
    return (U * s) @ Vt / check_real("rho", rho, low=0.0, low_open=True)


def _orthonormal_basis(name: str, B: Any) -> np.ndarray:
    B = _to_numpy(check_matrix(name, B))
    if B.shape[1] > B.shape[0]:
        raise ValueError(f"{name} must have at most as many columns as rows (a basis), got shape {B.shape}")
    Q, R = scipy.linalg.qr(B, mode="economic")
    diag = np.abs(np.diag(R))
    if diag.min() <= 1e-12 * max(diag.max(), 1e-300):
        raise ValueError(f"{name} must have full column rank")
    return Q


def principal_angles(U: Any, V: Any) -> np.ndarray:
    """Principal angles between the column spaces of U and V, ascending, in radians.

    Args:
        U: (d, k1) full-column-rank basis (need not be orthonormal).
        V: (d, k2) full-column-rank basis.

    Returns:
        (min(k1, k2),) angles in [0, pi/2], smallest first.
    """
    Qu, Qv = _orthonormal_basis("U", U), _orthonormal_basis("V", V)
    if Qu.shape[0] != Qv.shape[0]:
        raise ValueError(f"U and V must have the same number of rows, got {Qu.shape[0]} and {Qv.shape[0]}")
    return np.sort(scipy.linalg.subspace_angles(Qu, Qv))


def sin_theta_distance(U: Any, V: Any) -> float:
    """Frobenius sin-Theta distance ``sqrt(sum_i sin^2 theta_i)`` between column spaces.

    For orthonormal bases of equal dimension r it equals ``sqrt(r - ||U^T V||_F^2)``, the
    feature-recovery error of Nakada et al. 2023 (docs/papers/nakada2023.md).

    Args:
        U: (d, r) full-column-rank basis.
        V: (d, r) full-column-rank basis of the same dimension.

    Returns:
        float in [0, sqrt(r)].
    """
    U, V = check_matrix("U", U), check_matrix("V", V)
    if tuple(U.shape) != tuple(V.shape):
        raise ValueError(f"U and V must have the same shape (d, r), got {tuple(U.shape)} and {tuple(V.shape)}")
    return float(np.sqrt(np.sum(np.sin(principal_angles(U, V)) ** 2)))
