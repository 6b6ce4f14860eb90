"""SimCLR augmentations, batched in torch and seeded: :func:`augment` for 8x8 images, :func:`random_resized_crop`
for larger ones (MNIST).

One random affine map per image (a rotation of a few degrees and a shift of up to one
pixel) through ``grid_sample``, then intensity scaling, pixel dropout and Gaussian noise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import check_generator, check_real

__all__ = ["augment", "random_resized_crop"]


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
    check_generator(generator)
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


def random_resized_crop(x: torch.Tensor, generator: torch.Generator, *, scale: tuple[float, float] = (0.3, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """SimCLR's random resized crop, batched: each image's crop covers a fraction of the area drawn uniformly from
    ``scale`` with an aspect ratio log-uniform in ``ratio``, placed uniformly inside the image, resized back to the
    input size (bilinear). No colour change: the colour is what two views of an image share.

    Args:
        x: (..., C, H, W) images; leading dimensions are flattened and restored.
        generator: ``torch.Generator`` on ``x``'s device (explicit seed).
        scale: (low, high) area fractions with 0 < low <= high <= 1.
        ratio: (low, high) aspect ratios with 0 < low <= high.

    Returns:
        tensor of ``x``'s shape, dtype and device.
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 3:
        raise ValueError(f"x must be a (..., C, H, W) tensor, got {getattr(x, 'shape', type(x))}")
    check_generator(generator)
    lo = check_real("scale[0]", scale[0], low=0.0, high=1.0, low_open=True)
    hi = check_real("scale[1]", scale[1], low=lo, high=1.0)
    r_lo = check_real("ratio[0]", ratio[0], low=0.0, low_open=True)
    r_hi = check_real("ratio[1]", ratio[1], low=r_lo)
    shape = x.shape
    flat = x.reshape(-1, *shape[-3:])
    n = flat.shape[0]
    opts = {"device": x.device, "dtype": x.dtype}
    area = lo + (hi - lo) * torch.rand(n, generator=generator, **opts)
    log_r = math.log(r_lo) + (math.log(r_hi) - math.log(r_lo)) * torch.rand(n, generator=generator, **opts)
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)  # crop width and height as fractions of the side
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - w) * (2 * torch.rand(n, generator=generator, **opts) - 1)  # centre in [-1, 1] coordinates
    cy = (1 - h) * (2 * torch.rand(n, generator=generator, **opts) - 1)
    zero = torch.zeros_like(w)
    theta = torch.stack([torch.stack([w, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
    grid = F.affine_grid(theta, list(flat.shape), align_corners=False)
    return F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False).reshape(shape)
