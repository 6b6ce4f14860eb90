"""Finite latent image-caption models of Zhang, Wang & Wang (ICML 2023), all exact (docs/papers/zhang2023.md).

* :func:`random_joint`: a random joint distribution of images and captions.
* :func:`class_noise_model`: balanced classes whose captions name a random class with probability eps (and
  :func:`class_noise_phi`, its closed-form label disagreement of text-induced positives).
* :func:`style_confounded_model`: images (class, style, instance), SSCL's augmentation graph that leaks across classes
  through the style, and captions that name the class (and the style with probability gamma).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_real, check_rng
from ..graphs import induced_image_graph

__all__ = ["random_joint", "class_noise_model", "class_noise_phi", "style_confounded_model"]


def random_joint(n_images: int, n_texts: int, rng: np.random.Generator, power: float = 3.0) -> np.ndarray:
    """A random joint distribution P_M: uniform entries raised to ``power``, normalised.

    Returns:
        (n_images, n_texts) non-negative matrix summing to 1 (all entries positive).
    """
    n_images = check_int("n_images", n_images, low=1)
    n_texts = check_int("n_texts", n_texts, low=1)
    power = check_real("power", power, low=0.0)
    P = check_rng(rng).random((n_images, n_texts)) ** power + 1e-12
    return P / P.sum()


def class_noise_model(r: int = 3, eps: float = 0.05, m: int = 4, T: int = 2) -> dict:
    """Balanced class-noise captions: images (class c, instance j), captions (class c', template t).

    The caption's class equals the image's with probability 1 - eps, else it is uniform over the
    r classes (so c' = c also happens by chance).

    Reproduces: Zhang et al. 2023, class-noise model (docs/papers/zhang2023.md, Results C and E).

    Returns:
        dict with ``P`` (r*m, r*T) joint distribution, ``image_labels`` (r*m,), ``text_labels`` (r*T,).
    """
    r = check_int("r", r, low=2)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    m, T = check_int("m", m, low=1), check_int("T", T, low=1)
    class_kernel = (1 - eps) * np.eye(r) + eps / r  # P(c' | c)
    P = np.kron(class_kernel, np.ones((m, T))) / (r * m * T)
    return {"P": P, "image_labels": np.repeat(np.arange(r), m), "text_labels": np.repeat(np.arange(r), T)}


def class_noise_phi(r: int, eps: float) -> float:
    """Closed form ``phi = 1 - [(1 - eps + eps/r)^2 + (r - 1)(eps/r)^2]`` (r >= 1 classes, eps in [0, 1])."""
    r = check_int("r", r, low=1)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    return 1.0 - ((1 - eps + eps / r) ** 2 + (r - 1) * (eps / r) ** 2)


def style_confounded_model(r: int = 3, S: int = 3, m: int = 4, eta_style: float = 0.15, eta_cls: float = 0.02,
                           eps: float = 0.05, gamma: float = 0.0, T: int = 1) -> dict:
    """The style-confounded model (Result E in docs/papers/zhang2023.md).

    Images (class c, style s, instance j), all N = r*S*m equally likely. SSCL augments an image to
    itself (1 - eta_style - eta_cls), to any image of the same style (eta_style, spread uniformly,
    across classes) or of the same class (eta_cls). Captions (c', s', t) name the class with noise eps
    and the style with probability gamma.

    Returns:
        dict with ``W_sscl`` and ``W_mmcl`` (N, N) positive-pair graphs, ``P`` (N, r*S*T) joint
        distribution, ``labels`` (N,), ``styles`` (N,).
    """
    r, S, m, T = (check_int(n, v, low=1) for n, v in (("r", r), ("S", S), ("m", m), ("T", T)))
    if r < 2:
        raise ValueError(f"r must be an integer in [2, inf), got {r}")
    eta_style = check_real("eta_style", eta_style, low=0.0, high=1.0)
    eta_cls = check_real("eta_cls", eta_cls, low=0.0, high=1.0 - eta_style)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    gamma = check_real("gamma", gamma, low=0.0, high=1.0)
    N = r * S * m
    labels = np.repeat(np.arange(r), S * m)
    styles = np.tile(np.repeat(np.arange(S), m), r)
    same_style = (styles[:, None] == styles[None, :]).astype(float)
    same_class = (labels[:, None] == labels[None, :]).astype(float)
    aug = ((1 - eta_style - eta_cls) * np.eye(N) + eta_style * same_style / same_style.sum(1, keepdims=True)
           + eta_cls * same_class / same_class.sum(1, keepdims=True))
    W_sscl = aug.T @ aug / N
    class_part = (1 - eps) * np.eye(r) + eps / r          # [c, c']
    style_part = gamma * np.eye(S) + (1 - gamma) / S      # [s, s']
    # Caption index (c', s', t); image index (c, s, j).
    P = np.einsum("ab,cd,j,t->acjbdt", class_part, style_part, np.ones(m), np.ones(T)).reshape(N, r * S * T)
    P /= T * N
    return {"W_sscl": W_sscl, "W_mmcl": induced_image_graph(P), "P": P, "labels": labels, "styles": styles,
            "aug": aug, "text_labels": np.repeat(np.arange(r), S * T)}
