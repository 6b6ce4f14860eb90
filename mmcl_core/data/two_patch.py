"""The two-patch data of Huang et al. (NeurIPS 2024), drawn as Gram matrices (docs/papers/huang2024.md).

An image is ``x = [y mu, xi]`` and its text ``x~ = [y mu~, xi~]`` with ``||mu~|| = C_mu ||mu||``, ``mu~`` orthogonal
to ``mu`` and independent noises; single-modal training pairs an image with an augmented copy of itself.
Training in the paper's signal-noise coordinates needs only the inner products of the drawn vectors with each other
and with the initial weights, which :func:`draw_grams` returns (from explicit d-dimensional vectors, or from an exact
low-dimensional representation of the same Gaussian draws).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_choice, check_int, check_real, resolve_setting

__all__ = ["MODES", "NU_DIRECTIONS", "SAMPLERS", "TwoPatchSetting", "draw_grams"]

MODES = ("single", "multi")
NU_DIRECTIONS = ("parallel", "orthogonal")
SAMPLERS = ("vectors", "lowdim")


def _check(d, n, m, n_test, mu_norm, c_mu, noise_std, aug_std, nu_norm, init_std):
    check_int("d", d, low=2)
    check_int("n", n, low=4)
    check_int("m", m, low=1)
    check_int("n_test", n_test, low=2)
    check_real("mu_norm", mu_norm, low=0.0, low_open=True)
    check_real("c_mu", c_mu, low=0.0, low_open=True)
    check_real("noise_std", noise_std, low=0.0, low_open=True)
    check_real("aug_std", aug_std, low=0.0)
    check_real("nu_norm", nu_norm, low=0.0, low_open=True)
    check_real("init_std", init_std, low=0.0, low_open=True)


@dataclass(frozen=True)
class TwoPatchSetting:
    """One setting of the two-patch data and its initial weights, validated once (notebook 00's symbols).

    ``d`` dimensions, ``n`` training and 2 x ``n_test`` OOD test samples, ``m`` neurons per encoder; image signal
    ``||mu|| = mu_norm``, text signal ``C_mu ||mu||`` (``c_mu``), noise std ``noise_std`` (sigma_xi), augmentation noise
    std ``aug_std`` (sigma_aug), OOD test signal of norm ``nu_norm`` parallel to ``mu`` (the paper's experiment) or
    ``"orthogonal"`` (its theory), initial weights of std ``init_std`` (sigma_0). Defaults: Figure 1 of the paper.
    """

    d: int = 2000
    n: int = 100
    m: int = 50
    n_test: int = 200
    mu_norm: float = 5.0
    c_mu: float = 3.0
    noise_std: float = 1.0
    aug_std: float = 0.1
    nu_norm: float = 2.0
    nu_direction: str = "parallel"
    init_std: float = 0.01

    def __post_init__(self):
        _check(self.d, self.n, self.m, self.n_test, self.mu_norm, self.c_mu, self.noise_std, self.aug_std,
               self.nu_norm, self.init_std)
        check_choice("nu_direction", self.nu_direction, NU_DIRECTIONS)


def _side(W0, Xi, mu, extra):
    """Query Grams of one encoder side of one model from its initial weights ``W0`` (m, D) and noise ``Xi`` (n, D).

    For each set of query vectors V (rows) returns ``(W0 V^T (m, k), mu.V/||mu||^2 (k,), Xi V^T/||xi||^2 (n, k))``
    so that ``<w_h(t), v> = A0 + gamma_h a + omega_h X``. D is d (the vectors themselves) or the low-dimensional
    representation of :func:`_lowdim_basis`, which has the same inner products.
    """
    xi_sq = (Xi ** 2).sum(1)
    mu_sq = float(mu @ mu)

    def queries(V):
        return W0 @ V.T, (V @ mu) / mu_sq, (Xi @ V.T) / xi_sq[:, None]

    out = {"mu": queries(mu[None]), "xi": queries(Xi), "xi_sq": xi_sq, "mu_sq": mu_sq, "W0": W0, "Xi": Xi}
    for name, make in extra.items():
        V = make(Xi)
        out[name] = queries(V)
        out[name + "_vectors"] = V
    return out


_EXPLICIT = 3  # explicit coordinates of the low-dimensional representation: e1 (mu), e2 (mu~), e3 (nu's other part)


def _lowdim_basis(rng, d, n, m, noise_std, init_std):
    """Initial weights and noise patches of one side in a (3 + m + n)-dimensional representation, exact in law.

    Every vector keeps its first three coordinates (where mu, mu~ and nu live). The other d - 3 coordinates of the
    m + n isotropic Gaussian rows [W0; Xi] are Z = T Q (the LQ decomposition of a Gaussian matrix: Bartlett's T is
    lower triangular with chi-distributed diagonal, Q is Haar and independent of T), so representing row i by
    (its 3 explicit coordinates, row i of diag(std) T) preserves every inner product among the rows and with mu, nu.
    An independent isotropic Gaussian vector z with standard deviation s is then (3 normals, s Q z), and Q z is
    N(0, I): its inner products with the rows are exact too (inner products between two such z are not, and are
    never used). Cost O((m + n)^3) instead of O((m + n) d) per model.
    """
    import torch

    k = m + n
    if d - _EXPLICIT < k:
        raise ValueError(f"sampler='lowdim' needs d >= m + n + {_EXPLICIT}, got d={d}, m + n={k}")
    std = np.concatenate([np.full(m, init_std), np.full(n, noise_std)])
    T = np.tril(rng.standard_normal((k, k)), -1)
    T[np.diag_indices(k)] = np.sqrt(rng.chisquare(d - _EXPLICIT - np.arange(k)))
    rows = torch.from_numpy(np.concatenate([rng.standard_normal((k, _EXPLICIT)), T], axis=1) * std[:, None])

    def isotropic(count, s):  # independent N(0, s^2 I_d) vectors, represented
        return torch.from_numpy(s * rng.standard_normal((count, _EXPLICIT + k)))

    return rows[:m], rows[m:], isotropic


def draw_grams(seed: int, setting: TwoPatchSetting | None = None, *, mode: str = "multi", sampler: str = "vectors",
               keep_vectors: bool = False, **overrides) -> dict:
    """Draw one model's data and initial weights; return everything training needs as Gram blocks.

    ``mu = mu_norm e_1``, ``mu~ = c_mu mu_norm e_2``; labels y_i uniform in {-1, +1}; one augmented noise patch
    ``xi_i + eps_i`` per sample (single mode, as in Eq. 7); OOD test signal ``nu`` parallel to ``mu`` (the paper's
    experiment) or a random direction, nearly orthogonal to ``mu`` (its theory); 2 x n_test OOD test points (a probe
    half and an evaluation half).

    Args:
        setting: a :class:`TwoPatchSetting` (default: Figure 1's); ``overrides`` replace its fields by name.
        sampler: ``"vectors"`` draws the d-dimensional vectors and multiplies them (O((m + n + n_test)(m + n) d)
            per model); ``"lowdim"`` draws the same Gram blocks, with the same joint law, in a (3 + m + n)-dimensional
            representation (Bartlett decomposition, :func:`_lowdim_basis`): far cheaper at the Figure-1 size, but a
            different random stream. It needs d >= m + n + 3.
        keep_vectors: also keep the vectors (``"vectors"`` sampler only), for the direct-simulation checks.

    Returns:
        dict of float64 torch tensors.
    """
    import torch

    check_choice("mode", mode, MODES)
    check_choice("sampler", sampler, SAMPLERS)
    st = resolve_setting(TwoPatchSetting, setting, overrides)
    d, n, m, n_test, noise_std, init_std = st.d, st.n, st.m, st.n_test, st.noise_std, st.init_std
    mu_norm, nu_norm = st.mu_norm, st.nu_norm
    if keep_vectors and sampler != "vectors":
        raise ValueError("keep_vectors needs sampler='vectors'")
    seed = check_int("seed", seed, low=0)
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen).double() * 2 - 1
    y_test = torch.randint(0, 2, (2 * n_test,), generator=gen).double() * 2 - 1
    dim, basis, isotropic, unit_direction = (_vector_sampler(gen, d, n, m, noise_std, init_std) if sampler == "vectors"
                                             else _lowdim_sampler(seed, d, n, m, noise_std, init_std))
    mu = torch.zeros(dim, dtype=torch.float64)
    mu[0] = mu_norm
    nu = mu * (nu_norm / mu_norm) if st.nu_direction == "parallel" else nu_norm * unit_direction()
    extra = {"nu": lambda Xi: nu[None], "zeta": lambda Xi: isotropic(2 * n_test, noise_std)}
    if mode == "single":
        extra["aug"] = lambda Xi: Xi + isotropic(n, st.aug_std)
    img = _side(*basis(), mu, extra)
    out = {"y": y, "y_test": y_test, "image": img}
    if mode == "multi":
        mu_t = torch.zeros(dim, dtype=torch.float64)
        mu_t[1] = st.c_mu * mu_norm
        out["text"] = _side(*basis(), mu_t, {})
        out["text"]["mu_vector"] = mu_t
    img["mu_vector"] = mu
    if not keep_vectors:
        for side in ("image", "text"):
            for key in [k for k in out.get(side, {}) if k.endswith("_vectors") or k in ("W0", "Xi")]:
                del out[side][key]
    return out


def _vector_sampler(gen, d: int, n: int, m: int, noise_std: float, init_std: float) -> tuple:
    """:func:`draw_grams`'s ``"vectors"`` sampler: (dimension, basis(), isotropic(count, s), unit_direction())."""
    import torch

    def basis():
        return (init_std * torch.randn(m, d, generator=gen, dtype=torch.float64),
                noise_std * torch.randn(n, d, generator=gen, dtype=torch.float64))

    def isotropic(count, s):
        return s * torch.randn(count, d, generator=gen, dtype=torch.float64)

    def unit_direction():
        v = torch.randn(d, generator=gen, dtype=torch.float64)
        return v / v.norm()
    return d, basis, isotropic, unit_direction


def _lowdim_sampler(seed: int, d: int, n: int, m: int, noise_std: float, init_std: float) -> tuple:
    """:func:`draw_grams`'s ``"lowdim"`` sampler (the same Gram law in 3 + m + n dimensions), same interface."""
    import torch

    rng = np.random.default_rng([seed, 1])
    dim = _EXPLICIT + m + n
    current = []

    def basis():
        W0, Xi, iso = _lowdim_basis(rng, d, n, m, noise_std, init_std)
        current[:] = [iso]
        return W0, Xi

    def isotropic(count, s):
        return current[0](count, s)

    def unit_direction():  # a uniform direction, rotated about e1 into span{e1, e3}: the same law for every query
        v = torch.zeros(dim, dtype=torch.float64)
        v[0], v[2] = rng.standard_normal(), np.sqrt(rng.chisquare(d - 1))
        return v / v.norm()
    return dim, basis, isotropic, unit_direction
