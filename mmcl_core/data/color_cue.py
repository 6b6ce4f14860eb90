"""Real digits with a low-variance colour cue (the calibrated proxy of Xue et al. 2024, docs/papers/xue2024.md): the
pixels, with Gaussian noise, are the noisy *core* feature; ten nearly noiseless colour channels are the *spurious*
cue, the digit's own colour with probability ``p_color`` in training."""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_real
from .digits import N_CLASSES as _N_CLASSES

__all__ = ["CALIBRATED_DATASETS", "CALIBRATED_TESTS", "calibrated_data"]


CALIBRATED_DATASETS = ("digits", "mnist")


CALIBRATED_TESTS = ("correlated", "independent", "adversarial")


_N_SHAPE = 8
"""Shape words of a rich caption: the clean digit's first principal coordinates (standardised)."""


def _check_probability(name: str, value) -> float:
    return check_real(name, value, low=0.0, high=1.0)


def _images(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Flattened images in [0, 1] and labels: digits as 64 pixels; MNIST-5k average-pooled 2x2 to 196 pixels."""
    if dataset == "digits":
        from .digits import load_digit_images

        x, y = load_digit_images()
        return np.asarray(x, dtype=float).reshape(len(x), -1), np.asarray(y)
    from .mnist import load_mnist5k

    x, y = load_mnist5k()
    x = np.asarray(x, dtype=float).reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4))
    return x.reshape(len(x), -1), np.asarray(y)


def _colors(y: np.ndarray, mode: str, p_color: float, rng) -> np.ndarray:
    """Colour ids: the digit's own with probability ``p_color`` (else another, uniformly) for ``correlated``;
    uniform for ``independent``; uniformly among the nine others for ``adversarial``."""
    n = len(y)
    other = (y + rng.integers(1, _N_CLASSES, size=n)) % _N_CLASSES
    if mode == "independent":
        return rng.integers(0, _N_CLASSES, size=n)
    if mode == "adversarial":
        return other
    return np.where(rng.random(n) < p_color, y, other)


def calibrated_data(dataset: str = "digits", *, seed: int = 0, p_color: float = 0.9, pixel_noise: float = 0.5,
                    cue_scale: float = 1.0, cue_noise: float = 0.05, n_train: int | None = None) -> dict:
    """Images + colour-cue features for training and the three colour test sets.

    Args:
        dataset: ``"digits"`` (1,797 8x8 digits, 60 % train) or ``"mnist"`` (MNIST-5k, 14x14).
        seed: split, colours and noise.
        p_color: probability that a training image shows its digit's own colour, in [0, 1].
        pixel_noise: std of the Gaussian noise added to every pixel, > 0 (it makes the core noisy; without it
            the shape alone separates the classes and no model needs the colour).
        cue_scale: size of the one-hot colour, > 0.
        cue_noise: std of the noise on the colour channels, > 0 (small: a low-variance cue).
        n_train: training images (None: 60 % of digits; 3,000 of MNIST); the rest, up to 2,000, are tested.

    Returns:
        dict with ``train`` and ``tests`` (name -> ``{"x", "y", "colour"}``), ``n_pixels``, ``settings``.
    """
    check_choice("dataset", dataset, CALIBRATED_DATASETS)
    seed = check_int("seed", seed, low=0)
    p_color = _check_probability("p_color", p_color)
    pixel_noise = check_real("pixel_noise", pixel_noise, low=0.0, low_open=True)
    cue_scale = check_real("cue_scale", cue_scale, low=0.0, low_open=True)
    cue_noise = check_real("cue_noise", cue_noise, low=0.0, low_open=True)
    x, y = _images(dataset)
    default = int(round(0.6 * len(y))) if dataset == "digits" else 3000
    n_train = default if n_train is None else check_int("n_train", n_train, low=50, high=len(y) - 100)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    tr, te = order[:n_train], order[n_train:n_train + 2000]

    clean = x[tr] - x[tr].mean(0)
    _, _, vt = np.linalg.svd(clean, full_matrices=False)
    basis = vt[:_N_SHAPE].T / (clean @ vt[:_N_SHAPE].T).std(0)  # standardised principal shape coordinates

    def compose(idx, mode):
        color = _colors(y[idx], mode, p_color, rng)
        cue = cue_scale * np.eye(_N_CLASSES)[color] + cue_noise * rng.standard_normal((len(idx), _N_CLASSES))
        pixels = x[idx] + pixel_noise * rng.standard_normal(x[idx].shape)
        return {"x": np.hstack([pixels, cue]), "y": y[idx], "color": color,
                "shape": (x[idx] - x[tr].mean(0)) @ basis}

    return {"train": compose(tr, "correlated"), "tests": {m: compose(te, m) for m in CALIBRATED_TESTS},
            "n_pixels": x.shape[1], "settings": {"dataset": dataset, "seed": seed, "p_color": p_color,
                                                 "pixel_noise": pixel_noise, "cue_scale": cue_scale,
                                                 "cue_noise": cue_noise, "n_train": n_train}}
