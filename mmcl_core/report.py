"""Record the numbers a notebook checks, so two runs can be compared number by number.

A notebook calls ``record("gradient_rel_error", 3e-10)`` next to its assert. Values are
kept in memory (:func:`metrics`) and, when ``mmcl reproduce`` runs the notebook, appended
as JSON lines to the file named by the ``MMCL_METRICS_PATH`` environment variable;
``mmcl reproduce`` gathers them into ``summary.json``.
"""

from __future__ import annotations

import json
import math
import numbers
import os

__all__ = ["METRICS_ENV", "record", "reference_check", "metrics", "clear", "read_metrics_file"]

METRICS_ENV = "MMCL_METRICS_PATH"
_METRICS: dict[str, float | int | bool] = {}


def record(name: str, value) -> float | int | bool:
    """Record a checked number under ``name`` and return it.

    Args:
        name: a metric name (non-empty string; letters, digits, ``_ . -``).
        value: a finite real number or a bool (0-d arrays/tensors are accepted).

    Raises:
        TypeError/ValueError: bad name, non-numeric or non-finite value (NaN is never recorded).
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_.-" for c in name):
        raise ValueError(f"name must be a non-empty string of letters, digits, '_', '.', '-', got {name!r}")
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool):
        clean = value
    elif isinstance(value, numbers.Integral):
        clean = int(value)
    elif isinstance(value, numbers.Real):
        clean = float(value)
        if not math.isfinite(clean):
            raise ValueError(f"value for metric {name!r} must be finite, got {clean}")
    else:
        raise TypeError(f"value for metric {name!r} must be a real number or bool, got {type(value).__name__}")
    _METRICS[name] = clean
    path = os.environ.get(METRICS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"name": name, "value": clean}) + "\n")
    return clean


def reference_check(name: str, holds, at_reference: bool, detail=None) -> bool:
    """A check that is calibrated at the notebook's reference setting: asserted there, reported everywhere else.

    At the reference setting a failing check raises ``AssertionError`` like a plain ``assert``. Away from it (a reader
    changed a parameter), the check is never silently skipped: a line says whether it holds here and that it is not
    asserted, and the outcome is recorded as the metric ``reference_check.<name>`` (True or False).

    Args:
        name: what is checked, e.g. ``"multi beats single out of distribution"`` (recorded with spaces as ``_``).
        holds: the condition (anything ``bool()`` accepts).
        at_reference: whether the notebook runs at the setting the check was calibrated for.
        detail: the numbers behind the check, shown in the message.

    Returns:
        ``bool(holds)``.
    """
    holds = bool(holds)
    if at_reference:
        assert holds, f"{name}: {detail}" if detail is not None else name
    else:
        print(f"reference check, not asserted away from the reference setting: {name}: "
              f"{'holds' if holds else 'does NOT hold'} here" + (f" ({detail})" if detail is not None else ""))
    record("reference_check." + "".join(c if c.isalnum() or c in "_.-" else "_" for c in name), holds)
    return holds


def metrics() -> dict:
    """A copy of the metrics recorded in this process."""
    return dict(_METRICS)


def clear() -> None:
    """Forget the metrics recorded in this process."""
    _METRICS.clear()


def read_metrics_file(path) -> dict:
    """Read a metrics JSON-lines file written by :func:`record`; later values win."""
    out: dict = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                item = json.loads(line)
                out[item["name"]] = item["value"]
    return out
