"""The ``mmcl`` command: ``mmcl reproduce`` runs the notebooks headlessly (``--html``: and builds the course site),
``mmcl site`` builds the course site from a run, ``mmcl list`` describes the notebooks, ``mmcl course build`` writes
the student and instructor versions. This is the only module that imports papermill.

Notebooks run with the interpreter ``mmcl`` itself runs in: a private kernelspec named
``python3`` pointing at ``sys.executable`` is put first on ``JUPYTER_PATH`` for the run,
so whatever other ``python3`` kernel Jupyter would find first is never used.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from ._checks import check_choice
from .device import DEVICE_CHOICES, get_device
from .notebooks import find_notebook_dir, list_notebooks
from .report import METRICS_ENV, read_metrics_file
from .site import build_site
from .site import check_available as check_site_available

__all__ = ["PROFILES", "find_notebook_dir", "list_notebooks", "notebook_info", "parse_parameter",
           "reproduce", "main"]

PROFILES = ("quick", "full")
KERNEL_NAME = "python3"


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


def _widget_error_outputs(nb) -> list[str]:
    """Error outputs kept in the saved Output-widget state (widget callbacks, which papermill does not treat as
    failures)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [f"widget {model_id}: {out.get('ename')}: {out.get('evalue')}"
            for model_id, model in state.items() for out in model.get("state", {}).get("outputs", []) or []
            if isinstance(out, dict) and out.get("output_type") == "error"]


def _error_outputs(nb) -> list[str]:
    """Error outputs left in an executed notebook: in cells and in Output-widget state."""
    found = [f"cell {index}: {out.get('ename')}: {out.get('evalue')}"
             for index, cell in enumerate(nb.cells) for out in cell.get("outputs", [])
             if out.get("output_type") == "error"]
    return found + _widget_error_outputs(nb)


def _student_tail(instructor_nb, student_path: Path):
    """(index in the instructor notebook where the exercises start, the student notebook's cells from there on).

    The two versions share every code cell before the first exercise (``course.build`` rewrites only exercise
    cells), so the student version is the instructor's executed prefix followed by this tail."""
    import nbformat

    from .course import exercise_cells

    student_nb = nbformat.read(str(student_path), as_version=4)
    found_i, found_s = exercise_cells(instructor_nb), exercise_cells(student_nb)
    at_i = found_i[0][0] if found_i else len(instructor_nb.cells)
    at_s = found_s[0][0] if found_s else len(student_nb.cells)
    prefix_i = [c.source for c in instructor_nb.cells[:at_i] if c.cell_type == "code"]
    prefix_s = [c.source for c in student_nb.cells[:at_s] if c.cell_type == "code"]
    if prefix_i != prefix_s:
        raise ValueError(f"{student_path.name}: the student and instructor versions differ before the first exercise")
    return at_i, student_nb.cells[at_s:]


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _check_jobs(jobs) -> int:
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise TypeError(f"jobs must be an int >= 1, got {type(jobs).__name__}")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1 (notebooks run at once), got {jobs}")
    return jobs


def _run_one(path: Path, out_dir: Path, parameters: dict, device: str, cell_timeout: float | None = None,
             student: Path | None = None, threads: int | None = None) -> dict:
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    from . import execution

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
    tail_at, tail = None, None
    if student is not None:
        tail_at, tail = _student_tail(nbformat.read(str(path), as_version=4), student)
    start = time.perf_counter()
    env = {"MMCL_FIG_DIR": fig_dir, METRICS_ENV: metrics_path, "MMCL_DEVICE": device}
    if threads is not None:  # several notebooks at once: share the cores instead of oversubscribing them
        env.update({name: threads for name in _THREAD_VARIABLES})
    ran_tail = None
    try:
        ran_tail = execution.execute(path, executed, parameters=parameters, kernel_name=KERNEL_NAME,
                                     cwd=str(path.parent), cell_timeout=cell_timeout, student_tail=tail,
                                     tail_at=tail_at, env=env)
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
    if student is not None:
        record["student"] = _student_record(executed, ran_tail, out_dir / "student" / path.name)
    return record


def _student_record(executed: Path, ran_tail, target: Path) -> dict:
    """The executed student version (the instructor's executed cells before the first exercise + the executed
    student tail), written to ``target`` and judged by :func:`mmcl_core.course.student_problems`."""
    import nbformat

    from .course import exercise_cells, student_problems

    if ran_tail is None or not executed.exists():
        return {"problems": ["not checked: the instructor version failed before the exercises"], "exercises": 0}
    nb = nbformat.read(str(executed), as_version=4)
    found = exercise_cells(nb)
    nb.cells = nb.cells[:found[0][0] if found else len(nb.cells)] + list(ran_tail)
    nb.metadata.setdefault("mmcl", {})["version"] = "student"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))
    return {"problems": student_problems(nb) + _widget_error_outputs(nb), "exercises": len(exercise_cells(nb)),
            "executed": str(target)}


def _check_cell_timeout(cell_timeout):
    """None (no limit) or a finite number of seconds ≥ 1."""
    if cell_timeout is None:
        return None
    if isinstance(cell_timeout, bool) or not isinstance(cell_timeout, (int, float)):
        raise TypeError(f"cell_timeout must be a number of seconds or None, got {type(cell_timeout).__name__}")
    if not math.isfinite(cell_timeout) or cell_timeout < 1:
        raise ValueError(f"cell_timeout must be a finite number of seconds >= 1 (or None for no limit), "
                         f"got {cell_timeout}")
    return int(math.ceil(cell_timeout))


def reproduce(profile: str = "quick", only: str | None = None, out="runs/latest", parameters: dict | None = None,
              device: str = "auto", notebook_dir=None, progress: bool = True, stream=None,
              cell_timeout: float | None = 1200.0, html: bool = False, student_dir=None, jobs: int = 1) -> dict:
    """Execute the notebooks in order with papermill and write ``<out>/summary.json``.

    Each notebook runs once, through :func:`mmcl_core.execution.execute` (short polls, IPC kernel, stall
    watchdog), so a stalled client fails its notebook fast instead of hanging or passing.

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
        html: also build the course site into ``<out>/html/`` (:func:`mmcl_core.site.build_site`: Sphinx pages of
            the sessions, the executed notebooks with each widget as its batch figure, the paper notes).
        student_dir: the ``student`` folder of ``mmcl course build`` when ``notebook_dir`` is its ``instructor``
            folder: each notebook's student exercise cells then run in the same kernel, just before the
            instructor's (the versions share everything before the first exercise), and each record gains
            ``student``: ``{"problems": [...], "exercises": n, "executed": path}``; no problems means every
            student exercise cell raised ``NotImplementedError`` and nothing else failed.
        jobs: notebooks executed at once, each in its own kernel with ``cores // jobs`` BLAS/OpenMP threads
            (default 1: one after the other, every core to each). A notebook that reads the run's metrics (the
            synthesis, parameter ``metrics_dir``) runs after all the others. Cell timings of a parallel run
            are not comparable with a serial one.

    Returns:
        The summary dict: ``{"profile", "device", "notebooks": {name: {status, seconds, metrics,
        figures, error, ...}}}``. Failed notebooks do not stop the others.
    """
    cell_timeout, jobs, parameters = _checked_run_options(profile, device, html, cell_timeout, jobs, parameters)
    paths = list_notebooks(notebook_dir, only)
    infos = [notebook_info(p) for p in paths]
    _check_parameters(parameters, infos)
    out_dir = _writable_folder(out)
    stream = stream or sys.stdout
    summary = {"profile": profile, "device": device, "python": sys.executable, "notebooks": {}}
    jobs = min(jobs, max(1, len(paths)))
    tasks = _reproduce_tasks(paths, infos, profile, parameters, device, student_dir)
    with _this_interpreter_kernel():
        records = _execute_tasks(tasks, jobs, out_dir, device, cell_timeout, stream,
                                 desc=f"mmcl reproduce ({profile})", progress=progress)
    summary["jobs"] = jobs
    for path, *_ in tasks:
        summary["notebooks"][path.stem] = records[path]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    _print_table(summary, stream)
    print(f"wrote {out_dir / 'summary.json'}", file=stream)
    if html:
        built = build_site(out_dir, out_dir / "html")
        summary["site"] = {k: (str(v) if k == "index" else v) for k, v in built.items()}
        print(f"wrote {built['index']} ({built['pages']} pages, {built['size_bytes'] / 1e6:.1f} MB, "
              f"{built['seconds']:.0f} s)", file=stream)
    return summary


def _checked_run_options(profile, device, html, cell_timeout, jobs, parameters) -> tuple:
    """:func:`reproduce`'s options, checked before anything runs: (cell_timeout, jobs, parameters)."""
    check_choice("profile", profile, PROFILES)
    check_choice("device", device, DEVICE_CHOICES)
    if not isinstance(html, bool):
        raise TypeError(f"html must be a bool, got {type(html).__name__}")
    if html:
        check_site_available()  # before running anything
    cell_timeout = _check_cell_timeout(cell_timeout)
    jobs = _check_jobs(jobs)
    if device != "auto":
        get_device(device)  # fail before running anything if the accelerator is missing
    parameters = dict(parameters or {})
    if "profile" in parameters:
        raise ValueError("parameters must not contain 'profile'; use the profile argument")
    if "device" in parameters:
        raise ValueError("parameters must not contain 'device'; use the device argument (--device)")
    return cell_timeout, jobs, parameters


def _writable_folder(out) -> Path:
    out_dir = Path(out).resolve()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".mmcl-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"out {str(out)!r} is not a writable folder: {exc.strerror or exc}") from None
    return out_dir


def _reproduce_tasks(paths, infos, profile, parameters, device, student_dir) -> list:
    """One ``(path, parameters, student notebook, reads metrics, expected seconds)`` per notebook."""
    tasks = []
    for path, info in zip(paths, infos):
        params = {"profile": profile, **{k: v for k, v in parameters.items() if k in info["parameters"]}}
        if "device" in info["parameters"]:
            params["device"] = device
        student = None
        if student_dir is not None:
            student = Path(student_dir) / path.name
            if not student.is_file():
                raise ValueError(f"student_dir {student_dir!s} has no {path.name}")
        tasks.append((path, params, student, "metrics_dir" in info["parameters"],
                      float(info["runtime_s"].get(profile, 0) or 0)))
    return tasks


def _report_failure(path, record, stream) -> None:
    if record.get("student", {}).get("problems"):
        print(f"\nSTUDENT VERSION {path.name}: " + "; ".join(record["student"]["problems"]), file=stream)
    if record["status"] != "ok":
        print(f"\nFAILED {path.name}: {record['error']}", file=stream)
        if record.get("traceback"):
            print(record["traceback"], file=stream)


def _execute_tasks(tasks, jobs, out_dir, device, cell_timeout, stream, *, desc, progress) -> dict:
    """Run every task (``jobs`` at once, each kernel with cores // jobs threads; a notebook that reads the others'
    metrics last); path -> record."""
    from tqdm.auto import tqdm

    records = {}
    bar = tqdm(total=len(tasks), desc=desc, unit="nb", disable=not progress)

    def one(path, params, student, threads=None):
        bar.set_postfix_str(path.stem)
        records[path] = _run_one(path, out_dir, params, device, cell_timeout, student, threads)
        _report_failure(path, records[path], stream)
        bar.update()

    if jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        from . import execution

        execution.register()
        threads = max(1, (os.cpu_count() or 1) // jobs)
        first = sorted((t for t in tasks if not t[3]), key=lambda t: -t[4])  # longest first
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mmcl-notebook") as pool:
            for future in [pool.submit(one, path, params, student, threads) for path, params, student, *_ in first]:
                future.result()
    for path, params, student, *_ in (t for t in tasks if jobs == 1 or t[3]):  # metrics readers last
        one(path, params, student)
    bar.close()
    return records


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
                        cell_timeout=args.cell_timeout or None, html=args.html, jobs=args.jobs)
    failed = [n for n, r in summary["notebooks"].items() if r["status"] != "ok"]
    return 1 if failed else 0


def _cmd_course_build(args) -> int:
    from .course import build

    built = build(args.out, args.notebook_dir)
    out = Path(args.out)
    n_ex = sum(len(v) for v in built["exercises"].values())
    print(f"wrote {len(built['student'])} student and {len(built['instructor'])} instructor notebooks "
          f"({n_ex} exercises) under {out}")
    if not args.execute:
        return 0
    summary = reproduce(profile="quick", out=out / "run", notebook_dir=out / "instructor",
                        student_dir=out / "student", progress=not args.no_progress, html=True,
                        cell_timeout=args.cell_timeout or None, jobs=args.jobs)
    failed = [n for n, r in summary["notebooks"].items() if r["status"] != "ok"]
    passed = sum(1 for r in summary["notebooks"].values() for k in r["metrics"] if k.startswith("exercise_"))
    ok = len(summary['notebooks']) - len(failed)
    print(f"instructor version: {ok} notebooks ok, {passed}/{n_ex} checkers passed")
    problems = {n: r["student"]["problems"] for n, r in summary["notebooks"].items() if r["student"]["problems"]}
    print(f"student version: {len(summary['notebooks']) - len(problems)}/{len(summary['notebooks'])} notebooks fail "
          "only with NotImplementedError in their exercise cells (run in the same kernel, before the solutions)")
    return 1 if failed or problems or passed != n_ex else 0


def _cmd_site(args) -> int:
    built = build_site(args.run, args.out, quiet=not args.verbose)
    for line in built["warnings"]:
        print(line, file=sys.stderr)
    print(f"wrote {built['index']}: {built['pages']} pages ({len(built['notebooks'])} notebooks), "
          f"{built['size_bytes'] / 1e6:.1f} MB, {built['seconds']:.0f} s; open it in a browser, no network needed")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmcl",
                                     description="MMCL Theory Lab: run and list the notebooks, build the course.")
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
    rep.add_argument("--html", action="store_true",
                     help="also build the course site into DIR/html (as `mmcl site --run DIR`)")
    rep.add_argument("--jobs", "-j", metavar="N", type=int, default=1,
                     help="notebooks run at once, sharing the cores (default 1; the synthesis runs last)")
    rep.set_defaults(func=_cmd_reproduce)
    site = sub.add_parser("site", help="build the course site (HTML) from the executed notebooks of a run")
    site.add_argument("--run", metavar="DIR", default="runs/latest",
                      help="the --out folder of `mmcl reproduce` (default runs/latest)")
    site.add_argument("--out", metavar="DIR", help="where the site goes (default RUN/html)")
    site.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    site.set_defaults(func=_cmd_site)
    lst = sub.add_parser("list", help="describe each notebook, its parameters and runtime")
    lst.add_argument("--only", metavar="GLOB")
    lst.add_argument("--notebook-dir", metavar="DIR")
    lst.set_defaults(func=_cmd_list)
    course = sub.add_parser("course", help="course module: student and instructor versions")
    course_sub = course.add_subparsers(dest="course_command", required=True)
    cb = course_sub.add_parser("build", help="write DIR/student (exercise stubs) and DIR/instructor (solutions)")
    cb.add_argument("--out", metavar="DIR", required=True, help="output folder")
    cb.add_argument("--notebook-dir", metavar="DIR", help="folder with the source notebooks (default: found)")
    cb.add_argument("--execute", action="store_true",
                    help="also run both versions (quick profile): the instructor one must pass every checker, the "
                         "student one may fail only with NotImplementedError in exercise cells")
    cb.add_argument("--no-progress", action="store_true", help="no progress bar")
    cb.add_argument("--jobs", "-j", metavar="N", type=int, default=1,
                    help="with --execute: notebooks run at once, sharing the cores (default 1)")
    cb.add_argument("--cell-timeout", metavar="SECONDS", type=float, default=1200.0,
                    help="fail a notebook whose cell runs longer than this (default 1200; 0: no limit)")
    cb.set_defaults(func=_cmd_course_build)
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
