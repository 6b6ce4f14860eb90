"""Figures of notebooks 06 and 07 (Huang et al. 2024)."""

from __future__ import annotations

from .common import plot_grouped_bars

__all__ = ["plot_figure1", "plot_phase_diagram", "plot_phase_heatmap", "plot_colored_digits", "plot_colored_mnist",
           "plot_colored_mnist_point"]


def plot_figure1(single: dict, multi: dict):
    """Huang et al. Figure 1: loss, OOD accuracy, signal learning, noise memorisation against epoch (mean +- sd)."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    panels = (("loss", "training loss"), ("ood_accuracy", "OOD test accuracy"),
              ("signal_max", "signal learning max_h |γ_h|"), ("noise_max", "noise memorisation max ω_{h,i}"))
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


def plot_phase_diagram(phase: dict, *, windows: bool = True):
    """OOD accuracy against n SNR^2: single-modal and multi-modal per C_mu, with the paper's proof windows."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    x = phase["n_snr2"]
    ax.semilogx(x, phase["single"].mean(1), "o-", color="tab:red", label="single-modal")
    for c, row in zip(phase["c_mu"], phase["multi"]):
        ax.semilogx(x, row.mean(1), "s-", label=f"multi-modal, C_μ = {c:g}")
    if windows:
        w = phase["proof_windows"]
        ax.axvspan(x.min(), w["single_fails_at_most"], color="tab:red", alpha=0.06,
                   label=f"single fails if n·SNR² ≤ {w['single_fails_at_most']:g} (sufficient)")
        ax.axvspan(w["multi_succeeds_at_least"], x.max(), color="tab:blue", alpha=0.06,
                   label=f"multi succeeds if ≥ {w['multi_succeeds_at_least']:g}, "
                         f"C_μ > {w['c_mu_above']:g} (sufficient)")
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

    phase = result["phase"]
    gap = phase["gap"]
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    fig.subplots_adjust(left=0.14, right=0.95, bottom=0.16, top=0.84)
    # Redrawn on every widget move: no colorbar, at most 6 tick labels per axis (text layout dominates the cost).
    ax.imshow(gap, origin="lower", aspect="auto", cmap="RdBu", vmin=-0.5, vmax=0.5)
    for set_ticks, values in ((ax.set_xticks, phase["n_snr2"]), (ax.set_yticks, phase["c_mu"])):
        shown = np.arange(0, len(values), max(1, int(np.ceil(len(values) / 6))))
        set_ticks(shown, [f"{values[k]:.2g}" for k in shown], fontsize=7)
    ax.plot(result["i_snr"], result["i_cmu"], "k*", ms=12)
    ax.set_xlabel("n · SNR²")
    ax.set_ylabel("C_μ")
    ax.set_title(f"multi − single (blue: multi better, scale ±0.5)\nn·SNR² = {result['n_snr2']:.2g}, "
                 f"C_μ = {result['c_mu']:.2g}: single {result['single']:.2f}, multi {result['multi']:.2f}", fontsize=9)
    return fig


_COLORED_NAMES = {"single": "SimCLR", "multi_ideal_digit": "ideal:\ndigit",
                  "multi_ideal_digit_color": "ideal:\ndigit+colour",
                  "multi_minilm_digit": "MiniLM:\ndigit", "multi_minilm_digit_color": "MiniLM:\ndigit+colour"}


def plot_colored_digits(summary: dict, *, paper: dict | None = None):
    """Train and OOD accuracy per method of a ColoredDigits summary (means over seeds), the paper's Table 1 first.

    Args:
        summary: :func:`mmcl_core.experiments.huang2024.colored_digits_summary`.
        paper: method -> (train %, test %) of the paper (``huang2024.TABLE1``), or None.
    """
    groups = {f"paper:\n{m}": {"train": tr / 100, "OOD (colours permuted)": te / 100}
              for m, (tr, te) in (paper or {}).items()}
    groups.update({_COLORED_NAMES.get(m, m): {"train": summary["train"][m],
                                              "OOD (colours permuted)": summary["test"][m]}
                   for m in summary["test"]})
    return plot_grouped_bars(groups, title=f"Table 1 proxy: {summary['probe']} probe, mean of {summary['seeds']} "
                                           "seed(s); paper's bars are ColoredMNIST")


_CMNIST_NAMES = {"single": "SimCLR", "multi_digit_color": "caption:\ndigit+colour", "multi_digit": "caption:\ndigit",
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
