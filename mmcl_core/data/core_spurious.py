"""The core/spurious data models of the project's reconstruction of Xue et al. (ICLR 2024), models B and K of
``docs/papers/xue2024.md``: images carry a *core* feature with a large within-class spread and a low-variance
*spurious* cue that agrees with the class with probability ``p_train``; captions annotate the core, the cue and nuisance
details each with its own probability; both modalities are embedded by orthonormal maps plus noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_real, check_rng, resolve_setting

__all__ = ["CoreSpuriousSetting", "binary_model", "k_class_model", "check_model", "embed_latents",
           "shared_feature_model"]


def check_model(sigma_core, sigma_spu, mu_core, mu_spu, p_train, q_core, q_spu, q_det):
    check_real("sigma_core", sigma_core, low=0.0, low_open=True)
    check_real("sigma_spu", sigma_spu, low=0.0)
    check_real("mu_core", mu_core, low=0.0, low_open=True)
    check_real("mu_spu", mu_spu, low=0.0, low_open=True)
    check_real("p_train", p_train, low=0.0, high=1.0, low_open=True, high_open=True)
    for name, q in (("q_core", q_core), ("q_spu", q_spu), ("q_det", q_det)):
        check_real(name, q, low=0.0, high=1.0)


@dataclass(frozen=True)
class CoreSpuriousSetting:
    """One setting of the core/spurious model, validated once (notebook 00's symbols).

    The core feature has class mean ``mu_core`` and spread ``sigma_core``; the spurious cue has mean ``mu_spu`` and
    spread ``sigma_spu`` and agrees with the class with probability ``p_train`` (``p_cue`` overrides it, e.g. for a
    test set); ``n_details`` nuisance details of std ``detail_std``. A caption describes the core, the cue and each
    detail with probabilities ``q_core``, ``q_spu`` and ``q_det``. Both modalities are embedded in ``dim`` dimensions
    with noise ``noise_std``.
    """

    sigma_core: float = 2.0
    sigma_spu: float = 0.1
    mu_core: float = 1.0
    mu_spu: float = 1.0
    p_train: float = 0.9
    p_cue: float | None = None
    n_details: int = 8
    detail_std: float = 1.0
    q_core: float = 1.0
    q_spu: float = 0.0
    q_det: float = 0.0
    dim: int = 50
    noise_std: float = 1.0

    def __post_init__(self):
        check_model(self.sigma_core, self.sigma_spu, self.mu_core, self.mu_spu, self.p_train, self.q_core, self.q_spu,
                    self.q_det)
        if self.p_cue is not None:
            check_real("p_cue", self.p_cue, low=0.0, high=1.0)
        check_int("n_details", self.n_details, low=0)
        check_real("detail_std", self.detail_std, low=0.0)
        check_int("dim", self.dim, low=1)
        check_real("noise_std", self.noise_std, low=0.0)

    @property
    def cue_agreement(self) -> float:
        """The probability that the cue agrees with the class in this draw (``p_cue``, else ``p_train``)."""
        return self.p_train if self.p_cue is None else self.p_cue


def embed_latents(latent, captions, dim, noise_std, rng, bases):
    """Orthonormal embeddings D_I, D_T (dim x l) plus noise N(0, noise_std^2/dim)."""
    n, l_dim = latent.shape
    if dim < l_dim:
        raise ValueError(f"dim must be >= the number of latent features ({l_dim}), got {dim}")
    if bases is None:
        bases = tuple(np.linalg.qr(rng.standard_normal((dim, l_dim)))[0] for _ in range(2))
    D_I, D_T = bases
    x_img = latent @ D_I.T + noise_std / np.sqrt(dim) * rng.standard_normal((n, dim))
    x_txt = captions @ D_T.T + noise_std / np.sqrt(dim) * rng.standard_normal((n, dim))
    return x_img, x_txt, (D_I, D_T)


def binary_model(n: int, setting: CoreSpuriousSetting | None = None, *, rng: np.random.Generator, bases=None,
                 **overrides) -> dict:
    """Model B (``docs/papers/xue2024.md``): binary class, core + spurious feature, nuisance details, partial captions.

    Latent order: [core, spurious, detail_1..m]. ``y`` in {-1, +1}; core ``mu_core*y + sigma_core*g``; spurious
    ``mu_spu*a + sigma_spu*g'`` with ``a = y`` with probability ``p_cue`` (default ``p_train``), else ``-y``;
    details ``N(0, detail_std^2)``. Caption: the core coordinate is the image's value with probability ``q_core``,
    else the class name ``mu_core*y``; the spurious coordinate and each detail are copied with probability ``q_spu``
    and ``q_det``, else 0.

    Args:
        n: samples.
        setting: a :class:`CoreSpuriousSetting` (default: its defaults); ``overrides`` replace its fields by name.
        bases: optional (D_I, D_T) to reuse (train and test must share them).

    Returns:
        dict with ``x_img``, ``x_txt`` (n, dim), ``latent``, ``captions`` (n, 2 + m), ``y`` (n,) in {-1, +1},
        ``cue`` (n,), ``bases``.
    """
    st = resolve_setting(CoreSpuriousSetting, setting, overrides)
    n, m = check_int("n", n, low=2), st.n_details
    rng = check_rng(rng)
    y = rng.choice([-1.0, 1.0], size=n)
    cue = np.where(rng.random(n) < st.cue_agreement, y, -y)
    latent = np.column_stack([st.mu_core * y + st.sigma_core * rng.standard_normal(n),
                              st.mu_spu * cue + st.sigma_spu * rng.standard_normal(n),
                              st.detail_std * rng.standard_normal((n, m))])
    captions = np.column_stack([np.where(rng.random(n) < st.q_core, latent[:, 0], st.mu_core * y),
                                np.where(rng.random(n) < st.q_spu, latent[:, 1], 0.0),
                                np.where(rng.random((n, m)) < st.q_det, latent[:, 2:], 0.0)])
    x_img, x_txt, bases = embed_latents(latent, captions, st.dim, st.noise_std, rng, bases)
    return {"x_img": x_img, "x_txt": x_txt, "latent": latent, "captions": captions, "y": y, "cue": cue,
            "bases": bases}


def k_class_model(n: int, setting: CoreSpuriousSetting | None = None, *, n_classes: int = 5,
                  rng: np.random.Generator, bases=None, **overrides) -> dict:
    """Model K (``docs/papers/xue2024.md``): K classes, K spurious backgrounds, nuisance details, partial captions.

    Latent order: [core_1..K, background_1..K, detail_1..m]. Class ``y`` uniform; core coordinate ``y`` carries
    ``mu_core + sigma_core*g``; the background is ``y`` with probability ``p_cue`` (default ``p_train``), else uniform
    over the other classes, and its coordinate carries ``mu_spu + sigma_spu*g'``. Captions as in
    :func:`binary_model` (class-name-only core coordinate ``mu_core`` when not annotated). ``setting`` defaults to
    :class:`CoreSpuriousSetting` with 10 details; ``overrides`` replace its fields by name.

    Returns:
        dict with ``x_img``, ``x_txt``, ``latent``, ``captions``, ``y`` (n,) in 0..K-1, ``cue``, ``bases``.
    """
    rng = check_rng(rng)
    st = resolve_setting(CoreSpuriousSetting, setting, overrides, default=CoreSpuriousSetting(n_details=10))
    n = check_int("n", n, low=2)
    K = check_int("n_classes", n_classes, low=2)
    m = st.n_details
    y = rng.integers(0, K, n)
    other = (y + rng.integers(1, K, n)) % K  # uniform over the other classes
    cue = np.where(rng.random(n) < st.cue_agreement, y, other)
    rows = np.arange(n)
    core, spu = np.zeros((n, K)), np.zeros((n, K))
    core[rows, y] = st.mu_core + st.sigma_core * rng.standard_normal(n)
    spu[rows, cue] = st.mu_spu + st.sigma_spu * rng.standard_normal(n)
    details = st.detail_std * rng.standard_normal((n, m))
    named = np.zeros((n, K))
    named[rows, y] = st.mu_core
    captions = np.column_stack([np.where(rng.random((n, 1)) < st.q_core, core, named),
                                np.where(rng.random((n, 1)) < st.q_spu, spu, 0.0),
                                np.where(rng.random((n, m)) < st.q_det, details, 0.0)])
    latent = np.column_stack([core, spu, details])
    x_img, x_txt, bases = embed_latents(latent, captions, st.dim, st.noise_std, rng, bases)
    return {"x_img": x_img, "x_txt": x_txt, "latent": latent, "captions": captions, "y": y, "cue": cue,
            "bases": bases}


# --- Closed forms P1-P4 (model B, embedding noise ignored) ------------------------------------------------------


def shared_feature_model(n: int, rng, *, annotate: bool, shared_in_b: bool = True, n_classes: int = 5,
                  sigma_core: float = 2.0, shared_scale: float = 3.0, shared_std: float = 0.3, n_details: int = 8,
                  detail_std: float = 2.0,
                  dim: int = 40, noise_std: float = 1.0, bases=None) -> dict:
    """K classes with a noisy core coordinate each; a *shared feature* (e.g. "wheels") present in 90 % of classes
    A (= 0) and B (= 1) and 10 % of the others; high-variance nuisance details annotated in every caption. The
    shared feature is named only in class A's captions (``annotate``), never in B's."""
    y = rng.integers(0, n_classes, n)
    rows = np.arange(n)
    core = np.zeros((n, n_classes))
    core[rows, y] = 1.0 + sigma_core * rng.standard_normal(n)
    rate = np.where(y == 0, 0.9, np.where((y == 1) & shared_in_b, 0.9, 0.1))
    shared = (rng.random(n) < rate) * shared_scale * (1.0 + shared_std * rng.standard_normal(n))
    details = detail_std * rng.standard_normal((n, n_details))
    named = shared * ((y == 0) & annotate)
    latent = np.column_stack([core, shared, details])
    captions = np.column_stack([core, named, details])
    from ..data.core_spurious import embed_latents

    x_img, x_txt, bases = embed_latents(latent, captions, dim, noise_std, rng, bases)
    return {"x_img": x_img, "x_txt": x_txt, "y": y, "shared": shared, "bases": bases}
