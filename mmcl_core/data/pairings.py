"""Dataset pairings: two modalities that share only the class (Nakada et al. 2023, docs/papers/nakada2023.md).

* :func:`class_paired_modalities`: the bundled 8x8 digits against a fixed nonlinear transform of other digits of the
  same class (the suite's first proxy).
* :func:`mnist_digits_modalities`: MNIST-5k (A) against scikit-learn's 8x8 digits (B): two real datasets of
  different sources, resolutions and writers, paired by class as the released code pairs MNIST with Fashion-MNIST.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int
from .digits import N_CLASSES as _N_CLASSES

__all__ = ["class_paired_modalities", "mnist_digits_modalities"]


def class_paired_modalities(seed: int = 0, *, n_pairs: int = 100, n_val: int = 100, test_fraction: float = 0.25,
                            dim: int = 16) -> dict:
    """Two modalities that share only the class, from the bundled digits.

    Modality A: a digit image reduced to ``dim`` by PCA (the role of the paper's pretrained autoencoder).
    Modality B: a *different* image of the same class through a fixed random rotation of pixel space and tanh,
    then PCA. Pairs are formed by class, as the official ``TwoModal`` does: the k-th A of class c with the k-th
    B of class c.

    Returns:
        dict with splits ``paired``, ``val``, ``unpaired``, ``test``, each ``{"a": (m, dim), "b": (m, dim),
        "labels": (m,)}`` (row k of a and b is a same-class pair), float32.
    """
    from .digits import load_digit_images, stratified_split

    rng = np.random.default_rng(check_int("seed", seed, low=0))
    n_pairs, n_val = check_int("n_pairs", n_pairs, low=2), check_int("n_val", n_val, low=1)
    dim = check_int("dim", dim, low=1, high=64)
    images, labels = load_digit_images()
    flat = images.reshape(len(images), -1)
    rotation = np.linalg.qr(np.random.default_rng(12345).standard_normal((64, 64)))[0]  # fixed across seeds
    other = np.tanh(2.0 * (flat - 0.5) @ rotation)
    train, test = stratified_split(labels, test_fraction, seed)

    def pair_by_class(idx):
        a_rows, b_rows = [], []
        for c in range(10):
            members = rng.permutation(idx[labels[idx] == c])
            partners = np.roll(members, 1)  # a different image of the same class
            a_rows.append(members)
            b_rows.append(partners)
        a_rows, b_rows = np.concatenate(a_rows), np.concatenate(b_rows)
        order = rng.permutation(len(a_rows))
        return a_rows[order], b_rows[order]

    def pca_fit(x, n_components):
        mean = x.mean(0)
        vecs = np.linalg.svd(x - mean, full_matrices=False)[2][:n_components]
        return lambda z: ((z - mean) @ vecs.T).astype(np.float32)

    proj_a, proj_b = pca_fit(flat[train], dim), pca_fit(other[train], dim)
    a_tr, b_tr = pair_by_class(train)
    a_te, b_te = pair_by_class(test)
    if n_pairs + n_val >= len(a_tr):
        raise ValueError(f"n_pairs + n_val must be below the {len(a_tr)} training images (the rest is the unpaired "
                         f"pool; the splits may not overlap), got {n_pairs} + {n_val}")
    cuts = {"paired": slice(0, n_pairs), "val": slice(n_pairs, n_pairs + n_val),
            "unpaired": slice(n_pairs + n_val, None)}
    out = {name: {"a": proj_a(flat[a_tr[sl]]), "b": proj_b(other[b_tr[sl]]), "labels": labels[a_tr[sl]]}
           for name, sl in cuts.items()}
    out["test"] = {"a": proj_a(flat[a_te]), "b": proj_b(other[b_te]), "labels": labels[a_te]}
    return out


def mnist_digits_modalities(seed: int = 0, *, n_pairs: int = 100, n_val: int = 100, n_test_per_class: int = 40,
                            pool: str = "matched", dim: int = 16) -> dict:
    """Class-paired MNIST-5k (A) and scikit-learn digits (B), split into paired / validation / unpaired / test.

    Args:
        seed: split seed.
        n_pairs, n_val: paired and validation pairs (multiples of 10, equal per class).
        n_test_per_class: test pairs per class.
        pool: ``"matched"`` (the A pool as large as the B pool) or ``"large"`` (every remaining MNIST image).
        dim: PCA dimension of each modality (fitted on the modality's non-test images).

    Returns:
        dict with ``paired``, ``val``, ``test`` (each ``{"a", "b", "labels"}``, row k of a and b a same-class pair)
        and ``unpaired``: ``{"a", "a_labels", "b", "b_labels"}`` (two pools; labels only for measuring precision
        and for the oracle), float32 features.
    """
    from .digits import load_digit_images
    from .mnist import load_mnist5k

    seed = check_int("seed", seed, low=0)
    n_pairs = check_int("n_pairs", n_pairs, low=10)
    n_val = check_int("n_val", n_val, low=10)
    for name, n in (("n_pairs", n_pairs), ("n_val", n_val)):
        if n % _N_CLASSES:
            raise ValueError(f"{name} must be a multiple of 10 (equal pairs per class), got {n}")
    n_test_per_class = check_int("n_test_per_class", n_test_per_class, low=1)
    check_choice("pool", pool, ("matched", "large"))
    dim = check_int("dim", dim, low=1, high=64)
    xa, ya = load_mnist5k()
    xb, yb = load_digit_images()
    xa, xb = np.asarray(xa, dtype=float).reshape(len(xa), -1), np.asarray(xb, dtype=float).reshape(len(xb), -1)
    rng = np.random.default_rng(seed)
    per_pair, per_val = n_pairs // _N_CLASSES, n_val // _N_CLASSES
    smallest = min(int(np.sum(yb == c)) for c in range(_N_CLASSES))
    if per_pair + per_val + n_test_per_class >= smallest:
        raise ValueError(f"n_pairs/10 + n_val/10 + n_test_per_class must stay below {smallest} (the smallest digits "
                         f"class), got {per_pair + per_val + n_test_per_class}: the unpaired pool would be empty")
    idx = _class_splits(ya, yb, np.cumsum([per_pair, per_val, n_test_per_class]), rng)
    b_pool = sum(len(r) for r in idx["unpaired"]["b"])
    a_rest = np.concatenate(idx["unpaired"]["a"])
    a_rest = rng.permutation(a_rest)
    if pool == "matched":
        a_rest = a_rest[:b_pool]
    non_test_a = np.concatenate([np.concatenate(idx[k]["a"]) for k in ("paired", "val")] + [a_rest])
    non_test_b = np.concatenate([np.concatenate(idx[k]["b"]) for k in ("paired", "val", "unpaired")])
    pa, pb = _pca_map(xa, non_test_a, dim), _pca_map(xb, non_test_b, dim)
    out = {}
    for name in ("paired", "val", "test"):
        a_rows, b_rows = np.concatenate(idx[name]["a"]), np.concatenate(idx[name]["b"])  # k-th of class c <-> k-th
        order = rng.permutation(len(a_rows))
        out[name] = {"a": pa(a_rows[order]), "b": pb(b_rows[order]), "labels": ya[a_rows[order]]}
    b_rows = rng.permutation(np.concatenate(idx["unpaired"]["b"]))
    out["unpaired"] = {"a": pa(a_rest), "a_labels": ya[a_rest], "b": pb(b_rows), "b_labels": yb[b_rows]}
    return out


def _class_splits(ya, yb, cuts, rng) -> dict:
    """Per class, both modalities' shuffled indices cut at ``cuts`` into paired / val / test / unpaired lists."""
    idx = {k: {"a": [], "b": []} for k in ("paired", "val", "test", "unpaired")}
    for c in range(_N_CLASSES):
        a_c, b_c = rng.permutation(np.flatnonzero(ya == c)), rng.permutation(np.flatnonzero(yb == c))
        for side, members in (("a", a_c), ("b", b_c)):
            for name, part in zip(("paired", "val", "test", "unpaired"), np.split(members, cuts)):
                idx[name][side].append(part)
    return idx


def _pca_map(x, fit_rows, dim: int):
    """rows -> the rows' top-``dim`` PCA coordinates (fitted on ``fit_rows``), scaled to unit total variance."""
    mean = x[fit_rows].mean(0)
    vecs = np.linalg.svd(x[fit_rows] - mean, full_matrices=False)[2][:dim]
    scale = np.sqrt(((x[fit_rows] - mean) @ vecs.T).var(0).sum())
    return lambda rows: (((x[rows] - mean) @ vecs.T) / scale).astype(np.float32)
