"""Style shifts of the test images (stand-ins for ImageNet-R/Sketch-style shifts).

Colour shifts are made with :func:`mmcl_core.data.digits.nuisance_ids` (modes "permuted",
"independent", "adversarial"); the style shifts here act on the grey 8x8 images through
``scipy.ndimage``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._checks import check_choice, check_real, check_rng

__all__ = ["STYLE_SHIFTS", "apply_style_shift"]

STYLE_SHIFTS = ("none", "blur", "thicken", "rotate", "invert")


def apply_style_shift(images: np.ndarray, shift: str, *, strength: float = 1.0,
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply a style shift to grey images.

    Args:
        images: (n, 8, 8) grey images in [0, 1].
        shift: one of ``STYLE_SHIFTS``: "blur" (Gaussian, sigma 0.8 x strength), "thicken"
            (grey dilation, 2x2 footprint), "rotate" (a random angle of 15-30 degrees x strength,
            random sign; needs ``rng``), "invert" (1 - x), or "none".
        strength: scale of the shift, in (0, 2].
        rng: NumPy generator or int seed, required for "rotate".

    Returns:
        (n, 8, 8) float64 in [0, 1].
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (8, 8):
        raise ValueError(f"images must have shape (n, 8, 8), got {images.shape}")
    check_choice("shift", shift, STYLE_SHIFTS)
    strength = check_real("strength", strength, low=0.0, high=2.0, low_open=True)
    if shift == "none":
        out = images.copy()
    elif shift == "blur":
        out = ndimage.gaussian_filter(images, sigma=(0, 0.8 * strength, 0.8 * strength))
    elif shift == "thicken":
        out = ndimage.grey_dilation(images, footprint=np.ones((1, 2, 2)))
    elif shift == "invert":
        out = 1.0 - images
    else:
        rng = check_rng(rng)  # required for "rotate"
        angles = rng.uniform(15, 30, size=len(images)) * strength * rng.choice([-1, 1], size=len(images))
        out = np.stack([ndimage.rotate(img, angle, reshape=False, order=1, mode="constant")
                        for img, angle in zip(images, angles)]) if len(images) else images.copy()
    return np.clip(out, 0.0, 1.0)
