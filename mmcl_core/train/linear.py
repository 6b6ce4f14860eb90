"""Linear encoders trained with symmetric InfoNCE, many datasets as one batched program (Xue et al. 2024's model,
docs/papers/xue2024.md)."""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_real

__all__ = ["infonce_fit"]


def infonce_fit(datasets, *, rank: int = 10, temperature: float = 1.0, steps: int = 3000, batch_size: int = 512,
                lr: float = 0.05, weight_decay: float = 1e-3, seed: int = 0, device: str = "auto") -> list:
    """Symmetric InfoNCE on linear encoders, one model per dataset, trained together as one batched program.

    Scores ``s_ij = (W_I x_i)^T (W_T t_j) / temperature`` (no normalisation); SGD with weight decay; float64.

    Args:
        datasets: list of dicts with ``x_img``, ``x_txt`` (n, d) of equal shapes.

    Returns:
        list of ``M = W_I^T W_T`` (d_I, d_T) NumPy arrays, one per dataset.
    """
    import torch

    from ..device import get_device

    dev = get_device(device, dtype="float64")
    rank = check_int("rank", rank, low=1)
    steps = check_int("steps", steps, low=1)
    check_real("temperature", temperature, low=0.0, low_open=True)
    xi = torch.as_tensor(np.stack([d["x_img"] for d in datasets]), dtype=torch.float64, device=dev)
    xt = torch.as_tensor(np.stack([d["x_txt"] for d in datasets]), dtype=torch.float64, device=dev)
    C, n, d_i = xi.shape
    gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    W_I = (torch.randn(C, rank, d_i, generator=gen, dtype=torch.float64) * 0.1).to(dev).requires_grad_(True)
    W_T = (torch.randn(C, rank, xt.shape[2], generator=gen, dtype=torch.float64) * 0.1).to(dev).requires_grad_(True)
    opt = torch.optim.SGD([W_I, W_T], lr=lr, weight_decay=weight_decay)
    batch_size = min(check_int("batch_size", batch_size, low=2), n)
    labels = torch.arange(batch_size, device=dev)
    for _ in range(steps):
        idx = torch.randperm(n, generator=gen)[:batch_size].to(dev)
        a = xi[:, idx] @ W_I.transpose(1, 2)
        b = xt[:, idx] @ W_T.transpose(1, 2)
        logits = a @ b.transpose(1, 2) / temperature  # (C, B, B)
        loss = 0.5 * (torch.nn.functional.cross_entropy(logits.reshape(-1, batch_size), labels.repeat(C))
                      + torch.nn.functional.cross_entropy(logits.transpose(1, 2).reshape(-1, batch_size),
                                                          labels.repeat(C)))
        opt.zero_grad(set_to_none=True)
        (loss * C).backward()
        opt.step()
    M = (W_I.transpose(1, 2) @ W_T).detach().cpu().numpy()
    return list(M)
