"""Finding the suite's numbered notebooks (``00_start_here.ipynb`` ... ``10_synthesis.ipynb``).

Shared by the ``mmcl`` command (:mod:`mmcl_core.cli`) and the course builder (:mod:`mmcl_core.course`), so neither
imports the other for it.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

__all__ = ["NOTEBOOK_GLOB", "find_notebook_dir", "list_notebooks"]

NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def find_notebook_dir(notebook_dir=None) -> Path:
    """The notebooks folder: the argument, ``MMCL_NOTEBOOK_DIR``, the source checkout, or ./notebooks."""
    if notebook_dir is not None:  # asked for: that folder or an error, never another one
        candidates = [notebook_dir]
    else:
        candidates = [os.environ.get("MMCL_NOTEBOOK_DIR"), Path(__file__).resolve().parent.parent / "notebooks",
                      Path.cwd() / "notebooks"]
    for cand in candidates:
        if cand and Path(cand).is_dir() and any(Path(cand).glob(NOTEBOOK_GLOB)):
            return Path(cand).resolve()
    if notebook_dir is not None:
        raise ValueError(f"notebook_dir {notebook_dir!s} has no notebooks named like {NOTEBOOK_GLOB}")
    raise ValueError("no notebooks folder found: run from the project checkout or set MMCL_NOTEBOOK_DIR")


def list_notebooks(notebook_dir=None, only: str | None = None) -> list[Path]:
    """Numbered notebooks in order, optionally filtered by a glob on the file name or stem."""
    paths = sorted(find_notebook_dir(notebook_dir).glob(NOTEBOOK_GLOB))
    if only:
        paths = [p for p in paths if fnmatch.fnmatch(p.name, only) or fnmatch.fnmatch(p.stem, only)]
        if not paths:
            raise ValueError(f"only={only!r} matches no notebook")
    return paths
