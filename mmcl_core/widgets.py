"""Widget builder: a panel of controls around a plain compute function and a draw function.

The Neuromatch idiom: the notebook's batch cell calls ``compute`` with the parameters and
asserts on the result; the widget calls the same ``compute`` when a control moves. Errors
are never swallowed: the first call happens eagerly when the panel is built (so a broken
panel fails its cell, under papermill too), and a later callback error is shown as a
traceback in the panel, kept in ``panel.last_error``, and sent as an error output that
`mmcl reproduce` detects.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from ._checks import check_int, check_real

__all__ = ["Panel", "interactive_panel", "CHECK_OPTIONS_ENV"]


class Panel:
    """Controls + output area; call :meth:`update` to recompute and redraw.

    Attributes:
        widget: the ipywidgets container to display.
        controls: dict name -> control widget.
        last_result: the last result dict.
        last_error: the last exception raised by a callback, or None.
        last_seconds: wall time of the last update (compute + draw).
        last_figure: whether the last update drew a figure.
    """

    def __init__(self, compute: Callable[..., dict], draw: Callable[[dict], Any] | None,
                 controls: dict, fixed: dict | None = None, title: str | None = None, live: bool = True):
        import inspect

        import ipywidgets as widgets

        if not callable(compute):
            raise TypeError("compute must be callable")
        if draw is not None and not callable(draw):
            raise TypeError("draw must be callable or None")
        if not isinstance(controls, dict) or not controls:
            raise ValueError("controls must be a non-empty dict of name -> widget")
        if not isinstance(live, bool):
            raise TypeError(f"live must be a bool, got {type(live).__name__}")
        self.compute, self.draw, self.live = compute, draw, live
        self.controls, self.fixed = dict(controls), dict(fixed or {})
        self.output = widgets.Output()
        self.last_result, self.last_error, self.last_seconds = None, None, float("nan")
        try:
            self._reports_progress = "progress" in inspect.signature(compute).parameters
        except (TypeError, ValueError):  # builtins without a signature
            self._reports_progress = False
        children = [widgets.HTML(f"<b>{title}</b>")] if title else []
        children.append(widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")))
        self.button = self.progress = self.status = None
        if not live:  # long computations: run on request, with a progress bar
            self.button = widgets.Button(description="Run", button_style="primary", icon="play")
            self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="progress")
            self.status = widgets.Label("")
            self.button.on_click(self._on_change)
            children.append(widgets.HBox([self.button, self.progress, self.status]))
        children.append(self.output)
        self.widget = widgets.VBox(children)
        _freeze_heap_once()
        self._render(self._values(), raise_errors=True)  # eager: a broken panel fails its cell
        if live:
            for control in self.controls.values():
                control.observe(self._on_change, names="value")
        if os.environ.get(CHECK_OPTIONS_ENV) == "1":  # the test suite's headless run: every option must answer
            _record_options_checked(self.check_every_option())

    def _values(self) -> dict:
        return {**self.fixed, **{name: c.value for name, c in self.controls.items()}}

    def _render(self, values: dict, raise_errors: bool) -> dict:
        import matplotlib.pyplot as plt
        from IPython.display import display

        start = time.perf_counter()
        if self.progress is not None:
            self.progress.value, self.progress.bar_style, self.status.value = 0.0, "info", "running…"
        if self._reports_progress:
            values = {**values, "progress": self._set_progress}
        with self.output:
            self.output.clear_output(wait=True)
            self.last_figure = False
            try:
                result = self.compute(**values)
                if self.draw is not None:
                    fig = self.draw(result)
                    self.last_figure = hasattr(fig, "savefig")
                    display(fig)
                    plt.close(fig)
            except Exception as exc:
                self.last_error = exc
                if self.progress is not None:
                    self.progress.bar_style, self.status.value = "danger", f"failed: {type(exc).__name__}"
                if raise_errors:
                    raise
                _show_traceback()
                return {}
        self.last_error, self.last_result = None, result
        self.last_seconds = time.perf_counter() - start
        if self.progress is not None:
            self.progress.value, self.progress.bar_style = 1.0, "success"
            self.status.value = f"done in {self.last_seconds:.1f} s"
        return result

    def _set_progress(self, fraction: float) -> None:
        """Progress callback handed to a ``compute`` that takes ``progress``: fraction done in [0, 1]."""
        if self.progress is not None:
            self.progress.value = min(max(float(fraction), 0.0), 1.0)

    def run(self) -> dict:
        """Recompute with the controls' current values (what the Run button does); raises on error."""
        return self._render(self._values(), raise_errors=True)

    def _on_change(self, _change) -> None:
        self._render(self._values(), raise_errors=False)

    def update(self, **values) -> dict:
        """Set controls to ``values`` (without triggering callbacks twice) and recompute (run-button panels too).

        Raises the callback's exception, so tests and benchmarks see failures.
        """
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"values must name controls among {sorted(self.controls)}, got {sorted(unknown)}")
        for name, value in values.items():
            _check_control_value(name, self.controls[name], value)
        for name, value in values.items():
            with self.controls[name].hold_trait_notifications():
                if self.live:
                    self.controls[name].unobserve(self._on_change, names="value")
                self.controls[name].value = value
                if self.live:
                    self.controls[name].observe(self._on_change, names="value")
        return self._render(self._values(), raise_errors=True)

    def option_values(self) -> dict:
        """What each control offers: every entry of a menu or selection slider, both states of a checkbox, the two
        ends of a numeric slider (the panel's first render already answered its starting value)."""
        import ipywidgets as widgets

        offered = {}
        for name, control in self.controls.items():
            if hasattr(control, "_options_values"):
                offered[name] = list(control._options_values)
            elif isinstance(control, widgets.Checkbox):
                offered[name] = [False, True]
            elif isinstance(control, widgets.FloatLogSlider):
                offered[name] = [control.base ** control.min, control.base ** control.max]
            elif hasattr(control, "min") and hasattr(control, "max"):
                offered[name] = [control.min, control.max]
            else:
                offered[name] = [control.value]
        return offered

    def check_every_option(self) -> list[dict]:
        """Set each option of each control once (the others at their current values) and require an answer: no
        error, a result dict and, for a panel that draws, a figure. The controls are set back afterwards.

        Returns:
            one dict per option: ``control``, ``value``, ``seconds``. Raises RuntimeError naming the control and
            value that failed (with the error as its cause).
        """
        start_values = {name: control.value for name, control in self.controls.items()}
        checked = []
        try:
            for name, values in self.option_values().items():
                for value in values:
                    try:
                        result = self.update(**{name: value})
                    except Exception as exc:
                        raise RuntimeError(f"panel control {name} = {value!r} failed: {exc}") from exc
                    if not isinstance(result, dict) or (self.draw is not None and not self.last_figure):
                        raise RuntimeError(f"panel control {name} = {value!r} gave no result or no figure")
                    checked.append({"control": name, "value": value, "seconds": self.last_seconds})
                self.update(**{name: start_values[name]})
        finally:
            self.update(**start_values)
        return checked

    def median_update_seconds(self, repeats: int = 5, **values) -> float:
        """Median wall time of ``repeats`` updates to ``values`` (compute + draw); robust to a busy machine."""
        import statistics

        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
        times = []
        for _ in range(repeats):
            self.update(**values)
            times.append(self.last_seconds)
        return statistics.median(times)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _check_control_value(name: str, control, value) -> None:
    """ValueError/TypeError naming the control when ``value`` is outside what it offers (a slider would clamp it,
    a menu would raise a trait error)."""
    import ipywidgets as widgets

    if isinstance(control, (widgets.FloatLogSlider,)):
        check_real(name, value, low=control.base ** control.min, high=control.base ** control.max)
    elif isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.BoundedIntText,
                              widgets.BoundedFloatText)):
        if isinstance(control, (widgets.IntSlider, widgets.BoundedIntText)):
            check_int(name, value, low=control.min, high=control.max)
        else:
            check_real(name, value, low=control.min, high=control.max)
    elif hasattr(control, "_options_values"):  # Dropdown, SelectionSlider, ToggleButtons, RadioButtons
        if value not in control._options_values:
            raise ValueError(f"{name} must be one of {list(control._options_values)}, got {value!r}")


CHECK_OPTIONS_ENV = "MMCL_CHECK_WIDGET_OPTIONS"
"""Set to "1" (as the test suite does for its headless run) and every panel, once built, sets each of its options
once (:meth:`Panel.check_every_option`) and records how many answered as ``widget_options_<k>`` (k: the panel's
number in the kernel)."""
_PANELS_CHECKED = []


def _record_options_checked(checked: list) -> None:
    from .report import record

    _PANELS_CHECKED.append(len(checked))
    record(f"widget_options_{len(_PANELS_CHECKED)}", len(checked))
    record(f"widget_options_{len(_PANELS_CHECKED)}_max_seconds", max(c["seconds"] for c in checked))


_HEAP_FROZEN = False


def _freeze_heap_once() -> None:
    """Before the first panel in a Jupyter kernel: collect, then move every object alive now (imported modules,
    cached results) to Python's permanent generation (:func:`gc.freeze`), once per process.

    Each update draws and closes a matplotlib figure, thousands of objects in reference cycles; the collector frees
    them in a full collection, and a full collection walks the whole heap. In a kernel that imported torch,
    scikit-learn and matplotlib that walk took 0.4-0.6 s and landed inside a slider update every ~20 updates
    (``benchmarks/stall_stress.py``). Frozen objects are skipped by the walk, so the pause shrinks to the size of
    what the panels themselves allocated. Objects frozen here are still freed by reference counting; only cycles
    among them are never collected.
    """
    global _HEAP_FROZEN
    if _HEAP_FROZEN or not _in_kernel():
        return
    import gc

    gc.collect()
    gc.freeze()
    _HEAP_FROZEN = True


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where panels are interactive); a plain script or a test run is left alone."""
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def _show_traceback() -> None:
    """Show the current exception as an error output (visible to the user and to `mmcl reproduce`)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython ships with ipywidgets
        shell = None
    if shell is not None:
        shell.showtraceback()
    else:
        import traceback

        traceback.print_exc()


def interactive_panel(compute: Callable[..., dict], draw: Callable[[dict], Any] | None, controls: dict,
                      fixed: dict | None = None, title: str | None = None, live: bool = True) -> Panel:
    """Build a :class:`Panel`: ``compute(**fixed, **control_values)`` then ``draw(result)``.

    Args:
        compute: plain function returning a result dict (the one the batch cell asserts on).
        draw: function result -> matplotlib Figure, or None for compute-only panels.
        controls: dict name -> ipywidgets control (its ``value`` is passed as ``name``).
        fixed: keyword arguments passed unchanged on every call.
        title: optional heading.
        live: recompute whenever a control moves (for answers well under a second); ``False`` adds a Run button
            and a progress bar instead, for computations that take longer (a ``compute`` with a ``progress``
            parameter receives a callback taking the fraction done).

    Returns:
        Panel (display it as the last expression of a cell).
    """
    return Panel(compute, draw, controls, fixed=fixed, title=title, live=live)
