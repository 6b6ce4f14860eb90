"""Notebook conventions, and every notebook executed through the code path of `mmcl reproduce`."""

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import papermill
import pytest

from mmcl_core import cli
from conftest import NOTEBOOK_DIR, NOTEBOOKS, ROOT

FIXTURE_DIR = ROOT / "tests" / "fixtures" / "broken_widget"
ALL = NOTEBOOKS + sorted(FIXTURE_DIR.glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"] and "papermill" not in nb["metadata"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_metadata_says_what_it_reproduces_and_how_long(path):
    meta = nbformat.read(str(path), as_version=4).metadata["mmcl"]
    assert meta["title"] and meta["reproduces"]
    assert set(meta["runtime_s"]) == {"quick", "full"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_states_its_goals_its_claim_and_what_to_remember(path):
    """A student's path: learning goals and the claim (an equation) at the top, "What to remember" at the end."""
    cells = nbformat.read(str(path), as_version=4).cells
    head = "\n".join(c.source for c in cells[:8] if c.cell_type == "markdown")
    assert "**Learning goals.**" in head
    claim = re.search(r"(\*\*The (claim|rule) in one equation\.\*\*|## The claim in one equation|## 1\. The claim)"
                      r"(.|\n){0,600}?\$", head)
    assert claim, "the claim, with an equation, near the top"
    assert any(c.cell_type == "markdown" and c.source.startswith("## What to remember") for c in cells)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_parameters_cell_first_annotated_commented_and_visible_to_papermill(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    assigned = []
    for node in ast.parse(code[0].source).body:
        assert isinstance(node, ast.AnnAssign), f"line {node.lineno}: parameters must be annotated (name: type = value)"
        assigned.append(node.target.id)
    for line in code[0].source.splitlines():
        assert "#" in line, f"parameter line without a comment: {line!r}"
    assert "profile" in assigned
    inspected = papermill.inspect_notebook(str(path))
    assert list(inspected) == assigned, "papermill cannot parse some parameter lines (e.g. '=' in a comment)"
    assert inspected["profile"]["default"] == '"quick"'


def test_parse_parameter():
    assert cli.parse_parameter("temperature=-1") == ("temperature", -1)
    assert cli.parse_parameter("name=abc") == ("name", "abc")
    assert cli.parse_parameter("flag=True") == ("flag", True)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        cli.parse_parameter("temperature")
    with pytest.raises(ValueError, match="identifier"):
        cli.parse_parameter("1x=2")


def test_unknown_or_mistyped_parameters_fail_before_running(tmp_path, capsys):
    assert cli.main(["reproduce", "--only", "00*", "--out", str(tmp_path), "-p", "no_such_name=1"]) == 2
    assert "no_such_name" in capsys.readouterr().err
    assert cli.main(["reproduce", "--only", "00*", "--out", str(tmp_path), "-p", "temperature='hot'"]) == 2
    assert "temperature" in capsys.readouterr().err
    assert not (tmp_path / "summary.json").exists()


def test_mmcl_list_shows_every_notebook_and_its_parameters(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for path in NOTEBOOKS:
        assert path.stem in out
    assert "profile: str" in out and "reproduces:" in out and "quick ~" in out


@pytest.mark.slow
def test_course_versions_run_and_reproduce_quick_writes_the_site(course_run):
    """The suite's one full execution (the `course_run` fixture), each notebook executed once: `mmcl course build`,
    then `mmcl reproduce --html` on the instructor version, two notebooks at a time, with the student version's
    exercise cells run in the same kernel (every notebook ok, every checker passed, the synthesis table complete, the
    site shows every figure; the student version fails only with NotImplementedError, and only in its exercise
    cells). The site in a real browser: test_site.py."""
    from mmcl_core import site as site_module
    from mmcl_core.exercises import EXERCISES
    from mmcl_core.experiments.synthesis import CLAIMS

    tmp_path, built, summary = course_run
    assert set(summary["notebooks"]) == {p.stem for p in NOTEBOOKS}
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["notebooks"].keys() == summary["notebooks"].keys()
    for name, record in summary["notebooks"].items():
        assert record["status"] == "ok", f"{name}: {record['error']}"
        assert record["metrics"], f"{name} recorded no metrics"
        pngs = {Path(f).stem for f in record["figures"] if f.endswith(".png")}
        pdfs = {Path(f).stem for f in record["figures"] if f.endswith(".pdf")}
        assert pngs and pngs == pdfs, f"{name}: every figure as PNG and PDF"
        assert (tmp_path / "run" / "notebooks" / f"{name}.ipynb").exists()
    metrics = {name: record["metrics"] for name, record in summary["notebooks"].items()}
    assert metrics["00_start_here"]["gradient_rel_error"] <= 1e-8
    passed = {k[len("exercise_"):] for m in metrics.values() for k, v in m.items() if k.startswith("exercise_") and v}
    assert passed == set(EXERCISES), set(EXERCISES) - passed  # the instructor version passes every checker
    for name, m in metrics.items():  # every panel of every notebook answered each of its options (widgets.Panel)
        source = "\n".join(c.source for c in nbformat.read(str(NOTEBOOK_DIR / f"{name}.ipynb"), as_version=4).cells)
        panels = [k for k in m if k.startswith("widget_options_") and not k.endswith("_max_seconds")]
        assert len(panels) == source.count("interactive_panel("), name
        assert all(m[k] >= 2 for k in panels), (name, {k: m[k] for k in panels})
    print("widget options answered:", sum(v for m in metrics.values() for k, v in m.items()
                                          if k.startswith("widget_options_") and not k.endswith("_max_seconds")))
    synthesis = metrics["10_synthesis"]
    assert synthesis["claims_rows"] == synthesis["claims_measured"] == synthesis["claims_as_found"] == len(CLAIMS)

    site = tmp_path / "run" / "html"
    index = (site / "index.html").read_text()
    assert summary["site"]["pages"] >= len(NOTEBOOKS) + 6 and summary["site"]["seconds"] <= 120, summary["site"]
    for name, record in summary["notebooks"].items():
        assert f'href="notebooks/{name}.html"' in index, name  # every notebook in the navigation
        page = (site / "notebooks" / f"{name}.html").read_text()
        nb = nbformat.read(record["executed"], as_version=4)
        site_module.static_widgets(nb)
        shown = sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))
        saved = sum(f.endswith(".png") for f in record["figures"])
        assert page.count("<img") == shown >= saved >= 1, (name, page.count("<img"), shown, saved)
        assert site_module.WIDGET_MIME not in page and "open the notebook in JupyterLab to use it" not in page

    # the student version, from the same run: its exercise cells ran in the same kernel before the solutions
    for name, record in summary["notebooks"].items():
        student = record["student"]
        assert student["problems"] == [], (name, student["problems"])
        assert student["exercises"] == len(built["exercises"].get(name, []))
        assert Path(student["executed"]).exists()
    assert sum(r["student"]["exercises"] for r in summary["notebooks"].values()) == len(EXERCISES)


@pytest.mark.slow
def test_bad_parameter_value_fails_fast_naming_it(tmp_path, capsys):
    start = time.perf_counter()
    code = cli.main(["reproduce", "-p", "temperature=-1", "--only", "00*", "--out", str(tmp_path), "--no-progress"])
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED 00_start_here" in out and "temperature must be in (0, inf), got -1" in out
    assert elapsed < 60
    record = json.loads((tmp_path / "summary.json").read_text())["notebooks"]["00_start_here"]
    assert record["status"] == "failed" and "temperature" in record["error"]


@pytest.mark.slow
def test_widget_callback_error_is_caught_by_reproduce(tmp_path):
    summary = cli.reproduce(out=tmp_path, notebook_dir=FIXTURE_DIR, progress=False)
    record = summary["notebooks"]["00_broken_widget"]
    assert record["status"] == "failed" and "deliberately broken widget callback" in record["error"]


def _tiny_notebook(tmp_path, name: str, parameters: str, code: str):
    """A two-cell notebook (tagged parameters cell, one code cell) in ``tmp_path/nbs``; returns that folder."""
    nb_dir = tmp_path / "nbs"
    nb_dir.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, str(nb_dir / f"{name}.ipynb"))
    return nb_dir


@pytest.mark.slow
def test_reproduce_runs_notebooks_with_its_own_interpreter(tmp_path):
    """From a non-activated environment, with a bogus 'python3' kernelspec found first."""
    bogus = tmp_path / "jupyter" / "kernels" / "python3"
    bogus.mkdir(parents=True)
    (bogus / "kernel.json").write_text(json.dumps(
        {"argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
         "display_name": "wrong python", "language": "python"}))
    nb_dir = _tiny_notebook(tmp_path, "00_which_python",
                            'profile: str = "quick"  # profile\nexpected: str = ""  # interpreter',
                            textwrap.dedent("""
        import sys
        from mmcl_core import report
        assert sys.executable == expected, (sys.executable, expected)
        report.record("same_interpreter", True)
    """))
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not Path(p, "python").resolve() == Path(sys.executable).resolve()) or "/usr/bin"
    env["JUPYTER_PATH"] = str(tmp_path / "jupyter")
    proc = subprocess.run([sys.executable, "-m", "mmcl_core.cli", "reproduce", "--notebook-dir", str(nb_dir),
                           "--out", str(tmp_path / "out"), "--no-progress", "-p", f"expected={sys.executable!r}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["notebooks"]["00_which_python"]["metrics"] == {"same_interpreter": True}


@pytest.mark.slow
def test_a_stalled_cell_fails_its_notebook_instead_of_hanging(tmp_path):
    nb_dir = _tiny_notebook(tmp_path, "00_stalls", 'profile: str = "quick"  # profile', "import time\ntime.sleep(60)")
    start = time.perf_counter()
    summary = cli.reproduce(out=tmp_path / "out", notebook_dir=nb_dir, progress=False, cell_timeout=3)
    record = summary["notebooks"]["00_stalls"]
    assert record["status"] == "failed" and "timed out" in record["error"].lower(), record["error"]
    assert time.perf_counter() - start < 45


def test_cli_failures_are_clean_errors_before_anything_runs(tmp_path, capsys):
    """A missing notebook folder, a bad cell timeout, an unwritable --out and -p device=... fail with
    `mmcl: error: ...` and status 2, running nothing."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = [(["reproduce", "--notebook-dir", str(tmp_path / "nonexistent"), "--only", "00*"], "notebook_dir"),
             (["list", "--notebook-dir", str(tmp_path / "nonexistent")], "notebook_dir"),
             (["reproduce", "--only", "00*", "--cell-timeout", "-1"], "cell_timeout"),
             (["reproduce", "--only", "00*", "--cell-timeout", "nan"], "cell_timeout"),
             (["reproduce", "--only", "00*", "--cell-timeout", "0.5"], "cell_timeout"),
             (["reproduce", "--only", "00*", "--out", str(a_file)], "not a writable folder"),
             (["reproduce", "--only", "00*", "--out", str(a_file / "below")], "not a writable folder"),
             (["reproduce", "--only", "00*", "-p", "device='cpu'"], "--device")]
    for argv, words in cases:
        start = time.perf_counter()
        assert cli.main(argv + (["--out", str(tmp_path / "out")] if "--out" not in argv and argv[0] ==
                                "reproduce" else [])) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("mmcl: error:") and words in err, (argv, err)
        assert time.perf_counter() - start < 20
    assert not (tmp_path / "out" / "summary.json").exists()
