"""Figures of notebooks 00 and 01 (start here, the real-data tour)."""

from __future__ import annotations

__all__ = ["plot_start_here", "plot_temperature_sweep", "plot_caption_controls"]


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
