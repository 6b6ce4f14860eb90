"""report, figures, device and widget helpers."""

import hashlib
import json

import numpy as np
import pytest
import torch

from mmcl_core import figures, report
from mmcl_core.device import get_device, make_generator, make_rng, theory_precision


def test_record_keeps_numbers_and_appends_json_lines(tmp_path, monkeypatch):
    path = tmp_path / "m.jsonl"
    monkeypatch.setenv(report.METRICS_ENV, str(path))
    report.clear()
    report.record("gradient_rel_error", np.float64(3e-10))
    report.record("n_ok", 3)
    report.record("passed", True)
    report.record("gradient_rel_error", torch.tensor(1e-11))  # a later value wins
    assert report.metrics() == {"gradient_rel_error": pytest.approx(1e-11), "n_ok": 3, "passed": True}
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 4
    assert report.read_metrics_file(path)["gradient_rel_error"] == pytest.approx(1e-11)


@pytest.mark.parametrize("name,value,exc", [("x", float("nan"), ValueError), ("x", float("inf"), ValueError),
                                            ("x", "0.1", TypeError), ("", 1.0, ValueError), ("a b", 1.0, ValueError)])
def test_record_rejects_bad_values(name, value, exc):
    with pytest.raises(exc):
        report.record(name, value)


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0, 1], label="line")
    ax.set_title("deterministic")
    ax.legend()
    return fig


def test_reference_check_asserts_at_the_reference_and_reports_elsewhere(capsys):
    report.clear()
    assert report.reference_check("gap at least 0.2", 0.3 >= 0.2, True, 0.3) is True
    with pytest.raises(AssertionError, match="gap at least 0.2: 0.1"):
        report.reference_check("gap at least 0.2", 0.1 >= 0.2, True, 0.1)
    assert report.reference_check("gap at least 0.2", 0.1 >= 0.2, False, 0.1) is False  # never silently skipped:
    out = capsys.readouterr().out
    assert "not asserted away from the reference setting" in out and "does NOT hold here (0.1)" in out
    assert report.metrics()["reference_check.gap_at_least_0.2"] is False
    report.clear()


def test_savefig_writes_only_when_a_directory_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv(figures.FIG_DIR_ENV, raising=False)
    figures.set_figure_dir(None)
    fig = _figure()
    assert figures.savefig(fig, "nothing") == []
    monkeypatch.setenv(figures.FIG_DIR_ENV, str(tmp_path / "figs"))
    written = figures.savefig(fig, "plot")
    assert sorted(p.name for p in written) == ["plot.pdf", "plot.png"]
    assert all(p.stat().st_size > 0 for p in written)


def test_savefig_is_byte_deterministic(tmp_path):
    digests = []
    for run in range(2):
        fig = _figure()
        paths = figures.savefig(fig, "same", formats=("png", "pdf", "svg"), directory=tmp_path / str(run))
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in paths])
    assert digests[0] == digests[1]


def test_savefig_rejects_bad_names_and_formats(tmp_path):
    fig = _figure()
    with pytest.raises(ValueError, match="name"):
        figures.savefig(fig, "../escape", directory=tmp_path)
    with pytest.raises(ValueError, match="formats"):
        figures.savefig(fig, "ok", formats=("jpg",), directory=tmp_path)


def test_get_device_auto_is_available_and_unavailable_accelerators_raise(monkeypatch):
    monkeypatch.delenv("MMCL_DEVICE", raising=False)
    assert get_device("auto").type in {"cpu", "cuda", "mps"}
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("MMCL_DEVICE", "cpu")
    assert get_device().type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            get_device("cuda")
    with pytest.raises(ValueError, match="device"):
        get_device("tpu")


def test_seeded_generators_repeat():
    assert np.array_equal(make_rng(7).standard_normal(5), make_rng(7).standard_normal(5))
    a = torch.randn(5, generator=make_generator(7))
    b = torch.randn(5, generator=make_generator(7))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="seed"):
        make_rng(-1)
    with pytest.raises(TypeError, match="seed"):
        make_rng(1.5)


def test_theory_precision_restores_flags():
    before = torch.backends.cuda.matmul.allow_tf32
    with theory_precision():
        assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.backends.cuda.matmul.allow_tf32 == before


def test_panel_calls_compute_eagerly_and_on_update():
    import ipywidgets as widgets

    from mmcl_core.widgets import interactive_panel

    calls = []

    def compute(a, b):
        calls.append((a, b))
        return {"sum": a + b}

    panel = interactive_panel(compute, None, {"a": widgets.IntSlider(value=1, min=0, max=5)}, fixed={"b": 10})
    assert calls == [(1, 10)] and panel.last_result == {"sum": 11}
    assert panel.update(a=3) == {"sum": 13}
    panel.controls["a"].value = 4  # a slider move goes through the observer
    assert panel.last_result == {"sum": 14} and panel.last_seconds >= 0
    with pytest.raises(ValueError, match="controls"):
        panel.update(c=1)


def test_check_every_option_sets_each_option_once_and_names_the_one_that_fails():
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from mmcl_core.widgets import interactive_panel

    def compute(level, x, flag):
        if level == "broken" and x > 1:
            raise ValueError("x too large for this level")
        return {"y": x}

    def draw(result):
        fig, ax = plt.subplots()
        ax.plot([0, result["y"]])
        return fig

    controls = {"level": widgets.Dropdown(options=["a", "b"], value="a"),
                "x": widgets.FloatSlider(value=1.0, min=0.5, max=2.0),
                "flag": widgets.Checkbox(value=False)}
    panel = interactive_panel(compute, draw, controls)
    assert panel.option_values() == {"level": ["a", "b"], "x": [0.5, 2.0], "flag": [False, True]}
    checked = panel.check_every_option()
    assert [(c["control"], c["value"]) for c in checked] == [("level", "a"), ("level", "b"), ("x", 0.5),
                                                             ("x", 2.0), ("flag", False), ("flag", True)]
    assert {name: c.value for name, c in panel.controls.items()} == {"level": "a", "x": 1.0, "flag": False}
    broken = interactive_panel(compute, draw, {"level": widgets.Dropdown(options=["a", "broken"], value="a"),
                                               "x": widgets.FloatSlider(value=2.0, min=0.5, max=2.0),
                                               "flag": widgets.Checkbox(value=False)})
    with pytest.raises(RuntimeError, match="level = 'broken' failed: x too large"):
        broken.check_every_option()
    assert broken.controls["level"].value == "a"  # set back even after a failure
    no_figure = interactive_panel(compute, lambda r: None, controls)
    with pytest.raises(RuntimeError, match="no result or no figure"):
        no_figure.check_every_option()


def test_first_panel_in_a_kernel_freezes_the_heap_once(monkeypatch):
    """In a Jupyter kernel the first panel moves the heap to the permanent generation, so a full garbage
    collection during a slider update walks only what the panels allocated; outside a kernel nothing changes."""
    import gc

    import ipywidgets as widgets

    from mmcl_core import widgets as mw

    calls = []
    monkeypatch.setattr(mw, "_HEAP_FROZEN", False)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    control = {"a": widgets.IntSlider(value=1)}
    mw.interactive_panel(lambda a: {"a": a}, None, control)
    assert calls == [] and mw._HEAP_FROZEN is False  # pytest is not a kernel
    monkeypatch.setattr(mw, "_in_kernel", lambda: True)
    mw.interactive_panel(lambda a: {"a": a}, None, control)
    mw.interactive_panel(lambda a: {"a": a}, None, control)
    assert calls == ["freeze"] and mw._HEAP_FROZEN is True


def test_panel_never_swallows_errors():
    import ipywidgets as widgets

    from mmcl_core.widgets import interactive_panel

    def compute(x):
        if x > 2:
            raise ValueError("x too large")
        return {"x": x}

    with pytest.raises(ValueError, match="x too large"):  # broken at build time: the cell fails
        interactive_panel(compute, None, {"x": widgets.IntSlider(value=3, min=0, max=5)})
    panel = interactive_panel(compute, None, {"x": widgets.IntSlider(value=1, min=0, max=5)})
    panel.controls["x"].value = 4  # callback error: kept and shown, not lost
    assert isinstance(panel.last_error, ValueError)
    with pytest.raises(ValueError, match="x too large"):
        panel.update(x=5)


def test_panel_median_update_seconds():
    import ipywidgets as widgets

    from mmcl_core.widgets import interactive_panel

    panel = interactive_panel(lambda a: {"a": a}, None, {"a": widgets.IntSlider(value=1, min=0, max=5)})
    assert 0 <= panel.median_update_seconds(3, a=2) < 1.0 and panel.last_result == {"a": 2}
    with pytest.raises(ValueError, match="repeats"):
        panel.median_update_seconds(0)


def test_run_button_panel_ignores_slider_moves_and_reports_progress():
    import ipywidgets as widgets

    from mmcl_core.widgets import interactive_panel

    calls, seen = [], []

    def compute(a, progress):
        calls.append(a)
        progress(0.5)
        seen.append(panel_ref[0].progress.value if panel_ref else None)
        return {"a": a}

    panel_ref = []
    panel = interactive_panel(compute, None, {"a": widgets.IntSlider(value=1, min=0, max=5)}, live=False)
    panel_ref.append(panel)
    assert calls == [1] and panel.progress.value == 1.0 and panel.status.value.startswith("done")
    panel.controls["a"].value = 3  # no training on a slider move
    assert calls == [1]
    panel.button.click()  # the Run button recomputes with the current values
    assert calls == [1, 3] and seen[-1] == 0.5 and panel.last_result == {"a": 3}
    assert panel.update(a=4) == {"a": 4} and panel.run() == {"a": 4}
    with pytest.raises(TypeError, match="live"):
        interactive_panel(compute, None, {"a": widgets.IntSlider()}, live="no")


def test_run_button_panel_shows_a_failure():
    import ipywidgets as widgets

    from mmcl_core.widgets import interactive_panel

    def compute(a):
        if a > 2:
            raise RuntimeError("diverged")
        return {"a": a}

    panel = interactive_panel(compute, None, {"a": widgets.IntSlider(value=1, min=0, max=5)}, live=False)
    panel.controls["a"].value = 4
    panel.button.click()
    assert isinstance(panel.last_error, RuntimeError) and panel.progress.bar_style == "danger"


def test_auto_never_picks_mps_for_float64(monkeypatch):
    import torch

    from mmcl_core import device as dv

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dv, "_mps_available", lambda _torch: True)
    monkeypatch.delenv("MMCL_DEVICE", raising=False)
    assert dv.get_device("auto").type == "mps"
    assert dv.get_device("auto", dtype=torch.float32).type == "mps"
    assert dv.get_device("auto", dtype=torch.float64).type == "cpu"
    assert dv.get_device("auto", dtype="float64").type == "cpu"
    with pytest.raises(ValueError, match="float64"):
        dv.get_device("mps", dtype="float64")


def test_check_asserts_the_expected_outcome_and_records_the_criterion(capsys):
    report.clear()
    assert report.check("gap_a", 0.3, at_least=0.2) is True
    assert report.check("gap_b", 0.1, at_least=0.2, expect=False) is False  # shown NOT to hold, as expected
    with pytest.raises(AssertionError, match="gap_c = 0.1 .>= 0.2: does not hold"):
        report.check("gap_c", 0.1, at_least=0.2)
    assert report.read_check(report.metrics(), "gap_c")["holds"] is False  # a failed check reads back
    with pytest.raises(AssertionError):
        report.check("gap_d", 0.3, at_least=0.2, expect=False)
    assert report.check("gap_e", 0.1, at_least=0.2, at_most=0.5, at_reference=False) is False  # reported only
    assert "not asserted away from the reference setting: gap_e = 0.1 (in [0.2, 0.5]" in capsys.readouterr().out
    m = report.metrics()
    assert m["gap_a.at_least"] == 0.2 and m["gap_b.expect"] is False and m["gap_e.asserted"] is False
    assert report.read_check(m, "gap_a") == {"value": 0.3, "criterion": ">= 0.2", "holds": True, "expect": True,
                                             "asserted": True}
    assert report.read_check(m, "gap_e")["criterion"] == "in [0.2, 0.5]" and report.read_check(m, "nothing") is None
    assert report.criterion_text({"above": 0, "below": 1}) == "> 0 and < 1"
    report.record("plain", 1.0)
    with pytest.raises(ValueError, match="without a criterion"):
        report.read_check(report.metrics(), "plain")
    with pytest.raises(ValueError, match="at least one"):
        report.check("no_bound", 1.0)
    with pytest.raises(TypeError, match="expect"):
        report.check("bad_expect", 1.0, above=0, expect="yes")
    report.clear()
