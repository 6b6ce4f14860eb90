"""Figures of notebooks 08 and 09 (Xue et al. 2024)."""

from __future__ import annotations

from .common import _TEST_LABELS, plot_grouped_bars

__all__ = ["plot_xue_table", "plot_xue_closed_panel", "plot_sim_panel", "plot_effective_robustness",
           "plot_logit_effective_robustness", "plot_ingredients"]


_METHOD_STYLE = {"mmcl": ("MMCL, rich captions", "tab:blue"),
                 "mmcl_label_only": ("MMCL, label-only captions", "tab:cyan"),
                 "supervised": ("supervised (cross-entropy)", "tab:red")}


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
    ax.set_title(f"p_train={st['p_train']:g}, σ_spu={st['sigma_spu']:g}, μ_core={st['mu_core']:g}, "
                 f"μ_spu={st['mu_spu']:g}, "
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
        gaps, mean = np.asarray(study["gap"][name]), study["gap_mean"][name]
        ax.barh(i, mean, color="tab:blue" if mean > 0 else "tab:red", alpha=0.6)
        ax.plot(gaps, np.full(len(gaps), i), "k.", ms=4)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("adversarial-colour accuracy: MMCL − supervised (dots: seeds)")
    ax.set_title(f"from the calibrated fit to CLIP-style training ({study['dataset']})", fontsize=10)
    fig.tight_layout()
    return fig
