"""Huang et al. (NeurIPS 2024), Table 1 on real MNIST: ColoredMNIST, single-modal SimCLR against CLIP-style training.

The paper's claim (§5, Table 1): trained on coloured digits whose colour agrees with the (noisy) label 77.5 % of the
time, single-modal contrastive learning gives features whose linear probe collapses when the colour rule is reversed
at test (88.43 % train, 12.68 % test), while multi-modal learning against captions keeps the digit (87.77 %,
82.13 %). Mechanism in the paper's terms: SimCLR's two views of an image share everything that augmentation does not
change — here the colour, a feature that separates the views from other images almost perfectly — so the encoder
memorises it; a caption is a second, *independent* view whose shared content is what the caption says, the digit.

:func:`colored_mnist_table` runs the four methods on MNIST-5k (:func:`mmcl_core.data.mnist.colored_mnist`), every
seed of a method trained as one batched program (:func:`mmcl_core.train.train_stacked`), and probes the features with
a logistic regression fitted on the biased, noisy training set (the paper's protocol, as far as it is given).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from .._checks import check_choice, check_int, check_real, check_seeds, resolve_setting

__all__ = ["CMNIST_METHODS", "CMNIST_PROFILES", "PROBE_LAYERS", "PROBE_FITS", "TABLE1_MNIST", "ColoredMnistSetting",
           "caption_inputs",
           "colored_mnist_table", "colored_mnist_summary", "colored_mnist_grid", "colored_mnist_lookup", "paired_t"]

CMNIST_METHODS = ("single", "multi_digit_color", "multi_digit", "multi_minilm")
"""SimCLR; CLIP-style with the paper's ideal caption (one-hot digit and colour), a digit-only ideal caption, and
frozen MiniLM embeddings of a sentence naming the digit and the colour."""
PROBE_LAYERS = ("head", "hidden")
PROBE_FITS = ("train", "ood")
TABLE1_MNIST = {"single": (0.8843, 0.1268), "multi": (0.8777, 0.8213)}  # the paper's train / reversed test accuracy
CMNIST_PROFILES = {
    "quick": dict(n_train=4000, n_test=1000, epochs=30, hidden_dim=512, out_dim=128, pool=2, encoder="mlp"),
    "full": dict(n_train=4000, n_test=1000, epochs=30, hidden_dim=512, out_dim=128, pool=2, encoder="mlp"),
}


@dataclass(frozen=True)
class ColoredMnistSetting:
    """One ColoredMNIST run's setting, validated once (the paper gives the data, not the training).

    Data: colour-class agreement ``p_color`` in training (reversed at test), a fraction ``label_noise`` of labels
    replaced, ``n_train`` / ``n_test`` MNIST-5k images average-pooled by ``pool`` (1: full 28 x 28). SimCLR's views
    are random resized crops of area fraction in [``crop_scale``, 1]; captions name the true or the observed digit
    (``caption_digit``). Towers: ``encoder`` pixels -> ``hidden_dim`` -> ``out_dim``, Adam at ``lr``, batches of
    ``batch_size``, ``epochs`` epochs, temperature ``temperature``. The probe reads the projection (``"head"``) or
    the hidden layer (``probe_layer``) and is fitted on the training set or on half the reversed test set
    (``probe_fit``).
    """

    p_color: float = 0.775
    label_noise: float = 0.1
    crop_scale: float = 0.3
    caption_digit: str = "true"
    probe_layer: str = "head"
    probe_fit: str = "train"
    temperature: float = 0.1
    lr: float = 1e-3
    batch_size: int = 256
    n_train: int = 4000
    n_test: int = 1000
    epochs: int = 30
    hidden_dim: int = 512
    out_dim: int = 128
    pool: int = 2
    encoder: str = "mlp"

    def __post_init__(self):
        from ..train import ENCODERS

        check_real("p_color", self.p_color, low=0.0, high=1.0)
        check_real("label_noise", self.label_noise, low=0.0, high=1.0)
        check_real("crop_scale", self.crop_scale, low=0.0, high=1.0, low_open=True)
        check_choice("caption_digit", self.caption_digit, ("true", "observed"))
        check_choice("probe_layer", self.probe_layer, PROBE_LAYERS)
        check_choice("probe_fit", self.probe_fit, PROBE_FITS)
        check_real("temperature", self.temperature, low=0.0, low_open=True)
        check_real("lr", self.lr, low=0.0, low_open=True)
        for name in ("batch_size", "n_train", "n_test", "epochs", "hidden_dim", "out_dim"):
            check_int(name, getattr(self, name), low=1)
        check_int("pool", self.pool, low=1, high=4)
        check_choice("encoder", self.encoder, ENCODERS)

    @classmethod
    def for_profile(cls, profile: str) -> "ColoredMnistSetting":
        """The setting of a profile (``CMNIST_PROFILES``)."""
        return cls(**CMNIST_PROFILES[check_choice("profile", profile, tuple(CMNIST_PROFILES))])


def caption_inputs(method: str, digit_named, color_named, *, model=None, cache_dir=None) -> np.ndarray:
    """The text-side input of a multi-modal method: the ideal encoder's one-hots, or MiniLM sentence embeddings.

    Args:
        method: one of ``CMNIST_METHODS`` except ``"single"``.
        digit_named, color_named: (n,) what each caption names.
        model, cache_dir: MiniLM model and caption-embedding cache (``"multi_minilm"`` only).
    """
    from ..data.digits import COLOR_NAMES, DIGIT_WORDS
    from ..data.text import embed_captions, ideal_caption_embeddings

    check_choice("method", method, CMNIST_METHODS[1:])
    digit_named, color_named = np.asarray(digit_named), np.asarray(color_named)
    if method == "multi_digit_color":
        return ideal_caption_embeddings(digit_named, color_named)
    if method == "multi_digit":
        return ideal_caption_embeddings(digit_named)
    sentences = [f"a handwritten digit {DIGIT_WORDS[d]} written in {COLOR_NAMES[c]}" for d in range(10)
                 for c in range(10)]
    table = embed_captions(sentences, model, cache_dir=cache_dir)  # 100 distinct captions, embedded once
    return np.asarray(table, dtype=np.float32)[digit_named * 10 + color_named]


def _probe(f_fit, y_fit, f_eval, y_eval, f_id, y_id):
    """(accuracy on the ID points, accuracy on the evaluation points) of one logistic probe fitted on ``f_fit``."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, max_iter=1000).fit(f_fit, y_fit)
    return float(clf.score(f_id, y_id)), float(clf.score(f_eval, y_eval))


def paired_t(a, b) -> float:
    """Paired t statistic of ``a - b`` over seeds (inf when every difference is equal and positive)."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.size < 2:
        raise ValueError("paired_t needs at least two seeds")
    sd = d.std(ddof=1)
    if sd == 0:
        return float(np.sign(d.mean()) * np.inf) if d.mean() else 0.0
    return float(d.mean() / (sd / np.sqrt(d.size)))


def colored_mnist_table(seeds=(0, 1, 2, 3, 4), profile: str = "quick", setting: ColoredMnistSetting | None = None, *,
                        methods=CMNIST_METHODS, device: str = "auto", model=None, cache_dir=None, **overrides) -> dict:
    """Huang et al. 2024, Table 1 on ColoredMNIST (MNIST-5k): every method over ``seeds``.

    Setting (the paper gives the data, not the training): MLP image tower pixels -> 512 -> 128, Adam lr 1e-3,
    batch 256, tau = 0.1; SimCLR views are random resized crops (area fraction in [crop_scale, 1], no colour jitter);
    CLIP-style methods pair each image with its caption through a text MLP t -> 256 -> 128.

    Args:
        seeds: at least one non-negative integer; every seed draws its own split, label noise, colours and models.
        profile: ``"quick"`` or ``"full"``: both train 30 epochs on 14 x 14 average-pooled images (``pool=2``; the
            paper gives no training setting, and at 28 x 28 with 20 epochs the effect nearly vanished in our runs);
            the notebook runs 3 seeds in quick and 5 in full.
        setting: a :class:`ColoredMnistSetting` (default: the profile's); ``overrides`` replace its fields by name.
        methods: a subset of ``CMNIST_METHODS``.

    Returns:
        dict method -> {``id_accuracy`` (S,): the probe on the training distribution (the paper's "train acc"),
        ``ood_accuracy`` (S,): on the colour-reversed test set, ``final_loss`` (S,), ``seconds``}, plus
        ``"settings"`` (everything that defined the run, with ``profile``) and ``"seeds"``.
    """
    from ..train import train_stacked

    st = resolve_setting(ColoredMnistSetting, setting, overrides, default=ColoredMnistSetting.for_profile(profile))
    seeds = check_seeds(seeds)
    methods = [check_choice("method", m, CMNIST_METHODS) for m in methods]
    data, x_tr, x_te = _cmnist_data(seeds, st)
    train_kw = dict(epochs=st.epochs, hidden_dim=st.hidden_dim, out_dim=st.out_dim, batch_size=st.batch_size,
                    lr=st.lr, temperature=st.temperature, encoder=st.encoder, device=device)
    out = {"seeds": seeds, "settings": {"profile": profile, **dataclasses.asdict(st)}}
    for method in methods:
        start = time.perf_counter()
        if method == "single":
            run = train_stacked(x_tr, seeds=seeds, mode="simclr", crop_scale=st.crop_scale, **train_kw)
        else:
            key = "true_labels" if st.caption_digit == "true" else "labels"
            text = np.stack([caption_inputs(method, d["train"][key], d["train"]["color_ids"], model=model,
                                            cache_dir=cache_dir) for d in data])
            run = train_stacked(x_tr, seeds=seeds, mode="clip", text=text, **train_kw)
        out[method] = _probe_all(run["image"], x_tr, x_te, data, st.probe_layer, st.probe_fit)
        out[method].update(final_loss=run["losses"][:, -1], seconds=time.perf_counter() - start)
    return out


def _cmnist_data(seeds, st: ColoredMnistSetting) -> tuple:
    """Each seed's ColoredMNIST draw and its pooled (S, n, C, h, w) training and test images."""
    from ..data.mnist import colored_mnist

    data = [colored_mnist(p_color=st.p_color, label_noise=st.label_noise, n_train=st.n_train, n_test=st.n_test,
                          seed=s) for s in seeds]
    return (data, _pool(np.stack([d["train"]["images"] for d in data]), st.pool),
            _pool(np.stack([d["test"]["images"] for d in data]), st.pool))


def _pool(x: np.ndarray, size: int) -> np.ndarray:
    """Average-pool the last two axes by ``size`` (28x28 -> 14x14 for size = 2)."""
    if size == 1:
        return x
    *lead, h, w = x.shape
    return x.reshape(*lead, h // size, size, w // size, size).mean(axis=(-3, -1))


def _probe_all(tower, x_tr, x_te, data, probe_layer, probe_fit) -> dict:
    import torch

    dev = tower.params[0].device
    hidden = probe_layer == "hidden"
    f_tr = tower.features(torch.as_tensor(x_tr.reshape(*x_tr.shape[:2], -1), device=dev), hidden=hidden)
    f_te = tower.features(torch.as_tensor(x_te.reshape(*x_te.shape[:2], -1), device=dev), hidden=hidden)
    ids, oods = [], []
    for k, d in enumerate(data):
        y_tr, y_te = d["train"]["labels"], d["test"]["labels"]
        if probe_fit == "train":
            id_acc, ood_acc = _probe(f_tr[k], y_tr, f_te[k], y_te, f_tr[k], y_tr)
        else:
            half = len(y_te) // 2
            id_acc, ood_acc = _probe(f_te[k][:half], y_te[:half], f_te[k][half:], y_te[half:], f_tr[k], y_tr)
        ids.append(id_acc)
        oods.append(ood_acc)
    return {"id_accuracy": np.array(ids), "ood_accuracy": np.array(oods)}


def colored_mnist_summary(table: dict, reference: str = "single") -> dict:
    """Per method: mean and sd of ID and OOD accuracy over seeds, and the OOD gain over ``reference`` with its paired t.

    Returns:
        dict method -> {``id_mean``, ``id_sd``, ``ood_mean``, ``ood_sd``, ``ood_gain``, ``ood_gain_t``} (gain and t
        are None for the reference and with one seed).
    """
    methods = [m for m in CMNIST_METHODS if m in table]
    if reference not in methods:
        raise ValueError(f"reference {reference!r} is not in the table (methods: {methods})")
    out = {}
    for m in methods:
        ids, oods = table[m]["id_accuracy"], table[m]["ood_accuracy"]
        ddof = 1 if len(ids) > 1 else 0
        row = {"id_mean": float(ids.mean()), "id_sd": float(ids.std(ddof=ddof)), "ood_mean": float(oods.mean()),
               "ood_sd": float(oods.std(ddof=ddof)), "ood_gain": None, "ood_gain_t": None}
        if m != reference:
            row["ood_gain"] = float((oods - table[reference]["ood_accuracy"]).mean())
            if len(oods) > 1:
                row["ood_gain_t"] = paired_t(oods, table[reference]["ood_accuracy"])
        out[m] = row
    return out


def colored_mnist_grid(table: dict, *, crop_scales=(1.0,), p_colors=(0.95,), device: str = "auto", model=None,
                       cache_dir=None) -> dict:
    """The runs behind the notebook's explorer, one factor at a time around ``table``'s setting: SimCLR at each other
    crop strength, and every method at each other colour correlation, for the first seed of ``table`` and with its
    settings (the reference setting is ``table``'s own first-seed run).

    Args:
        table: a :func:`colored_mnist_table` result (its methods, settings and first seed are used).
        crop_scales: other SimCLR crop strengths (smallest crop area fractions, each in (0, 1]).
        p_colors: other training colour-class correlations (each in [0, 1]).

    Returns:
        dict with ``runs``: {setting: {method: {"id_accuracy", "ood_accuracy"}}} where ``setting`` is
        ``"reference"``, ``"crop_scale=<c>"`` (the caption methods use no crops: their reference runs are repeated)
        or ``"p_color=<p>"``; ``settings`` (their order), ``methods``, ``seed``.
    """
    cfg = dict(table["settings"])
    seed = table["seeds"][0]
    methods = [m for m in CMNIST_METHODS if m in table]
    crop_scales = [check_real("crop_scale", c, low=0.0, high=1.0, low_open=True) for c in crop_scales]
    p_colors = [check_real("p_color", p, low=0.0, high=1.0) for p in p_colors]
    base = ColoredMnistSetting(**{k: v for k, v in cfg.items() if k != "profile"})
    fixed = dict(device=device, model=model, cache_dir=cache_dir)

    def first(res):
        return {m: {"id_accuracy": float(res[m]["id_accuracy"][0]), "ood_accuracy": float(res[m]["ood_accuracy"][0])}
                for m in methods if m in res}

    runs = {"reference": first(table)}
    for crop in crop_scales:
        res = colored_mnist_table((seed,), cfg["profile"], base, methods=("single",), crop_scale=crop,
                                  **fixed) if "single" in methods else {}
        runs[f"crop_scale={crop:g}"] = {**runs["reference"], **first(res)}
    for p in p_colors:
        res = colored_mnist_table((seed,), cfg["profile"], base, methods=methods, p_color=p, **fixed)
        runs[f"p_color={p:g}"] = first(res)
    return {"runs": runs, "settings": list(runs), "methods": methods, "seed": seed,
            "reference": {"crop_scale": cfg["crop_scale"], "p_color": cfg["p_color"]}}


def colored_mnist_lookup(grid: dict, caption: str, setting: str = "reference") -> dict:
    """One point of :func:`colored_mnist_grid`: SimCLR against the ``caption`` method under ``setting``.
    Raises ValueError for a caption or setting the grid does not hold (naming what it holds)."""
    captions = [m for m in grid["methods"] if m != "single"]
    if caption not in captions:
        raise ValueError(f"caption must be one of {captions}, got {caption!r}")
    if setting not in grid["runs"]:
        raise ValueError(f"setting must be one of {grid['settings']}, got {setting!r}")
    run = grid["runs"][setting]
    return {"single": run["single"], caption: run[caption], "caption": caption, "setting": setting,
            "ood_gain": run[caption]["ood_accuracy"] - run["single"]["ood_accuracy"], "seed": grid["seed"]}
