"""The course site (mmcl_core.site): built from a small run in the unit tier; the site of the suite's one full run
loaded in a real Chromium with every request outside the local server refused (slow, browser)."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path

import nbformat
import pytest

from mmcl_core import cli, site
from conftest import CHROMIUM, CHROMIUM_ARGS, NOTEBOOKS, ROOT, require_chromium

_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def _widget_notebook():
    """A notebook as `mmcl reproduce` stores it: a figure, a panel (widget view whose Output widget holds a figure),
    a finished progress bar, Markdown with a formula and a link to another notebook's cell."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# 00 · Demo\n\nThe object is $S(\\beta)$, and\n\n"
                                                  "$$M = G_1^\\top G_2$$\n\n[that cell](01_other.ipynb#cell-x7)"))
    plot = nbformat.v4.new_code_cell("plot")
    plot.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _PNG, "text/plain": "<Figure>"})]
    panel = nbformat.v4.new_code_cell("panel")
    panel.outputs = [nbformat.v4.new_output("display_data", data={
        site.WIDGET_MIME: {"model_id": "box", "version_major": 2, "version_minor": 0}, "text/plain": "VBox()"})]
    bar = nbformat.v4.new_code_cell("tqdm")
    bar.outputs = [nbformat.v4.new_output("display_data", data={
        site.WIDGET_MIME: {"model_id": "bar", "version_major": 2, "version_minor": 0}, "text/plain": "HBox()"})]
    nb.cells += [plot, panel, bar]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "box": {"model_name": "VBoxModel", "state": {"_model_name": "VBoxModel", "children": ["IPY_MODEL_out"]}},
        "out": {"model_name": "OutputModel", "state": {"_model_name": "OutputModel", "outputs": [
            {"output_type": "display_data", "data": {"image/png": _PNG, "text/plain": "<Figure>"}, "metadata": {}}]}},
        "bar": {"model_name": "HBoxModel", "state": {"_model_name": "HBoxModel",
                                                     "children": ["IPY_MODEL_desc", "IPY_MODEL_prog"]}},
        "desc": {"model_name": "HTMLModel", "state": {"_model_name": "HTMLModel", "value": "training&nbsp;<b>runs</b>"}},
        "prog": {"model_name": "FloatProgressModel", "state": {"_model_name": "FloatProgressModel", "value": 30,
                                                               "max": 30}}},
        "version_major": 2, "version_minor": 0}}
    return nb


_PYTHON = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
           "language_info": {"name": "python"}}


def _small_run(folder: Path) -> Path:
    (folder / "notebooks").mkdir(parents=True)
    demo = _widget_notebook()
    demo.metadata.update(_PYTHON)
    nbformat.write(demo, str(folder / "notebooks" / "00_demo.ipynb"))
    other = nbformat.v4.new_notebook(metadata=_PYTHON)
    other.cells = [nbformat.v4.new_markdown_cell("# 01 · Other"), nbformat.v4.new_code_cell("x = 1")]
    other.cells[1].id = "cell-x7"
    nbformat.write(other, str(folder / "notebooks" / "01_other.ipynb"))
    return folder


def test_widget_views_become_their_last_figure():
    nb = _widget_notebook()
    assert site.static_widgets(nb) == 2
    assert "widgets" not in nb.metadata
    assert [o["data"].get("image/png") is not None for c in nb.cells[1:3] for o in c.outputs] == [True, True]
    assert [o.get("text") for o in nb.cells[3].outputs] == ["training\xa0runs | 100 %\n"]


def test_course_md_splits_into_sessions_that_list_every_notebook_once():
    intro, sections = site.course_sessions((ROOT / "COURSE.md").read_text(encoding="utf-8"))
    assert intro.startswith("# Course module")
    sessions = [s for s in sections if s["slug"].startswith("session-")]
    assert [s["slug"] for s in sessions] == [f"session-{i}" for i in range(1, 7)]
    listed = [n for s in sessions for n in s["notebooks"]]
    assert sorted(listed) == [p.stem for p in NOTEBOOKS]  # each notebook in exactly one session
    assert {"reading-list", "for-instructors"} <= {s["slug"] for s in sections}
    with pytest.raises(TypeError, match="text"):
        site.course_sessions(None)


def test_site_of_a_small_run(tmp_path):
    built = site.build_site(_small_run(tmp_path / "run"), tmp_path / "html")
    out = tmp_path / "html"
    assert built["index"] == out / "index.html" and built["notebooks"] == ["00_demo", "01_other"]
    assert built["pages"] >= 14 and built["size_bytes"] > 1e6 and built["warnings"] == [], built["warnings"]
    page = (out / "notebooks" / "00_demo.html").read_text(encoding="utf-8")
    assert page.count("<img") == 2 and site.WIDGET_MIME not in page and "100 %" in page
    assert '<span class="math notranslate nohighlight">\\(S(\\beta)\\)</span>' in page and "$S(" not in page
    assert 'src="../_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"' in page
    assert (out / "_static" / "mathjax" / "MathJax.js").is_file()
    assert '<a href="01_other.html#cell-x7">that cell</a>' in page
    assert 'id="cell-x7"' in (out / "notebooks" / "01_other.html").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    for target in ("course/session-1.html", "course/reading-list.html", "docs/papers/nakada2023.html"):
        assert f'href="{target}"' in index, target
    bibliography = (out / "course" / "reading-list.html").read_text(encoding="utf-8")
    assert "Incorporating Unpaired Data" in bibliography and "Measuring Robustness" in bibliography
    assert "coloredmnist" in (out / "searchindex.js").read_text(encoding="utf-8")  # indexed in lower case


def test_site_refuses_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="run_dir"):
        site.build_site(tmp_path / "empty", tmp_path / "html")
    with pytest.raises(ValueError, match="root"):
        site.build_site(_small_run(tmp_path / "run"), tmp_path / "html", root=tmp_path)
    with pytest.raises(TypeError, match="quiet"):
        site.build_site(tmp_path / "run", quiet="yes")


def test_mmcl_site_without_a_run_fails_cleanly(tmp_path, capsys):
    assert cli.main(["site", "--run", str(tmp_path)]) == 2
    assert "run_dir" in capsys.readouterr().err


_STUDENT_TEXT = [ROOT / "README.md", ROOT / "COURSE.md", *sorted((ROOT / "docs").rglob("*.md")), *NOTEBOOKS]


@pytest.mark.parametrize("path", _STUDENT_TEXT, ids=lambda p: str(p.relative_to(ROOT)))
def test_student_facing_text_speaks_of_the_papers_and_the_project_only(path):
    """Words from the team's own work items never reach a student: no "digest", "the issue", "acceptance"."""
    if path.suffix == ".ipynb":
        nb = nbformat.read(str(path), as_version=4)
        text = "\n".join(c.source for c in nb.cells)
    else:
        text = path.read_text(encoding="utf-8")
    for word in ("digest", "the issue", "acceptance"):
        hits = [line.strip()[:100] for line in text.splitlines() if word in line.lower()]
        assert not hits, (word, hits[:3])


# JavaScript run on each page: images loaded, formulas typeset by MathJax, no raw TeX left in the visible text.
_PAGE_STATE = r"""() => {
  const images = [...document.images];
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);
  const formulas = document.querySelectorAll('span.math.notranslate, div.math.notranslate').length;
  const typeset = document.querySelectorAll('script[type^="math/tex"]').length;
  const rendered = document.querySelectorAll('.MathJax, .MathJax_Display').length;
  const clone = document.querySelector('main') ? document.querySelector('main').cloneNode(true) : document.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, .highlight, .MathJax, .MathJax_Display').forEach(e => e.remove());
  const text = clone.innerText;
  const raw = (text.match(/\$[^$\n]{1,60}\$|\\\(|\\\[/g) || []).slice(0, 3);
  return {images: images.length, broken, formulas, typeset, rendered, raw};
}"""
_MATHJAX_DONE = ("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 && "
                 "MathJax.Hub.queue.running === 0 && document.querySelectorAll('script[type^=\"math/tex\"]').length > 0")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no line per request
        pass


def _serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def _search(page, base: str, query: str) -> list[str]:
    from urllib.parse import quote

    page.goto(f"{base}search.html?q={quote(query)}")
    page.wait_for_function("() => { const s = document.querySelector('#search-results');"
                           " return s && /found|did not match/i.test(s.innerText); }", timeout=60_000)
    return page.evaluate("[...document.querySelectorAll('#search-results li a')].map(a => a.getAttribute('href'))")


@pytest.mark.slow
@pytest.mark.browser
def test_the_course_site_works_offline_in_chromium(course_run, tmp_path):
    """Every page of the site built from the full run loads from a local server with every other request refused:
    each image present, every formula typeset by the bundled MathJax, no raw TeX; search finds S(β) and
    ColoredMNIST; every link between pages points at a page that exists."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    run_dir, _, summary = course_run
    folder = run_dir / "run" / "html"
    pages = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html") if "_static" not in p.parts)
    server, base = _serve(folder)
    refused, errors, states = [], [], {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context()
            context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base)
                          else (refused.append(route.request.url), route.abort()))
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            for name in pages:
                page.goto(base + name)
                if page.evaluate("document.querySelectorAll('span.math.notranslate, div.math.notranslate').length"):
                    page.wait_for_function(_MATHJAX_DONE, timeout=60_000)
                states[name] = page.evaluate(_PAGE_STATE)
            found = {query: _search(page, base, query) for query in ("S(β)", "ColoredMNIST")}
            page.screenshot(path=str(tmp_path / "search.png"))
            browser.close()
    finally:
        server.shutdown()
    (tmp_path / "pages.json").write_text(json.dumps(states, indent=1))
    print(f"site: {len(pages)} pages, {summary['site']['size_bytes'] / 1e6:.1f} MB, built in "
          f"{summary['site']['seconds']:.1f} s; page states in {tmp_path / 'pages.json'}")
    assert refused == [] and errors == [], (refused[:5], errors[:5])
    assert len(pages) >= len(NOTEBOOKS) + 6
    for name, state in states.items():
        assert state["broken"] == [], (name, state["broken"][:3])
        assert state["raw"] == [], (name, state["raw"])
        assert state["typeset"] == state["formulas"], (name, state)  # every formula handed to MathJax
        assert state["rendered"] >= state["formulas"], (name, state)
    for nb in NOTEBOOKS:
        assert states[f"notebooks/{nb.stem}.html"]["images"] >= 1, nb.stem
    assert sum(s["formulas"] for s in states.values()) > 100
    assert any("notebooks/00_start_here" in h for h in found["S(β)"]), found["S(β)"]
    assert any("notebooks/07_huang_colored_digits" in h for h in found["ColoredMNIST"]), found["ColoredMNIST"]
    for name in pages:  # links between pages
        for href in re.findall(r'href="([^"#:?]+\.html)(?:#[^"]*)?"', (folder / name).read_text(encoding="utf-8")):
            assert (folder / name).parent.joinpath(href).resolve().is_file(), (name, href)
