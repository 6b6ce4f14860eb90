"""Losses: parity with independent re-implementations (forward and gradient), analytic
values, symmetry, float32 finiteness and argument checks."""

import math

import numpy as np
import pytest
import torch

from mmcl_core.losses import (LearnableTemperature, clip_loss, linear_mmcl_loss, nt_xent_loss, siglip_loss,
                              spectral_contrastive_loss)

SIZES = [1, 2, 7, 64]
TEMPERATURES = [0.01, 0.07, 0.5, 2.0]


def _pair(n, k=5, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, k, generator=gen, dtype=dtype, requires_grad=True)
    b = torch.randn(n, k, generator=gen, dtype=dtype, requires_grad=True)
    return a, b


# --- independent reference formulas (loops / different primitives on purpose) ---------

def ref_clip(a, b, t):
    logits = a @ b.T / t
    n = a.shape[0]
    rows = [torch.logsumexp(logits[i], 0) - logits[i, i] for i in range(n)]
    cols = [torch.logsumexp(logits[:, j], 0) - logits[j, j] for j in range(n)]
    return 0.5 * (torch.stack(rows).mean() + torch.stack(cols).mean())


def ref_siglip(a, b, scale, bias):
    n = a.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            label = 1.0 if i == j else -1.0
            x = -label * (scale * a[i] @ b[j] + bias)
            # exact softplus; F.softplus switches to the identity above x = 20
            total = total + torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))
    return total / n


def ref_nt_xent(z1, z2, t):
    z = torch.cat([z1 / z1.norm(dim=1, keepdim=True), z2 / z2.norm(dim=1, keepdim=True)])
    n2 = z.shape[0]
    n = n2 // 2
    losses = []
    for a in range(n2):
        pos = (a + n) % n2
        others = [k for k in range(n2) if k != a]
        sims = torch.stack([z[a] @ z[k] / t for k in others])
        losses.append(torch.logsumexp(sims, 0) - z[a] @ z[pos] / t)
    return torch.stack(losses).mean()


def ref_spectral(a, b):
    n = a.shape[0]
    pos = sum(a[i] @ b[i] for i in range(n)) / n
    neg = sum((a[i] @ b[j]) ** 2 for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return -2 * pos + neg


def _assert_parity(loss_fn, ref_fn, inputs):
    out = loss_fn(*inputs)
    ref = ref_fn(*inputs)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    leaves = [x for x in inputs if isinstance(x, torch.Tensor) and x.requires_grad]
    g_out = torch.autograd.grad(out, leaves)
    g_ref = torch.autograd.grad(ref, leaves)
    for go, gr in zip(g_out, g_ref):
        torch.testing.assert_close(go, gr, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("t", TEMPERATURES)
def test_clip_parity_forward_and_gradient(n, t):
    a, b = _pair(n, seed=n)
    _assert_parity(lambda a, b: clip_loss(a, b, t), lambda a, b: ref_clip(a, b, t), (a, b))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("scale,bias", [(10.0, -10.0), (1.0, 0.0), (3.0, 2.0)])
def test_siglip_parity_forward_and_gradient(n, scale, bias):
    a, b = _pair(n, seed=n + 1)
    _assert_parity(lambda a, b: siglip_loss(a, b, scale, bias), lambda a, b: ref_siglip(a, b, scale, bias), (a, b))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
def test_nt_xent_parity_forward_and_gradient(n, t):
    a, b = _pair(n, seed=n + 2)
    _assert_parity(lambda a, b: nt_xent_loss(a, b, t), lambda a, b: ref_nt_xent(a, b, t), (a, b))


@pytest.mark.parametrize("n", [2, 7, 64])
def test_spectral_parity_forward_and_gradient(n):
    a, b = _pair(n, seed=n + 3)
    _assert_parity(spectral_contrastive_loss, ref_spectral, (a, b))


# --- analytic values --------------------------------------------------------------------

@pytest.mark.parametrize("n", SIZES)
def test_clip_identical_pairs_is_log_n(n):
    z = torch.ones(n, 3, dtype=torch.float64)  # every similarity equal
    assert math.isclose(float(clip_loss(z, z, 0.07)), math.log(n), rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("s", [0.5, 1.0, 5.0, 20.0])
def test_clip_orthonormal_pairs(n, s):
    z = torch.eye(n, dtype=torch.float64)
    expected = math.log(1 + (n - 1) * math.exp(-s))
    assert math.isclose(float(clip_loss(z, z, 1.0 / s)), expected, rel_tol=1e-12, abs_tol=1e-14)


@pytest.mark.parametrize("n", SIZES)
def test_nt_xent_collinear_is_log_2n_minus_1(n):
    z = torch.arange(1, n + 1, dtype=torch.float64)[:, None] * torch.tensor([[1.0, 2.0, -1.0]], dtype=torch.float64)
    assert math.isclose(float(nt_xent_loss(z, 3 * z, 0.5)), math.log(2 * n - 1), rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("n", SIZES)
def test_siglip_zero_logits_is_n_log_2(n):
    z = torch.zeros(n, 4, dtype=torch.float64)
    assert math.isclose(float(siglip_loss(z, z, scale=10.0, bias=0.0)), n * math.log(2), rel_tol=1e-12)


def test_spectral_loss_at_zero_embeddings_is_zero():
    z = torch.zeros(5, 3, dtype=torch.float64)
    assert float(spectral_contrastive_loss(z, z)) == 0.0


# --- symmetry and finiteness ------------------------------------------------------------

@pytest.mark.parametrize("loss", [lambda a, b: clip_loss(a, b, 0.1), lambda a, b: siglip_loss(a, b),
                                  lambda a, b: nt_xent_loss(a, b, 0.3), spectral_contrastive_loss])
def test_losses_are_symmetric(loss):
    a, b = _pair(9, seed=11)
    torch.testing.assert_close(loss(a, b), loss(b, a), rtol=1e-12, atol=1e-12)


def test_float32_finite_at_small_temperature_and_huge_logits():
    gen = torch.Generator().manual_seed(0)
    signs = torch.randint(0, 2, (16, 1), generator=gen).float() * 2 - 1
    a = (100.0 * signs).requires_grad_(True)  # similarities +-1e4, logits +-1e6 at temperature 0.01
    b = (100.0 * signs.flip(0)).requires_grad_(True)
    for loss in (clip_loss(a, b, 0.01), siglip_loss(a, b, 100.0, -10.0), nt_xent_loss(a, b, 0.01),
                 spectral_contrastive_loss(a, b)):
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        grads = torch.autograd.grad(loss, (a, b))
        assert all(torch.isfinite(g).all() for g in grads)


# --- linear MMCL loss ---------------------------------------------------------------------

def test_linear_mmcl_loss_equals_trace_form_with_cross_covariance():
    rng = np.random.default_rng(0)
    n, d1, d2, r, rho = 30, 6, 5, 3, 0.7
    x, y = rng.standard_normal((n, d1)), rng.standard_normal((n, d2))
    G1, G2 = rng.standard_normal((r, d1)), rng.standard_normal((r, d2))
    M = G1.T @ G2
    C = np.cov(x.T, y.T)[:d1, d1:]
    expected = -np.trace(M.T @ C) + 0.5 * rho * np.sum(M ** 2)
    got = linear_mmcl_loss(*(torch.as_tensor(v) for v in (x, y, G1, G2)), rho=rho)
    assert math.isclose(float(got), expected, rel_tol=1e-12)


def test_linear_mmcl_loss_minimum_is_truncated_svd():
    rng = np.random.default_rng(1)
    n, d1, d2, r, rho = 40, 6, 5, 2, 2.0
    x, y = rng.standard_normal((n, d1)), rng.standard_normal((n, d2))
    y[:, :2] += x[:, :2]
    C = np.cov(x.T, y.T)[:d1, d1:]
    U, s, Vt = np.linalg.svd(C)
    G1 = np.sqrt(s[:r] / rho)[:, None] * U[:, :r].T
    G2 = np.sqrt(s[:r] / rho)[:, None] * Vt[:r]
    t = [torch.as_tensor(v) for v in (x, y, G1, G2)]
    at_opt = float(linear_mmcl_loss(*t, rho=rho))
    assert math.isclose(at_opt, -np.sum(s[:r] ** 2) / (2 * rho), rel_tol=1e-12)
    for seed in range(5):  # any other rank-r factorisation is worse
        g = np.random.default_rng(seed)
        other = [t[0], t[1], torch.as_tensor(g.standard_normal((r, d1))), torch.as_tensor(g.standard_normal((r, d2)))]
        assert float(linear_mmcl_loss(*other, rho=rho)) > at_opt


# --- learnable temperature ----------------------------------------------------------------

def test_learnable_temperature_init_clamp_and_gradient():
    temp = LearnableTemperature()
    assert math.isclose(temp.logit_scale.item(), 1 / 0.07, rel_tol=1e-6)
    assert math.isclose(temp.temperature.item(), 0.07, rel_tol=1e-6)
    a, b = _pair(8, dtype=torch.float32)
    loss = clip_loss(a, b, temp())
    loss.backward()
    assert temp.log_logit_scale.grad is not None and torch.isfinite(temp.log_logit_scale.grad)
    with torch.no_grad():
        temp.log_logit_scale.fill_(10.0)
    assert math.isclose(temp.clamp_().logit_scale.item(), 100.0, rel_tol=1e-5)
    with torch.no_grad():
        temp.log_logit_scale.fill_(-3.0)
    assert math.isclose(temp.clamp_().logit_scale.item(), 1.0, rel_tol=1e-6)


def test_learnable_temperature_rejects_bad_init():
    with pytest.raises(ValueError, match="init_temperature"):
        LearnableTemperature(init_temperature=5.0)
    with pytest.raises(ValueError, match="min_scale"):
        LearnableTemperature(min_scale=0.0)


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("bad,kw,exc,match", [
    ((torch.zeros(3, 2), torch.zeros(4, 2)), {}, ValueError, "batch size"),
    ((torch.zeros(3, 2), torch.zeros(3, 5)), {}, ValueError, "embedding dimension"),
    ((torch.zeros(3), torch.zeros(3)), {}, ValueError, "z_a must have 2 dimensions"),
    ((torch.zeros(3, 2), torch.zeros(3, 2)), {"temperature": 0.0}, ValueError, "temperature"),
    ((torch.zeros(3, 2), torch.zeros(3, 2)), {"temperature": -1.0}, ValueError, "temperature"),
    ((torch.zeros(3, 2), torch.zeros(3, 2)), {"temperature": float("nan")}, ValueError, "temperature"),
    ((torch.full((3, 2), float("nan")), torch.zeros(3, 2)), {}, ValueError, "finite"),
    ((torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 2)), {}, TypeError, "floating"),
    ((np.zeros((3, 2)), torch.zeros(3, 2)), {}, TypeError, "torch.Tensor"),
    ((torch.zeros(0, 2), torch.zeros(0, 2)), {}, ValueError, "at least 1 row"),
])
def test_clip_loss_rejects_bad_input(bad, kw, exc, match):
    with pytest.raises(exc, match=match):
        clip_loss(*bad, **kw)


def test_other_losses_reject_bad_input():
    z = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="scale"):
        siglip_loss(z, z, scale=0.0)
    with pytest.raises(ValueError, match="bias"):
        siglip_loss(z, z, bias=float("inf"))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(z, z, temperature=-0.5)
    with pytest.raises(ValueError, match="at least 2 row"):
        spectral_contrastive_loss(torch.zeros(1, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="rho"):
        linear_mmcl_loss(z, z, torch.zeros(1, 2), torch.zeros(1, 2), rho=-1.0)
    with pytest.raises(ValueError, match="G1 must have shape"):
        linear_mmcl_loss(z, z, torch.zeros(1, 3), torch.zeros(1, 2))


def test_clip_loss_from_logits_is_clip_loss_batched_and_takes_pseudo_pair_sums():
    from mmcl_core.losses import clip_loss_batched, clip_loss_from_logits

    g = torch.Generator().manual_seed(0)
    za = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
    zb = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
    logits = torch.bmm(za, zb.transpose(1, 2)) / 0.5
    assert torch.allclose(clip_loss_from_logits(logits), clip_loss_batched(za, zb, 0.5), atol=1e-12)
    perm = torch.tensor([2, 0, 1, 5, 3, 4])  # pseudo pairs: row i with column perm[i]
    picked = logits[:, torch.arange(6), perm].sum(1)
    expected = clip_loss_batched(za, zb[:, perm], 0.5)  # the same pairs moved onto the diagonal
    assert torch.allclose(clip_loss_from_logits(logits, positive_sum=picked), expected, atol=1e-12)
    with pytest.raises(ValueError, match="logits"):
        clip_loss_from_logits(torch.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="positive_sum"):
        clip_loss_from_logits(logits, positive_sum=torch.zeros(2))


def test_graph_infonce_from_logits_is_twice_clip_on_the_identity_graph_and_spreads_over_edges():
    from mmcl_core.losses import clip_loss_from_logits, graph_infonce_from_logits

    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 5, generator=g, dtype=torch.float64)
    eye = torch.eye(5, dtype=torch.float64).expand(2, -1, -1)
    assert torch.allclose(graph_infonce_from_logits(logits, eye), 2 * clip_loss_from_logits(logits), atol=1e-12)
    full = torch.ones(2, 5, 5, dtype=torch.float64)  # every pair a positive: the loss is log 5 per direction
    assert torch.allclose(graph_infonce_from_logits(torch.zeros_like(logits), full),
                          torch.full((2,), 2 * math.log(5), dtype=torch.float64))
    with pytest.raises(ValueError, match="graph"):
        graph_infonce_from_logits(logits, eye[:, :4])
