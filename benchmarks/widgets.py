"""Benchmark: median latency of one update of every notebook's interactive function (compute + draw).

Usage: python benchmarks/widgets.py [--quick] [--repeats 5] [--summary runs/latest/summary.json] [--json PATH]

Closed-form and live-simulation panels are timed directly at their default settings; sweep-backed panels are timed on
a sweep built here (the Huang phase diagram and the ColoredDigits table; ``--quick``: tiny trainings, since the
update only reads them). ``--summary`` adds the latencies the notebooks themselves recorded in an ``mmcl reproduce``
run (every metric whose name contains "widget"). Bounds of issue #8: closed form <= 0.3 s, sweep-backed <= 1 s.
"""

import argparse
import statistics
import time

import matplotlib

matplotlib.use("Agg")  # a script, not a notebook: no display

import matplotlib.pyplot as plt  # noqa: E402

from _report import emit  # noqa: E402
from mmcl_core import figures  # noqa: E402
from mmcl_core.experiments import huang2024 as huang  # noqa: E402
from mmcl_core.experiments import nakada2023 as nakada  # noqa: E402
from mmcl_core.experiments import real_data, start_here, synthesis  # noqa: E402
from mmcl_core.experiments import xue2024 as xue  # noqa: E402
from mmcl_core.experiments import zhang2023 as zhang  # noqa: E402

BOUNDS = {"closed form": 0.3, "live simulation": 1.0, "sweep-backed": 1.0, "run button (training)": 3.0}
# what each notebook's recorded latency metrics time (notebooks 00-04 time closed-form panels; 05 both kinds)
RECORDED = {"closed_form_widget_seconds": "closed form", "simulation_widget_seconds": "live simulation",
            "live_widget_seconds": "run button (training)", "phase_widget_seconds": "sweep-backed"}
NOTEBOOK_KIND = {"00_start_here": "closed form", "01_real_data_tour": "closed form", "02_zhang_theory": "closed form",
                 "04_nakada_svd": "closed form", "10_synthesis": "live simulation"}


def _direct_panels():
    return [
        ("00_start_here", "svd_view", "closed form", start_here.svd_view, figures.plot_start_here),
        ("01_real_data_tour", "caption_controls", "closed form", real_data.caption_controls,
         figures.plot_caption_controls),
        ("02_zhang_theory", "style_confounded", "closed form", zhang.style_confounded, figures.plot_style_confounded),
        ("04_nakada_svd", "recovery_panel", "closed form", nakada.recovery_panel, figures.plot_recovery_panel),
        ("04_nakada_svd", "svd_step_panel", "closed form", nakada.svd_step_panel, figures.plot_svd_steps),
        ("05_nakada_unpaired", "linear_proxy_panel", "live simulation", nakada.linear_proxy_panel,
         figures.plot_linear_proxy_panel),
        ("08_xue_theory", "closed_form_panel", "closed form", xue.closed_form_panel, figures.plot_xue_closed_panel),
        ("08_xue_theory", "simulation_panel", "live simulation", xue.simulation_panel, figures.plot_sim_panel),
        ("10_synthesis", "lens_panel", "live simulation", synthesis.lens_panel, figures.plot_lens_panel),
    ]


def _sweep_panels(quick: bool):
    phase = huang.phase_diagram((0.2, 0.5, 1.0, 2.0, 5.0), (1.0, 3.0), seeds=(0, 1),
                                **({"epochs": 50} if quick else {}))
    tables = [huang.colored_digits_table(("single", "multi_ideal_digit"), epochs=2 if quick else 200, seed=s,
                                         device="cpu") for s in (0, 1)]
    return [
        ("06_huang_synthetic", "phase_lookup", "sweep-backed", lambda: huang.phase_lookup(phase, 1.0, 3.0),
         figures.plot_phase_heatmap),
        ("07_huang_colored_digits", "colored_digits_summary", "sweep-backed",
         lambda: huang.colored_digits_summary(tables), lambda s: figures.plot_colored_digits(s, paper=huang.TABLE1)),
    ]


def _median_seconds(compute, draw, repeats):
    plt.close(draw(compute()))  # warm-up: imports, caches, first draw
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fig = draw(compute())
        fig.canvas.draw()  # render, as the inline backend does
        times.append(time.perf_counter() - start)
        plt.close(fig)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sweeps behind the sweep-backed panels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--summary", help="summary.json of an `mmcl reproduce` run: add its recorded latencies")
    parser.add_argument("--json", help="where to write the results (default benchmarks/results/widgets.json)")
    args = parser.parse_args()
    rows = []
    for notebook, panel, kind, compute, draw in _direct_panels() + _sweep_panels(args.quick):
        seconds = _median_seconds(compute, draw, args.repeats)
        rows.append({"notebook": notebook, "panel": panel, "kind": kind, "median_s": seconds,
                     "bound_s": BOUNDS[kind], "ok": seconds <= BOUNDS[kind], "source": "timed here"})
    if args.summary:
        import json

        summary = json.load(open(args.summary))
        for notebook, info in summary["notebooks"].items():
            for name, value in info.get("metrics", {}).items():
                if "widget" in name and name.endswith("seconds"):
                    kind = RECORDED.get(name, NOTEBOOK_KIND.get(notebook, "sweep-backed"))
                    bound = BOUNDS[kind]
                    rows.append({"notebook": notebook, "panel": name, "kind": kind, "median_s": float(value),
                                 "bound_s": bound, "ok": float(value) <= bound,
                                 "source": f"recorded ({summary.get('profile', '?')} profile)"})
    emit("widgets", rows, args.json, {"quick": args.quick, "repeats": args.repeats})


if __name__ == "__main__":
    main()
