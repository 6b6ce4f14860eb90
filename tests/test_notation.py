"""One symbol, one meaning: notebook 00's table is the suite's notation, and the notebooks and the code keep to it."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MATH = re.compile(r"\$\$.+?\$\$|\$.+?\$", re.S)


def _sym(name: str) -> str:
    return rf"(?<![A-Za-z\\]){name}(?![A-Za-z])"


# symbol uses that collide with the table (what each meant before it was given its own letter)
RETIRED = {
    _sym("k"): "k (use r for the rank, K for the number of classes, c for a class)",
    _sym("p") + r"(?![_\w'^])": "a bare p (p_{ij} is the row softmax; name other probabilities: p_{\\rm train}, ...)",
    _sym("q") + r"(?![_\w'])": "a bare q (q_{ij} is the column softmax; q_{\\rm core}, q_{\\rm style})",
    r"\\eta_\{(style|cls)\}": "eta for augmentation mass (eta is the learning rate; use a_{\\rm style}, a_{\\rm cls})",
    r"w_r\b|\\rho_\{r|\\gamma_r": "Huang's neuron index r and noise coefficient rho (use h and omega)",
    r"\\varepsilon'|\\sigma_\\varepsilon": "epsilon as a noise draw (epsilon is the fraction of wrong pairs)",
    r"\\lambda_\{k\+1\}|\\mathrm\{SVD\}_p": "k or p as the embedding dimension (use r)",
    r"\\beta(?![_()\\])": "beta as a class mean (beta_{ij} are the CLIP weights; use mu_{\\rm core})",
}


def _math(path):
    nb = nbformat.read(str(path), as_version=4)
    return [(c.id, m.group(0)) for c in nb.cells if c.cell_type == "markdown" for m in MATH.finditer(c.source)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_formulas_keep_to_the_notation_table(path):
    bad = [(cell, text, why) for cell, text in _math(path) for pattern, why in RETIRED.items()
           if re.search(pattern, text)]
    assert not bad, bad


def test_the_notation_table_defines_the_shared_symbols():
    table = next(c.source for c in nbformat.read(str(NOTEBOOKS[0]), as_version=4).cells
                 if c.cell_type == "markdown" and "One notation for four papers" in c.source)
    for symbol in (r"$r$", r"$K$, $c$", r"$\rho$, $\eta$", r"$p_{ij}$, $q_{ij}$", r"$\varepsilon$", r"$p_{\rm train}$",
                   r"$q_{\rm core}$, $q_{\rm style}$", r"$a_{\rm style}$", r"$\mu_{\rm core}$",
                   r"$\gamma_h$, $\omega_{h,i}$",
                   r"$B$, $N$", r"$\beta_{ij}$"):
        assert f"| {symbol}" in table, symbol


# argument names that meant different things in different papers, and what they are called now
RETIRED_ARGS = {"r": "rank or n_classes", "k": "rank, n_classes or n_neighbors", "S": "n_styles", "T": "n_templates",
                "eta_style": "aug_style", "eta_cls": "aug_cls", "beta": "mu_core (Xue) -- beta is the CLIP weight",
                "q": "q_core / q_style"}


def test_no_function_takes_an_argument_with_a_retired_name():
    bad = []
    for path in sorted((ROOT / "mmcl_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs]
                bad += [(path.name, node.name, n, RETIRED_ARGS[n]) for n in names if n in RETIRED_ARGS]
    assert not bad, bad


def test_identifiers_spell_color_one_way():
    """Code identifiers and keys say "color" (as matplotlib and ColoredMNIST do); prose may say "colour"."""
    pattern = re.compile(r"\b\w*colour\w*\b", re.I)
    bad = []
    for path in sorted((ROOT / "mmcl_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(node, "id", None) or getattr(node, "arg", None) or getattr(node, "attr", None)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                name = node.name
            if isinstance(name, str) and pattern.search(name):
                bad.append((path.name, name))
            key_like = isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and re.fullmatch(r"[\w+:{}]+", node.value)
            if key_like and pattern.search(node.value):
                bad.append((path.name, node.value))
    assert not bad and not (ROOT / "mmcl_core" / "data" / "colour_cue.py").exists(), bad
