"""Huang et al. (NeurIPS 2024), Table 1 on the offline ColoredDigits proxy: the bundled 8x8 digits coloured by their
(noisy) label, the colour rule permuted at test; SimCLR against CLIP-style training with ideal or MiniLM captions.

Re-exported by :mod:`mmcl_core.experiments.huang2024`; the MNIST-5k version of the table is
:mod:`mmcl_core.experiments.huang2024_mnist` (docs/papers/huang2024.md).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_real

__all__ = ["COLORED_METHODS", "TABLE1", "colored_digits", "colored_digits_table", "colored_digits_summary"]


COLORED_METHODS = ("single", "multi_ideal_digit", "multi_ideal_digit_color", "multi_minilm_digit",
                   "multi_minilm_digit_color")


TABLE1 = {"single": (88.43, 12.68), "multi": (87.77, 82.13)}  # the paper's train / reversed-colour test accuracy (%)


def colored_digits(*, p_color: float = 0.775, label_noise: float = 0.1, test_fraction: float = 1 / 3,
                   seed: int = 0) -> dict:
    """ColoredDigits: the bundled 8x8 digits coloured by their (noisy) label, with the colour rule permuted at test.

    Training: 10 % of labels replaced by a random other class; each image takes its label's colour with probability
    ``p_color``, else a random other colour. Test: the same label noise; colour of label + 1 (mod 10) with probability
    ``p_color`` — the paper's reversal, permuted to ten classes (docs/papers/huang2024.md).

    Returns:
        dict with ``train`` and ``test``: ``images`` (n, 3, 8, 8), ``labels`` (noisy, what the probe sees),
        ``true_labels``, ``color_ids``.
    """
    from ..data import digits

    p_color = check_real("p_color", p_color, low=0.0, high=1.0)
    label_noise = check_real("label_noise", label_noise, low=0.0, high=1.0)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    images, labels = digits.load_digit_images()
    train_idx, test_idx = digits.stratified_split(labels, test_fraction, seed)
    out = {}
    for split, idx, shift in (("train", train_idx, 0), ("test", test_idx, 1)):
        true = labels[idx]
        flip = rng.random(len(idx)) < label_noise
        noisy = np.where(flip, (true + rng.integers(1, 10, len(idx))) % 10, true)
        colors = digits.nuisance_ids((noisy + shift) % 10, len(digits.COLORS), "correlated", p_color, rng=rng)
        out[split] = {"images": digits.compose(images[idx], color_ids=colors), "labels": noisy, "true_labels": true,
                      "color_ids": colors}
    return out


def colored_digits_table(methods=COLORED_METHODS, *, epochs: int = 200, simclr_epochs: int | None = None,
                         batch_size: int = 256, lr: float = 1e-3, temperature: float = 0.1,
                         caption_digit: str = "true", seed: int = 0, device: str = "auto", data: dict | None = None,
                         model=None, cache_dir=None) -> dict:
    """Table 1 proxy: single-modal SimCLR against CLIP-style training with an ideal or MiniLM caption encoder,
    captions naming the digit only or the digit and the colour; linear probes fitted on the (biased, noisy) training
    set and scored on the colour-permuted test set.

    Reproduces: Huang et al. 2024, Table 1 (ColoredMNIST) on the ColoredDigits proxy (docs/papers/huang2024.md): MLP
    192 -> 256 -> 64
    image tower, caption head t -> 256 -> 64, Adam(W) lr 1e-3, batch 256, 200 epochs, tau = 0.1; SimCLR views by a
    +-1-pixel shift and pixel noise 0.1, no colour jitter.

    Args:
        caption_digit: the caption names the image's true digit (``"true"``: a caption describes the image) or its
            observed, noisy label (``"observed"``).
        temperature: InfoNCE temperature of every method.
        model: MiniLM model name or path (None: the bundled weights), for the ``multi_minilm_*`` methods.

    Returns:
        dict method -> {``train``, ``test``: accuracies against the observed labels of a logistic probe on the raw
        64-d features (CLIP's protocol); ``train_standardized``, ``test_standardized``: the same probe on
        standardised features; ``seconds``}.
    """
    import time

    from ..models import make_tower
    from ..probes import embed, linear_probe
    from ..train import train_contrastive

    for m in methods:
        check_choice("method", m, COLORED_METHODS)
    check_choice("caption_digit", caption_digit, ("true", "observed"))
    data = data if data is not None else colored_digits(seed=seed)
    tr, te = data["train"], data["test"]
    named = tr["true_labels"] if caption_digit == "true" else tr["labels"]
    schedule = dict(batch_size=batch_size, lr=lr, temperature=temperature, seed=seed, device=device)
    out = {}
    for m in methods:
        start = time.perf_counter()
        tower = make_tower(int(np.prod(tr["images"].shape[1:])), 64, hidden_dim=256, seed=seed, device=device)
        if m == "single":
            train_contrastive(tower, tr["images"], mode="simclr", epochs=simclr_epochs or epochs,
                              augment_kwargs=dict(max_shift=1.0, max_rotation_deg=0.0, intensity_range=(1.0, 1.0),
                                                  dropout=0.0, noise_std=0.1), **schedule)
        else:
            text = _caption_embeddings(m, named, tr["color_ids"], seed, model, cache_dir)
            head = make_tower(text.shape[1], 64, hidden_dim=256, seed=seed + 1, device=device)
            train_contrastive(tower, tr["images"], mode="clip", text_embeddings=text, text_head=head, epochs=epochs,
                              **schedule)
        f_tr, f_te = embed(tower, tr["images"], device=device), embed(tower, te["images"], device=device)
        raw = linear_probe(f_tr, tr["labels"], f_te, te["labels"], standardize=False)
        std = linear_probe(f_tr, tr["labels"], f_te, te["labels"])
        out[m] = {"train": raw["train_accuracy"], "test": raw["accuracy"], "train_standardized": std["train_accuracy"],
                  "test_standardized": std["accuracy"], "seconds": time.perf_counter() - start}
    return out


def _caption_embeddings(method: str, named, color_ids, seed: int, model, cache_dir):
    """The captions of a ``multi_*`` method: naming the digit ``named`` (and the colour for ``*_colour``), embedded
    ideally (one-hot) or by MiniLM."""
    from ..data import captions as cap
    from ..data.text import embed_captions, ideal_caption_embeddings

    color = method.endswith("color")
    if "ideal" in method:
        return ideal_caption_embeddings(named, color_ids if color else None)
    c = cap.make_captions(named, 1 if color else 0, rng=np.random.default_rng(seed),
                          color_ids=color_ids if color else None)
    return embed_captions(c["captions"], model, cache_dir=cache_dir)


def colored_digits_summary(tables: list, *, probe: str = "raw") -> dict:
    """Means over seeds of :func:`colored_digits_table` results and every method's gap to single-modal SimCLR.

    Args:
        tables: one :func:`colored_digits_table` dict per seed (the same methods, ``"single"`` among them).
        probe: ``"raw"`` (the probe on raw features) or ``"standardized"``.

    Returns:
        dict with ``train``/``test``/``test_std`` (method -> mean, mean, standard deviation over seeds),
        ``test_gap`` and ``train_gap`` (method -> mean over seeds of method minus single), ``seeds``, ``probe``.
    """
    check_choice("probe", probe, ("raw", "standardized"))
    if not isinstance(tables, (list, tuple)) or not tables:
        raise ValueError("tables must be a non-empty list of colored_digits_table results")
    methods = list(tables[0])
    if "single" not in methods or any(list(t) != methods for t in tables):
        got = [list(t) for t in tables]
        raise ValueError(f"every table must hold the same methods, 'single' among them; got {got}")
    suffix = "" if probe == "raw" else "_standardized"
    acc = {split: np.array([[t[m][split + suffix] for m in methods] for t in tables]) for split in ("train", "test")}
    single = methods.index("single")
    out = {"seeds": len(tables), "probe": probe,
           "test_std": dict(zip(methods, acc["test"].std(0).tolist()))}
    for split in ("train", "test"):
        out[split] = dict(zip(methods, acc[split].mean(0).tolist()))
        out[split + "_gap"] = dict(zip(methods, (acc[split] - acc[split][:, [single]]).mean(0).tolist()))
    return out
