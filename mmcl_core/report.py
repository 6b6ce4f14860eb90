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

__all__ = ["METRICS_ENV", "BOUNDS", "record", "check", "read_check", "criterion_text", "reference_check", "metrics",
           "clear", "read_metrics_file"]

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


BOUNDS = ("at_least", "at_most", "above", "below")  # a check's criterion: value >= / <= / > / < its bound


def criterion_text(bounds: dict) -> str:
    """A check's criterion in words: ``{"at_least": 0.2}`` -> ``">= 0.2"``, both ends -> ``"in [a, b]"``."""
    if not bounds:
        raise ValueError(f"bounds must name at least one of {BOUNDS}")
    if set(bounds) == {"at_least", "at_most"}:
        return f"in [{bounds['at_least']:g}, {bounds['at_most']:g}]"
    signs = {"at_least": ">=", "at_most": "<=", "above": ">", "below": "<"}
    return " and ".join(f"{signs[k]} {bounds[k]:g}" for k in BOUNDS if k in bounds)


def _holds(value: float, bounds: dict) -> bool:
    tests = {"at_least": value >= bounds.get("at_least", value), "at_most": value <= bounds.get("at_most", value),
             "above": "above" not in bounds or value > bounds["above"],
             "below": "below" not in bounds or value < bounds["below"]}
    return all(tests.values())


def check(name: str, value, *, at_least=None, at_most=None, above=None, below=None, expect: bool = True,
          at_reference: bool = True, detail=None) -> bool:
    """Check a number against its criterion, assert the outcome and record both, so a summary can read them back.

    The value is recorded as ``name``; each bound as ``name.<bound>`` and the expected outcome as ``name.expect``, so
    the synthesis table (:func:`read_check`) shows the threshold the notebook asserted, never a copy of it. At the
    reference setting (``at_reference``) a wrong outcome raises ``AssertionError``; away from it the outcome is printed
    and recorded as ``name.asserted = False``, never silently skipped.

    Args:
        name: metric name (as :func:`record`).
        value: the measured number.
        at_least, at_most, above, below: the criterion (``>=``, ``<=``, ``>``, ``<``); at least one.
        expect: the outcome the notebook asserts (False: the claim is shown NOT to hold, e.g. outside its regime).
        at_reference: whether the notebook runs at the setting the check was calibrated for.
        detail: the numbers behind the check, shown in the message.

    Returns:
        whether the criterion holds.
    """
    bounds = {k: v for k, v in (("at_least", at_least), ("at_most", at_most), ("above", above), ("below", below))
              if v is not None}
    criterion = criterion_text(bounds)
    if not isinstance(expect, bool) or not isinstance(at_reference, bool):
        raise TypeError("expect and at_reference must be bools")
    value = record(name, value)
    holds = _holds(value, bounds)
    message = f"{name} = {value:.4g} ({criterion}: {'holds' if holds else 'does not hold'}, expected to " + \
        f"{'hold' if expect else 'fail'})" + (f"; {detail}" if detail is not None else "")
    for key, bound in bounds.items():  # recorded before asserting: a failed check still reads back with its criterion
        record(f"{name}.{key}", bound)
    record(f"{name}.expect", expect), record(f"{name}.asserted", at_reference)
    if at_reference:
        assert holds == expect, message
    else:
        print("reference check, not asserted away from the reference setting:", message)
    return holds


def read_check(metrics: dict, name: str) -> dict | None:
    """What :func:`check` recorded under ``name`` in a metrics dict: ``value``, ``criterion`` (words), ``holds``,
    ``expect`` and ``asserted``; None when ``name`` was not recorded. Raises ValueError when it was recorded by
    :func:`record` without a criterion."""
    if name not in metrics:
        return None
    bounds = {k: metrics[f"{name}.{k}"] for k in BOUNDS if f"{name}.{k}" in metrics}
    if not bounds:
        raise ValueError(f"metric {name!r} was recorded without a criterion: record it with report.check")
    value = metrics[name]
    return {"value": value, "criterion": criterion_text(bounds), "holds": _holds(value, bounds),
            "expect": bool(metrics.get(f"{name}.expect", True)),
            "asserted": bool(metrics.get(f"{name}.asserted", True))}


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
