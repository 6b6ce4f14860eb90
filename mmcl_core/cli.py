"""The ``mmcl`` command: ``mmcl reproduce`` runs the notebooks headlessly, ``mmcl list``
describes them. This is the only module that imports papermill.

Notebooks run with the interpreter ``mmcl`` itself runs in: a private kernelspec named
``python3`` pointing at ``sys.executable`` is put first on ``JUPYTER_PATH`` for the run,
so whatever other ``python3`` kernel Jupyter would find first is never used.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fnmatch
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ._checks import check_choice
from .device import DEVICE_CHOICES, get_device
from .report import METRICS_ENV, read_metrics_file

__all__ = ["PROFILES", "find_notebook_dir", "list_notebooks", "notebook_info", "parse_parameter",
           "reproduce", "main"]

PROFILES = ("quick", "full")
KERNEL_NAME = "python3"
_NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"


def find_notebook_dir(notebook_dir=None) -> Path:
    """The notebooks folder: the argument, ``MMCL_NOTEBOOK_DIR``, the source checkout, or ./notebooks."""
    candidates = [notebook_dir, os.environ.get("MMCL_NOTEBOOK_DIR"),
                  Path(__file__).resolve().parent.parent / "notebooks", Path.cwd() / "notebooks"]
    for cand in candidates:
        if cand and Path(cand).is_dir() and any(Path(cand).glob(_NOTEBOOK_GLOB)):
            return Path(cand).resolve()
    if notebook_dir is not None:
        raise ValueError(f"notebook_dir {notebook_dir!s} has no notebooks named like {_NOTEBOOK_GLOB}")
    raise ValueError("no notebooks folder found: run from the project checkout or set MMCL_NOTEBOOK_DIR")


def list_notebooks(notebook_dir=None, only: str | None = None) -> list[Path]:
    """Numbered notebooks in order, optionally filtered by a glob on the file name or stem."""
    paths = sorted(find_notebook_dir(notebook_dir).glob(_NOTEBOOK_GLOB))
    if only:
        paths = [p for p in paths if fnmatch.fnmatch(p.name, only) or fnmatch.fnmatch(p.stem, only)]
        if not paths:
            raise ValueError(f"only={only!r} matches no notebook")
    return paths


def notebook_info(path) -> dict:
    """Title, what it reproduces, expected runtimes and parameters of one notebook."""
    import nbformat
    import papermill

    nb = nbformat.read(str(path), as_version=4)
    meta = nb.metadata.get("mmcl", {})
    return {
        "name": Path(path).stem,
        "title": meta.get("title", Path(path).stem),
        "reproduces": meta.get("reproduces", ""),
        "runtime_s": dict(meta.get("runtime_s", {})),
        "accelerator": meta.get("accelerator", "cpu"),
        "parameters": papermill.inspect_notebook(str(path)),
    }


def parse_parameter(text: str) -> tuple[str, object]:
    """Parse ``NAME=VALUE``; VALUE is a Python literal (``0.5``, ``True``, ``'x'``) or else a string."""
    if not isinstance(text, str) or "=" not in text:
        raise ValueError(f"parameter must look like NAME=VALUE, got {text!r}")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise ValueError(f"parameter name must be a Python identifier, got {name!r}")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return name, value


_TYPE_CHECKS = {
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
}


def _check_parameters(params: dict, infos: list[dict]) -> None:
    """Every override must be declared by some selected notebook, with a compatible type."""
    for name, value in params.items():
        declared = [info["parameters"][name] for info in infos if name in info["parameters"]]
        if not declared:
            names = sorted({p for info in infos for p in info["parameters"]})
            raise ValueError(f"parameter {name!r} is not declared by the selected notebooks; they declare {names}")
        for spec in declared:
            expected = (spec.get("inferred_type_name") or "").strip()
            check = _TYPE_CHECKS.get(expected)
            if check is not None and not check(value):
                raise TypeError(f"parameter {name!r} must be of type {expected} (default {spec.get('default')}), "
                                f"got {value!r}")


@contextlib.contextmanager
def _environment(**updates):
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update({k: str(v) for k, v in updates.items()})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _this_interpreter_kernel():
    """Make kernel ``python3`` mean this interpreter for the duration of the block."""
    with tempfile.TemporaryDirectory(prefix="mmcl-kernel-") as tmp:
        spec_dir = Path(tmp) / "kernels" / KERNEL_NAME
        spec_dir.mkdir(parents=True)
        spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"Python 3 ({sys.executable})", "language": "python",
                "metadata": {"debugger": False}}
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
        path = os.pathsep.join(p for p in (tmp, os.environ.get("JUPYTER_PATH", "")) if p)
        with _environment(JUPYTER_PATH=path):
            yield sys.executable


def _error_outputs(nb) -> list[str]:
    """Error outputs left in an executed notebook (cells and Output-widget state), e.g. from
    widget callbacks that papermill does not treat as failures."""
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for model_id, model in state.items():
        for out in model.get("state", {}).get("outputs", []) or []:
            if isinstance(out, dict) and out.get("output_type") == "error":
                found.append(f"widget {model_id}: {out.get('ename')}: {out.get('evalue')}")
    return found


def _run_one(path: Path, out_dir: Path, parameters: dict, device: str, cell_timeout: float | None = None) -> dict:
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    name = path.stem
    fig_dir = out_dir / "figures" / name
    fig_dir.mkdir(parents=True, exist_ok=True)
    metrics_path = out_dir / "metrics" / f"{name}.jsonl"
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.unlink(missing_ok=True)
    executed = out_dir / "notebooks" / path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    record = {"status": "ok", "seconds": 0.0, "metrics": {}, "figures": [], "error": None,
              "parameters": parameters, "executed": str(executed)}
    start = time.perf_counter()
    env = {"MMCL_FIG_DIR": fig_dir, METRICS_ENV: metrics_path, "MMCL_DEVICE": device}
    try:
        with _environment(**env):
            papermill.execute_notebook(str(path), str(executed), parameters=parameters, kernel_name=KERNEL_NAME,
                                       progress_bar=False, cwd=str(path.parent), log_output=False,
                                       execution_timeout=cell_timeout)
        leftovers = _error_outputs(nbformat.read(str(executed), as_version=4))
        if leftovers:
            record.update(status="failed", error="error output(s) not raised by the kernel: " + "; ".join(leftovers))
    except PapermillExecutionError as exc:
        tb = "\n".join(exc.traceback[-6:]) if exc.traceback else ""
        record.update(status="failed",
                      error=f"cell {exc.exec_count} (index {exc.cell_index}): {exc.ename}: {exc.evalue}",
                      traceback=tb, cell_source=exc.source)
    except Exception as exc:  # kernel died, notebook unreadable, ...: report, keep going
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    record["seconds"] = round(time.perf_counter() - start, 2)
    record["metrics"] = read_metrics_file(metrics_path)
    record["figures"] = sorted(str(p.relative_to(out_dir)) for p in fig_dir.glob("*") if p.is_file())
    return record


def reproduce(profile: str = "quick", only: str | None = None, out="runs/latest", parameters: dict | None = None,
              device: str = "auto", notebook_dir=None, progress: bool = True, stream=None,
              cell_timeout: float | None = 1200.0) -> dict:
    """Execute the notebooks in order with papermill and write ``<out>/summary.json``.

    Args:
        profile: "quick" (seconds to a minute each, 2 CPU cores) or "full" (paper scale).
        only: glob on notebook names (e.g. ``"00*"``); None runs all.
        out: output folder for executed notebooks, figures (PNG + PDF) and summary.json.
        parameters: overrides, NAME -> value; each must be declared by a selected notebook.
        device: "auto", "cpu", "cuda" or "mps"; an unavailable accelerator is an error.
        notebook_dir: folder with the notebooks (default: found automatically).
        progress: show a progress bar over notebooks.
        stream: where to print the table and errors (default stdout).
        cell_timeout: seconds one cell may run before the notebook fails (None: no limit); a stalled kernel then
            fails its notebook instead of hanging the run.

    Returns:
        The summary dict: ``{"profile", "device", "notebooks": {name: {status, seconds, metrics,
        figures, error, ...}}}``. Failed notebooks do not stop the others.
    """
    check_choice("profile", profile, PROFILES)
    check_choice("device", device, DEVICE_CHOICES)
    if device != "auto":
        get_device(device)  # fail before running anything if the accelerator is missing
    parameters = dict(parameters or {})
    if "profile" in parameters:
        raise ValueError("parameters must not contain 'profile'; use the profile argument")
    paths = list_notebooks(notebook_dir, only)
    infos = [notebook_info(p) for p in paths]
    _check_parameters(parameters, infos)
    out_dir = Path(out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    stream = stream or sys.stdout
    summary = {"profile": profile, "device": device, "python": sys.executable, "notebooks": {}}
    from tqdm.auto import tqdm

    with _this_interpreter_kernel():
        bar = tqdm(list(zip(paths, infos)), desc=f"mmcl reproduce ({profile})", unit="nb", disable=not progress)
        for path, info in bar:
            bar.set_postfix_str(path.stem)
            params = {"profile": profile, **{k: v for k, v in parameters.items() if k in info["parameters"]}}
            if "device" in info["parameters"]:
                params["device"] = device
            record = _run_one(path, out_dir, params, device, cell_timeout)
            summary["notebooks"][path.stem] = record
            if record["status"] != "ok":
                print(f"\nFAILED {path.name}: {record['error']}", file=stream)
                if record.get("traceback"):
                    print(record["traceback"], file=stream)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _print_table(summary, stream)
    print(f"wrote {out_dir / 'summary.json'}", file=stream)
    return summary


def _print_table(summary: dict, stream) -> None:
    rows = [(name, r["status"], f"{r['seconds']:.1f}", str(len(r["figures"])), str(len(r["metrics"])))
            for name, r in summary["notebooks"].items()]
    header = ("notebook", "status", "seconds", "figures", "metrics")
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print("\n" + line + "\n" + "-" * len(line), file=stream)
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)), file=stream)


def _cmd_list(args) -> int:
    for path in list_notebooks(args.notebook_dir, args.only):
        info = notebook_info(path)
        runtime = ", ".join(f"{k} ~{v}s" for k, v in info["runtime_s"].items()) or "unknown"
        print(f"{info['name']}: {info['title']}")
        print(f"  reproduces: {info['reproduces']}")
        print(f"  runtime:    {runtime}   accelerator: {info['accelerator']}")
        for p in info["parameters"].values():
            print(f"    {p['name']}: {p['inferred_type_name']} = {p['default']}  {p['help']}")
        print()
    return 0


def _cmd_reproduce(args) -> int:
    params = dict(parse_parameter(p) for p in args.parameter)
    summary = reproduce(profile=args.profile, only=args.only, out=args.out, parameters=params,
                        device=args.device, notebook_dir=args.notebook_dir, progress=not args.no_progress,
                        cell_timeout=args.cell_timeout or None)
    failed = [n for n, r in summary["notebooks"].items() if r["status"] != "ok"]
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcl", description="MMCL Theory Lab: run and list the notebooks.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="execute the notebooks headlessly (papermill)")
    rep.add_argument("--profile", choices=PROFILES, default="quick", help="quick (default) or full (paper scale)")
    rep.add_argument("--only", metavar="GLOB", help="run only notebooks whose name matches, e.g. '00*'")
    rep.add_argument("--out", metavar="DIR", default="runs/latest", help="output folder (default runs/latest)")
    rep.add_argument("-p", "--parameter", metavar="NAME=VALUE", action="append", default=[],
                     help="override a notebook parameter (repeatable)")
    rep.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device (default auto)")
    rep.add_argument("--notebook-dir", metavar="DIR", help="folder with the notebooks (default: found)")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep.add_argument("--cell-timeout", metavar="SECONDS", type=float, default=1200.0,
                     help="fail a notebook whose cell runs longer than this (default 1200; 0: no limit)")
    rep.set_defaults(func=_cmd_reproduce)
    lst = sub.add_parser("list", help="describe each notebook, its parameters and runtime")
    lst.add_argument("--only", metavar="GLOB")
    lst.add_argument("--notebook-dir", metavar="DIR")
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``mmcl`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError) as exc:
        print(f"mmcl: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
