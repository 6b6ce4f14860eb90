"""Small encoders: MLP towers for 8x8 images and heads on frozen text embeddings.

Models are built from an explicit seed (``torch.random.fork_rng``), so the same seed gives
the same initial weights without touching the global random state.
"""

from __future__ import annotations

import torch
from torch import nn

from ._checks import check_int

__all__ = ["MLPTower", "make_tower"]


class MLPTower(nn.Module):
    """Flatten -> (Linear -> ReLU) x n_hidden -> Linear.

    Args:
        in_dim: flattened input size (e.g. 64 for grey 8x8, 192 for colour).
        out_dim: embedding dimension.
        hidden_dim: width of the hidden layers.
        n_hidden: number of hidden layers (0 gives a linear map).

    Shapes:
        input (n, *) with prod(*) = in_dim; output (n, out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 256, n_hidden: int = 1):
        super().__init__()
        in_dim, out_dim = check_int("in_dim", in_dim, low=1), check_int("out_dim", out_dim, low=1)
        hidden_dim, n_hidden = check_int("hidden_dim", hidden_dim, low=1), check_int("n_hidden", n_hidden, low=0)
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_dim
        for _ in range(n_hidden):
            layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
            width = hidden_dim
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_tower(in_dim: int, out_dim: int, *, hidden_dim: int = 256, n_hidden: int = 1, seed: int = 0,
               device="cpu") -> MLPTower:
    """An :class:`MLPTower` initialised from ``seed`` (global RNG state untouched), on ``device``."""
    from .device import get_device

    check_int("seed", seed, low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tower = MLPTower(in_dim, out_dim, hidden_dim=hidden_dim, n_hidden=n_hidden)
    return tower.to(get_device(device) if isinstance(device, str) else device)
