"""Figures of notebooks 04 and 05 (Nakada et al. 2023)."""

from __future__ import annotations

from .common import _labelled_bars_figure, _mean_and_seeds

__all__ = ["plot_rate_curves", "plot_recovery_panel", "plot_svd_steps", "plot_unpaired_sweep", "plot_linear_proxy",
           "plot_semi_curves", "plot_unpaired_lookup", "plot_linear_proxy_panel", "plot_real_unpaired",
           "plot_noisy_graph", "plot_sqrt_d"]


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


def plot_recovery_panel(result: dict):
    """Bars of the recovery errors of one setting (the recovery widget)."""
    st = result["settings"]
    return _labelled_bars_figure({"MMCL": (result["mmcl"], "tab:blue"), "masking-CL": (result["unimodal"], "tab:red"),
                                  "PCA": (result["pca"], "grey")}, ylabel="‖sinΘ(·, U₁)‖_F",
                                 title=f"n={st['n']}, ε={st['eps']:g}, {st['coherence']}, "
                                       f"{'heteroskedastic' if st['heteroskedastic'] else 'isotropic'}")


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
    # A fixed title height (y=1.0) skips matplotlib's title placement search, a third of the redraw time.
    ax.set_title(f"M ← SVD_r((1−ηρ)M + η S(β)),  τ = {result['temperature']:g}", fontsize=10, y=1.0)
    ax.legend(fontsize=8, loc="lower left")  # a fixed place: "best" searches on every redraw
    shown = result["beta"].copy()
    np.fill_diagonal(shown, np.nan)
    im = ax_b.imshow(shown, cmap="viridis")
    fig.colorbar(im, ax=ax_b, shrink=0.85)
    ax_b.set_title("β_ij at the last iterate (diagonal blank)", fontsize=10, y=1.0)
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
    st = result["settings"]
    return _labelled_bars_figure({"paired only": (result["paired_only"], "grey"),
                                  "+ pseudo pairs": (result["pseudo"], "tab:blue"),
                                  "oracle": (result["oracle"], "tab:orange")}, ylabel="‖sinΘ(Û₁, U₁)‖_F",
                                 title=f"N = {st['n_unpaired']}, B = {st['batch_size']}, {st['pseudo_pair_rule']}: "
                                       f"precision {result['precision']:.2f}")


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
                              ("coclustered", "tab:blue", f"spectral co-clustering, K = {study['n_classes']}")):
        _mean_and_seeds(ax, study["flips"], study[key], color=color, label=label)
    ax.axhline(0.1, color="0.5", ls=":", label="chance")
    ax.set_xlabel("edge-flip probability p_flip")
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
    ax.loglog(d, law["sqrt_d_guide"], "k--", lw=0.8, label="∝ √d")
    ax.set_xlabel("dimension d (= d1 = d2)")
    ax.set_ylabel("‖sin Θ‖_F")
    ax.set_title(f"recovery error at n = {law['n']}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
