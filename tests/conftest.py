"""Shared paths and fixtures of the test suite (paths imported as ``from conftest import ROOT, NOTEBOOKS``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CHROMIUM = os.environ.get("MMCL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def require_chromium() -> None:
    """Skip (with how to enable it) when Chromium or Playwright is missing; in CI (``CI`` set) fail instead."""
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"no Chromium at {CHROMIUM}"
    else:
        try:
            import playwright  # noqa: F401 - a dev dependency
        except ImportError:
            missing = "the Python package playwright is not installed"
    if missing:
        how = ("install Debian's `chromium` (apt-get install chromium) or set MMCL_CHROMIUM=/path/to/chromium, and "
               "`pip install -e '.[dev]'`")
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: in CI the browser tests must run; {how}")
        pytest.skip(f"browser tests skipped: {missing}; to enable them, {how}")


@pytest.fixture(scope="session")
def course_run(tmp_path_factory):
    """The suite's one full execution of the notebooks, shared by the tests that need it: `mmcl course build`,
    then `mmcl reproduce --html` (quick profile, two notebooks at a time) on the instructor version, with the
    student version's exercise cells run in the same kernel, and every widget option set once. Returns (folder,
    built versions, summary)."""
    from mmcl_core import cli, course
    from mmcl_core.widgets import CHECK_OPTIONS_ENV

    tmp_path = tmp_path_factory.mktemp("course_run")
    built = course.build(tmp_path / "course")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(CHECK_OPTIONS_ENV, "1")  # every panel sets each of its options once (widgets.Panel)
        summary = cli.reproduce(profile="quick", out=tmp_path / "run", progress=False, html=True, jobs=2,
                                notebook_dir=tmp_path / "course" / "instructor",
                                student_dir=tmp_path / "course" / "student")
    return tmp_path, built, summary
