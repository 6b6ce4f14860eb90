"""Drawing helpers every paper's figures share (image rows, bars, curves, similarity maps)."""

from __future__ import annotations

__all__ = ["plot_image_rows", "plot_similarity", "plot_histories", "plot_bars", "plot_curves", "plot_grouped_bars",
           "plot_method_comparison"]


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


def _labelled_bars(ax, bars: dict, *, ylabel: str, title: str):
    """Bars name -> (value, colour), each labelled with its value to 3 decimals."""
    drawn = ax.bar(list(bars), [v for v, _ in bars.values()], color=[c for _, c in bars.values()])
    ax.bar_label(drawn, fmt="%.3f")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)


def _labelled_bars_figure(bars: dict, *, ylabel: str, title: str):
    """A small figure of :func:`_labelled_bars` (a widget's one-setting panel)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), constrained_layout=True)
    _labelled_bars(ax, bars, ylabel=ylabel, title=title)
    return fig


_TEST_LABELS = {"id": "in-distribution", "ood_independent": "OOD: cue independent", "ood_flipped": "OOD: cue flipped"}


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


def _mean_and_seeds(ax, x, rows, *, color: str, label: str):
    """A bold mean curve over seeds (rows) with every seed's curve faint behind it."""
    import numpy as np

    rows = np.asarray(rows)
    ax.plot(x, rows.mean(0), "o-", color=color, label=label)
    for row in rows:
        ax.plot(x, row, "-", color=color, lw=0.5, alpha=0.4)
