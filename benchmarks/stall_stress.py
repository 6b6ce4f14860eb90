"""Stress test of headless execution: the widget cells of notebooks 05, 06 and 10, executed many times in a row.

Usage: python benchmarks/stall_stress.py [--repeats 30] [--busy] [--notebooks 05 06 10] [--cell-timeout 120]

For each notebook, one headless run (the same client as ``mmcl reproduce``: :mod:`mmcl_core.execution`) executes
the notebook up to its last widget cell once, then every widget cell (a cell that builds an ``interactive_panel``)
``--repeats`` more times in a row. papermill times each cell as the client saw it, so a missed wake-up shows as a
cell far slower than the others; the *reply lag* (the client's duration minus the kernel's own busy time, from the
kernel's status messages) shows it directly, apart from any slowdown of the computation itself. ``--busy`` keeps
the machine loaded meanwhile (a second process training a small torch model; every process then uses one thread).
Passes when no cell took more than 3x its median duration, no reply waited to be noticed for more than 3 median
cell durations and no run was reported ok after a timeout; each slow cell's reply lag tells a slower computation
(e.g. a full garbage collection, which :mod:`mmcl_core.widgets` keeps short with ``gc.freeze``) from a stalled
client.
"""

import argparse
import copy
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from _report import emit
from mmcl_core import cli, execution

ROOT = Path(__file__).resolve().parents[1]


def _busy(stop, parent: int):
    """Keep one process training a small model until told to stop or the parent is gone (the 'machine also busy'
    condition)."""
    import torch

    torch.set_num_threads(1)  # one busy core: the load of a second job, not a fight over the same threads
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x, y = torch.randn(512, 256), torch.randint(0, 10, (512,))
    while not stop.is_set() and os.getppid() == parent:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


def stress_notebook(path: Path, repeats: int) -> Path:
    """A copy of ``path`` cut after its last widget cell, with every widget cell repeated ``repeats`` times."""
    nb = nbformat.read(str(path), as_version=4)
    widget = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "interactive_panel(" in c.source]
    if not widget:
        raise ValueError(f"{path.name} has no widget cell")
    cells = nb.cells[: widget[-1] + 1]
    for i in widget:
        cells[i].metadata["stress"] = {"cell": i, "repeat": 0}
    for r in range(1, repeats + 1):
        for i in widget:
            cell = copy.deepcopy(nb.cells[i])
            cell.id = f"stress-{i}-{r}"
            cell.metadata["stress"] = {"cell": i, "repeat": r}
            cells.append(cell)
    nb.cells = cells
    target = Path(tempfile.mkdtemp(prefix="mmcl-stress-")) / path.name
    nbformat.write(nb, str(target))
    return target


def _kernel_seconds(cell) -> float:
    """How long the kernel itself was busy with the cell: from its 'busy' to its 'idle' status message (timestamps
    the kernel writes). The client's duration minus this is the time the reply waited to be noticed."""
    from datetime import datetime

    ex = cell.metadata.get("execution", {})
    busy, idle = ex.get("iopub.status.busy"), ex.get("iopub.status.idle")
    if not busy or not idle:
        return float("nan")
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(idle) - parse(busy)).total_seconds()


def run(stem: str, repeats: int, cell_timeout: float) -> dict:
    path = next((ROOT / "notebooks").glob(f"{stem}*.ipynb"))
    source = stress_notebook(path, repeats)
    executed = source.with_name("executed.ipynb")
    start = time.perf_counter()
    status, error = "ok", None
    try:
        with cli._this_interpreter_kernel():
            execution.execute(source, executed, parameters={"profile": "quick"}, cwd=str(path.parent),
                              cell_timeout=cell_timeout)
    except Exception as exc:  # a failed run is a result, not a crash
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:300]
    nb = nbformat.read(str(executed), as_version=4) if executed.exists() else nbformat.read(str(source), 4)
    durations, lags = {}, {}
    for cell in nb.cells:
        tag = cell.metadata.get("stress")
        seconds = cell.metadata.get("papermill", {}).get("duration")
        if tag and seconds is not None:
            durations.setdefault(tag["cell"], []).append(float(seconds))
            lags.setdefault(tag["cell"], []).append(float(seconds) - _kernel_seconds(cell))
    shutil.rmtree(source.parent, ignore_errors=True)
    return {"notebook": path.stem, "status": status, "error": error, "durations": durations, "lags": lags,
            "seconds": time.perf_counter() - start}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--notebooks", nargs="+", default=["05", "06", "10"])
    ap.add_argument("--busy", action="store_true", help="keep a second process training meanwhile")
    ap.add_argument("--cell-timeout", type=float, default=600.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.busy:  # 2 cores: one for the busy job, one for the notebooks (more threads than cores makes OpenMP
        os.environ["OMP_NUM_THREADS"] = "1"  # spin-wait, and computing cells 10-50x slower: not what is measured)
        os.environ["MKL_NUM_THREADS"] = "1"
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    busy = ctx.Process(target=_busy, args=(stop, os.getpid()), daemon=True) if args.busy else None
    if busy:
        busy.start()
    rows, per_run, ok = [], {}, True
    try:
        for stem in args.notebooks:
            result = run(stem, args.repeats, args.cell_timeout)
            timed_out = result["status"] != "ok" and "timed out" in (result["error"] or "").lower()
            ok &= result["status"] == "ok"
            for cell, ds in result["durations"].items():
                med = statistics.median(ds)
                slow = sum(d > 3 * med for d in ds)
                lag = result["lags"][cell]
                stalled = sum(v > 3 * med for v in lag)  # the reply waited longer than 3 typical cells
                ok &= stalled == 0 and slow == 0 and not timed_out
                rows.append({"notebook": result["notebook"], "cell": cell, "runs": len(ds), "median_s": med,
                             "max_s": max(ds), "above_3x_median": slow, "max_reply_lag_s": max(lag),
                             "lag_above_3x_median": stalled,
                             "status": result["status"]})
                per_run[f"{result['notebook']}#{cell}"] = [round(d, 4) for d in ds]
                per_run[f"{result['notebook']}#{cell} reply lag"] = [round(v, 4) for v in lag]
            if result["error"]:
                print(f"{result['notebook']}: {result['error']}", file=sys.stderr)
    finally:
        if busy:
            stop.set()
            busy.join(timeout=10)
    emit("stall_stress", rows, args.json, {"busy": args.busy, "repeats": args.repeats, "per_run_seconds": per_run,
                                           "passed": ok})
    print("PASSED" if ok else "FAILED", "(no cell above 3x its median, no reply waited longer than 3 median cells, "
          "no run ok after a timeout)")
    slow = sum(r["above_3x_median"] for r in rows)
    if slow:
        print(f"{slow} cell(s) took more than 3x their median in all; each one's reply lag is in the table: a small "
              "lag "
              "means the kernel itself computed longer (a busy machine), not a missed reply")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
