"""The real-data layer on a tour (notebook 01_real_data_tour): digit images with nuisances,
captions at each richness level, the frozen text tower, and a first CLIP-style run
against SimCLR.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_real
from ..data import captions as cap
from ..data import digits
from ..data.text import embed_captions
from ..device import make_rng

__all__ = ["caption_controls", "prompt_retrieval", "digit_pairs", "recaption", "train_clip_towers", "evaluate_tower",
           "clip_vs_simclr", "binomial_band", "factor_gallery", "shift_gallery", "style_shift_accuracy"]


def binomial_band(p: float, n: int, n_sigma: float = 3.0) -> tuple[float, float]:
    """``p +- n_sigma * sqrt(p(1-p)/n)``: where an observed rate of n Bernoulli(p) draws should fall."""
    p = check_real("p", p, low=0.0, high=1.0)
    n = check_int("n", n, low=1)
    half = n_sigma * np.sqrt(p * (1 - p) / n)
    return p - half, p + half


def caption_controls(level: int = 2, noise_rate: float = 0.1, style_prob: float = 0.5, color_prob: float = 0.7,
                     seed: int = 0) -> dict:
    """Generate captions for all 1,797 images and compare each control with its binomial band.

    Returns:
        dict with ``captions`` (first 12), and per control ``<name>_rate`` and ``<name>_band``
        (3-sigma), for ``wrong_digit`` (target noise_rate), ``color`` (color_prob, level >= 1) and
        ``style`` (style_prob, level 2); plus ``n_unique`` and ``n_templates_used``.
    """
    images, labels = digits.load_digit_images()
    rng = make_rng(seed)
    color_ids = digits.nuisance_ids(labels, len(digits.COLORS), "correlated", 0.9, rng=rng)
    result = cap.make_captions(labels, level, rng=rng, noise_rate=noise_rate, color_ids=color_ids,
                               color_prob=color_prob, style_words=digits.attribute_words(images),
                               style_prob=style_prob)
    n = len(labels)
    out = {"captions": result["captions"][:12], "n_unique": len(set(result["captions"])),
           "n_templates_used": len(np.unique(result["template_ids"])), "level": level}
    targets = {"wrong_digit": (result["wrong_digit"], noise_rate)}
    if level >= 1:
        targets["color"] = (result["mentions_color"], color_prob)
    if level == 2:
        targets["style"] = (result["mentions_style"], style_prob)
    for name, (flags, target) in targets.items():
        out[f"{name}_rate"] = float(np.mean(flags))
        out[f"{name}_band"] = binomial_band(target, n)
    return out


def prompt_retrieval(model=None, seed: int = 0, cache_dir=None) -> dict:
    """Sanity of the frozen tower: does "a photo of the digit k" retrieve captions of digit k?

    For every label-only caption of the 1,797 images, the nearest of the 10 prompts (cosine)
    should name the caption's digit.

    Returns:
        dict with ``accuracy``, ``per_digit`` (10,), ``similarity`` (10, 10): mean cosine of
        prompt k to captions of digit j.
    """
    _, labels = digits.load_digit_images()
    caps = cap.make_captions(labels, 0, rng=make_rng(seed))
    emb = embed_captions(caps["captions"], model, cache_dir=cache_dir)
    prompts = embed_captions(cap.prompt_captions(), model, cache_dir=cache_dir)
    sims = emb @ prompts.T
    pred = sims.argmax(1)
    named = caps["digit_named"]
    return {
        "accuracy": float(np.mean(pred == named)),
        "per_digit": np.array([np.mean(pred[named == k] == k) for k in range(10)]),
        "similarity": np.array([[sims[named == j, k].mean() for j in range(10)] for k in range(10)]),
    }


def digit_pairs(*, level: int = 0, noise_rate: float = 0.0, color: bool = False, p_color: float = 0.9,
                test_color_mode: str = "independent", background_strength: float = 0.0, n_styles: int = 6,
                pixel_noise_std: float = 0.0, test_fraction: float = 0.25, seed: int = 0, model=None,
                cache_dir=None, caption_kwargs: dict | None = None, dataset: str = "digits") -> dict:
    """Image-caption pairs on a seeded stratified split, with caption embeddings.

    ``background_strength > 0`` draws each image over one of ``n_styles`` background patterns chosen
    independently of the class: a cross-class nuisance that SimCLR's augmentations preserve.
    ``caption_kwargs`` go to :func:`mmcl_core.data.captions.make_captions` (e.g. ``color_prob=0`` for level-2
    captions with style words but no colour). ``dataset``: "digits" (scikit-learn's 1,797) or "mnist" (MNIST-5k
    brought to 8x8, :func:`mmcl_core.data.mnist.load_mnist5k_8x8`).

    Returns:
        dict with ``train``/``test`` sub-dicts (``images`` (n, C, 8, 8), ``labels``, ``captions``,
        ``text`` (n, 384) embeddings, ``color_ids``) and ``prompts`` (10, 384).
    """
    images, labels = _images(dataset)
    rng = make_rng(seed)
    train_idx, test_idx = digits.stratified_split(labels, test_fraction, seed)
    words = _style_words(images, dataset)
    out = {"prompts": embed_captions(cap.prompt_captions(), model, cache_dir=cache_dir), "dataset": dataset}
    for split, idx, mode in (("train", train_idx, "correlated"), ("test", test_idx, test_color_mode)):
        y = labels[idx]
        color_ids = digits.nuisance_ids(y, len(digits.COLORS), mode, p_color, rng=rng) if color else None
        bg_ids = digits.nuisance_ids(y, n_styles, "independent", rng=rng) if background_strength > 0 else None
        x = digits.compose(images[idx], color_ids=color_ids, background_ids=bg_ids, n_styles=n_styles,
                           background_strength=background_strength, noise_std=pixel_noise_std, rng=rng)
        c = cap.make_captions(y, level, rng=rng, noise_rate=noise_rate, color_ids=color_ids,
                              style_words={k: v[idx] for k, v in words.items()}, **(caption_kwargs or {}))
        out[split] = {"images": x, "labels": y, "captions": c["captions"], "color_ids": color_ids,
                      "background_ids": bg_ids,
                      "text": embed_captions(c["captions"], model, cache_dir=cache_dir), "index": idx}
    return out


def _images(dataset: str):
    from ..data.mnist import load_mnist5k_8x8

    check_choice("dataset", dataset, ("digits", "mnist"))
    return digits.load_digit_images() if dataset == "digits" else load_mnist5k_8x8()


def _style_words(images, dataset: str) -> dict:
    """Style words of a dataset's images: split at the bundled digits' medians, or at another dataset's own."""
    return digits.attribute_words(images, own_medians=dataset != "digits")


def recaption(pairs: dict, level: int = 2, *, seed: int = 0, style_prob: float = 1.0, model=None,
              cache_dir=None) -> dict:
    """The same image pairs with new training captions at richness ``level`` (the test split and the images are
    unchanged): level 2 adds the style words measured from each digit's pixels ("the thick, slanted digit
    three"), content beyond the label that varies within a class and is shared across classes. The captions draw
    from their own generator (``seed``), so the images and everything else in ``pairs`` stay as they were.

    Returns:
        a shallow copy of ``pairs`` whose ``train`` has the new ``captions`` and ``text`` embeddings.
    """
    tr = pairs["train"]
    if "index" not in tr:
        raise ValueError("pairs must come from digit_pairs (its train split records the images' index)")
    dataset = pairs.get("dataset", "digits")
    words = {k: v[tr["index"]] for k, v in _style_words(_images(dataset)[0], dataset).items()}
    c = cap.make_captions(tr["labels"], level, rng=make_rng(seed), color_ids=tr["color_ids"], style_words=words,
                          style_prob=style_prob)
    train = {**tr, "captions": c["captions"], "text": embed_captions(c["captions"], model, cache_dir=cache_dir)}
    return {**pairs, "train": train}


def train_clip_towers(pairs: dict, *, embed_dim: int = 64, hidden_dim: int = 256, temperature: float = 0.1,
                      epochs: int = 30, augment: bool = False, seed: int = 0, device: str = "auto",
                      progress: bool = False) -> tuple:
    """A CLIP-style model on the training pairs: MLP image tower and linear head on the frozen text embeddings.

    Args:
        pairs: output of :func:`digit_pairs`.
        augment: also apply the SimCLR augmentations to the images (a teacher robust to augmented views).
        seed: image-tower seed (the head uses ``seed + 1``; training uses ``seed``).

    Returns:
        ``(image_tower, text_head, run)`` with ``run`` the trainer's dict (history, seconds).
    """
    from ..models import make_tower
    from ..train import train_contrastive

    tr = pairs["train"]
    image_tower = make_tower(int(np.prod(tr["images"].shape[1:])), embed_dim, hidden_dim=hidden_dim, seed=seed,
                             device=device)
    text_head = make_tower(tr["text"].shape[1], embed_dim, n_hidden=0, seed=seed + 1, device=device)
    run = train_contrastive(image_tower, tr["images"], mode="clip", text_embeddings=tr["text"], text_head=text_head,
                            epochs=epochs, temperature=temperature, augment_kwargs={} if augment else None,
                            seed=seed, device=device, progress=progress)
    return image_tower, text_head, run


def evaluate_tower(tower, pairs: dict, *, few_shot_seed: int | None = None, device: str = "auto") -> dict:
    """Linear probe and k-NN accuracy (and, given ``few_shot_seed``, a 5-shot probe) of a frozen image tower.

    Returns:
        dict with ``linear_probe``, ``knn`` (and ``few_shot``) test accuracies.
    """
    from ..probes import embed, few_shot_probe, knn_accuracy, linear_probe

    tr, te = pairs["train"], pairs["test"]
    f_tr, f_te = embed(tower, tr["images"], device=device), embed(tower, te["images"], device=device)
    out = {"linear_probe": linear_probe(f_tr, tr["labels"], f_te, te["labels"])["accuracy"],
           "knn": knn_accuracy(f_tr, tr["labels"], f_te, te["labels"])}
    if few_shot_seed is not None:
        out["few_shot"] = few_shot_probe(f_tr, tr["labels"], f_te, te["labels"], shots=5,
                                         seed=few_shot_seed)["accuracy"]
    return out


def clip_vs_simclr(pairs: dict | None = None, *, epochs: int = 30, embed_dim: int = 64, hidden_dim: int = 256,
                   temperature: float = 0.1, seed: int = 0, device: str = "auto", simclr: bool = True,
                   return_models: bool = False, progress: bool = False) -> dict:
    """A CLIP-style model (MLP image tower, linear head on frozen MiniLM) against SimCLR.

    Args:
        pairs: output of :func:`digit_pairs` (default: label-only captions, grey images).
        epochs: training epochs for each model.
        embed_dim, hidden_dim: tower sizes.
        temperature: InfoNCE temperature of both.
        seed: model and training seed.
        device: torch device.
        simclr: also train the SimCLR baseline.
        return_models: include the trained towers under ``models``.
        progress: progress bars.

    Returns:
        dict with ``clip`` and (if ``simclr``) ``simclr`` sub-dicts: ``linear_probe``, ``knn``,
        ``few_shot`` accuracies on the test split, ``seconds``, ``history``; ``clip`` also has
        ``zero_shot``. Plus ``pixels_linear_probe`` (probe on raw pixels, a reference).
    """
    from ..models import make_tower
    from ..probes import embed, linear_probe, zero_shot_accuracy
    from ..train import train_contrastive

    pairs = pairs if pairs is not None else digit_pairs(seed=seed)
    tr, te = pairs["train"], pairs["test"]
    in_dim = int(np.prod(tr["images"].shape[1:]))
    results = {}

    def evaluate(tower):
        return evaluate_tower(tower, pairs, few_shot_seed=seed, device=device)

    image_tower, text_head, run = train_clip_towers(pairs, embed_dim=embed_dim, hidden_dim=hidden_dim,
                                                    temperature=temperature, epochs=epochs, seed=seed, device=device,
                                                    progress=progress)
    clip = evaluate(image_tower)
    zs = zero_shot_accuracy(embed(image_tower, te["images"], device=device),
                            embed(text_head, pairs["prompts"], device=device), te["labels"])
    results["clip"] = {**clip, "zero_shot": zs["accuracy"], "seconds": run["seconds"], "history": run["history"]}
    if return_models:
        results["models"] = {"image_tower": image_tower, "text_head": text_head}
    if simclr:
        tower = make_tower(in_dim, embed_dim, hidden_dim=hidden_dim, seed=seed, device=device)
        run = train_contrastive(tower, tr["images"], mode="simclr", epochs=epochs, temperature=0.5, seed=seed,
                                device=device, progress=progress)
        results["simclr"] = {**evaluate(tower), "seconds": run["seconds"], "history": run["history"]}
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    results["pixels_linear_probe"] = linear_probe(flat(tr["images"]), tr["labels"], flat(te["images"]),
                                                  te["labels"])["accuracy"]
    return results


def factor_gallery(n_per_row: int = 10, *, p_color: float = 0.9, background_strength: float = 0.35,
                   pixel_noise_std: float = 0.15, seed: int = 0) -> dict:
    """One image per digit under each nuisance factor: clean, colour, background, pixel noise, all three.

    Returns:
        dict name -> (n_per_row, C, 8, 8) images, and ``labels`` (n_per_row,).
    """
    images, labels = digits.load_digit_images()
    rng = make_rng(seed)
    idx = np.array([np.flatnonzero(labels == k % 10)[k // 10] for k in range(check_int("n_per_row", n_per_row,
                                                                                             low=1, high=50))])
    x, y = images[idx], labels[idx]
    colors = digits.nuisance_ids(y, len(digits.COLORS), "correlated", p_color, rng=rng)
    bgs = digits.nuisance_ids(y, len(digits.BACKGROUND_NAMES), "correlated", p_color, rng=rng)
    return {
        "labels": y,
        "clean": digits.compose(x),
        "color": digits.compose(x, color_ids=colors),
        "background": digits.compose(x, background_ids=bgs, background_strength=background_strength),
        "pixel noise": digits.compose(x, noise_std=pixel_noise_std, rng=rng),
        "all three": digits.compose(x, color_ids=colors, background_ids=bgs, background_strength=background_strength,
                                    noise_std=pixel_noise_std, rng=rng),
    }


def shift_gallery(seed: int = 0) -> dict:
    """One test image per digit under each colour and style shift of the test sets.

    Returns:
        dict name -> (10, C, 8, 8) images: colour "train (p=0.9)", "permuted", "independent",
        "adversarial", and the style shifts of :data:`mmcl_core.data.shifts.STYLE_SHIFTS`.
    """
    from ..data.shifts import STYLE_SHIFTS, apply_style_shift

    images, labels = digits.load_digit_images()
    rng = make_rng(seed)
    idx = np.array([np.flatnonzero(labels == k)[0] for k in range(10)])
    x, y = images[idx], labels[idx]
    out = {}
    for mode, name in (("correlated", "train (p=0.9)"), ("permuted", "permuted"), ("independent", "independent"),
                       ("adversarial", "adversarial")):
        out[f"colour: {name}"] = digits.compose(x, color_ids=digits.nuisance_ids(y, 10, mode, 0.9, rng=rng))
    for shift in STYLE_SHIFTS:
        out[f"style: {shift}"] = digits.compose(apply_style_shift(x, shift, rng=rng))
    return out


def style_shift_accuracy(pairs: dict, image_tower, text_head, *, seed: int = 0, device: str = "auto") -> dict:
    """Zero-shot accuracy of a grey-image CLIP-style model under each style shift of the test split.

    Returns:
        dict shift name -> zero-shot accuracy.
    """
    from ..data.shifts import STYLE_SHIFTS, apply_style_shift
    from ..probes import embed, zero_shot_accuracy

    te = pairs["test"]
    if te["images"].shape[1] != 1:
        raise ValueError("pairs must hold grey images (C = 1) for style shifts")
    rng = make_rng(seed)
    prompts = embed(text_head, pairs["prompts"], device=device)
    out = {}
    for shift in STYLE_SHIFTS:
        shifted = apply_style_shift(te["images"][:, 0], shift, rng=rng)[:, None]
        out[shift] = zero_shot_accuracy(embed(image_tower, shifted, device=device), prompts, te["labels"])["accuracy"]
    return out
