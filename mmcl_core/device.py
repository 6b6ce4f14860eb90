"""Device and seeding helpers (d2l's ``try_gpu`` idea, made explicit and strict).

``get_device("auto")`` picks cuda, then mps, then cpu — never mps for float64 work (``dtype="float64"``), which
the MPS backend does not support. Asking for a device that is not
there is an error: no code path silently falls back to the CPU when CUDA was asked for.
``mmcl reproduce --device cuda`` sets ``MMCL_DEVICE`` so that "auto" in every notebook
resolves to the device the user chose.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ._checks import check_choice, check_int

__all__ = ["DEVICE_CHOICES", "get_device", "make_rng", "make_generator", "one_torch_thread", "theory_precision"]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available(torch) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def get_device(device: str = "auto", dtype=None):
    """Resolve a device name to a ``torch.device``.

    Args:
        device: "auto" (environment variable ``MMCL_DEVICE`` if set, else cuda > mps > cpu),
            "cpu", "cuda" or "mps". A ``torch.device`` or "cuda:1"-style string is accepted.
        dtype: the floating dtype the work runs in (``torch.float64``/"float64", ...), or None. With float64,
            "auto" never resolves to mps (the MPS backend has no float64) and an explicit "mps" is an error.

    Returns:
        torch.device

    Raises:
        ValueError: unknown device name.
        RuntimeError: the requested accelerator is not available.
    """
    import torch

    wide = dtype in (torch.float64, "float64", "double", torch.complex128)

    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as {DEVICE_CHOICES}, got {type(device).__name__}")
    if device == "auto":
        device = os.environ.get("MMCL_DEVICE", "auto") or "auto"
    kind = device.split(":", 1)[0]
    check_choice("device", kind, DEVICE_CHOICES)
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available(torch) and not wide else torch.device("cpu")
    if kind == "mps" and wide:
        raise ValueError("device='mps' cannot run float64 work (the MPS backend has no float64); use "
                         "dtype='float32' or device='cpu'")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but torch.cuda.is_available() is False; "
                           "install a CUDA build of torch or use device='cpu'")
    if kind == "mps" and not _mps_available(torch):
        raise RuntimeError("device='mps' was requested but the MPS backend is not available; use device='cpu'")
    return torch.device(device)


def make_rng(seed: int) -> np.random.Generator:
    """A NumPy generator from an explicit non-negative integer seed."""
    return np.random.default_rng(check_int("seed", seed, low=0))


def make_generator(seed: int, device="cpu"):
    """A ``torch.Generator`` on ``device`` seeded with an explicit non-negative integer."""
    import torch

    gen = torch.Generator(device=get_device(device) if isinstance(device, str) else device)
    gen.manual_seed(check_int("seed", seed, low=0))
    return gen


@contextlib.contextmanager
def theory_precision():
    """Context in which TF32 matmuls/convolutions are off, for float-exact theory checks."""
    import torch

    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextlib.contextmanager
def one_torch_thread():
    """Tiny towers (16 -> 16 -> 16): one torch thread is 5-8x faster than two (thread start-up dominates)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
