"""Figure saving and the drawing functions of the notebooks (drawing only, no math).

:func:`savefig` writes PNG and PDF only when a figure directory is set (argument,
:func:`set_figure_dir`, or the ``MMCL_FIG_DIR`` environment variable that ``mmcl
reproduce`` sets), so interactive use never litters files and batch runs always produce
them. Metadata that would change from run to run (dates, software versions, SVG ids) is
removed: the same figure gives the same bytes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["FIG_DIR_ENV", "set_figure_dir", "figure_dir", "savefig", "plot_start_here", "plot_temperature_sweep"]

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


def plot_start_here(result: dict):
    """Draw the start-here panel: the beta-weight heatmap and the singular values of S(beta).

    Args:
        result: the dict returned by :func:`mmcl_core.experiments.start_here.svd_view`.

    Returns:
        matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    beta = result["beta"]
    s_beta, s_pop = result["singular_values"], result["population_singular_values"]
    fig, (ax_b, ax_s) = plt.subplots(1, 2, figsize=(9.5, 3.8), constrained_layout=True)
    n = beta.shape[0]
    shown = beta.copy()
    np.fill_diagonal(shown, np.nan)  # positives (beta_ii ~ 1) would swamp the colour scale
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("white")
    im = ax_b.imshow(shown, cmap=cmap, vmin=0.0, vmax=max(float(np.nanmax(shown)), 1.0 / n) * 1.05)
    ax_b.set_title(f"CLIP weights $\\beta_{{ij}}$ (off-diagonal), $\\tau$={result['temperature']:g}")
    ax_b.set_xlabel("text j")
    ax_b.set_ylabel("image i")
    fig.colorbar(im, ax=ax_b, shrink=0.85, label=r"$\beta_{ij}$ (diagonal left blank)")
    k = len(s_beta)
    ax_s.bar(range(1, k + 1), s_beta, color="tab:blue", label=r"$\sigma_i(S(\beta))$")
    ax_s.plot(range(1, len(s_pop) + 1), s_pop, "o--", color="tab:orange",
              label=r"$\sigma_i$ of population $U_1\Sigma_zU_2^\top$")
    ax_s.axvline(result["rank"] + 0.5, color="grey", lw=0.8, ls=":")
    ax_s.set_xlabel("index i")
    ax_s.set_title(f"spectrum; top-{result['rank']} sin$\\Theta$ to $U_1$ = {result['sin_theta']:.3f}")
    ax_s.legend(fontsize=8)
    return fig


def plot_temperature_sweep(sweep: dict):
    """Draw :func:`mmcl_core.experiments.start_here.temperature_sweep`: spectrum of S(beta),
    weight entropy and distance to the linear-loss limit against the temperature."""
    import matplotlib.pyplot as plt

    t, r = sweep["temperatures"], sweep["rank"]
    fig, (ax_s, ax_e) = plt.subplots(1, 2, figsize=(9.5, 3.5), constrained_layout=True)
    sv = sweep["singular_values"]
    for i in range(sv.shape[1]):
        ax_s.plot(t, sv[:, i], "o-" if i < r else ".:", color="tab:blue" if i < r else "grey",
                  label=f"top {r}" if i == 0 else ("rest" if i == r else None))
    ax_s.set_xscale("log")
    ax_s.set_xlabel(r"temperature $\tau$")
    ax_s.set_ylabel(r"$\sigma_i(S(\beta))$")
    ax_s.set_title("singular values of the contrastive cross-covariance")
    ax_s.legend(fontsize=8)
    ax_e.plot(t, sweep["weight_entropy"] / sweep["max_entropy"], "o-", label="off-diagonal weight entropy / max")
    ax_e.plot(t, sweep["linear_gap"], "s-", label=r"$\|S(\beta)-S_{lin}\|/\|S_{lin}\|$")
    ax_e.set_xscale("log")
    ax_e.set_xlabel(r"temperature $\tau$")
    ax_e.set_title(r"large $\tau$: uniform weights, the linear loss")
    ax_e.legend(fontsize=8)
    return fig
