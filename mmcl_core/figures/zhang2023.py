"""Figures of notebooks 02 and 03 (Zhang, Wang & Wang 2023)."""

from __future__ import annotations

__all__ = ["plot_style_confounded", "plot_bound_scatter", "plot_resampling_table", "plot_resampling_lookup"]


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
    for ax, name, title in ((axes[0], "W_sscl", "SSCL augmentation graph"),
                            (axes[1], "W_mmcl", "MMCL text-induced graph")):
        # A power-law colour scale shows the weak off-diagonal links next to the strong diagonal.
        ax.imshow(result[name], cmap="Blues", interpolation="nearest", norm=PowerNorm(0.3))
        ax.set_title(title + " (colour ∝ W^0.3)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        n_per_class = int(np.sum(result["labels"] == 0))
        for b in range(n_per_class, len(result["labels"]), n_per_class):
            ax.axhline(b - 0.5, color="tab:red", lw=0.6)
            ax.axvline(b - 0.5, color="tab:red", lw=0.6)
    rank = result["rank"]
    for name, color in (("sscl", "tab:orange"), ("mmcl", "tab:blue")):
        ev = result[name]["eigenvalues"][: min(3 * rank, len(result[name]["eigenvalues"]))]
        axes[2].plot(range(1, len(ev) + 1), ev, "o-", ms=3, color=color, label=name.upper())
    axes[2].axvline(rank + 0.5, color="grey", ls=":", lw=1)
    axes[2].set_title("eigenvalues of the normalised graph", fontsize=10)
    axes[2].set_xlabel("index (dotted: r)")
    axes[2].legend(fontsize=8, loc="upper right")
    keys = ("phi", "diversity", "lambda_r1", "bound", "probe_error")
    x = np.arange(len(keys))
    for offset, name, color in ((-0.2, "sscl", "tab:orange"), (0.2, "mmcl", "tab:blue")):
        vals = [min(result[name][key], 2.0) for key in keys]
        bars = axes[3].bar(x + offset, vals, width=0.4, color=color, label=name.upper())
        axes[3].bar_label(bars, fmt="%.2f", fontsize=7)
    axes[3].set_xticks(x, ["φ", "diversity", "λ_{r+1}", "bound", "probe err"], fontsize=9)
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
    ax.set_xlabel("bound 2φ/λ_{r+1} (clipped at 2)")
    ax.set_ylabel("actual probe error")
    ax.set_title(f"{len(bound)} random instances: {100 * result['valid_fraction']:.1f}% valid", fontsize=10)
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
