"""Real images at laptop scale: scikit-learn's bundled 8x8 digits, with controllable
nuisance and spurious factors.

* :func:`load_digit_images` — 1,797 grey 8x8 images in [0, 1], 10 classes (bundled, offline).
* :func:`stratified_split` — seeded stratified train/test indices.
* :func:`nuisance_ids` — a colour or background per image, tied to the class with probability
  ``p`` in training; at test time ``"permuted"``, ``"independent"`` or ``"adversarial"``.
* :func:`compose` — draws the digit in its colour over a background pattern, adds pixel noise.
* :func:`measure_attributes` — ink mass, slant, size and position, computed from the pixels.

These are the stand-ins for ColoredMNIST (Huang et al. 2024), the MNIST-style paired
modalities of Nakada et al. 2023, the cross-class background nuisance of Zhang et al. 2023,
and the spurious cues of Xue et al. 2024.
"""

from __future__ import annotations

import functools

import numpy as np

from .._checks import check_choice, check_int, check_labels, check_real, check_rng

__all__ = ["N_CLASSES", "DIGIT_WORDS", "COLORS", "COLOR_NAMES", "NUISANCE_MODES", "load_digit_images",
           "stratified_split", "nuisance_ids", "background_patterns", "BACKGROUND_NAMES", "compose",
           "measure_attributes", "ATTRIBUTE_WORDS", "attribute_words"]

N_CLASSES = 10
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Ten well-separated RGB colours; class k's own colour is COLORS[k].
COLOR_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan", "orange", "purple", "white", "brown")
COLORS = np.array([
    [1.0, 0.1, 0.1], [0.1, 0.9, 0.1], [0.15, 0.3, 1.0], [1.0, 1.0, 0.1], [1.0, 0.1, 1.0],
    [0.1, 1.0, 1.0], [1.0, 0.55, 0.0], [0.55, 0.1, 0.9], [1.0, 1.0, 1.0], [0.6, 0.35, 0.1],
])
NUISANCE_MODES = ("correlated", "permuted", "independent", "adversarial")
BACKGROUND_NAMES = ("striped", "dotted", "checkered", "diagonal", "gradient", "framed")


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float64)
    images.setflags(write=False)
    labels = bunch.target.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits, scaled to [0, 1].

    Returns:
        ``(images, labels)``: (1797, 8, 8) float64 in [0, 1] and (1797,) int64 in 0..9
        (read-only arrays; copy before modifying).
    """
    return _digits()


def stratified_split(labels: np.ndarray, test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified train/test split of indices.

    Args:
        labels: (n,) class labels.
        test_fraction: fraction of each class in the test split, in (0, 1).
        seed: split seed.

    Returns:
        ``(train_idx, test_idx)`` sorted int arrays.

    Raises:
        ValueError: if either split would be empty or miss a class.
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    test_fraction = check_real("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
    check_int("seed", seed, low=0)
    n_classes = len(np.unique(labels))
    n_test = int(np.ceil(test_fraction * len(labels)))
    if n_test < n_classes or len(labels) - n_test < n_classes:
        raise ValueError(f"test_fraction {test_fraction:g} leaves an empty class in a split of {len(labels)} samples "
                         f"with {n_classes} classes; choose a test_fraction giving both splits >= {n_classes} samples")
    train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction, stratify=labels,
                                   random_state=seed)
    return np.sort(train), np.sort(test)


def nuisance_ids(labels: np.ndarray, n_values: int, mode: str, p: float = 1.0, *,
                 rng: np.random.Generator) -> np.ndarray:
    """Assign a nuisance value (a colour or a background style) to each image.

    Class k's own value is ``k mod n_values``.

    Args:
        labels: (n,) digit labels.
        n_values: number of colours or styles (>= 2).
        mode: ``"correlated"`` (own value with probability ``p``, else uniform over the others),
            ``"permuted"`` (always the value of class k+1: a fixed reassignment),
            ``"independent"`` (uniform, unrelated to the class), or
            ``"adversarial"`` (uniform over the values that are not the class's own).
        p: probability of the class's own value in ``"correlated"`` mode, in [0, 1].
        rng: NumPy generator.

    Returns:
        (n,) int array of values in [0, n_values).
    """
    labels = check_labels("labels", labels)
    n_values = check_int("n_values", n_values, low=2)
    check_choice("mode", mode, NUISANCE_MODES)
    p = check_real("p", p, low=0.0, high=1.0)
    rng = check_rng(rng)
    own = labels % n_values
    n = len(labels)
    if mode == "permuted":
        return (own + 1) % n_values
    if mode == "independent":
        return rng.integers(0, n_values, size=n)
    other = (own + rng.integers(1, n_values, size=n)) % n_values  # uniform over the non-own values
    if mode == "adversarial":
        return other
    keep = rng.random(n) < p
    return np.where(keep, own, other)


@functools.lru_cache(maxsize=8)
def background_patterns(n_styles: int = 6) -> np.ndarray:
    """Fixed 8x8 background patterns in [0, 1], one per style (see ``BACKGROUND_NAMES``).

    Returns:
        (n_styles, 8, 8) read-only array; at most ``len(BACKGROUND_NAMES)`` styles.
    """
    n_styles = check_int("n_styles", n_styles, low=1, high=len(BACKGROUND_NAMES))
    i, j = np.mgrid[0:8, 0:8]
    all_patterns = np.stack([
        (i % 2 == 0).astype(float),                          # striped
        ((i % 3 == 1) & (j % 3 == 1)).astype(float),         # dotted
        ((i + j) % 2 == 0).astype(float),                    # checkered
        ((i - j) % 4 == 0).astype(float),                    # diagonal
        j / 7.0,                                             # gradient
        ((i == 0) | (i == 7) | (j == 0) | (j == 7)).astype(float),  # framed
    ])
    out = all_patterns[:n_styles].copy()
    out.setflags(write=False)
    return out


def compose(images: np.ndarray, *, color_ids: np.ndarray | None = None, background_ids: np.ndarray | None = None,
            background_strength: float = 0.35, n_styles: int = 6, noise_std: float = 0.0,
            rng: np.random.Generator | None = None) -> np.ndarray:
    """Draw digits in colour over background patterns, with Gaussian pixel noise.

    Args:
        images: (n, 8, 8) grey images in [0, 1].
        color_ids: (n,) colour index per image (``COLORS``); None keeps one grey channel.
        background_ids: (n,) background style per image; None for no background.
        background_strength: intensity of the background where there is no ink, in [0, 1].
        n_styles: number of background styles ``background_ids`` refers to.
        noise_std: standard deviation of additive Gaussian pixel noise (>= 0); needs ``rng``.
        rng: NumPy generator (required when ``noise_std > 0``).

    Returns:
        (n, C, 8, 8) float64 with C = 3 when coloured, else 1; clipped to [0, 1].
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (8, 8):
        raise ValueError(f"images must have shape (n, 8, 8), got {images.shape}")
    n = images.shape[0]
    background_strength = check_real("background_strength", background_strength, low=0.0, high=1.0)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    ink = images[:, None]  # (n, 1, 8, 8)
    if color_ids is not None:
        color_ids = _check_ids("color_ids", color_ids, n, len(COLORS))
        out = ink * COLORS[color_ids][:, :, None, None]
    else:
        out = ink.copy()
    if background_ids is not None:
        background_ids = _check_ids("background_ids", background_ids, n, n_styles)
        pattern = background_patterns(n_styles)[background_ids][:, None]  # (n, 1, 8, 8)
        out = out + background_strength * pattern * (1.0 - ink)  # background only where there is no ink
    if noise_std > 0:
        if rng is None:
            raise ValueError("rng must be given when noise_std > 0")
        out = out + noise_std * rng.standard_normal(out.shape)
    return np.clip(out, 0.0, 1.0)


def _check_ids(name: str, ids, n: int, n_values: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array of shape ({n},), got {ids.dtype} {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= n_values):
        raise ValueError(f"{name} must be in [0, {n_values}), got values in [{ids.min()}, {ids.max()}]")
    return ids


def measure_attributes(images: np.ndarray) -> dict:
    """Style attributes measured from the pixels (deterministic).

    Args:
        images: (n, 8, 8) grey images in [0, 1].

    Returns:
        dict of (n,) float arrays: ``ink`` (total ink mass), ``slant`` (shear of the ink
        distribution, cov(col, row)/var(row): positive leans right going up), ``size``
        (bounding-box area of pixels above 0.25), ``center_row``, ``center_col``
        (ink centroid).
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (8, 8):
        raise ValueError(f"images must have shape (n, 8, 8), got {images.shape}")
    rows, cols = np.mgrid[0:8, 0:8].astype(float)
    mass = images.sum(axis=(1, 2))
    safe = np.where(mass > 0, mass, 1.0)
    r_mean = (images * rows).sum(axis=(1, 2)) / safe
    c_mean = (images * cols).sum(axis=(1, 2)) / safe
    dr = rows[None] - r_mean[:, None, None]
    dc = cols[None] - c_mean[:, None, None]
    var_r = (images * dr ** 2).sum(axis=(1, 2)) / safe
    cov_rc = (images * dr * dc).sum(axis=(1, 2)) / safe
    # Rows grow downwards, so a right lean going up is a negative row-column covariance.
    slant = -cov_rc / np.where(var_r > 0, var_r, 1.0)
    on = images > 0.25
    any_r, any_c = on.any(axis=2), on.any(axis=1)
    height = np.where(any_r.any(1), 8 - np.argmax(any_r[:, ::-1], 1) - np.argmax(any_r, 1), 0)
    width = np.where(any_c.any(1), 8 - np.argmax(any_c[:, ::-1], 1) - np.argmax(any_c, 1), 0)
    return {"ink": mass, "slant": slant, "size": (height * width).astype(float),
            "center_row": r_mean, "center_col": c_mean}


ATTRIBUTE_WORDS = {"thickness": ("thin", "thick"), "slant": ("upright", "slanted"), "size": ("small", "large")}


@functools.lru_cache(maxsize=1)
def _attribute_thresholds():
    """Dataset-wide medians (fixed by the bundled data, so the words are deterministic)."""
    attrs = measure_attributes(load_digit_images()[0])
    return {"thickness": float(np.median(attrs["ink"])), "slant": float(np.median(np.abs(attrs["slant"]))),
            "size": float(np.median(attrs["size"]))}


def attribute_words(images: np.ndarray, own_medians: bool = False) -> dict:
    """Binary style words per image from :func:`measure_attributes`, split at the bundled digits' medians (or, with
    ``own_medians``, at the medians of ``images`` themselves: for another dataset, such as MNIST brought to 8x8).

    Returns:
        dict attribute -> (n,) array of words, for attributes ``thickness`` (thin/thick),
        ``slant`` (upright/slanted) and ``size`` (small/large).
    """
    attrs = measure_attributes(images)
    values = {"thickness": attrs["ink"], "slant": np.abs(attrs["slant"]), "size": attrs["size"]}
    thr = ({name: float(np.median(v)) for name, v in values.items()} if own_medians else _attribute_thresholds())
    return {name: np.where(values[name] > thr[name], ATTRIBUTE_WORDS[name][1], ATTRIBUTE_WORDS[name][0])
            for name in ATTRIBUTE_WORDS}
