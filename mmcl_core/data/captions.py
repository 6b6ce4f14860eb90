"""English captions for the digit images, at three richness levels.

* level 0 names the digit: "a photo of the digit three";
* level 1 may add colour and background words: "a photo of the digit three in red on a striped background";
* level 2 may also add style words measured from the pixels: "a photo of the thick, slanted digit three".

Controls: caption noise ``noise_rate`` (the digit word is wrong with this probability),
``color_prob`` (q_spu, colour mentioned), ``background_prob``, ``style_prob`` (gamma, style
words present) and ``detail_probs`` (each style attribute, given style words). The result
records what each caption mentions, so the controls can be checked against binomial bands.

Reproduces the caption models of Xue et al. 2024 (annotation probabilities q_core, q_spu,
q_det; docs/papers/xue2024.md) and Huang et al. 2024 (digit-only vs digit+colour captions, Table 1).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_labels, check_real, check_rng
from .digits import ATTRIBUTE_WORDS, BACKGROUND_NAMES, COLOR_NAMES, DIGIT_WORDS, N_CLASSES

__all__ = ["RICHNESS_LEVELS", "TEMPLATES", "make_captions", "prompt_captions"]

RICHNESS_LEVELS = (0, 1, 2)

# Each template has a {digit} slot and an {adj} slot (style words, or nothing).
TEMPLATES = (
    "a photo of the {adj}digit {digit}",
    "an image of the {adj}number {digit}",
    "the {adj}handwritten digit {digit}",
    "a picture of the {adj}digit {digit}",
    "a scan of the {adj}number {digit}",
    "a drawing of the {adj}digit {digit}",
    "a low-resolution image of the {adj}digit {digit}",
    "a small photo of the {adj}number {digit}",
    "a grainy image of the {adj}handwritten number {digit}",
    "a close-up of the {adj}handwritten digit {digit}",
    "a tiny picture showing the {adj}digit {digit}",
    "a pixelated photo of the {adj}number {digit}",
)
COLOR_PHRASES = (" in {color}", ", drawn in {color}", " written in {color} ink", ", coloured {color}")
BACKGROUND_PHRASES = (" on a {bg} background", " over a {bg} pattern", " against a {bg} backdrop")


def prompt_captions(template: str = "a photo of the digit {digit}") -> list[str]:
    """One zero-shot prompt per class, e.g. "a photo of the digit three"."""
    if not isinstance(template, str) or "{digit}" not in template:
        raise ValueError(f"template must be a string with a {{digit}} slot, got {template!r}")
    try:
        return [template.format(digit=w) for w in DIGIT_WORDS]
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"template must have {{digit}} as its only slot (write {{{{ and }}}} for braces), got "
                         f"{template!r} ({type(exc).__name__}: {exc})") from None


def make_captions(labels, level: int, *, rng: np.random.Generator, noise_rate: float = 0.0,
                  color_ids=None, color_prob: float = 1.0, background_ids=None, background_prob: float = 1.0,
                  style_words: dict | None = None, style_prob: float = 1.0,
                  detail_probs: dict | None = None) -> dict:
    """Generate one caption per image.

    Args:
        labels: (n,) true digit labels.
        level: richness level 0, 1 or 2 (see the module docstring).
        rng: NumPy generator.
        noise_rate: probability epsilon that the digit word is wrong (uniform over the other 9).
        color_ids: (n,) colour per image; needed for colour words (level >= 1).
        color_prob: probability q_spu that a caption at level >= 1 names the colour.
        background_ids: (n,) background style per image, or None.
        background_prob: probability that a caption at level >= 1 names the background.
        style_words: dict attribute -> (n,) words from :func:`digits.attribute_words` (level 2).
        style_prob: probability gamma that a level-2 caption has style words.
        detail_probs: per-attribute probability of each style word given style words
            (default 1 for every attribute in ``style_words``).

    Returns:
        dict with ``captions`` (list of n str), ``digit_named`` (n,) int, ``wrong_digit`` (n,) bool,
        ``mentions_color``, ``mentions_background``, ``mentions_style`` (n,) bool, ``color_named``
        (n,) int (-1 when not named), ``template_ids`` (n,) int.
    """
    labels, color_ids, background_ids, detail_probs, probs = _checked_caption_inputs(
        labels, level, noise_rate, color_ids, color_prob, background_ids, background_prob, style_words, style_prob,
        detail_probs)
    n, rng = labels.size, check_rng(rng)
    wrong = rng.random(n) < probs["noise_rate"]
    named = np.where(wrong, (labels + rng.integers(1, N_CLASSES, size=n)) % N_CLASSES, labels)
    template_ids = rng.integers(0, len(TEMPLATES), size=n)
    mention_color = np.zeros(n, bool) if level == 0 or color_ids is None else rng.random(n) < probs["color_prob"]
    mention_bg = (np.zeros(n, bool) if level == 0 or background_ids is None
                  else rng.random(n) < probs["background_prob"])
    mention_style = np.zeros(n, bool) if level < 2 else rng.random(n) < probs["style_prob"]
    detail_draws = ({name: rng.random(n) < detail_probs[name] for name in style_words} if level == 2 else {})
    color_phrase_ids = rng.integers(0, len(COLOR_PHRASES), size=n)
    bg_phrase_ids = rng.integers(0, len(BACKGROUND_PHRASES), size=n)

    captions, has_style = [], np.zeros(n, bool)
    for i in range(n):
        adjectives = [str(style_words[name][i]) for name in detail_draws if mention_style[i] and detail_draws[name][i]]
        has_style[i] = bool(adjectives)
        text = TEMPLATES[template_ids[i]].format(adj=", ".join(adjectives) + " " if adjectives else "",
                                                 digit=DIGIT_WORDS[named[i]])
        if mention_color[i]:
            text += COLOR_PHRASES[color_phrase_ids[i]].format(color=COLOR_NAMES[color_ids[i]])
        if mention_bg[i]:
            text += BACKGROUND_PHRASES[bg_phrase_ids[i]].format(bg=BACKGROUND_NAMES[background_ids[i]])
        captions.append(text)
    return {"captions": captions, "digit_named": named, "wrong_digit": wrong, "mentions_color": mention_color,
            "mentions_background": mention_bg, "mentions_style": has_style,
            "color_named": np.where(mention_color, color_ids if color_ids is not None else -1, -1),
            "template_ids": template_ids}


def _checked_caption_inputs(labels, level, noise_rate, color_ids, color_prob, background_ids, background_prob,
                            style_words, style_prob, detail_probs) -> tuple:
    """:func:`make_captions`'s arguments checked: labels, colour and background ids, detail probabilities and the
    named probabilities."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a non-empty 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise ValueError(f"labels must be digits in [0, {N_CLASSES}), got [{labels.min()}, {labels.max()}]")
    n = labels.size
    check_int("level", level)
    if level not in RICHNESS_LEVELS:
        raise ValueError(f"level must be one of {RICHNESS_LEVELS}, got {level}")
    probs = {name: check_real(name, value, low=0.0, high=1.0) for name, value in
             (("noise_rate", noise_rate), ("color_prob", color_prob), ("background_prob", background_prob),
              ("style_prob", style_prob))}
    if level >= 1 and color_ids is not None:
        color_ids = check_labels("color_ids", color_ids, len(COLOR_NAMES))
        if color_ids.shape != (n,):
            raise ValueError(f"color_ids must have shape ({n},), got {color_ids.shape}")
    if level >= 1 and background_ids is not None:
        background_ids = check_labels("background_ids", background_ids, len(BACKGROUND_NAMES))
        if background_ids.shape != (n,):
            raise ValueError(f"background_ids must have shape ({n},), got {background_ids.shape}")
    if level == 2:
        if style_words is None:
            raise ValueError("style_words must be given for level 2 (use digits.attribute_words(images))")
        unknown = set(style_words) - set(ATTRIBUTE_WORDS)
        if unknown:
            raise ValueError(f"style_words keys must be among {tuple(ATTRIBUTE_WORDS)}, got {sorted(unknown)}")
        detail_probs = {**{name: 1.0 for name in style_words}, **dict(detail_probs or {})}  # unnamed: 1
        for name, value in detail_probs.items():
            if name not in style_words:
                raise ValueError(f"detail_probs key {name!r} must be one of the style_words keys {sorted(style_words)}")
            check_real(f"detail_probs[{name!r}]", value, low=0.0, high=1.0)
    return labels, color_ids, background_ids, detail_probs, probs
