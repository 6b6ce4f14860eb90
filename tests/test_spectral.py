"""Spectral toolkit: S(beta) against autograd, uniform weights at M = 0, np.cov parity,
sigma_1 = 1 of the normalised co-occurrence, subspace distances on analytic cases."""

import math

import numpy as np
import pytest
import torch

from mmcl_core.experiments.start_here import clip_gradient_in_m
from mmcl_core.spectral import (clip_weights, contrastive_cross_covariance, cross_covariance,
                                normalized_cooccurrence, principal_angles, sin_theta_distance, truncated_svd)


def _instance(seed, n=None, d1=None, d2=None, m_scale=1.0):
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(2, 40))
    d1, d2 = d1 or int(rng.integers(1, 9)), d2 or int(rng.integers(1, 9))
    X, Y = rng.standard_normal((n, d1)), rng.standard_normal((n, d2))
    M = m_scale * rng.standard_normal((d1, d2))
    return X, Y, M


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("temperature", [0.05, 0.7, 5.0])
def test_contrastive_cross_covariance_is_minus_gradient(seed, temperature):
    X, Y, M = _instance(seed, m_scale=0.5)
    S = contrastive_cross_covariance(X, Y, M, temperature)
    grad = clip_gradient_in_m(X, Y, M, temperature)
    assert np.linalg.norm(S + grad) <= 1e-8 * np.linalg.norm(grad)


def test_contrastive_cross_covariance_matches_finite_differences():
    """Independent of autograd: central differences of temperature * clip_loss in M."""
    from mmcl_core.losses import clip_loss

    X, Y, M = _instance(3, n=7, d1=5, d2=4)
    tau = 0.7

    def loss(Mv):
        return tau * float(clip_loss(torch.as_tensor(X @ Mv), torch.as_tensor(Y), temperature=tau))

    h = 1e-6
    fd = np.zeros_like(M)
    for idx in np.ndindex(*M.shape):
        E = np.zeros_like(M)
        E[idx] = h
        fd[idx] = (loss(M + E) - loss(M - E)) / (2 * h)
    assert np.abs(contrastive_cross_covariance(X, Y, M, tau) + fd).max() <= 1e-8


@pytest.mark.parametrize("n", [2, 5, 31])
def test_weights_uniform_at_zero_m(n):
    X, Y, _ = _instance(n, n=n, d1=4, d2=3)
    beta = clip_weights(X, Y, np.zeros((4, 3)), temperature=0.3)
    expected = np.full((n, n), 1.0 / n)
    np.fill_diagonal(expected, (n - 1) / n)
    np.testing.assert_allclose(beta, expected, rtol=0, atol=1e-15)
    S0 = contrastive_cross_covariance(X, Y, np.zeros((4, 3)), 0.3)
    np.testing.assert_allclose(S0, (n - 1) / n * cross_covariance(X, Y), rtol=1e-12, atol=1e-14)


def test_weights_stay_finite_and_bounded_at_extreme_similarities():
    X, Y, M = _instance(0, n=10, d1=3, d2=3, m_scale=1e4)
    beta = clip_weights(X, Y, M, temperature=1e-3)
    assert np.isfinite(beta).all() and beta.min() >= 0 and beta.max() <= 1


def test_cross_covariance_equals_np_cov_block():
    X, Y, _ = _instance(1, n=50, d1=6, d2=4)
    np.testing.assert_allclose(cross_covariance(X, Y), np.cov(X.T, Y.T)[:6, 6:], rtol=1e-12, atol=1e-14)


def test_torch_and_numpy_inputs_agree_and_keep_type():
    X, Y, M = _instance(2, n=12, d1=5, d2=4)
    S_np, beta_np = contrastive_cross_covariance(X, Y, M, 0.4, return_weights=True)
    S_t, beta_t = contrastive_cross_covariance(torch.as_tensor(X), torch.as_tensor(Y), torch.as_tensor(M), 0.4,
                                               return_weights=True)
    assert isinstance(S_t, torch.Tensor) and S_t.dtype == torch.float64
    np.testing.assert_allclose(S_t.numpy(), S_np, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(beta_t.numpy(), beta_np, rtol=1e-12, atol=1e-15)
    C_t = cross_covariance(torch.as_tensor(X), torch.as_tensor(Y))
    np.testing.assert_allclose(C_t.numpy(), cross_covariance(X, Y), rtol=1e-12)
    P = np.random.default_rng(0).dirichlet(np.ones(12)).reshape(3, 4)
    np.testing.assert_allclose(normalized_cooccurrence(torch.as_tensor(P)).numpy(), normalized_cooccurrence(P))


@pytest.mark.parametrize("seed", range(200))
def test_normalized_cooccurrence_top_singular_value_is_one(seed):
    rng = np.random.default_rng(seed)
    nv, nl = rng.integers(1, 12, size=2)
    P = rng.dirichlet(np.full(nv * nl, rng.uniform(0.1, 2.0))).reshape(nv, nl)
    P = np.maximum(P, 1e-300)
    P /= P.sum()
    s = np.linalg.svd(normalized_cooccurrence(P), compute_uv=False)
    assert abs(s[0] - 1.0) <= 1e-12
    assert s.min() >= -1e-12 and s.max() <= 1 + 1e-12


def test_normalized_cooccurrence_singular_vectors_are_sqrt_marginals():
    P = np.random.default_rng(5).dirichlet(np.ones(20)).reshape(4, 5)
    A = normalized_cooccurrence(P)
    np.testing.assert_allclose(A @ np.sqrt(P.sum(0)), np.sqrt(P.sum(1)), rtol=1e-12)


@pytest.mark.parametrize("P,match", [
    (np.array([[0.5, -0.1], [0.3, 0.3]]), "non-negative"),
    (np.array([[0.5, 0.0], [0.5, 0.0]]), "marginals"),
    (np.array([[0.2, 0.2], [0.2, 0.2]]), "sum to 1"),
    (np.array([[np.nan, 0.5], [0.25, 0.25]]), "finite"),
    (np.array([0.5, 0.5]), "2 dimensions"),
])
def test_normalized_cooccurrence_rejects_bad_distributions(P, match):
    with pytest.raises(ValueError, match=match):
        normalized_cooccurrence(P)


def test_truncated_svd_is_best_rank_r():
    A = np.random.default_rng(0).standard_normal((7, 5))
    U, s, Vt = truncated_svd(A, 2)
    assert U.shape == (7, 2) and s.shape == (2,) and Vt.shape == (2, 5)
    full = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(s, full[:2])
    assert math.isclose(np.linalg.norm(A - U @ np.diag(s) @ Vt), np.sqrt(np.sum(full[2:] ** 2)), rel_tol=1e-12)
    with pytest.raises(ValueError, match="rank must be"):
        truncated_svd(A, 6)


@pytest.mark.parametrize("angle", [0.0, 0.3, 1.0, np.pi / 2])
def test_principal_angles_and_sin_theta_on_rotated_planes(angle):
    e = np.eye(4)
    U = e[:, :2]
    V = np.column_stack([e[:, 0], np.cos(angle) * e[:, 1] + np.sin(angle) * e[:, 2]])
    np.testing.assert_allclose(principal_angles(U, V), [0.0, angle], atol=1e-7)
    assert math.isclose(sin_theta_distance(U, V), abs(np.sin(angle)), abs_tol=1e-7)
    # Non-orthonormal bases of the same spaces give the same answer.
    B = np.array([[2.0, 1.0], [0.0, 3.0]])
    assert math.isclose(sin_theta_distance(U @ B, V @ B.T), abs(np.sin(angle)), abs_tol=1e-7)


def test_sin_theta_equals_nakada_formula_for_orthonormal_bases():
    rng = np.random.default_rng(3)
    Q1 = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    Q2 = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    assert math.isclose(sin_theta_distance(Q1, Q2), np.sqrt(3 - np.linalg.norm(Q1.T @ Q2) ** 2), rel_tol=1e-10)


def test_subspace_functions_reject_rank_deficient_and_mismatched_bases():
    U = np.eye(4)[:, :2]
    with pytest.raises(ValueError, match="full column rank"):
        sin_theta_distance(U, np.column_stack([U[:, 0], U[:, 0]]))
    with pytest.raises(ValueError, match="same shape"):
        sin_theta_distance(U, np.eye(4)[:, :3])
    with pytest.raises(ValueError, match="same number of rows"):
        principal_angles(U, np.eye(5)[:, :2])


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(temperature=0.0), ValueError, "temperature"),
    (dict(temperature=-1.0), ValueError, "temperature"),
    (dict(M=np.zeros((2, 2))), ValueError, "M must have shape"),
    (dict(Y=np.zeros((4, 3))), ValueError, "batch size"),
    (dict(X=np.full((5, 3), np.inf)), ValueError, "finite"),
    (dict(X=np.zeros((1, 3)), Y=np.zeros((1, 2))), ValueError, "at least 2 row"),
    (dict(M=torch.zeros(3, 2)), TypeError, "all NumPy arrays or all torch"),
    (dict(X="abc"), TypeError, "X must be"),
])
def test_contrastive_cross_covariance_rejects_bad_input(kwargs, exc, match):
    args = dict(X=np.zeros((5, 3)), Y=np.zeros((5, 2)), M=np.zeros((3, 2)), temperature=0.5)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        contrastive_cross_covariance(**args)
