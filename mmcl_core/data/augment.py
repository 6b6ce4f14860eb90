"""SimCLR augmentations for 8x8 images, batched in torch and seeded.

One random affine map per image (a rotation of a few degrees and a shift of up to one
pixel) through ``grid_sample``, then intensity scaling, pixel dropout and Gaussian noise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import check_real

__all__ = ["augment"]


def augment(x: torch.Tensor, generator: torch.Generator, *, max_shift: float = 1.0, max_rotation_deg: float = 10.0,
            intensity_range: tuple[float, float] = (0.8, 1.2), dropout: float = 0.1,
            noise_std: float = 0.05) -> torch.Tensor:
    """Random augmented views of a batch of images.

    Args:
        x: (n, C, 8, 8) images in [0, 1].
        generator: ``torch.Generator`` on ``x``'s device (explicit seed).
        max_shift: largest translation in pixels (uniform in [-max_shift, max_shift] per axis).
        max_rotation_deg: largest rotation in degrees.
        intensity_range: (low, high) of a per-image intensity factor.
        dropout: probability that a pixel is set to 0, in [0, 1).
        noise_std: standard deviation of additive Gaussian noise.

    Returns:
        (n, C, 8, 8) tensor, same dtype and device.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"x must be a (n, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")
    max_shift = check_real("max_shift", max_shift, low=0.0, high=4.0)
    max_rotation_deg = check_real("max_rotation_deg", max_rotation_deg, low=0.0, high=180.0)
    dropout = check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    lo = check_real("intensity_range[0]", intensity_range[0], low=0.0)
    hi = check_real("intensity_range[1]", intensity_range[1], low=lo)
    n, c, h, w = x.shape
    opts = {"device": x.device, "dtype": x.dtype}

    def uniform(*shape, low=-1.0, high=1.0):
        return low + (high - low) * torch.rand(*shape, generator=generator, **opts)

    angle = uniform(n) * math.radians(max_rotation_deg)
    # grid_sample works in [-1, 1] coordinates: one pixel is 2 / size.
    tx, ty = uniform(n) * max_shift * 2 / w, uniform(n) * max_shift * 2 / h
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out * uniform(n, 1, 1, 1, low=lo, high=hi)
    if dropout > 0:
        out = out * (torch.rand(n, 1, h, w, generator=generator, **opts) >= dropout)
    if noise_std > 0:
        out = out + noise_std * torch.randn(out.shape, generator=generator, **opts)
    return out.clamp(0.0, 1.0)
