"""Figures of notebook 10 (the synthesis)."""

from __future__ import annotations

from .common import plot_bars

__all__ = ["plot_spectral_lens", "plot_lens_panel", "plot_snr_lens"]


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
