"""Saving figures: PNG/PDF only when a figure directory is set, with run-independent metadata."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["FIG_DIR_ENV", "set_figure_dir", "figure_dir", "savefig"]


FIG_DIR_ENV = "MMCL_FIG_DIR"


_FIG_DIR: str | None = None


_FORMAT_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": None, "Date": None},
}


def set_figure_dir(path) -> None:
    """Set (or with ``None`` unset) the directory :func:`savefig` writes to."""
    global _FIG_DIR
    _FIG_DIR = None if path is None else os.fspath(path)


def figure_dir() -> Path | None:
    """The active figure directory, or None when figures are not saved."""
    d = _FIG_DIR or os.environ.get(FIG_DIR_ENV)
    return Path(d) if d else None


def savefig(fig, name: str, formats=("png", "pdf"), *, directory=None, dpi: int = 120) -> list[Path]:
    """Save ``fig`` as ``<dir>/<name>.<fmt>`` for each format, if a directory is set.

    Args:
        fig: a matplotlib Figure.
        name: file stem (letters, digits, ``_ . -``).
        formats: subset of ("png", "pdf", "svg").
        directory: overrides the figure directory for this call.
        dpi: raster resolution.

    Returns:
        The written paths (empty when no directory is set).
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"name must be a file stem of letters, digits, '_', '.', '-', got {name!r}")
    bad = [f for f in formats if f not in _FORMAT_METADATA]
    if bad:
        raise ValueError(f"formats must be among {tuple(_FORMAT_METADATA)}, got {bad}")
    target = Path(directory) if directory is not None else figure_dir()
    if target is None:
        return []
    import matplotlib

    target.mkdir(parents=True, exist_ok=True)
    written = []
    # A fixed hash salt makes SVG element ids deterministic.
    with matplotlib.rc_context({"svg.hashsalt": "mmcl", "pdf.compression": 6}):
        for fmt in formats:
            path = target / f"{name}.{fmt}"
            fig.savefig(path, format=fmt, dpi=dpi, metadata=_FORMAT_METADATA[fmt], bbox_inches="tight")
            written.append(path)
    return written
