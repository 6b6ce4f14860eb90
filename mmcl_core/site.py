"""The course site: the executed notebooks of a ``mmcl reproduce`` run, the sessions of COURSE.md and the project's
notes on the papers, as one static HTML site built with Sphinx, myst-nb and sphinx-book-theme.

Nothing is executed at build time: the pages show the outputs the run stored, and each widget is shown as the figure
its batch path last drew (:func:`static_widgets`). Formulas are typeset in the reader's browser by a local copy of
MathJax 2.7 (from the PyPI package ``jupyter-server-mathjax``) that the site carries, and the search index is built
by Sphinx: the site needs no network, neither to build nor to read.

``mmcl site`` (or ``mmcl reproduce --html``) calls :func:`build_site`.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["WIDGET_MIME", "static_widgets", "course_sessions", "write_sources", "build_site", "check_available",
           "REFERENCES_BIB"]

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_ROOT = Path(__file__).resolve().parent.parent

# The reading list of COURSE.md as BibTeX, for the site's bibliography page (titles in braces keep their case).
REFERENCES_BIB = r"""
@inproceedings{radford2021clip,
  title = {{Learning Transferable Visual Models From Natural Language Supervision}},
  author = {Radford, Alec and Kim, Jong Wook and Hallacy, Chris and Ramesh, Aditya and Goh, Gabriel and
            Agarwal, Sandhini and Sastry, Girish and Askell, Amanda and Mishkin, Pamela and Clark, Jack and
            Krueger, Gretchen and Sutskever, Ilya},
  booktitle = {International Conference on Machine Learning (ICML)}, year = {2021}}
@inproceedings{chen2020simclr,
  title = {{A Simple Framework for Contrastive Learning of Visual Representations}},
  author = {Chen, Ting and Kornblith, Simon and Norouzi, Mohammad and Hinton, Geoffrey},
  booktitle = {International Conference on Machine Learning (ICML)}, year = {2020}}
@inproceedings{haochen2021spectral,
  title = {{Provable Guarantees for Self-Supervised Deep Learning with Spectral Contrastive Loss}},
  author = {HaoChen, Jeff Z. and Wei, Colin and Gaidon, Adrien and Ma, Tengyu},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)}, year = {2021}}
@inproceedings{zhang2023generalization,
  title = {{On the Generalization of Multi-modal Contrastive Learning}},
  author = {Zhang, Qi and Wang, Yifei and Wang, Yisen},
  booktitle = {International Conference on Machine Learning (ICML)}, year = {2023}}
@inproceedings{nakada2023understanding,
  title = {{Understanding Multimodal Contrastive Learning and Incorporating Unpaired Data}},
  author = {Nakada, Ryumei and Gulluk, Halil Ibrahim and Deng, Zhun and Ji, Wenlong and Zou, James and Zhang, Linjun},
  booktitle = {International Conference on Artificial Intelligence and Statistics (AISTATS)}, year = {2023}}
@inproceedings{huang2024comparison,
  title = {{On the Comparison between Multi-modal and Single-modal Contrastive Learning}},
  author = {Huang, Wei and Han, Andi and Chen, Yongqiang and Cao, Yuan and Xu, Zhiqiang and Suzuki, Taiji},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)}, year = {2024}}
@inproceedings{xue2024robustness,
  title = {{Understanding the Robustness of Multi-modal Contrastive Learning to Distribution Shift}},
  author = {Xue, Yihao and Joshi, Siddharth and Nguyen, Dang and Mirzasoleiman, Baharan},
  booktitle = {International Conference on Learning Representations (ICLR)}, year = {2024}}
@inproceedings{taori2020robustness,
  title = {{Measuring Robustness to Natural Distribution Shifts in Image Classification}},
  author = {Taori, Rohan and Dave, Achal and Shankar, Vaishaal and Carlini, Nicholas and Recht, Benjamin and
            Schmidt, Ludwig},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)}, year = {2020}}
"""

_CONF = '''# Written by mmcl_core.site; rebuilt on every `mmcl site`.
project = "MMCL Theory Lab"
author = "MMCL Theory Lab"
html_title = "MMCL Theory Lab: the theory of multi-modal contrastive learning"
extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinxcontrib.bibtex"]
exclude_patterns = ["_build"]
nb_execution_mode = "off"            # the pages show what `mmcl reproduce` stored
nb_output_stderr = "remove"          # progress bars and warnings of the run
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_update_mathjax = False          # MathJax 2 is configured below
bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "plain"
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"   # local copy under _static
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\\\(", "\\\\)"]], "displayMath": [["\\\\[", "\\\\]"]], "processEscapes": True},
    "HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web", "imageFont": None},
    "SVG": {"font": "STIX-Web"}, "messageStyle": "none", "showMathMenu": False,
    # The hidden MathML copy would ask for MathJax's TeX web fonts, which the local copy does not carry.
    "menuSettings": {"assistiveMML": False},
}
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {"home_page_in_toc": True, "show_navbar_depth": 1, "use_download_button": False,
                      "use_fullscreen_button": False, "show_toc_level": 2}
suppress_warnings = ["myst.header", "myst.xref_missing", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
'''


def _widget_outputs(state: dict, model_id: str, seen=None) -> tuple[list, list]:
    """What the widget tree under ``model_id`` shows, from the saved widget state: the outputs of its Output widgets
    and, for the others, their text (HTML/Label values, progress as a percentage), depth first."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return [], []
    seen.add(model_id)
    model = state[model_id].get("state", {})
    kind = model.get("_model_name", "")
    outputs = list(model.get("outputs", []) or []) if kind == "OutputModel" else []
    texts = []
    if kind in ("HTMLModel", "LabelModel") and str(model.get("value", "")).strip():
        texts.append(str(model["value"]).strip())
    elif kind in ("FloatProgressModel", "IntProgressModel") and model.get("max"):
        texts.append(f"{100 * float(model.get('value', 0)) / float(model['max']):.0f} %")
    for child in model.get("children", []) or []:
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            more_outputs, more_texts = _widget_outputs(state, child[len("IPY_MODEL_"):], seen)
            outputs += more_outputs
            texts += more_texts
    return outputs, texts


def static_widgets(nb) -> int:
    """Replace every widget view of an executed notebook by what it last showed: a panel by its Output widget's
    content (the figure of the batch path), a progress bar by its text; drop the widget state, so the page needs no
    widget JavaScript. Returns the number of views replaced."""
    import nbformat

    state = nb.metadata.pop("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_MIME) if out.get("output_type") in ("display_data",
                                                                                      "execute_result") else None
            if view is None:
                outputs.append(out)
                continue
            replaced += 1
            shown, texts = _widget_outputs(state, view.get("model_id", ""))
            outputs += [nbformat.from_dict(o) for o in shown]
            if not shown and texts:  # e.g. a finished tqdm bar: "label | 100 % | 30/30 [00:10]"
                text = " | ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", t)) for t in texts)
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text + "\n"))
        if "outputs" in cell:
            cell.outputs = outputs
    return replaced


def course_sessions(text: str) -> tuple[str, list[dict]]:
    """Split COURSE.md into its introduction and its sections. Each section: ``title``, ``slug``, ``body``
    (Markdown without the heading) and ``notebooks`` (the notebook names its "Notebooks:" line lists, in order)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    parts = re.split(r"^## +(.+)$", text, flags=re.M)
    intro, sections = parts[0], []
    for title, body in zip(parts[1::2], parts[2::2]):
        line = next((ln for ln in body.splitlines() if re.match(r"\s*[*-]\s+\*\*Notebooks:\*\*", ln)), "")
        slug = re.sub(r"[^a-z0-9]+", "-", title.split("—")[0].strip().lower()).strip("-")
        sections.append({"title": title.strip(), "slug": slug, "body": body.strip() + "\n",
                         "notebooks": re.findall(r"`(\d\d_[A-Za-z0-9_]+)`", line)})
    return intro, sections


_CELL_LINK = re.compile(r"\[([^\]]*)\]\((\d\d_[\w-]+)\.ipynb#([\w-]+)\)")


def _cell_links(nb) -> set[tuple[str, str]]:
    """(notebook, cell id) of every ``[text](NN_name.ipynb#cell-id)`` link in a notebook's Markdown (cells and
    Markdown outputs)."""
    found = set()
    for cell in nb.cells:
        texts = [cell.source] if cell.cell_type == "markdown" else [
            out.get("data", {}).get("text/markdown", "") for out in cell.get("outputs", [])]
        for text in texts:
            text = "".join(text) if isinstance(text, list) else text
            found.update((m[2], m[3]) for m in _CELL_LINK.finditer(text))
    return found


def _link_cells(nb, targets: set[str]) -> None:
    """Make links to notebook cells work on the site: each linked cell gets an anchor (a one-line Markdown cell
    before it) and each ``[text](NN_name.ipynb#cell-id)`` becomes an HTML link to ``NN_name.html#cell-id``."""
    import nbformat

    def rewrite(text):
        return _CELL_LINK.sub(lambda m: f'<a href="{m[2]}.html#{m[3]}">{m[1]}</a>', text)

    cells = []
    for cell in nb.cells:
        if cell.get("id") in targets:
            cells.append(nbformat.v4.new_markdown_cell(f'<span id="{cell.id}"></span>'))
        if cell.cell_type == "markdown":
            cell.source = rewrite(cell.source)
        for out in cell.get("outputs", []):
            if "text/markdown" in out.get("data", {}):
                text = out["data"]["text/markdown"]
                out["data"]["text/markdown"] = rewrite("".join(text) if isinstance(text, list) else text)
        cells.append(cell)
    nb.cells = cells


def _toctree(entries, caption=None, maxdepth=1) -> str:
    head = "```{toctree}\n" + (f":caption: {caption}\n" if caption else "") + f":maxdepth: {maxdepth}\n\n"
    return head + "\n".join(entries) + "\n```\n"


def _executed_notebooks(run_dir: Path) -> list[Path]:
    summary = run_dir / "summary.json"
    if summary.is_file():
        records = json.loads(summary.read_text(encoding="utf-8")).get("notebooks", {})
        paths = [Path(r.get("executed", run_dir / "notebooks" / f"{n}.ipynb")) for n, r in records.items()]
        paths = [p for p in paths if p.is_file()]
    else:
        paths = sorted((run_dir / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise ValueError(f"run_dir {str(run_dir)!r} holds no executed notebooks: run `mmcl reproduce` first "
                         f"(it writes them to <out>/notebooks)")
    return paths


def write_sources(run_dir, src, root=None) -> dict:
    """Write the Sphinx source tree of the site into ``src``: ``conf.py``, the home page (COURSE.md's introduction),
    one page per course section, the executed notebooks (widgets made static) under ``notebooks/``, the paper notes
    under ``docs/papers/`` (the repository's layout, so relative links between them resolve), the bibliography and
    the local MathJax. Returns what was written (``notebooks``, ``sessions``, ``papers``)."""
    import nbformat

    run_dir, src = Path(run_dir), Path(src)
    root = Path(root) if root is not None else _ROOT
    course_md = root / "COURSE.md"
    if not course_md.is_file():
        raise ValueError(f"root {str(root)!r} has no COURSE.md: pass the project checkout's folder")
    notebooks = _executed_notebooks(run_dir)
    if src.exists():
        shutil.rmtree(src)
    (src / "notebooks").mkdir(parents=True)
    read = {}
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        static_widgets(nb)
        nb.metadata.pop("papermill", None)
        read[path] = nb
    linked = set().union(*(_cell_links(nb) for nb in read.values()))
    names = []
    for path, nb in read.items():
        _link_cells(nb, {cell for name, cell in linked if name == path.stem})
        nbformat.write(nb, str(src / "notebooks" / path.name))
        names.append(path.stem)
    papers = sorted((root / "docs" / "papers").glob("*.md"))
    (src / "docs" / "papers").mkdir(parents=True)
    for paper in papers:
        shutil.copy2(paper, src / "docs" / "papers" / paper.name)

    intro, sections = course_sessions(course_md.read_text(encoding="utf-8"))
    session_pages, other_pages, listed = [], [], set()
    (src / "course").mkdir()
    for section in sections:
        shown = [n for n in section["notebooks"] if n in names]
        listed.update(shown)
        body = f"# {section['title']}\n\n{section['body']}\n"
        if section["slug"] == "reading-list":
            body += "\n## Bibliography\n\n```{bibliography}\n:all:\n```\n"
        if shown:
            body += "\n" + _toctree([f"/notebooks/{n}" for n in shown], caption="Notebooks")
        (src / "course" / f"{section['slug']}.md").write_text(body, encoding="utf-8")
        (session_pages if section["slug"].startswith("session") else other_pages).append(f"course/{section['slug']}")
    unlisted = [f"notebooks/{n}" for n in names if n not in listed]
    index = intro.strip() + "\n\n" + _toctree(session_pages, caption="Sessions")
    if unlisted:
        index += "\n" + _toctree(unlisted, caption="More notebooks")
    index += "\n" + _toctree([f"docs/papers/{p.stem}" for p in papers], caption="The papers")
    index += "\n" + _toctree(other_pages, caption="Reading and teaching")
    (src / "index.md").write_text(index, encoding="utf-8")
    (src / "references.bib").write_text(REFERENCES_BIB.strip() + "\n", encoding="utf-8")
    (src / "conf.py").write_text(_CONF, encoding="utf-8")
    shutil.copytree(_mathjax_dir(), src / "_static" / "mathjax")
    return {"notebooks": names, "sessions": session_pages, "papers": [p.stem for p in papers]}


def check_available() -> None:
    """Raise RuntimeError (saying what to install) unless the site's packages are installed."""
    for module in ("sphinx", "myst_nb", "sphinx_book_theme", "sphinxcontrib.bibtex", "jupyter_server_mathjax"):
        try:
            __import__(module)
        except ImportError:
            raise RuntimeError(f"the course site needs {module}: pip install 'mmcl-theory-lab[site]'") from None


def _mathjax_dir() -> Path:
    check_available()
    import jupyter_server_mathjax

    path = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (path / "MathJax.js").is_file():
        raise RuntimeError(f"no MathJax.js under {path}: reinstall jupyter-server-mathjax")
    return path


def build_site(run_dir="runs/latest", out=None, root=None, quiet: bool = True) -> dict:
    """Build the course site from the executed notebooks of a ``mmcl reproduce`` run (no notebook is re-executed).

    Args:
        run_dir: the ``--out`` folder of a ``mmcl reproduce`` run (its ``notebooks/`` hold the executed notebooks).
        out: where the HTML goes (default ``<run_dir>/html``); the Sphinx sources go to ``<out>/../site-src``.
        root: the project checkout holding COURSE.md and docs/papers (default: this package's checkout).
        quiet: hide Sphinx's progress output (warnings are always returned).

    Returns:
        dict with ``index`` (path of index.html), ``pages`` (HTML pages), ``size_bytes``, ``seconds``,
        ``warnings`` (Sphinx's warning lines) and ``notebooks``.
    """
    if not isinstance(quiet, bool):
        raise TypeError(f"quiet must be a bool, got {type(quiet).__name__}")
    check_available()
    start = time.perf_counter()
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "html"
    src = out.parent / "site-src"
    written = write_sources(run_dir, src, root)
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-j", "1", "-d", str(src / "_doctrees"), str(src), str(out)]
    proc = subprocess.run(cmd + (["-q"] if quiet else []), capture_output=quiet, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sphinx-build failed (exit {proc.returncode}):\n{(proc.stderr or '')[-3000:]}")
    warnings = [ln for ln in (proc.stderr or "").splitlines() if "WARNING" in ln]
    pages = sorted(out.rglob("*.html"))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {"index": out / "index.html", "pages": len(pages), "size_bytes": size,
            "seconds": time.perf_counter() - start, "warnings": warnings, "notebooks": written["notebooks"]}
