"""MMCL Theory Lab core: losses, spectral analysis, data models and training loops for
multi-modal contrastive learning theory.

Importing ``mmcl_core`` has no side effects and loads no heavy dependency: submodules
(``mmcl_core.losses``, ``mmcl_core.spectral``, ...) load when first accessed.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("cli", "data", "device", "experiments", "figures", "losses", "report", "spectral", "widgets")
__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
