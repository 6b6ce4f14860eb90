"""Argument checks shared by every public function.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
argument and the allowed range, so a bad widget value or ``-p`` override fails
loudly and early instead of producing NaN further down.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def is_torch(x: Any) -> bool:
    """True if ``x`` is a torch tensor (without importing torch if it is not loaded)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def check_real(name: str, value: Any, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a float after checking it is a finite real number in range.

    Args:
        name: argument name used in the error message.
        value: the value to check (Python/NumPy number or 0-d tensor).
        low, high: optional bounds.
        low_open, high_open: whether the bound itself is excluded.

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if it is not finite or outside the range.
    """
    if is_torch(value):
        if value.numel() != 1:
            raise TypeError(f"{name} must be a real number, got a tensor of shape {tuple(value.shape)}")
        value = value.detach().item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    lo_bad = low is not None and (value <= low if low_open else value < low)
    hi_bad = high is not None and (value >= high if high_open else value > high)
    if lo_bad or hi_bad:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value:g}")
    return value


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int after checking type and the closed range [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value}")
    return value


def check_seeds(seeds: Any) -> list[int]:
    """Return ``seeds`` as a non-empty list of non-negative ints (each checked as ``seed``)."""
    seeds = [check_int("seed", s, low=0) for s in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    return seeds


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Check that ``value`` is one of ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {choices}, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_matrix(name: str, x: Any, *, ndim: int = 2, min_rows: int = 1) -> Any:
    """Check that ``x`` is a finite real array/tensor of ``ndim`` dimensions.

    Returns ``x`` unchanged if it is a float32/float64 tensor, a float16/bfloat16 tensor upcast to float32 (half
    precision overflows at the temperatures and scales these functions are used with), else a float64 NumPy array.
    """
    if is_torch(x):
        if x.is_complex() or not x.is_floating_point():
            raise TypeError(f"{name} must be a real floating-point tensor, got dtype {x.dtype}")
        import torch  # loaded already: x is a tensor

        if x.dtype in (torch.float16, torch.bfloat16):  # documented upcast: half precision is computed in float32
            x = x.float()
        shape = tuple(x.shape)
        finite = bool(x.detach().isfinite().all())
    elif isinstance(x, (np.ndarray, list, tuple)):
        x = np.asarray(x)
        if x.dtype == object or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name} must be a real numeric array, got dtype {x.dtype}")
        x = x.astype(np.float64, copy=False)
        shape = x.shape
        finite = bool(np.isfinite(x).all())
    else:
        raise TypeError(f"{name} must be a NumPy array or torch tensor, got {type(x).__name__}")
    if len(shape) != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {shape}")
    if shape[0] < min_rows:
        raise ValueError(f"{name} must have at least {min_rows} row(s), got shape {shape}")
    if 0 in shape[1:]:
        raise ValueError(f"{name} must have at least one column (every dimension after the first >= 1), "
                         f"got shape {shape}")
    if not finite:
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")
    return x


def check_same_rows(name_a: str, a: Any, name_b: str, b: Any) -> None:
    """Check two batches have the same number of rows (paired samples)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} and {name_b} must have the same batch size, got {a.shape[0]} and {b.shape[0]}")


def check_alike(**named: Any) -> None:
    """Check that the named arrays are all NumPy arrays or all torch tensors, tensors of one dtype and device."""
    names = list(named)
    kinds = {n: is_torch(v) for n, v in named.items()}
    if len(set(kinds.values())) > 1:
        torch_names = [n for n in names if kinds[n]]
        numpy_names = [n for n in names if not kinds[n]]
        raise TypeError(f"{', '.join(names)} must be all NumPy arrays or all torch tensors; got tensors for "
                        f"{', '.join(torch_names)} and arrays for {', '.join(numpy_names)}")
    if kinds[names[0]]:
        dtypes = {str(named[n].dtype) for n in names}
        if len(dtypes) > 1:
            raise TypeError(f"{', '.join(names)} must have one dtype, got "
                            + ", ".join(f"{n}: {named[n].dtype}" for n in names))
        devices = {str(named[n].device) for n in names}
        if len(devices) > 1:
            raise ValueError(f"{', '.join(names)} must be on one device, got "
                             + ", ".join(f"{n}: {named[n].device}" for n in names))


def check_finite_result(value: Any, names: str, why: str) -> Any:
    """Raise ValueError naming ``names`` when a computed result is not finite (an overflow the inputs caused)."""
    finite = bool(value.detach().isfinite().all()) if is_torch(value) else bool(np.isfinite(value).all())
    if not finite:
        raise ValueError(f"{names}: {why}")
    return value


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A NumPy ``Generator``, or an int seed turned into ``np.random.default_rng(seed)``; anything else (None: the
    global state, which would not be reproducible) raises TypeError naming the argument."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(check_int(name, rng, low=0))
    raise TypeError(f"{name} must be a numpy.random.Generator or a non-negative int seed, got {type(rng).__name__}")


def check_generator(generator: Any, name: str = "generator"):
    """A ``torch.Generator`` (an explicit seed); None or anything else raises TypeError naming the argument."""
    import torch

    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), got "
                        f"{type(generator).__name__}")
    return generator


def check_labels(name: str, labels: Any, n_classes: int | None = None) -> np.ndarray:
    """A 1-D array of non-negative integer labels (below ``n_classes`` when given); floats must be whole numbers."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            raise ValueError(f"{name} must hold whole numbers, got non-integer values")
    elif arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {arr.min()}")
    if n_classes is not None and arr.size and arr.max() >= n_classes:
        raise ValueError(f"{name} must be in [0, {n_classes}), got {arr.max()}")
    return arr


def resolve_setting(cls, setting, overrides: dict, default=None):
    """A frozen setting dataclass ``cls`` with named fields replaced: ``setting`` (default: ``default``, else ``cls()``)
    with ``overrides`` applied through ``dataclasses.replace``, which validates again. Unknown names raise TypeError
    naming the allowed fields; a ``setting`` of another type raises TypeError."""
    import dataclasses

    if setting is not None and not isinstance(setting, cls):
        raise TypeError(f"setting must be a {cls.__name__}, got {type(setting).__name__}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"unknown settings {unknown}; {cls.__name__} has {sorted(fields)}")
    base = setting if setting is not None else (default if default is not None else cls())
    return dataclasses.replace(base, **overrides) if overrides else base
