"""Nakada et al. (AISTATS 2023) on two real datasets, the class-graph side: the noisy class graph with and without
spectral co-clustering (§5.2, the released experiment E2), where co-clustering must stop working (the detection
threshold), and how the recovery error grows with the dimension (Theorem 1's sqrt(d) factor). Re-exported by
:mod:`mmcl_core.experiments.nakada2023`; the project's notes: docs/papers/nakada2023.md.
"""

from __future__ import annotations

import numpy as np

from ..device import one_torch_thread
from .._checks import check_choice, check_int, check_real, check_seeds
from ..data.digits import N_CLASSES as _N_CLASSES

__all__ = ["E2_PROFILES", "noisy_graph_study", "coclustering_precision", "detection_threshold", "sqrt_d_law"]


E2_PROFILES = {"quick": {"flips": (0.0, 0.1, 0.2, 0.3, 0.5), "epochs": 200},
               "full": {"flips": tuple(float(p) for p in np.round(np.arange(0, 0.51, 0.05), 2)), "epochs": 400}}


def _graph_data(seed: int, n_per_class: int = 50, n_test_per_class: int = 100):
    from ..data.digits import load_digit_images
    from ..data.mnist import load_mnist5k

    rng = np.random.default_rng(seed)
    xa, ya = load_mnist5k()
    xb, yb = load_digit_images()
    xa = np.asarray(xa, dtype=np.float32).reshape(len(xa), -1)
    xb = np.asarray(xb, dtype=np.float32).reshape(len(xb), -1)
    tr_a, te_a, tr_b, te_b = [], [], [], []
    for c in range(_N_CLASSES):
        a_c, b_c = rng.permutation(np.flatnonzero(ya == c)), rng.permutation(np.flatnonzero(yb == c))
        tr_a.append(a_c[:n_per_class]), te_a.append(a_c[n_per_class:n_per_class + n_test_per_class])
        tr_b.append(b_c[:n_per_class]), te_b.append(b_c[n_per_class:])
    tr_a, te_a, tr_b, te_b = (np.concatenate(v) for v in (tr_a, te_a, tr_b, te_b))

    def pca(x, fit, dim=32):  # the role of the pretrained autoencoders, as in the semi-supervised experiment
        mean = x[fit].mean(0)
        vecs = np.linalg.svd(x[fit] - mean, full_matrices=False)[2][:dim]
        scale = np.sqrt(((x[fit] - mean) @ vecs.T).var(0).sum())
        return lambda rows: (((x[rows] - mean) @ vecs.T) / scale).astype(np.float32)

    pa, pb = pca(xa, tr_a), pca(xb, tr_b)
    return {"a": pa(tr_a), "ya": ya[tr_a], "b": pb(tr_b), "yb": yb[tr_b], "a_test": pa(te_a), "ya_test": ya[te_a],
            "b_test": pb(te_b), "yb_test": yb[te_b]}


def _flip(adjacency: np.ndarray, p: float, rng) -> np.ndarray:
    return np.where(rng.random(adjacency.shape) < p, 1.0 - adjacency, adjacency)


def _cocluster(noisy: np.ndarray, n_classes: int, seed: int, n_vectors: int | None = None) -> np.ndarray:
    """Bipartite spectral co-clustering as in the released E2 code: A_n = D1^{-1/2} A D2^{-1/2}, its singular vectors
    2 .. n_vectors + 1 (default n_classes - 1 of them) rescaled by D^{-1/2} and stacked for both sides, k-means with
    n_classes
    clusters; edges = same cluster. Dhillon's original recipe (scikit-learn's ``SpectralCoclustering``) keeps only
    ceil(log2 n_classes) vectors: ``n_vectors=4`` for n_classes = 10."""
    from scipy.linalg import svd
    from sklearn.cluster import KMeans

    n_vectors = n_classes - 1 if n_vectors is None else n_vectors
    d1, d2 = noisy.sum(1) + 1e-9, noisy.sum(0) + 1e-9
    u, _, vt = svd(noisy / np.sqrt(d1)[:, None] / np.sqrt(d2)[None, :], full_matrices=False)
    z = np.vstack([u[:, 1:n_vectors + 1] / np.sqrt(d1)[:, None], vt[1:n_vectors + 1].T / np.sqrt(d2)[:, None]])
    labels = KMeans(n_clusters=n_classes, n_init=10, random_state=seed).fit_predict(z)
    rows, cols = labels[: len(d1)], labels[len(d1):]
    return (rows[:, None] == cols[None, :]).astype(float)


def _edge_precision(graph: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of a graph's edges that join same-class pairs (0 for an empty graph)."""
    return float((graph * truth).sum() / max(graph.sum(), 1.0))


def _graph_fit(data: dict, adjacencies: np.ndarray, epochs: int, seed: int) -> np.ndarray:
    """One pair of MLP towers per graph in ``adjacencies`` (G, n_a, n_b), trained together as one batched program
    (same initialisation for every graph) on the multi-positive InfoNCE of its graph, full batch, cosine similarity
    over a temperature of 0.1. Accuracy of A test images by the nearest of 10 B class prototypes (one random B test
    image per class), averaged over 20 draws (chance 0.1). Returns (G,) accuracies."""
    import torch
    import torch.nn.functional as F

    from ..losses import graph_infonce_from_logits
    from ..train import StackedMLP

    G = len(adjacencies)
    ta = StackedMLP([seed] * G, data["a"].shape[1], 64, 32, "cpu")
    tb = StackedMLP([seed + 1] * G, data["b"].shape[1], 64, 32, "cpu")
    opt = torch.optim.Adam(ta.params + tb.params, lr=3e-3)
    a = torch.as_tensor(data["a"]).expand(G, -1, -1)
    b = torch.as_tensor(data["b"]).expand(G, -1, -1)
    T = torch.as_tensor(adjacencies, dtype=torch.float32)
    for _ in range(epochs):
        lg = F.normalize(ta(a), dim=2) @ F.normalize(tb(b), dim=2).transpose(1, 2) / 0.1
        per_graph = graph_infonce_from_logits(lg, T)
        opt.zero_grad(set_to_none=True)
        per_graph.sum().backward()
        opt.step()
    rng = np.random.default_rng(seed + 3)
    za = ta.features(torch.as_tensor(data["a_test"]).expand(G, -1, -1))
    zb = tb.features(torch.as_tensor(data["b_test"]).expand(G, -1, -1))
    za /= np.linalg.norm(za, axis=2, keepdims=True)
    zb /= np.linalg.norm(zb, axis=2, keepdims=True)
    acc = np.zeros(G)
    for _ in range(20):
        protos = np.array([rng.choice(np.flatnonzero(data["yb_test"] == c)) for c in range(_N_CLASSES)])
        acc += ((za @ zb[:, protos].transpose(0, 2, 1)).argmax(2) == data["ya_test"]).mean(1) / 20
    return acc


@one_torch_thread()
def noisy_graph_study(seeds=(0, 1, 2), *, flips=None, n_classes: int = 10, profile: str = "quick",
                      n_vectors: int | None = None) -> dict:
    """E2 on MNIST-5k <-> digits (50 images per class each): the class-level bipartite graph (an edge between
    every same-class pair), every entry flipped with probability p; towers trained on the noisy graph as is, and on
    the graph denoised by spectral co-clustering with ``n_classes`` clusters on ``n_vectors`` singular vectors (default
    n_classes - 1, as released; Dhillon's original ceil(log2 n_classes) is 4 for n_classes = 10).

    Returns:
        dict with ``flips`` (P,), ``noisy`` and ``coclustered`` (S, P) test accuracies (chance 0.1), ``edge_precision``
        (S, P): fraction of the co-clustered graph's edges that join same-class pairs.
    """
    check_choice("profile", profile, tuple(E2_PROFILES))
    conf = E2_PROFILES[profile]
    flips = conf["flips"] if flips is None else flips
    flips = [check_real("flip", p, low=0.0, high=0.5) for p in flips]
    n_classes = check_int("n_classes", n_classes, low=2, high=50)
    n_vectors = n_classes - 1 if n_vectors is None else check_int("n_vectors", n_vectors, low=1, high=99)
    seeds = check_seeds(seeds)
    noisy, clustered, precision = (np.zeros((len(seeds), len(flips))) for _ in range(3))
    for i, seed in enumerate(seeds):
        data = _graph_data(seed)
        truth = (data["ya"][:, None] == data["yb"][None, :]).astype(float)
        graphs = [_flip(truth, p, np.random.default_rng(seed * 100 + j)) for j, p in enumerate(flips)]
        denoised = [_cocluster(g, n_classes, seed, n_vectors) for g in graphs]
        precision[i] = [_edge_precision(d, truth) for d in denoised]
        acc = _graph_fit(data, np.stack(graphs + denoised), conf["epochs"], seed)
        noisy[i], clustered[i] = acc[: len(flips)], acc[len(flips):]
    return {"flips": np.array(flips), "noisy": noisy, "coclustered": clustered, "edge_precision": precision,
            "seeds": seeds, "n_classes": n_classes, "n_vectors": n_vectors}


def coclustering_precision(flips=(0.1, 0.2, 0.3), seeds=(0, 1, 2), *, n_classes: int = 10, n_vectors=(4, 9)) -> dict:
    """Edge precision of the co-clustered E2 graph (fraction of its edges that join same-class pairs) for each number
    of singular vectors in ``n_vectors``: no training, a few seconds. The noisy graph's own edge precision is about
    (1 - p) / (1 - p + 9p) for 10 equal classes.

    Returns:
        dict with ``flips`` (P,), ``n_vectors`` (V,), ``precision`` (S, V, P) and ``noisy_precision`` (S, P).
    """
    flips = [check_real("flip", p, low=0.0, high=0.5) for p in flips]
    n_classes = check_int("n_classes", n_classes, low=2, high=50)
    n_vectors = [check_int("n_vectors", v, low=1, high=99) for v in n_vectors]
    seeds = check_seeds(seeds)
    precision = np.zeros((len(seeds), len(n_vectors), len(flips)))
    noisy = np.zeros((len(seeds), len(flips)))
    for i, seed in enumerate(seeds):
        data = _graph_data(seed)
        truth = (data["ya"][:, None] == data["yb"][None, :]).astype(float)
        for j, p in enumerate(flips):
            graph = _flip(truth, p, np.random.default_rng(seed * 100 + j))
            noisy[i, j] = _edge_precision(graph, truth)
            for v, nv in enumerate(n_vectors):
                denoised = _cocluster(graph, n_classes, seed, nv)
                precision[i, v, j] = _edge_precision(denoised, truth)
    return {"flips": np.array(flips), "n_vectors": np.array(n_vectors), "precision": precision,
            "noisy_precision": noisy, "seeds": seeds}


def detection_threshold(n_per_class: int = 50, n_classes: int = 10) -> float:
    """The flip rate p* above which the E2 graph's classes vanish from its spectrum.

    The flipped graph is E[A] + noise with E[A] = p 1 1^T + (1 - 2p) T (T: the class blocks, each a singular value
    n_per_class) and noise entries of variance p(1 - p). A block singular value separates from the noise only above
    sqrt(p(1 - p)) (n_A n_B)^{1/4} (the detection threshold for a low-rank signal in an i.i.d. noise matrix, Benaych-
    Georges & Nadakuditi 2012); with n_A = n_B = n_classes * n_per_class that is the p solving
    (1 - 2p) n_per_class = sqrt(p (1 - p) n_A). Spectral co-clustering cannot recover the classes above it.
    """
    from scipy.optimize import brentq

    m = check_int("n_per_class", n_per_class, low=1)
    n = m * check_int("n_classes", n_classes, low=2)
    return float(brentq(lambda p: (1 - 2 * p) * m - np.sqrt(p * (1 - p) * n), 1e-9, 0.5))


def sqrt_d_law(dims=(25, 50, 100, 200, 400), seeds=(0, 1, 2), *, n: int = 8000, rank: int = 5) -> dict:
    """sin-Theta error of the linear-loss MMCL solution against the dimension d = d1 = d2 at fixed n (isotropic
    noise, Haar-random features). Theorem 1's bound grows like sqrt(r (d1 + d2) / n): the log-log slope in d should
    be about 1/2.

    Returns:
        dict with ``dims`` (D,), ``error`` (S, D), ``slope`` (least-squares slope of log mean error on log d),
        ``sqrt_d_guide`` (D,): the mean error at the smallest d scaled by sqrt(d / d_0), ``seeds``, ``n``.
    """
    from ..data.synthetic import spiked_model
    from ..spectral import cross_covariance, sin_theta_distance, truncated_svd

    dims = [check_int("dim", d, low=2) for d in dims]
    if len(dims) < 2:
        raise ValueError("dims must hold at least two dimensions")
    n, rank = check_int("n", n, low=2), check_int("rank", rank, low=1)
    seeds = check_seeds(seeds)
    err = np.zeros((len(seeds), len(dims)))
    for i, seed in enumerate(seeds):
        for j, d in enumerate(dims):
            if rank > d:
                raise ValueError(f"rank must be <= every dim, got rank {rank} and dim {d}")
            rng = np.random.default_rng(seed * 1000 + j)
            data = spiked_model(n, d, d, rank, noise_std=1.0, rng=rng)
            U = truncated_svd(cross_covariance(data["X"], data["Y"]), rank)[0]
            err[i, j] = sin_theta_distance(U, data["U1"])
    slope = float(np.polyfit(np.log(dims), np.log(err.mean(0)), 1)[0])
    guide = err.mean(0)[0] * np.sqrt(np.asarray(dims, dtype=float) / dims[0])  # the sqrt(d) law through the first point
    return {"dims": np.array(dims), "error": err, "slope": slope, "sqrt_d_guide": guide, "seeds": seeds, "n": n}
