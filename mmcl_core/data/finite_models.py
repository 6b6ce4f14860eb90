"""Finite latent image-caption models of Zhang, Wang & Wang (ICML 2023), all exact (docs/papers/zhang2023.md).

* :func:`random_joint`: a random joint distribution of images and captions.
* :func:`class_noise_model`: balanced classes whose captions name a random class with probability eps (and
  :func:`class_noise_phi`, its closed-form label disagreement of text-induced positives).
* :func:`style_confounded_model`: images (class, style, instance), SSCL's augmentation graph that leaks across classes
  through the style, and captions that name the class (and the style with probability q_style).
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


def class_noise_model(n_classes: int = 3, eps: float = 0.05, n_instances: int = 4, n_templates: int = 2) -> dict:
    """Balanced class-noise captions: images (class c, instance j), captions (class c', template t).

    The caption's class equals the image's with probability 1 - eps, else it is uniform over the K = ``n_classes``
    classes (so c' = c also happens by chance). ``n_instances`` images and ``n_templates`` captions per class.

    Reproduces: Zhang et al. 2023, class-noise model (docs/papers/zhang2023.md, Results C and E).

    Returns:
        dict with ``P`` (K * n_instances, K * n_templates) joint distribution, ``image_labels`` (K * n_instances,),
        ``text_labels`` (K * n_templates,).
    """
    K = check_int("n_classes", n_classes, low=2)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    n_instances = check_int("n_instances", n_instances, low=1)
    n_templates = check_int("n_templates", n_templates, low=1)
    class_kernel = (1 - eps) * np.eye(K) + eps / K  # P(c' | c)
    P = np.kron(class_kernel, np.ones((n_instances, n_templates))) / (K * n_instances * n_templates)
    return {"P": P, "image_labels": np.repeat(np.arange(K), n_instances),
            "text_labels": np.repeat(np.arange(K), n_templates)}


def class_noise_phi(n_classes: int, eps: float) -> float:
    """Closed form ``phi = 1 - [(1 - eps + eps/K)^2 + (K - 1)(eps/K)^2]`` (K = ``n_classes`` >= 1, eps in [0, 1])."""
    K = check_int("n_classes", n_classes, low=1)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    return 1.0 - ((1 - eps + eps / K) ** 2 + (K - 1) * (eps / K) ** 2)


def style_confounded_model(n_classes: int = 3, n_styles: int = 3, n_instances: int = 4, aug_style: float = 0.15,
                           aug_cls: float = 0.02, eps: float = 0.05, q_style: float = 0.0,
                           n_templates: int = 1) -> dict:
    """The style-confounded model (Result E in docs/papers/zhang2023.md).

    Images (class c, style s, instance j), all N = K * n_styles * n_instances equally likely (K = ``n_classes``).
    SSCL augments an image to itself (1 - aug_style - aug_cls), to any image of the same style (``aug_style``, spread
    uniformly, across classes) or of the same class (``aug_cls``). Captions (c', s', t) name the class with noise
    ``eps`` and the style with probability ``q_style``.

    Returns:
        dict with ``W_sscl`` and ``W_mmcl`` (N, N) positive-pair graphs, ``P`` (N, K * n_styles * n_templates) joint
        distribution, ``labels`` (N,), ``styles`` (N,).
    """
    sizes = {"n_classes": n_classes, "n_styles": n_styles, "n_instances": n_instances, "n_templates": n_templates}
    K, S, m, T = (check_int(name, value, low=2 if name == "n_classes" else 1) for name, value in sizes.items())
    aug_style = check_real("aug_style", aug_style, low=0.0, high=1.0)
    aug_cls = check_real("aug_cls", aug_cls, low=0.0, high=1.0 - aug_style)
    eps = check_real("eps", eps, low=0.0, high=1.0)
    q_style = check_real("q_style", q_style, low=0.0, high=1.0)
    N = K * S * m
    labels = np.repeat(np.arange(K), S * m)
    styles = np.tile(np.repeat(np.arange(S), m), K)
    same_style = (styles[:, None] == styles[None, :]).astype(float)
    same_class = (labels[:, None] == labels[None, :]).astype(float)
    aug = ((1 - aug_style - aug_cls) * np.eye(N) + aug_style * same_style / same_style.sum(1, keepdims=True)
           + aug_cls * same_class / same_class.sum(1, keepdims=True))
    W_sscl = aug.T @ aug / N
    class_part = (1 - eps) * np.eye(K) + eps / K          # [c, c']
    style_part = q_style * np.eye(S) + (1 - q_style) / S  # [s, s']
    # Caption index (c', s', t); image index (c, s, j).
    P = np.einsum("ab,cd,j,t->acjbdt", class_part, style_part, np.ones(m), np.ones(T)).reshape(N, K * S * T)
    P /= T * N
    return {"W_sscl": W_sscl, "W_mmcl": induced_image_graph(P), "P": P, "labels": labels, "styles": styles,
            "aug": aug, "text_labels": np.repeat(np.arange(K), S * T)}
