"""Project-level contracts: import side effects, dependency lists, README and CI."""

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
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["dev"])
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
