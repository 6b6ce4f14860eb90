"""Evaluation of frozen encoders: linear probe, few-shot probe, k-NN and zero-shot.

Probes use scikit-learn (logistic regression, k-nearest neighbours) on embeddings computed
once with :func:`embed`.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int, check_real

__all__ = ["embed", "linear_probe", "few_shot_probe", "knn_accuracy", "zero_shot_accuracy", "batched_logistic_probe"]


def embed(module, inputs, *, batch_size: int = 1024, device="cpu") -> np.ndarray:
    """Embeddings of ``inputs`` (NumPy or torch) by ``module`` in eval mode, as float64 NumPy."""
    import torch

    from .device import get_device

    dev = get_device(device) if isinstance(device, str) else device
    x = torch.as_tensor(np.asarray(inputs) if not isinstance(inputs, torch.Tensor) else inputs, dtype=torch.float32)
    module.eval()
    with torch.no_grad():
        parts = [module(x[i:i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(parts).double().numpy()


def _check_features(train_x, train_y, test_x, test_y):
    train_x, test_x = np.asarray(train_x, dtype=np.float64), np.asarray(test_x, dtype=np.float64)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    for name, a in (("train_x", train_x), ("test_x", test_x)):
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty 2-D array, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} must contain only finite values")
    if len(train_y) != len(train_x) or len(test_y) != len(test_x):
        raise ValueError("labels must have one entry per row of the features")
    return train_x, train_y, test_x, test_y


def linear_probe(train_x, train_y, test_x, test_y, *, C: float = 1.0, max_iter: int = 2000,
                 standardize: bool = True) -> dict:
    """Multinomial logistic regression on frozen features, standardised by default.

    Args:
        standardize: scale every feature to unit variance on the training set first (``False``: the raw features,
            as in CLIP's linear-probe protocol; standardising amplifies low-variance directions).

    Returns:
        dict with ``accuracy`` (test) and ``train_accuracy``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_x, train_y, test_x, test_y = _check_features(train_x, train_y, test_x, test_y)
    C = check_real("C", C, low=0.0, low_open=True)
    if not isinstance(standardize, bool):
        raise TypeError(f"standardize must be a bool, got {type(standardize).__name__}")
    logistic = LogisticRegression(C=C, max_iter=check_int("max_iter", max_iter, low=1))
    clf = make_pipeline(StandardScaler(), logistic) if standardize else logistic
    clf.fit(train_x, train_y)
    return {"accuracy": float(clf.score(test_x, test_y)), "train_accuracy": float(clf.score(train_x, train_y))}


def few_shot_probe(train_x, train_y, test_x, test_y, *, shots: int = 5, seed: int = 0, C: float = 1.0) -> dict:
    """Linear probe trained on ``shots`` examples per class (seeded choice)."""
    train_x, train_y, test_x, test_y = _check_features(train_x, train_y, test_x, test_y)
    shots = check_int("shots", shots, low=1)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    chosen = []
    for label in np.unique(train_y):
        members = np.flatnonzero(train_y == label)
        if len(members) < shots:
            raise ValueError(f"shots must be at most the smallest class size ({len(members)}), got {shots}")
        chosen.append(rng.choice(members, size=shots, replace=False))
    idx = np.concatenate(chosen)
    return linear_probe(train_x[idx], train_y[idx], test_x, test_y, C=C)


def knn_accuracy(train_x, train_y, test_x, test_y, *, n_neighbors: int = 5) -> float:
    """Accuracy of a cosine k-nearest-neighbour classifier."""
    from sklearn.neighbors import KNeighborsClassifier

    train_x, train_y, test_x, test_y = _check_features(train_x, train_y, test_x, test_y)
    n_neighbors = check_int("n_neighbors", n_neighbors, low=1, high=len(train_x))
    knn = KNeighborsClassifier(n_neighbors=n_neighbors, metric="cosine").fit(train_x, train_y)
    return float(knn.score(test_x, test_y))


def zero_shot_accuracy(image_embeddings, prompt_embeddings, labels) -> dict:
    """Zero-shot classification: each image takes the class of its most similar prompt (cosine).

    Args:
        image_embeddings: (n, k) image embeddings.
        prompt_embeddings: (K, k) one prompt embedding per class, in class order.
        labels: (n,) true classes in [0, K).

    Returns:
        dict with ``accuracy`` and ``predictions`` (n,).
    """
    img = np.asarray(image_embeddings, dtype=np.float64)
    prm = np.asarray(prompt_embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    if img.ndim != 2 or prm.ndim != 2 or img.shape[1] != prm.shape[1]:
        raise ValueError(f"image_embeddings (n, k) and prompt_embeddings (K, k) must share k, "
                         f"got {img.shape} and {prm.shape}")
    if len(labels) != len(img):
        raise ValueError("labels must have one entry per image")
    img = img / np.maximum(np.linalg.norm(img, axis=1, keepdims=True), 1e-12)
    prm = prm / np.maximum(np.linalg.norm(prm, axis=1, keepdims=True), 1e-12)
    pred = np.argmax(img @ prm.T, axis=1)
    return {"accuracy": float(np.mean(pred == labels)), "predictions": pred}


def batched_logistic_probe(feats_fit, y_fit, feats_eval, y_eval, *, C: float = 1.0, iterations: int = 25) -> np.ndarray:
    """Per model: an L2-regularised logistic-regression probe fitted on one set of features, accuracy on another.

    Every model's probe is fitted at once by Newton's method on the objective of scikit-learn's
    ``LogisticRegression(C=C)`` (unpenalised intercept) — a batched solver, checked against scikit-learn in the tests.
    Features are standardised with the fit set's statistics.

    Args:
        feats_fit, feats_eval: (B, k, m) features; y_fit, y_eval: (B, k) labels in {-1, +1}.

    Returns:
        (B,) accuracies.
    """
    import torch

    X = torch.as_tensor(feats_fit, dtype=torch.float64)
    Xe = torch.as_tensor(feats_eval, dtype=torch.float64, device=X.device)
    t = torch.as_tensor(y_fit, dtype=torch.float64, device=X.device)
    te = torch.as_tensor(y_eval, dtype=torch.float64, device=X.device)
    mean, std = X.mean(1, keepdim=True), X.std(1, unbiased=False, keepdim=True) + 1e-12
    X, Xe = (X - mean) / std, (Xe - mean) / std
    ones = torch.ones(*X.shape[:2], 1, dtype=X.dtype, device=X.device)
    Z = torch.cat([X, ones], 2)  # (B, k, m + 1): the last weight is the intercept
    B, k, p = Z.shape
    w = torch.zeros(B, p, dtype=X.dtype, device=X.device)
    reg = torch.eye(p, dtype=X.dtype, device=X.device) / C
    reg[-1, -1] = 0.0
    for _ in range(check_int("iterations", iterations, low=1)):
        margin = t * (Z @ w[:, :, None])[:, :, 0]
        prob = torch.sigmoid(-margin)  # d/dmargin of log(1 + exp(-margin)) is -prob
        grad = w @ reg - (Z * (t * prob)[:, :, None]).sum(1)
        hess = reg + Z.transpose(1, 2) @ (Z * (prob * (1 - prob))[:, :, None]) + 1e-10 * torch.eye(p, dtype=X.dtype,
                                                                                                  device=X.device)
        w = w - torch.linalg.solve(hess, grad[:, :, None])[:, :, 0]
    Ze = torch.cat([Xe, torch.ones(*Xe.shape[:2], 1, dtype=X.dtype, device=X.device)], 2)
    pred = torch.where((Ze @ w[:, :, None])[:, :, 0] >= 0, 1.0, -1.0)
    return (pred == te).double().mean(1).cpu().numpy()
