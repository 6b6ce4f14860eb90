"""Widget builder: a panel of controls around a plain compute function and a draw function.

The Neuromatch idiom: the notebook's batch cell calls ``compute`` with the parameters and
asserts on the result; the widget calls the same ``compute`` when a control moves. Errors
are never swallowed: the first call happens eagerly when the panel is built (so a broken
panel fails its cell, under papermill too), and a later callback error is shown as a
traceback in the panel, kept in ``panel.last_error``, and sent as an error output that
nbval detects.
"""

from __future__ import annotations

import time
from typing import Any, Callable

__all__ = ["Panel", "interactive_panel"]


class Panel:
    """Controls + output area; call :meth:`update` to recompute and redraw.

    Attributes:
        widget: the ipywidgets container to display.
        controls: dict name -> control widget.
        last_result: the last result dict.
        last_error: the last exception raised by a callback, or None.
        last_seconds: wall time of the last update (compute + draw).
    """

    def __init__(self, compute: Callable[..., dict], draw: Callable[[dict], Any] | None,
                 controls: dict, fixed: dict | None = None, title: str | None = None):
        import ipywidgets as widgets

        if not callable(compute):
            raise TypeError("compute must be callable")
        if draw is not None and not callable(draw):
            raise TypeError("draw must be callable or None")
        if not isinstance(controls, dict) or not controls:
            raise ValueError("controls must be a non-empty dict of name -> widget")
        self.compute, self.draw = compute, draw
        self.controls, self.fixed = dict(controls), dict(fixed or {})
        self.output = widgets.Output()
        self.last_result, self.last_error, self.last_seconds = None, None, float("nan")
        children = [widgets.HTML(f"<b>{title}</b>")] if title else []
        children += [widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
                     self.output]
        self.widget = widgets.VBox(children)
        self._render(self._values(), raise_errors=True)  # eager: a broken panel fails its cell
        for control in self.controls.values():
            control.observe(self._on_change, names="value")

    def _values(self) -> dict:
        return {**self.fixed, **{name: c.value for name, c in self.controls.items()}}

    def _render(self, values: dict, raise_errors: bool) -> dict:
        import matplotlib.pyplot as plt
        from IPython.display import display

        start = time.perf_counter()
        with self.output:
            self.output.clear_output(wait=True)
            try:
                result = self.compute(**values)
                if self.draw is not None:
                    fig = self.draw(result)
                    display(fig)
                    plt.close(fig)
            except Exception as exc:
                self.last_error = exc
                if raise_errors:
                    raise
                _show_traceback()
                return {}
        self.last_error, self.last_result = None, result
        self.last_seconds = time.perf_counter() - start
        return result

    def _on_change(self, _change) -> None:
        self._render(self._values(), raise_errors=False)

    def update(self, **values) -> dict:
        """Set controls to ``values`` (without triggering callbacks twice) and recompute.

        Raises the callback's exception, so tests and benchmarks see failures.
        """
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(f"values must name controls among {sorted(self.controls)}, got {sorted(unknown)}")
        for name, value in values.items():
            with self.controls[name].hold_trait_notifications():
                self.controls[name].unobserve(self._on_change, names="value")
                self.controls[name].value = value
                self.controls[name].observe(self._on_change, names="value")
        return self._render(self._values(), raise_errors=True)

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


def _show_traceback() -> None:
    """Show the current exception as an error output (visible to the user and to nbval)."""
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
                      fixed: dict | None = None, title: str | None = None) -> Panel:
    """Build a :class:`Panel`: ``compute(**fixed, **control_values)`` then ``draw(result)``.

    Args:
        compute: plain function returning a result dict (the one the batch cell asserts on).
        draw: function result -> matplotlib Figure, or None for compute-only panels.
        controls: dict name -> ipywidgets control (its ``value`` is passed as ``name``).
        fixed: keyword arguments passed unchanged on every call.
        title: optional heading.

    Returns:
        Panel (display it as the last expression of a cell).
    """
    return Panel(compute, draw, controls, fixed=fixed, title=title)
