"""Project-level contracts: import side effects, dependency lists, README and CI."""

import ast
import re
import subprocess
import sys

import yaml
from conftest import ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib


def test_import_has_no_heavy_side_effects():
    code = ("import sys, mmcl_core; "
            "heavy = [m for m in ('papermill', 'sentence_transformers', 'matplotlib', 'ipywidgets', 'torch') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_core_modules_do_not_import_papermill_or_sentence_transformers():
    code = ("import sys; import mmcl_core.losses, mmcl_core.spectral, mmcl_core.experiments.start_here; "
            "print([m for m in ('papermill', 'sentence_transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _names(requirements):
    return {re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].strip().lower() for r in requirements}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = (_names(project["dependencies"]) | _names(extras["dev"]) | _names(extras["site"])) - {project["name"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"][0] == "conda-forge" and "defaults" not in env["channels"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    conda_to_pypi = {"pytorch": "torch"}
    pip_packages = [p.split("#")[0].strip() for p in pip_section if not p.startswith("-e")]
    have = ({conda_to_pypi.get(n, n) for n in _names(conda)} | _names(pip_packages)) - {"python", "pip"}
    assert have == wanted, f"only in environment.yml: {have - wanted}; only in pyproject: {wanted - have}"
    assert any(re.match(r'-e\s+"?\.(\[dev\])?"?$', p) for p in pip_section), pip_section


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:bash)?\n(.*?)```", text, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_readme_opens_with_two_commands_and_ci_runs_its_test_command():
    commands = _readme_commands()
    assert commands == ["./lab reproduce", "./lab test"], commands
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines() if not line.startswith("#")]
    assert "./lab test" in ci, "the README test command must be what .ci/run runs"
    script = (ROOT / "lab").read_text()
    assert (ROOT / "lab").stat().st_mode & 0o111, "./lab must be executable"
    assert "-m pytest" in script and "mmcl\" reproduce --profile quick" in script


def test_lab_script_is_valid_bash_and_explains_itself():
    subprocess.run(["bash", "-n", str(ROOT / "lab")], check=True)
    out = subprocess.run(["bash", str(ROOT / "lab"), "help"], capture_output=True, text=True, check=True).stdout
    assert "./lab reproduce" in out and "./lab test" in out
    bad = subprocess.run(["bash", str(ROOT / "lab"), "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown command" in bad.stderr


def test_license_and_citation_name_the_project_and_the_four_papers():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    titles = [r["title"] for r in cff["references"]]
    assert len(titles) == 4 and all(r["authors"] and r["year"] for r in cff["references"])


def _internal_imports() -> dict:
    """module -> the mmcl_core modules it imports (relative imports, anywhere in the file) and the top-level
    packages it imports."""
    import ast

    graph = {}
    for path in sorted((ROOT / "mmcl_core").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        package = parts[:-1] if path.name != "__init__.py" else parts[:-1]
        name = ".".join(parts if path.name != "__init__.py" else parts[:-1])
        internal, external = set(), set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import a, b
                    internal.update(f"{target}.{alias.name}" for alias in node.names)
                else:
                    internal.add(target)
            elif isinstance(node, ast.Import):
                external.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                external.add(node.module.split(".")[0])
        graph[name] = (internal, external)
    return graph


def test_imports_flow_one_way_and_no_two_modules_import_each_other():
    """ARCHITECTURE.md: the core rooms never import drawing, widgets, papermill, the CLI or a paper module; no import
    cycle between two modules."""
    graph = _internal_imports()
    core = ("losses", "spectral", "graphs", "data", "models", "train", "probes")
    for name, (internal, external) in graph.items():
        room = name.split(".")[1] if "." in name else ""
        if room in core:
            assert not external & {"matplotlib", "ipywidgets", "papermill"}, (name, external)
            assert not any(t.startswith(("mmcl_core.experiments", "mmcl_core.cli", "mmcl_core.figures"))
                           for t in internal), (name, internal)
    for name, (internal, _) in graph.items():
        for target in internal:
            if target in graph and target != name:
                assert name not in graph[target][0], f"{name} and {target} import each other"


def test_each_paper_module_stays_small():
    """ARCHITECTURE.md: a paper module passing ~400 lines gets a second module, re-exported by the first."""
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in (ROOT / "mmcl_core" / "experiments").glob("*.py")}
    assert all(n <= 400 for n in sizes.values()), {k: v for k, v in sizes.items() if v > 400}


def test_notebook_code_cells_are_thin():
    """Notebooks call mmcl_core, draw and assert: no code cell over 15 lines."""
    import nbformat

    long = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            lines = len(cell.source.strip().splitlines())
            if cell.cell_type == "code" and lines > 15:
                long.append((path.name, cell.get("id"), lines))
    assert not long, long


def test_no_function_in_the_package_is_long():
    """Math that matters lives in small functions: none over 60 lines (docstring included)."""
    long = []
    for path in sorted((ROOT / "mmcl_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append((str(path.relative_to(ROOT)), node.name, node.end_lineno - node.lineno + 1))
    assert not long, long
