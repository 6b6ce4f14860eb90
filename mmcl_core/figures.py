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

__all__ = ["FIG_DIR_ENV", "set_figure_dir", "figure_dir", "savefig", "plot_start_here", "plot_temperature_sweep",
           "plot_image_rows", "plot_similarity", "plot_histories", "plot_bars", "plot_caption_controls",
           "plot_style_confounded", "plot_bound_scatter", "plot_curves",
           "plot_resampling_table", "plot_resampling_lookup",
           "plot_rate_curves", "plot_method_comparison", "plot_recovery_panel", "plot_svd_steps",
           "plot_unpaired_sweep", "plot_linear_proxy", "plot_semi_curves", "plot_unpaired_lookup",
           "plot_linear_proxy_panel", "plot_grouped_bars", "plot_xue_table", "plot_xue_closed_panel",
           "plot_sim_panel", "plot_effective_robustness", "plot_figure1", "plot_phase_diagram", "plot_phase_heatmap",
           "plot_colored_digits", "plot_colored_mnist", "plot_colored_mnist_point", "plot_spectral_lens", "plot_lens_panel", "plot_snr_lens"]

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


def _as_rgb(img):
    """(C, 8, 8) -> (8, 8, 3) or (8, 8) for imshow."""
    return img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)


def plot_image_rows(rows: dict, *, title: str | None = None):
    """One row of 8x8 images per entry of ``rows`` (name -> (m, C, 8, 8) array)."""
    import matplotlib.pyplot as plt

    names = [k for k, v in rows.items() if getattr(v, "ndim", 0) == 4]
    m = max(rows[k].shape[0] for k in names)
    fig, axes = plt.subplots(len(names), m, figsize=(0.9 * m + 1.6, 0.95 * len(names) + 0.4), squeeze=False)
    for r, name in enumerate(names):
        for c in range(m):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < rows[name].shape[0]:
                ax.imshow(_as_rgb(rows[name][c]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.subplots_adjust(left=0.16, wspace=0.05, hspace=0.1, top=0.9 if title else 0.98)
    return fig


def plot_similarity(matrix, *, xlabel: str, ylabel: str, title: str, ticklabels=None):
    """A labelled heatmap of a small matrix (e.g. prompt-caption cosine similarity)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.2), constrained_layout=True)
    im = ax.imshow(matrix, cmap="magma")
    fig.colorbar(im, ax=ax, shrink=0.85)
    if ticklabels is not None:
        ax.set_xticks(range(len(ticklabels)), ticklabels, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(ticklabels)), ticklabels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def plot_histories(histories: dict, *, key: str = "loss", title: str = "training loss"):
    """Per-epoch curves, one per entry of ``histories`` (name -> history dict)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4), constrained_layout=True)
    for name, hist in histories.items():
        ax.plot(range(1, len(hist[key]) + 1), hist[key], label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.legend()
    return fig


def plot_bars(values: dict, *, ylabel: str, title: str, reference: float | None = None, ylim=(0.0, 1.02)):
    """Bars for name -> value (e.g. accuracy per method or per shift), optional reference line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.0 * len(values) + 2.5, 3.4), constrained_layout=True)
    names = list(values)
    groups = list(dict.fromkeys(str(k).split()[0] for k in names))  # colour by the first word (e.g. the method)
    palette = plt.get_cmap("tab10")
    colors = [palette(groups.index(str(k).split()[0]) % 10) if len(groups) > 1 else "tab:blue" for k in names]
    bars = ax.bar(range(len(names)), [values[k] for k in names], color=colors)
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    if reference is not None:
        ax.axhline(reference, color="grey", ls=":", lw=1)
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def plot_caption_controls(result: dict):
    """Observed caption rates with their 3-sigma binomial bands, and sample captions.

    Args:
        result: dict from :func:`mmcl_core.experiments.real_data.caption_controls`.
    """
    import matplotlib.pyplot as plt

    names = [k[:-5] for k in result if k.endswith("_rate")]
    fig, (ax, ax_t) = plt.subplots(1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 2.2]})
    for i, name in enumerate(names):
        lo, hi = result[f"{name}_band"]
        ax.plot([i, i], [lo, hi], color="grey", lw=6, alpha=0.4, solid_capstyle="butt",
                label="3σ band" if i == 0 else None)
        ax.plot(i, result[f"{name}_rate"], "o", color="tab:blue", label="observed" if i == 0 else None)
    ax.set_xticks(range(len(names)), names)
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"caption controls, level {result['level']}")
    ax.legend(fontsize=8)
    ax_t.axis("off")
    ax_t.text(0, 1, "\n".join(result["captions"][:10]), va="top", fontsize=8.5, family="monospace")
    ax_t.set_title(f"sample captions ({result['n_unique']} distinct of 1797)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_style_confounded(result: dict):
    """Both positive-pair graphs, their spectra, and phi / diversity / lambda / bound / probe error.

    Args:
        result: dict from :func:`mmcl_core.experiments.zhang2023.style_confounded`.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import PowerNorm

    # Redrawn on every widget move: a fixed layout and fixed legend places (no tight_layout, no "best" search).
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.5), gridspec_kw={"width_ratios": [1, 1, 1.1, 1.3]})
    fig.subplots_adjust(left=0.02, right=0.99, bottom=0.15, top=0.88, wspace=0.22)
    for ax, name, title in ((axes[0], "W_sscl", "SSCL augmentation graph"), (axes[1], "W_mmcl", "MMCL text-induced graph")):
        # A power-law colour scale shows the weak off-diagonal links next to the strong diagonal.
        ax.imshow(result[name], cmap="Blues", interpolation="nearest", norm=PowerNorm(0.3))
        ax.set_title(title + " (colour ∝ W^0.3)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        n_per_class = int(np.sum(result["labels"] == 0))
        for b in range(n_per_class, len(result["labels"]), n_per_class):
            ax.axhline(b - 0.5, color="tab:red", lw=0.6)
            ax.axvline(b - 0.5, color="tab:red", lw=0.6)
    k = result["k"]
    for name, color in (("sscl", "tab:orange"), ("mmcl", "tab:blue")):
        ev = result[name]["eigenvalues"][: min(3 * k, len(result[name]["eigenvalues"]))]
        axes[2].plot(range(1, len(ev) + 1), ev, "o-", ms=3, color=color, label=name.upper())
    axes[2].axvline(k + 0.5, color="grey", ls=":", lw=1)
    axes[2].set_title("eigenvalues of the normalised graph", fontsize=10)
    axes[2].set_xlabel("index (dotted: k)")
    axes[2].legend(fontsize=8, loc="upper right")
    keys = ("phi", "diversity", "lambda_k1", "bound", "probe_error")
    x = np.arange(len(keys))
    for offset, name, color in ((-0.2, "sscl", "tab:orange"), (0.2, "mmcl", "tab:blue")):
        vals = [min(result[name][key], 2.0) for key in keys]
        bars = axes[3].bar(x + offset, vals, width=0.4, color=color, label=name.upper())
        axes[3].bar_label(bars, fmt="%.2f", fontsize=7)
    axes[3].set_xticks(x, ["φ", "diversity", "λ_{k+1}", "bound", "probe err"], fontsize=9)
    axes[3].set_ylim(0, 2.15)
    axes[3].set_title("consistency, diversity, bound (clipped at 2)", fontsize=10)
    axes[3].legend(fontsize=8, loc="upper right")
    return fig


def plot_bound_scatter(result: dict):
    """Actual probe error against the bound over random instances (points below the diagonal are valid).

    Args:
        result: dict from :func:`mmcl_core.experiments.zhang2023.bound_validity`.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(4.6, 4.0), constrained_layout=True)
    bound = np.minimum(result["bound"], 2.0)
    ax.scatter(bound, result["actual"], s=6, alpha=0.5)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="actual = bound")
    ax.set_xlabel("bound 2φ/λ_{k+1} (clipped at 2)")
    ax.set_ylabel("actual probe error")
    ax.set_title(f"{len(bound)} random instances: {100 * result['valid_fraction']:.1f}% valid", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_curves(curves: dict, *, xlabel: str, ylabel: str, title: str, logy: bool = False, reference=None,
                markers: bool = False):
    """Several curves: name -> (x, y); optional horizontal reference (value, label). ``markers=True`` gives each
    curve its own marker and line style, so curves that coincide (e.g. two probe errors of 0) stay visible."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.5), constrained_layout=True)
    for i, (name, (x, y)) in enumerate(curves.items()):
        style = dict(marker="osD^v"[i % 5], ms=7 - 1.5 * (i % 4), ls=("-", "--", ":", "-.")[i % 4]) if markers \
            else dict(ls="-")
        ax.plot(x, y, label=name, **style)
    if reference is not None:
        ax.axhline(reference[0], color="grey", ls=":", label=reference[1])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_resampling_table(table: dict, paper: dict | None = None):
    """Linear-probe accuracy (mean +- std over seeds) per resampling method, beside the paper's numbers.

    Args:
        table: dict from :func:`mmcl_core.experiments.zhang2023.resampling_table`.
        paper: optional method -> the paper's ImageNet-100 accuracy (%).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(table["summary"])
    means = np.array([table["summary"][k]["mean"] for k in names])
    stds = np.array([table["summary"][k]["std"] for k in names])
    fig, ax = plt.subplots(1, 2 if paper else 1, figsize=(13 if paper else 8, 4.2), squeeze=False,
                           gridspec_kw={"width_ratios": [2.2, 1]} if paper else None)
    ax0 = ax[0, 0]
    base = table["summary"]["simclr"]["mean"]
    colors = ["grey" if k == "simclr" else ("tab:blue" if m >= base else "tab:red") for k, m in zip(names, means)]
    ax0.barh(range(len(names)), means - base, xerr=stds, color=colors)
    ax0.set_yticks(range(len(names)), names, fontsize=8)
    ax0.invert_yaxis()
    ax0.axvline(0, color="k", lw=0.8)
    ax0.set_xlabel(f"linear probe − SimCLR baseline ({base:.1f}%), points")
    ax0.set_title(f"digits + background nuisance ({table['background_strength']:g}), {len(table['seeds'])} seeds",
                  fontsize=10)
    if paper:
        ax1 = ax[0, 1]
        keys = [k for k in paper]
        ax1.barh(range(len(keys)), [paper[k] - paper["simclr"] for k in keys], color="tab:green")
        ax1.set_yticks(range(len(keys)), keys, fontsize=8)
        ax1.invert_yaxis()
        ax1.axvline(0, color="k", lw=0.8)
        ax1.set_xlabel(f"paper: − SimCLR ({paper['simclr']}%), points")
        ax1.set_title("paper, ImageNet-100 (Table 1)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_resampling_lookup(result: dict):
    """One cached resampling run against its baseline (the resampling widget's panel)."""
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    vals = {"SimCLR": 100 * result["baseline"]["linear_probe"], "method": 100 * result["method"]["linear_probe"]}
    bars = ax.bar(list(vals), list(vals.values()), color=["grey", "tab:blue"])
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylim(min(vals.values()) - 5, 100)
    ax.set_ylabel("linear probe (%)")
    ax.set_title(f"gain {result['gain']:+.1f} points", fontsize=10)
    agree = {"teacher picks": result["method"]["same_label_rate"],
             "SimCLR's own picks": result["baseline"]["self_same_label_rate"]}
    agree = {k: v for k, v in agree.items() if v == v}  # drop NaN (no teacher picks for this method)
    bars = ax2.bar(list(agree), list(agree.values()), color=["tab:blue", "grey"][: len(agree)])
    ax2.bar_label(bars, fmt="%.2f")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("same-label rate of top-1 picks", fontsize=10)
    fig.suptitle(result["label"].replace("|", "  |  "), fontsize=8)
    return fig


def plot_rate_curves(rates: dict):
    """sin-Theta against n (log-log) per wrong-pair rate, with a slope -1/2 reference."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    n = rates["n"]
    for e, row in zip(rates["eps"], rates["mmcl"]):
        ax.loglog(n, row, "o-", label=f"ε = {e:g}")
    ref = rates["mmcl"][0, 0] * np.sqrt(n[0] / n)
    ax.loglog(n, ref, "k:", label="slope −1/2")
    ax.set_xlabel("pairs n")
    ax.set_ylabel("‖sinΘ(Û₁, U₁)‖_F")
    ax.set_title("MMCL feature recovery: rate and wrong pairs", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_method_comparison(comparison: dict, *, title: str):
    """MMCL (per eps) against masking-CL and PCA over n."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    n = comparison["n"]
    for e, row in zip(comparison["eps"], comparison["mmcl"]):
        ax.semilogx(n, row, "o-", label=f"MMCL, ε = {e:g}")
    ax.semilogx(n, comparison["unimodal"], "s--", color="tab:red", label="masking-CL (one modality)")
    ax.semilogx(n, comparison["pca"], "^--", color="grey", label="PCA")
    ax.set_xlabel("pairs n")
    ax.set_ylabel("‖sinΘ(·, U₁)‖_F")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_recovery_panel(result: dict):
    """Bars of the recovery errors of one setting (the recovery widget)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), constrained_layout=True)
    st = result["settings"]
    _labelled_bars(ax, {"MMCL": (result["mmcl"], "tab:blue"), "masking-CL": (result["unimodal"], "tab:red"),
                        "PCA": (result["pca"], "grey")}, ylabel="‖sinΘ(·, U₁)‖_F",
                   title=f"n={st['n']}, ε={st['eps']:g}, {st['coherence']}, "
                         f"{'heteroskedastic' if st['heteroskedastic'] else 'isotropic'}")
    return fig


def _labelled_bars(ax, bars: dict, *, ylabel: str, title: str):
    """Bars name -> (value, colour), each labelled with its value to 3 decimals."""
    drawn = ax.bar(list(bars), [v for v, _ in bars.values()], color=[c for _, c in bars.values()])
    ax.bar_label(drawn, fmt="%.3f")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)


def plot_svd_steps(result: dict):
    """Step norms of iterated SVD for the chosen eta and for the full step eta = 1/rho, and the beta heatmap."""
    import matplotlib.pyplot as plt
    import numpy as np

    from matplotlib.ticker import LogLocator, NullLocator

    # No constrained layout and few log ticks: this figure redraws on every widget move (text layout dominates).
    fig, (ax, ax_b) = plt.subplots(1, 2, figsize=(10, 3.5), gridspec_kw={"wspace": 0.3})
    ax.semilogy(result["step_norms"] + 1e-18, label=f"η = {result['eta']:g}")
    ax.semilogy(result["full_step_norms"] + 1e-18, "--", label=f"full step η = 1/ρ = {1 / result['rho']:g}")
    if "full_two_step_norms" in result:  # a flat one-step norm with a vanishing two-step norm is a 2-cycle
        ax.semilogy(result["full_two_step_norms"] + 1e-18, ":", color="tab:orange",
                    label="full step, ‖M_{t+1} − M_{t−1}‖: a 2-cycle")
    ax.yaxis.set_major_locator(LogLocator(numticks=6))  # after semilogy, which installs its own locator
    ax.yaxis.set_minor_locator(NullLocator())  # minor log ticks were half the redraw time
    ax.set_xlabel("step")
    ax.set_ylabel("‖M_{t+1} − M_t‖_F")
    ax.set_title(f"M ← SVD_r((1−ηρ)M + η S(β)),  τ = {result['temperature']:g}", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")  # a fixed place: "best" searches on every redraw
    shown = result["beta"].copy()
    np.fill_diagonal(shown, np.nan)
    im = ax_b.imshow(shown, cmap="viridis")
    fig.colorbar(im, ax=ax_b, shrink=0.85)
    ax_b.set_title("β_ij at the last iterate (diagonal blank)", fontsize=10)
    return fig


def plot_unpaired_sweep(sweep: dict, official: dict | None = None):
    """Official unpaired experiment: test retrieval accuracy and pseudo-pair precision against N.

    Args:
        sweep: dict from :func:`mmcl_core.experiments.nakada2023.unpaired_sweep` (mean +- sd over seeds drawn).
        official: optional ``{"n_unpaired", "paired_acc", "unpaired_acc"}`` single-seed reference numbers.
    """
    import matplotlib.pyplot as plt

    fig, (ax, ax_p) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    n = sweep["n_unpaired"]
    for key, label, color in (("paired_acc", "paired only (n = 300)", "grey"),
                              ("unpaired_acc", "+ N unpaired (pseudo pairs)", "tab:blue")):
        mean, sd = sweep[key].mean(1), sweep[key].std(1)
        ax.errorbar(n, mean, yerr=sd, fmt="o-", color=color, capsize=3, label=f"{label}, {sweep[key].shape[1]} seeds")
    if official is not None:
        ax.plot(official["n_unpaired"], official["paired_acc"], "x", color="grey", label="official, paired (1 seed)")
        ax.plot(official["n_unpaired"], official["unpaired_acc"], "x", color="tab:blue",
                label="official, unpaired (1 seed)")
    ax.set_xlabel("unpaired samples N")
    ax.set_ylabel("test retrieval accuracy")
    ax.set_title("E1: unpaired data helps", fontsize=10)
    ax.legend(fontsize=7)
    prec = sweep["pseudo_pair_precision"]
    ax_p.errorbar(n, prec.mean(1), yerr=prec.std(1), fmt="o-", color="tab:green", capsize=3)
    ax_p.set_xlabel("unpaired samples N")
    ax_p.set_ylabel("pseudo-pair precision")
    ax_p.set_title("fraction of chosen pseudo pairs that are true pairs", fontsize=10)
    return fig


def plot_linear_proxy(proxy: dict):
    """Linear-SVD pseudo-pair proxy: sin-Theta against N with pseudo pairs and with the true pairs (oracle)."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.5, 3.6), constrained_layout=True)
    n = np.asarray(proxy["n_unpaired"])
    shown = n > 0
    ax.loglog(n[shown], proxy["sin_theta"][shown].mean(1), "o-", label="paired + pseudo pairs")
    ax.loglog(n[shown], proxy["oracle"][shown].mean(1), "s--", color="grey", label="oracle (true pairs)")
    ax.axhline(proxy["sin_theta"][~shown].mean(), color="k", ls=":", label="paired only")
    for x, y, p in zip(n[shown], proxy["sin_theta"][shown].mean(1), np.nanmean(proxy["precision"][shown], 1)):
        ax.annotate(f"prec. {p:.2f}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("unpaired samples N")
    ax.set_ylabel("‖sinΘ(Û₁, U₁)‖_F")
    ax.set_title("linear SVD: imperfect pseudo pairs still help", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def plot_semi_curves(result: dict, *, title: str = "E3 proxy: test accuracy over epochs"):
    """Paired phase, then the semi-supervised and oracle phases, as in the paper's E3 figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    paired, semi, oracle = (np.atleast_2d(result[k]) for k in ("paired", "semi", "oracle"))
    p = paired.shape[1]
    ax.plot(np.arange(1, p + 1), paired.mean(0), color="grey", label="paired only (phase 1)")
    later = np.arange(p + 1, p + semi.shape[1] + 1)
    ax.plot(later, semi.mean(0), color="tab:blue", label=f"semi-supervised ({result.get('pair_rule', '')})")
    ax.plot(later, oracle.mean(0), color="tab:orange", label="oracle (true class pairs)")
    ax.axvline(p + 0.5, color="k", lw=0.8)
    for curve, color in ((paired, "grey"), (semi, "tab:blue"), (oracle, "tab:orange")):
        ax.axhline(curve.mean(0).max(), color=color, ls=":", lw=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test class-retrieval accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_unpaired_lookup(result: dict):
    """One (N, rule) cell of the cached unpaired sweep: per-seed accuracy before/after, and precision."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5, 3.2), constrained_layout=True)
    names = ["paired only", "with unpaired", "pseudo-pair\nprecision"]
    values = [result["paired_acc"], result["unpaired_acc"], result["pseudo_pair_precision"]]
    bars = ax.bar(names, [np.mean(v) for v in values], color=["grey", "tab:blue", "tab:green"], alpha=0.7)
    ax.bar_label(bars, fmt="%.3f")
    for i, v in enumerate(values):
        ax.plot(np.full(len(v), i), v, "k.", ms=4)
    ax.set_ylim(0, 1.05)
    st = result["settings"]
    ax.set_title(f"N = {st['n_unpaired']}, {st['pseudo_pair_rule']} (dots: seeds)", fontsize=9)
    return fig


def plot_linear_proxy_panel(result: dict):
    """Bars of the linear proxy's recovery errors for one setting (the live widget)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), constrained_layout=True)
    st = result["settings"]
    _labelled_bars(ax, {"paired only": (result["paired_only"], "grey"), "+ pseudo pairs": (result["pseudo"], "tab:blue"),
                        "oracle": (result["oracle"], "tab:orange")}, ylabel="‖sinΘ(Û₁, U₁)‖_F",
                   title=f"N = {st['n_unpaired']}, B = {st['batch_size']}, {st['pseudo_pair_rule']}: "
                         f"precision {result['precision']:.2f}")
    return fig


_TEST_LABELS = {"id": "in-distribution", "ood_independent": "OOD: cue independent", "ood_flipped": "OOD: cue flipped"}
_METHOD_STYLE = {"mmcl": ("MMCL, rich captions", "tab:blue"), "mmcl_label_only": ("MMCL, label-only captions", "tab:cyan"),
                 "supervised": ("supervised (cross-entropy)", "tab:red")}


def plot_grouped_bars(groups: dict, *, title: str, ylabel: str = "accuracy", ylim=(0.0, 1.02), reference=None):
    """Grouped bars: ``groups`` name -> {bar label -> value}; optional horizontal reference (value, label)."""
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(groups)
    labels = list(next(iter(groups.values())))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(names) + 2), 3.4))
    for j, label in enumerate(labels):
        xs = np.arange(len(names)) + (j - (len(labels) - 1) / 2) * width
        bars = ax.bar(xs, [groups[n][label] for n in names], width, label=_TEST_LABELS.get(label, label))
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    if reference is not None:
        ax.axhline(reference[0], color="grey", ls=":", label=reference[1])
    ax.set_xticks(np.arange(len(names)), names, fontsize=8)
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_xue_table(table: dict, *, test: str = "ood_flipped"):
    """Accuracy against sigma_core per method: closed form (lines) and simulation (markers), plus the weights ratio."""
    import matplotlib.pyplot as plt

    fig, (ax, ax_w) = plt.subplots(1, 2, figsize=(10, 3.6))
    s = table["sigma_core"]
    for m, (label, color) in _METHOD_STYLE.items():
        ax.plot(s, table["closed"][m][test], "-", color=color, label=f"{label} (closed form)")
        if "simulated" in table:
            ax.plot(s, table["simulated"][m][test], "o", color=color, ms=5)
        ratio = table["closed"][m]["w_core"] / table["closed"][m]["w_spu"]
        ax_w.semilogy(s, ratio, "-", color=color, label=label)
        if "simulated" in table:
            ax_w.semilogy(s, table["simulated"][m]["w_core"] / table["simulated"][m]["w_spu"], "o", color=color, ms=5)
    ax.plot(s, table["bayes_core_only"], "k:", label="core-only Bayes Φ(β/σ_core)")
    ax.set_xlabel("core spread σ_core")
    ax.set_ylabel(_TEST_LABELS[test] + " accuracy")
    ax.set_title("closed form (lines) vs simulation (dots)", fontsize=10)
    ax.legend(fontsize=7)
    ax_w.set_xlabel("core spread σ_core")
    ax_w.set_ylabel("w_core / w_spu")
    ax_w.set_title("intra-class contrasting: who the classifier listens to", fontsize=10)
    fig.tight_layout()
    return fig


def plot_xue_closed_panel(result: dict):
    """The closed-form widget: the three methods' accuracy over sigma_core on the chosen test, the setting marked."""
    import matplotlib.pyplot as plt

    # Redrawn on every widget move: a fixed layout and a fixed legend place (no tight_layout, no "best" search).
    fig, ax = plt.subplots(figsize=(5.8, 3.4))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.9)
    grid, key = result["sigma_grid"], result["test_key"]
    for m, (label, color) in _METHOD_STYLE.items():
        ax.plot(grid, result["curves"][m], color=color, label=label)
        ax.plot(result["settings"]["sigma_core"], result["methods"][m][key], "o", color=color)
    ax.plot(grid, result["bayes"], "k:", label="core-only Bayes")
    ax.axvline(result["settings"]["sigma_core"], color="grey", lw=0.8)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("core spread σ_core")
    ax.set_ylabel(_TEST_LABELS[key])
    st = result["settings"]
    ax.set_title(f"p_train={st['p_train']:g}, σ_spu={st['sigma_spu']:g}, β={st['beta']:g}, α={st['alpha']:g}, "
                 f"q_core={st['q_core']:g}", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    return fig


def plot_sim_panel(result: dict):
    """The simulation widget: bars of the three test accuracies."""
    st = result["settings"]
    return plot_grouped_bars({"MMCL (linear loss)": {k: result[k] for k in ("id", "ood_independent", "ood_flipped")}},
                             title=f"K={st['n_classes']}, rank p={st['rank']}, n={st['n']}, prompt={st['prompt']}, "
                                   f"q=({st['q_core']:g}, {st['q_spu']:g}, {st['q_det']:g})")


def plot_effective_robustness(er: dict):
    """Shifted against in-distribution accuracy per method, with each method's linear fit (effective robustness)."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.8, 4.0))
    lo = min(min(v.min() for v in er["id"].values()), 0.5)
    xs = np.linspace(lo, 1.0, 20)
    for m, color in zip(er["id"], plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        ax.plot(er["id"][m], er["shifted"][m], "o", color=color,
                label=f"{m} (ER {er['effective_robustness'][m]:+.3f})")
        slope, intercept = er["fits"][m]
        if np.isfinite(slope):
            ax.plot(xs, slope * xs + intercept, "-", color=color, lw=0.8)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="y = x")
    ax.set_xlim(lo - 0.02, 1.0)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("in-distribution accuracy (colour as in training)")
    ax.set_ylabel(f"accuracy under {er['shift']}")
    ax.set_title("effective robustness: offset above the supervised line", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _mean_and_seeds(ax, x, rows, *, color: str, label: str):
    """A bold mean curve over seeds (rows) with every seed's curve faint behind it."""
    import numpy as np

    rows = np.asarray(rows)
    ax.plot(x, rows.mean(0), "o-", color=color, label=label)
    for row in rows:
        ax.plot(x, row, "-", color=color, lw=0.5, alpha=0.4)


def plot_real_unpaired(view: dict):
    """Nakada et al. on MNIST-5k <-> digits: (left) paired-only, semi-supervised and oracle test accuracy per epoch
    (mean over seeds); (right) the gain of unpaired data against the precision of controlled pseudo pairs (mean and
    every seed), the chosen precision highlighted, and the setting's own pseudo pairs marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    e1 = view["paired_curve"].shape[1]
    left.plot(np.arange(1, e1 + 1), view["paired_curve"].mean(0), color="0.5", label="paired only")
    e2 = np.arange(e1 + 1, e1 + 1 + view["semi_curve"].shape[1])
    left.plot(e2, view["semi_curve"].mean(0), color="tab:blue", label="semi-supervised (pseudo pairs)")
    left.plot(e2, view["oracle_curve"].mean(0), color="tab:orange", label="oracle (true class pairs)")
    left.axvline(e1 + 0.5, color="k", lw=0.6)
    left.set_xlabel("epoch")
    left.set_ylabel("test retrieval accuracy")
    left.set_title(view["setting"], fontsize=10)
    left.legend(fontsize=7)
    styles = {"random": ("tab:green", "controlled: random partner of the right / a wrong class"),
              "teacher_like": ("tab:purple", "controlled: the model's nearest right / wrong partner")}
    for source, gains in view["gains"].items():
        color, label = styles.get(source, ("0.3", source))
        _mean_and_seeds(right, np.asarray(gains["precision"]), gains["gain"], color=color, label=label)
    right.axhline(0, color="k", lw=0.6)
    right.axvline(0.1, color="0.6", ls=":", lw=0.8)
    right.plot([view["precision"]], [view["gain_at_precision"]], "s", ms=10, mfc="none", mec="k",
               label=f"precision {view['precision']:g}: gain {view['gain_at_precision']:+.3f}")
    right.errorbar([view["own_precision"]], [view["own_gain"]], yerr=[view["own_gain_sd"]], fmt="*", ms=12,
                   color="tab:red", label=f"the model's own pseudo pairs ({view['setting']})")
    right.set_xlabel("pseudo-pair precision (0.1 = chance)")
    right.set_ylabel("gain in max test accuracy")
    right.set_title("when do unpaired data help?", fontsize=10)
    right.legend(fontsize=6.5)
    fig.tight_layout()
    return fig


def plot_noisy_graph(study: dict):
    """Test accuracy against the edge-flip probability of the class graph, with and without spectral
    co-clustering (mean and every seed; chance 0.1)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for key, color, label in (("noisy", "tab:red", "noisy graph as is"),
                              ("coclustered", "tab:blue", f"spectral co-clustering, k = {study['k']}")):
        _mean_and_seeds(ax, study["flips"], study[key], color=color, label=label)
    ax.axhline(0.1, color="0.5", ls=":", label="chance")
    ax.set_xlabel("edge-flip probability p")
    ax.set_ylabel("test accuracy (nearest class prototype)")
    ax.set_title("a noisy class graph, with and without denoising", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_sqrt_d(law: dict):
    """Recovery error against the dimension on log-log axes, with the fitted slope and a slope-1/2 guide."""
    import matplotlib.pyplot as plt
    import numpy as np

    d, err = np.asarray(law["dims"], dtype=float), np.asarray(law["error"])
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    _mean_and_seeds(ax, d, err, color="tab:blue", label=f"MMCL (linear loss), slope {law['slope']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.loglog(d, err.mean(0)[0] * np.sqrt(d / d[0]), "k--", lw=0.8, label="∝ √d")
    ax.set_xlabel("dimension d (= d1 = d2)")
    ax.set_ylabel("‖sin Θ‖_F")
    ax.set_title(f"recovery error at n = {law['n']}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_logit_effective_robustness(er: dict):
    """Taori-style effective robustness: shifted against in-distribution accuracy on logit axes, the supervised
    family's fitted line, label-only MMCL and held-out supervised models placed against it (ticks in accuracy)."""
    import matplotlib.pyplot as plt
    import numpy as np

    def logit(p):
        p = np.clip(np.asarray(p, dtype=float), 1e-3, 1 - 1e-3)
        return np.log(p / (1 - p))

    acc, shift = er["accuracy"], er["shift"]
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    groups = (("family", "supervised family (logistic regression)", "tab:red", "o"),
              ("heldout", f"supervised MLP, held out (ER {er['er_heldout']:+.3f})", "tab:orange", "s"),
              ("mmcl", f"label-only MMCL (ER {er['er_mmcl']:+.3f})", "tab:blue", "D"))
    xs_all = []
    for key, label, color, marker in groups:
        x = logit([acc[n]["correlated"] for n in er[key]])
        y = logit([acc[n][shift] for n in er[key]])
        xs_all += list(x)
        ax.plot(x, y, marker, color=color, label=label, ms=5)
    xs = np.linspace(min(xs_all) - 0.2, max(xs_all) + 0.2, 20)
    ax.plot(xs, er["slope"] * xs + er["intercept"], "-", color="tab:red", lw=1, label="fit to the family")
    ticks = np.array([0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
    ax.set_xticks(logit(ticks), [f"{t:g}" for t in ticks])
    ax.set_yticks(logit(ticks), [f"{t:g}" for t in ticks])
    ax.set_xlabel("in-distribution accuracy (logit scale)")
    ax.set_ylabel(f"accuracy under the {shift} colour (logit scale)")
    ax.set_title(f"effective robustness on {er['dataset']}: distance above the supervised line", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_ingredients(study: dict):
    """Adversarial-colour gap (MMCL - supervised) of each ingredient row, mean and every seed."""
    import matplotlib.pyplot as plt
    import numpy as np

    names = study["ingredients"]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(names) + 1.2))
    for i, name in enumerate(names):
        gaps = np.asarray(study["gap"][name])
        color = "tab:blue" if gaps.mean() > 0 else "tab:red"
        ax.barh(i, gaps.mean(), color=color, alpha=0.6)
        ax.plot(gaps, np.full(len(gaps), i), "k.", ms=4)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("adversarial-colour accuracy: MMCL − supervised (dots: seeds)")
    ax.set_title(f"from the calibrated fit to CLIP-style training ({study['dataset']})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_figure1(single: dict, multi: dict):
    """Huang et al. Figure 1: loss, OOD accuracy, signal learning, noise memorisation against epoch (mean +- sd)."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    panels = (("loss", "training loss"), ("ood_accuracy", "OOD test accuracy"),
              ("signal_max", "signal learning max_r |γ_r|"), ("noise_max", "noise memorisation max ρ_{r,i}"))
    for ax, (key, label) in zip(axes, panels):
        for res, name, color in ((single, "single-modal", "tab:red"), (multi, "multi-modal", "tab:blue")):
            h = res["history"]
            x = h["probe_steps"] if key == "ood_accuracy" else np.arange(h[key].shape[1])
            mean, sd = h[key].mean(0), h[key].std(0)
            ax.plot(x, mean, color=color, label=name)
            ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_title(label, fontsize=10)
    axes[1].set_ylim(0.4, 1.02)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_phase_diagram(pd: dict, *, windows: bool = True):
    """OOD accuracy against n SNR^2: single-modal and multi-modal per C_mu, with the paper's proof windows."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    x = pd["n_snr2"]
    ax.semilogx(x, pd["single"].mean(1), "o-", color="tab:red", label="single-modal")
    for c, row in zip(pd["c_mu"], pd["multi"]):
        ax.semilogx(x, row.mean(1), "s-", label=f"multi-modal, C_μ = {c:g}")
    if windows:
        ax.axvspan(x.min(), 1.8, color="tab:red", alpha=0.06, label="single fails if n·SNR² ≤ 1.8 (sufficient)")
        ax.axvspan(1.7, x.max(), color="tab:blue", alpha=0.06, label="multi succeeds if ≥ 1.7, C_μ > 2.66 (sufficient)")
    ax.axhline(0.8, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("n · SNR²")
    ax.set_ylabel("OOD accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.set_title("phase diagram (proof windows are sufficient conditions, not thresholds)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_phase_heatmap(result: dict):
    """The phase-diagram widget: multi-modal minus single-modal OOD accuracy over (n SNR^2, C_mu), one cell marked."""
    import matplotlib.pyplot as plt
    import numpy as np

    pd = result["pd"]
    gap = pd["multi"].mean(2) - pd["single"].mean(1)[None, :]
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    fig.subplots_adjust(left=0.14, right=0.95, bottom=0.16, top=0.84)
    # Redrawn on every widget move: no colorbar, at most 6 tick labels per axis (text layout dominates the cost).
    ax.imshow(gap, origin="lower", aspect="auto", cmap="RdBu", vmin=-0.5, vmax=0.5)
    for set_ticks, values in ((ax.set_xticks, pd["n_snr2"]), (ax.set_yticks, pd["c_mu"])):
        shown = np.arange(0, len(values), max(1, int(np.ceil(len(values) / 6))))
        set_ticks(shown, [f"{values[k]:.2g}" for k in shown], fontsize=7)
    ax.plot(result["i_snr"], result["i_cmu"], "k*", ms=12)
    ax.set_xlabel("n · SNR²")
    ax.set_ylabel("C_μ")
    ax.set_title(f"multi − single (blue: multi better, scale ±0.5)\nn·SNR² = {result['n_snr2']:.2g}, "
                 f"C_μ = {result['c_mu']:.2g}: single {result['single']:.2f}, multi {result['multi']:.2f}", fontsize=9)
    return fig


_COLORED_NAMES = {"single": "SimCLR", "multi_ideal_digit": "ideal:\ndigit", "multi_ideal_digit_colour": "ideal:\ndigit+colour",
                  "multi_minilm_digit": "MiniLM:\ndigit", "multi_minilm_digit_colour": "MiniLM:\ndigit+colour"}


def plot_colored_digits(summary: dict, *, paper: dict | None = None):
    """Train and OOD accuracy per method of a ColoredDigits summary (means over seeds), the paper's Table 1 first.

    Args:
        summary: :func:`mmcl_core.experiments.huang2024.colored_digits_summary`.
        paper: method -> (train %, test %) of the paper (``huang2024.TABLE1``), or None.
    """
    groups = {f"paper:\n{m}": {"train": tr / 100, "OOD (colours permuted)": te / 100}
              for m, (tr, te) in (paper or {}).items()}
    groups.update({_COLORED_NAMES.get(m, m): {"train": summary["train"][m], "OOD (colours permuted)": summary["test"][m]}
                   for m in summary["test"]})
    return plot_grouped_bars(groups, title=f"Table 1 proxy: {summary['probe']} probe, mean of {summary['seeds']} "
                                           "seed(s); paper's bars are ColoredMNIST")


_CMNIST_NAMES = {"single": "SimCLR", "multi_digit_colour": "caption:\ndigit+colour", "multi_digit": "caption:\ndigit",
                 "multi_minilm": "MiniLM:\ndigit+colour"}


def plot_colored_mnist(summary: dict, *, paper: dict | None = None, title: str = ""):
    """ID and OOD accuracy per method of a ColoredMNIST summary (means over seeds), the paper's Table 1 first.

    Args:
        summary: :func:`mmcl_core.experiments.huang2024_mnist.colored_mnist_summary`.
        paper: method -> (train, test) accuracy of the paper (``TABLE1_MNIST``), or None.
    """
    groups = {f"paper:\n{m}": {"train (ID)": tr, "OOD (colours reversed)": te} for m, (tr, te) in (paper or {}).items()}
    groups.update({_CMNIST_NAMES.get(m, m): {"train (ID)": row["id_mean"], "OOD (colours reversed)": row["ood_mean"]}
                   for m, row in summary.items()})
    return plot_grouped_bars(groups, title=title or "Table 1 on ColoredMNIST (MNIST-5k): probe on the training set")


def plot_colored_mnist_point(result: dict):
    """Widget view of :func:`mmcl_core.experiments.huang2024_mnist.colored_mnist_lookup`."""
    caption = result["caption"]
    groups = {_CMNIST_NAMES.get(m, m): {"train (ID)": result[m]["id_accuracy"],
                                        "OOD (colours reversed)": result[m]["ood_accuracy"]}
              for m in ("single", caption)}
    return plot_grouped_bars(groups, title=f"{result['setting']}: OOD gain of the caption {result['ood_gain']:+.2f} "
                                           f"(seed {result['seed']})")


def plot_spectral_lens(results: dict):
    """CLIP's fixed-point embedding against the linear loss's and Zhang's, by temperature, for each data setting.

    Args:
        results: setting name -> :func:`mmcl_core.experiments.synthesis.spectral_lens` result.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.5), sharey=True, squeeze=False)
    for ax, (name, res) in zip(axes[0], results.items()):
        t = list(res["temperatures"])
        ax.semilogx(t, [res["sin_clip_linear"][v] for v in t], "o-", label="CLIP vs linear loss")
        ax.semilogx(t, [res["sin_clip_zhang"][v] for v in t], "s-", label="CLIP vs Zhang's normalised")
        ax.axhline(res["sin_zhang_linear"], color="grey", ls="--", lw=1, label="Zhang vs linear loss")
        ax.set_xlabel("CLIP temperature τ")
        ax.set_title(f"{name} (class mass ratio {res['marginal_ratio']:.0f})", fontsize=9)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("largest sin θ between embeddings")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_lens_panel(result: dict):
    """Widget view of :func:`mmcl_core.experiments.synthesis.lens_panel`: the three distances at one temperature."""
    (t,) = result["temperatures"]
    bars = {"Zhang vs linear": result["sin_zhang_linear"], f"CLIP(τ={t:.2g}) vs linear": result["sin_clip_linear"][t],
            f"CLIP(τ={t:.2g}) vs Zhang": result["sin_clip_zhang"][t]}
    return plot_bars(bars, ylabel="largest sin θ", ylim=(0.0, 1.0),
                     title=f"one SVD lens, class mass ratio {result['marginal_ratio']:.1f}")


def plot_snr_lens(lens: dict, phase: dict, *, level: float = 0.25):
    """Side by side: the linear SVD lens (signal captured) and Huang's trained networks (OOD accuracy) by n SNR^2.

    Args:
        lens: C_mu -> :func:`mmcl_core.experiments.synthesis.snr_lens` result (its ``single`` is the same for all).
        phase: :func:`mmcl_core.experiments.huang2024.phase_diagram` result.
        level: the overlap level marked on the left panel.
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    first = next(iter(lens.values()))
    left.semilogx(first["n_snr2"], first["single"].mean(1), "o-", color="tab:red", label="single-modal X^T X_aug")
    for c, res in lens.items():
        left.semilogx(res["n_snr2"], res["multi"].mean(1), "s-", label=f"multi-modal X^T Z, C_μ = {c:g}")
    left.axhline(level, color="grey", ls=":", lw=0.8)
    left.set_xlabel("n · SNR²")
    left.set_ylabel("signal captured by the top-r SVD")
    left.set_title("linear SVD lens", fontsize=9)
    left.legend(fontsize=7)
    x = phase["n_snr2"]
    right.semilogx(x, phase["single"].mean(1), "o-", color="tab:red", label="single-modal")
    for c, row in zip(phase["c_mu"], phase["multi"]):
        right.semilogx(x, row.mean(1), "s-", label=f"multi-modal, C_μ = {c:g}")
    right.axhline(0.8, color="grey", ls=":", lw=0.8)
    right.set_xlabel("n · SNR²")
    right.set_ylabel("OOD accuracy")
    right.set_title("Huang et al.: trained two-layer ReLU networks", fontsize=9)
    right.legend(fontsize=7)
    from matplotlib.ticker import NullFormatter

    for ax in (left, right):
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    return fig
