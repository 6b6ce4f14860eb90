"""Xue et al. (ICLR 2024): why multimodal contrastive learning is robust to distribution shift.

The paper's data model could not be read; this module implements the project's reconstruction (models B and K of
``docs/papers/xue2024.md``), which is this suite's canonical model for the paper. Images carry a *core*
feature with large intra-class spread ``sigma_core`` and a low-variance *spurious* feature that agrees with the
class with probability ``p_train`` in training; captions annotate each detail with a probability. MMCL with the
linear contrastive loss learns ``SVD_p`` of the image-text cross-covariance, so it weights a feature by its
image-caption covariance ("intra-class contrasting"); the supervised baseline weights it by its
discriminativeness. Closed forms P1-P4 (``docs/papers/xue2024.md``) and finite-sample estimates live in
:mod:`~mmcl_core.experiments.xue2024_model`, the calibrated images in ``xue2024_calibrated``; both are re-exported
here, with the real-data robustness experiment.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_int, check_real, check_seeds
from ..data.core_spurious import shared_feature_model
from ..spectral import linear_mmcl
from .xue2024_model import (LOSSES, METHODS, PROMPTS, TESTS, CoreSpuriousSetting,  # noqa: F401 (re-export)
                            annotation_invariance,
                            binary_model, capacity_sweep, closed_form, closed_form_panel, draw_sets, evaluate,
                            fit_mmcl, fit_supervised, infonce_fit, infonce_lookup, infonce_study, k_class_model,
                            linear_accuracy, mmcl_weights, richness_sweep, score_mmcl, sigma_core_table,
                            sigma_spu_sweep, simulation_panel, supervised_weights, test_probability,
                            model_b_accuracy, zero_shot_predict)

__all__ = ["METHODS", "TESTS", "PROMPTS", "LOSSES", "test_probability", "CoreSpuriousSetting", "binary_model",
           "k_class_model",
           "mmcl_weights", "supervised_weights", "linear_accuracy", "closed_form", "fit_mmcl", "fit_supervised",
           "zero_shot_predict", "draw_sets", "score_mmcl", "evaluate", "model_b_accuracy", "infonce_fit",
           "closed_form_panel", "simulation_panel", "sigma_core_table", "richness_sweep", "annotation_invariance",
           "sigma_spu_sweep", "capacity_sweep", "infonce_study", "infonce_lookup", "REAL_METHODS", "COLOR_TESTS",
           "real_data_shift_sets", "real_data_robustness", "effective_robustness"]


# --- Real-data proxy of the MSCOCO / shifted-ImageNet experiment (digits, colour cue, captions) ------------------

REAL_METHODS = ("supervised", "clip_level0", "clip_level1", "clip_level2", "clip_style")
_CAPTIONS = {"supervised": (0, {}), "clip_level0": (0, {}), "clip_level1": (1, {}), "clip_level2": (2, {}),
             "clip_style": (2, {"color_prob": 0.0})}  # (richness level, caption controls)
COLOR_TESTS = ("correlated", "independent", "adversarial")


def real_data_shift_sets(*, p_color: float = 0.9, pixel_noise_std: float = 0.15, test_fraction: float = 0.25,
                         seed: int = 0) -> dict:
    """The test split under every shift: colour (as in training, independent, adversarial) and style shifts.

    Style shifts (blur, thicken, rotate, invert) are applied to the grey digit, which then gets its training-like
    colour, so they change the digit's look but not the colour cue.

    Returns:
        dict with ``labels`` (m,) and ``sets``: name -> (m, 3, 8, 8) images; names ``color:<mode>`` and
        ``style:<shift>``.
    """
    from ..data import digits
    from ..data.shifts import STYLE_SHIFTS, apply_style_shift
    from ..device import make_rng

    images, labels = digits.load_digit_images()
    _, test_idx = digits.stratified_split(labels, test_fraction, seed)
    x, y = images[test_idx], labels[test_idx]
    rng = make_rng(seed + 1000)
    sets = {}
    for mode in COLOR_TESTS:
        ids = digits.nuisance_ids(y, len(digits.COLORS), mode, p_color, rng=rng)
        sets[f"color:{mode}"] = digits.compose(x, color_ids=ids, noise_std=pixel_noise_std, rng=rng)
    ids = digits.nuisance_ids(y, len(digits.COLORS), "correlated", p_color, rng=rng)
    for shift in STYLE_SHIFTS[1:]:
        sets[f"style:{shift}"] = digits.compose(apply_style_shift(x, shift, rng=rng), color_ids=ids,
                                                noise_std=pixel_noise_std, rng=rng)
    return {"labels": y, "sets": sets}


def real_data_robustness(fractions=(0.25, 0.5, 1.0), *, methods=REAL_METHODS, epochs: int = 30,
                         p_color: float = 0.9, pixel_noise_std: float = 0.15, embed_dim: int = 64,
                         hidden_dim: int = 256, temperature: float = 0.1, prompt: str = "mean_caption",
                         seed: int = 0, device: str = "auto", model=None, cache_dir=None) -> dict:
    """Supervised vs CLIP-style training with captions at each richness level, under colour and style shifts.

    Training images carry a class-correlated colour (own colour with probability ``p_color``: the spurious cue)
    and pixel noise. Captions: level 0 names the digit (``clip_level0``); level 1 adds the colour (annotating the
    cue, ``clip_level1``); level 2 adds style words measured from the pixels as well (``clip_level2``);
    ``clip_style`` has the style words without the colour (annotating only the core's intra-class variation). Each
    method is trained on several training-set fractions, giving several (ID, shifted) points for effective-robustness
    lines.

    Zero-shot prompts: ``"class"`` embeds "a photo of the digit k"; ``"mean_caption"`` averages the embedded
    training captions of class k (a prompt ensemble that speaks the captions' language — a richer caption level
    moves captions away from the bare class prompt).

    Reproduces: Xue et al. 2024, MSCOCO / shifted-ImageNet experiment (Fig. 2, reconstructed) on a digits proxy.

    Returns:
        dict with ``fractions``, ``methods``, ``shifts`` (test-set names; ``color:correlated`` is in-distribution),
        ``accuracy``: method -> (F, T) accuracies, ``seconds``.
    """
    import time

    from .real_data import digit_pairs

    for m in methods:
        check_choice("method", m, REAL_METHODS)
    check_choice("prompt", prompt, PROMPTS)
    fractions = [check_real("fraction", f, low=0.0, high=1.0, low_open=True) for f in fractions]
    tests = real_data_shift_sets(p_color=p_color, pixel_noise_std=pixel_noise_std, seed=seed)
    names = list(tests["sets"])
    start = time.perf_counter()
    acc = {m: np.zeros((len(fractions), len(names))) for m in methods}
    pairs_by_level = {}
    for m in methods:
        level, controls = _CAPTIONS[m]
        key = (level, tuple(sorted(controls.items())))
        if key not in pairs_by_level:
            pairs_by_level[key] = digit_pairs(level=level, color=True, p_color=p_color,
                                              pixel_noise_std=pixel_noise_std, seed=seed, model=model,
                                              cache_dir=cache_dir, caption_kwargs=controls)
        pairs = pairs_by_level[key]
        tr = pairs["train"]
        order = np.random.default_rng(seed).permutation(len(tr["labels"]))
        for i, frac in enumerate(fractions):
            keep = np.sort(order[: max(20, int(round(frac * len(order))))])
            sub = {"train": {k: (v[keep] if isinstance(v, np.ndarray) else [v[j] for j in keep])
                             for k, v in tr.items() if v is not None}, "prompts": pairs["prompts"]}
            fit = dict(embed_dim=embed_dim, hidden_dim=hidden_dim, epochs=epochs, seed=seed, device=device)
            acc[m][i] = (_supervised_accuracies(sub["train"], tests, names, **fit) if m == "supervised" else
                         _zero_shot_accuracies(sub, pairs["prompts"], tests, names, prompt, temperature, **fit))
    return {"fractions": np.array(fractions), "methods": tuple(methods), "shifts": names, "accuracy": acc,
            "seconds": time.perf_counter() - start}


def _supervised_accuracies(train: dict, tests: dict, names: list, *, embed_dim, hidden_dim, epochs, seed, device):
    """A tower + linear head trained with cross-entropy on ``train``; its accuracy on each test set in ``names``."""
    import torch

    from ..data import digits
    from ..models import make_tower
    from ..probes import embed
    from ..train import train_supervised

    tower = make_tower(int(np.prod(train["images"].shape[1:])), embed_dim, hidden_dim=hidden_dim, seed=seed,
                       device=device)
    head, _ = train_supervised(tower, train["images"], train["labels"], n_classes=digits.N_CLASSES, epochs=epochs,
                               seed=seed, device=device)
    out = np.zeros(len(names))
    with torch.no_grad():
        for j, name in enumerate(names):
            feats = embed(tower, tests["sets"][name], device=device)
            logits = head(torch.as_tensor(feats, dtype=torch.float32, device=next(head.parameters()).device))
            out[j] = float(np.mean(logits.argmax(1).cpu().numpy() == tests["labels"]))
    return out


def _zero_shot_accuracies(sub: dict, class_prompts, tests: dict, names: list, prompt: str, temperature: float, *,
                          embed_dim, hidden_dim, epochs, seed, device):
    """CLIP-style towers trained on ``sub``'s pairs; zero-shot accuracy on each test set in ``names`` with class
    prompts (``"class"``) or the class means of the embedded training captions (``"mean_caption"``)."""
    from ..data import digits
    from ..probes import embed, zero_shot_accuracy
    from .real_data import train_clip_towers

    tower, text_head, _ = train_clip_towers(sub, embed_dim=embed_dim, hidden_dim=hidden_dim, temperature=temperature,
                                            epochs=epochs, seed=seed, device=device)
    if prompt == "class":
        prompts = embed(text_head, class_prompts, device=device)
    else:
        z = embed(text_head, sub["train"]["text"], device=device)
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        prompts = np.stack([z[sub["train"]["labels"] == k].mean(0) for k in range(digits.N_CLASSES)])
    return np.array([zero_shot_accuracy(embed(tower, tests["sets"][name], device=device), prompts,
                                        tests["labels"])["accuracy"] for name in names])


def effective_robustness(study: dict, shift: str, *, baseline: str = "supervised") -> dict:
    """Linear fits of shifted against in-distribution accuracy per method, and each method's mean vertical offset
    above the baseline's line (effective robustness, Taori et al. 2020).

    Returns:
        dict with ``fits``: method -> (slope, intercept), ``effective_robustness``: method -> mean offset, ``id`` and
        ``shifted``: method -> (F,) accuracies.
    """
    names = study["shifts"]
    if shift not in names or shift == "color:correlated":
        raise ValueError(f"shift must be one of {[n for n in names if n != 'color:correlated']}, got {shift!r}")
    i_id, i_sh = names.index("color:correlated"), names.index(shift)
    ids = {m: study["accuracy"][m][:, i_id] for m in study["methods"]}
    shifted = {m: study["accuracy"][m][:, i_sh] for m in study["methods"]}
    fits = {m: tuple(np.polyfit(ids[m], shifted[m], 1)) if len(ids[m]) > 1 else (np.nan, np.nan)
            for m in study["methods"]}
    slope, intercept = fits[baseline]
    er = {m: float(np.mean(shifted[m] - (slope * ids[m] + intercept))) for m in study["methods"]}
    return {"fits": fits, "effective_robustness": er, "id": ids, "shifted": shifted, "shift": shift}


# The calibrated real-digits proxy, effective robustness on logit axes and the feature-sharing exploration live in
# xue2024_calibrated; they are part of this paper's API.
from .xue2024_calibrated import (CALIBRATED_DATASETS, CALIBRATED_METHODS, CALIBRATED_PROFILES,  # noqa: E402
                                 CALIBRATED_TESTS, INGREDIENTS, calibrated_data,
                                 calibrated_robustness, contrastive_fit, ingredient_study,
                                 logit_effective_robustness, supervised_family)

__all__ += ["CALIBRATED_DATASETS", "CALIBRATED_METHODS", "CALIBRATED_PROFILES", "CALIBRATED_TESTS", "INGREDIENTS",
            "SHARING_SWITCHES", "calibrated_data", "calibrated_robustness", "contrastive_fit", "feature_sharing",
            "ingredient_study", "logit_effective_robustness", "supervised_family"]


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
                train = shared_feature_model(n, rng, annotate=annotate)
                bases = train["bases"]
                tests = [shared_feature_model(n_test, np.random.default_rng(seed + 10_000 + j), annotate=annotate,
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
