"""Student and instructor versions of the notebooks from one source.

An exercise cell is a code cell tagged ``exercise`` whose metadata names its id (``"exercise_id": "04.1"``, see
:data:`mmcl_core.exercises.EXERCISES`). Its solution sits between two marker lines::

    def s_beta(X, Y, M, temperature):
        # BEGIN SOLUTION
        ...
        # END SOLUTION
    exercises.check("04.1", s_beta)

The student version replaces each marked block by ``raise NotImplementedError(...)`` at the block's indentation;
the instructor version keeps the solution and drops the marker lines. Nothing else changes, so a student notebook
runs like the instructor's until an exercise cell, and fails there only (with ``NotImplementedError``): no later cell
depends on an exercise. :func:`student_problems` checks exactly that on an executed student notebook.

This module only rewrites notebooks (nbformat); executing them is :mod:`mmcl_core.cli`'s job.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

__all__ = ["EXERCISE_TAG", "BEGIN", "END", "VERSIONS", "exercise_cells", "student_source", "instructor_source",
           "build", "student_problems"]

EXERCISE_TAG = "exercise"
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
VERSIONS = ("student", "instructor")
_BANNER = {
    "student": ("**Student version.** The exercise cells at the end raise `NotImplementedError` until you replace "
                "each `raise NotImplementedError(...)` line with your answer; run the cell and the checker says "
                "whether it is right, or gives a hint. Every other cell runs as it is."),
    "instructor": ("**Instructor version.** The exercise cells at the end hold the solutions; the student version "
                   "(`mmcl course build`) has stubs in their place. Every checker passes on this version."),
}


def exercise_cells(nb) -> list:
    """(index, cell, exercise id) of the exercise cells of a notebook."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and EXERCISE_TAG in cell.metadata.get("tags", []):
            ex_id = cell.metadata.get("exercise_id")
            if not isinstance(ex_id, str):
                raise ValueError(f"exercise cell {index} has no 'exercise_id' in its metadata")
            found.append((index, cell, ex_id))
    return found


def _blocks(source: str, ex_id: str):
    """Split a cell's lines into (before, [(indent, solution lines)], between/after ...) checking the markers."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not starts or len(starts) != len(ends) or any(not s < e for s, e in zip(starts, ends)) or \
            any(e > s2 for e, s2 in zip(ends, starts[1:])):
        raise ValueError(f"exercise {ex_id}: the cell needs matched '{BEGIN}' / '{END}' lines, in order")
    return lines, list(zip(starts, ends))


def _assigned_names(block: list[str]) -> list[str]:
    """Names assigned at the top level of a top-level solution block (what the checker call below reads)."""
    import ast

    try:
        tree = ast.parse("\n".join(block))
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def student_source(source: str, ex_id: str) -> str:
    """The cell source with every solution block replaced by a ``NotImplementedError`` stub (a top-level block
    also names, in a comment, what it must define; left undefined, so a later cell that used it would fail)."""
    lines, pairs = _blocks(source, ex_id)
    out, last = [], 0
    for start, end in pairs:
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        out += lines[last:start]
        if not indent:
            out += [f"# {name} = ...  (define it)" for name in _assigned_names(lines[start + 1:end])]
        out.append(f'{indent}raise NotImplementedError("Exercise {ex_id}: replace this line with your answer")')
        last = end + 1
    return "\n".join(out + lines[last:])


def instructor_source(source: str, ex_id: str) -> str:
    """The cell source with the solution kept and the marker lines removed."""
    lines, _ = _blocks(source, ex_id)
    return "\n".join(line for line in lines if line.strip() not in (BEGIN, END))


def build(out, notebook_dir=None) -> dict:
    """Write ``<out>/student`` and ``<out>/instructor``: every numbered notebook, exercise cells rewritten.

    Args:
        out: output folder (created; the two version folders are replaced).
        notebook_dir: source notebooks (default: found like ``mmcl reproduce`` finds them).

    Returns:
        dict ``{"student": [paths], "instructor": [paths], "exercises": {notebook stem: [ids]}}``.

    Raises:
        ValueError: an exercise cell without matched markers or id, or an id unknown to
        :mod:`mmcl_core.exercises`, or an id used twice.
    """
    import nbformat

    from .notebooks import list_notebooks
    from .exercises import EXERCISES

    out = Path(out)
    result = {"student": [], "instructor": [], "exercises": {}}
    dirs = {v: out / v for v in VERSIONS}
    for d in dirs.values():
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    seen: set = set()
    for path in list_notebooks(notebook_dir):
        source_nb = nbformat.read(str(path), as_version=4)
        cells = exercise_cells(source_nb)
        for _, _, ex_id in cells:
            if ex_id not in EXERCISES:
                raise ValueError(f"{path.name}: exercise_id {ex_id!r} is not in mmcl_core.exercises.EXERCISES")
            if ex_id in seen:
                raise ValueError(f"{path.name}: exercise_id {ex_id!r} is used twice")
            seen.add(ex_id)
        if cells:
            result["exercises"][path.stem] = [ex_id for _, _, ex_id in cells]
        for version in VERSIONS:
            nb = copy.deepcopy(source_nb)
            rewrite = student_source if version == "student" else instructor_source
            for index, _, ex_id in cells:
                nb.cells[index].source = rewrite(nb.cells[index].source, ex_id)
            if cells:
                banner = nbformat.v4.new_markdown_cell(_BANNER[version])
                banner.id = f"{version}-banner"
                nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0, banner)
            nb.metadata.setdefault("mmcl", {})["version"] = version
            target = dirs[version] / path.name
            nbformat.write(nb, str(target))
            result[version].append(target)
    return result


def student_problems(nb) -> list[str]:
    """What is wrong with an executed student notebook (run with errors allowed); empty when all is well.

    Well means: every exercise cell ended in ``NotImplementedError`` (its stub), and no other cell has an error.
    """
    exercise_index = {index: ex_id for index, _, ex_id in exercise_cells(nb)}
    problems = []
    for index, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if index in exercise_index:
            names = [o.get("ename") for o in errors]
            if names != ["NotImplementedError"]:
                problems.append(f"exercise {exercise_index[index]} (cell {index}): expected NotImplementedError, "
                                f"got {names or 'no error'}")
        elif errors:
            problems += [f"cell {index} (not an exercise): {o.get('ename')}: {o.get('evalue')}" for o in errors]
    return problems

