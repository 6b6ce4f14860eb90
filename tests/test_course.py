"""The course build (student and instructor versions from one source), without running the suite; the slow
end-to-end run of both versions is in test_notebooks.py, the course site in test_site.py."""

from pathlib import Path

import nbformat
import pytest

from mmcl_core import cli, course
from mmcl_core.exercises import EXERCISES
from conftest import NOTEBOOKS, ROOT


def test_every_exercise_sits_in_its_notebook_once_with_markers():
    seen = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        cells = course.exercise_cells(nb)
        for index, cell, ex_id in cells:
            assert EXERCISES[ex_id].notebook == path.stem, (ex_id, path.name)
            assert f'exercises.check("{ex_id}"' in cell.source
            assert course.BEGIN in cell.source and course.END in cell.source
            assert index > max(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and i not in
                               {j for j, _, _ in cells}), "exercise cells come after every other code cell"
            seen[ex_id] = seen.get(ex_id, 0) + 1
    assert seen == {ex_id: 1 for ex_id in EXERCISES}


def test_build_writes_both_versions_and_only_exercise_cells_differ(tmp_path, capsys):
    assert cli.main(["course", "build", "--out", str(tmp_path)]) == 0
    assert "16 exercises" in capsys.readouterr().out
    for path in NOTEBOOKS:
        src = nbformat.read(str(path), as_version=4)
        student = nbformat.read(str(tmp_path / "student" / path.name), as_version=4)
        teacher = nbformat.read(str(tmp_path / "instructor" / path.name), as_version=4)
        assert student.metadata["mmcl"]["version"] == "student" and teacher.metadata["mmcl"]["version"] == "instructor"
        exercise_ids = {c.id for _, c, _ in course.exercise_cells(src)}
        strip = lambda nb: [c for c in nb.cells if not c.id.endswith("-banner")]
        assert len(strip(student)) == len(src.cells) == len(strip(teacher))
        for original, stu, ins in zip(src.cells, strip(student), strip(teacher)):
            if original.id not in exercise_ids:
                assert stu.source == original.source == ins.source
                continue
            assert "NotImplementedError" in stu.source and course.BEGIN not in stu.source
            assert "NotImplementedError" not in ins.source and course.BEGIN not in ins.source
            solution = original.source.split(course.BEGIN)[1].split(course.END)[0].strip().splitlines()
            assert all(line.strip() not in stu.source for line in solution if "=" in line and "..." not in line)
            assert all(line.strip() in ins.source for line in solution)
        if exercise_ids:
            assert student.cells[1].id == "student-banner" and teacher.cells[1].id == "instructor-banner"


def test_stub_keeps_indentation_and_the_names_the_checker_reads():
    fn = 'def f(x):\n    """doc"""\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n\ncheck("04.1", f)'
    stub = course.student_source(fn, "04.1")
    assert '    raise NotImplementedError("Exercise 04.1' in stub and "2 * x" not in stub
    compile(stub, "stub", "exec")
    value = "# BEGIN SOLUTION\nanswer = 1 / 10  # why\n# END SOLUTION\ncheck('03.2', answer)"
    stub = course.student_source(value, "03.2")
    assert stub.splitlines()[0] == "# answer = ...  (define it)" and "1 / 10" not in stub
    assert course.instructor_source(value, "03.2") == "answer = 1 / 10  # why\ncheck('03.2', answer)"


@pytest.mark.parametrize("source", ["x = 1", "# BEGIN SOLUTION\nx = 1", "# END SOLUTION\nx\n# BEGIN SOLUTION",
                                    "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n# END SOLUTION"])
def test_unmatched_markers_are_an_error_naming_the_exercise(source):
    with pytest.raises(ValueError, match="exercise 02.1"):
        course.student_source(source, "02.1")


def _executed(outputs_by_cell, exercise_at=(1,)):
    nb = nbformat.v4.new_notebook()
    for i, outputs in enumerate(outputs_by_cell):
        cell = nbformat.v4.new_code_cell("pass")
        cell.outputs = [nbformat.v4.new_output("error", ename=e, evalue="", traceback=[]) for e in outputs]
        if i in exercise_at:
            cell.metadata.update(tags=["exercise"], exercise_id=f"0{i}.1")
        nb.cells.append(cell)
    return nb


def test_student_problems_flags_every_way_a_student_run_can_go_wrong():
    assert course.student_problems(_executed([[], ["NotImplementedError"]])) == []
    assert "not an exercise" in course.student_problems(_executed([["NameError"], ["NotImplementedError"]]))[0]
    assert "got ['TypeError']" in course.student_problems(_executed([[], ["TypeError"]]))[0]
    assert "got no error" in course.student_problems(_executed([[], []]))[0]


def test_reproduce_rejects_a_non_bool_html_before_running(tmp_path):
    with pytest.raises(TypeError, match="html"):
        cli.reproduce(out=tmp_path, only="00*", html="yes")
    assert not (tmp_path / "summary.json").exists()


def test_course_md_describes_the_built_parts():
    text = (ROOT / "COURSE.md").read_text()
    for needle in ("mmcl course build", "--html", "mmcl site", "10_synthesis", "NotImplementedError"):
        assert needle in text, needle
    assert "not written yet" not in text


def _course_notebook(folder: Path, after_exercise: str = "print('done')"):
    """A numbered notebook with a parameters cell, exercise 03.2 and a cell after it."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    params = nbformat.v4.new_code_cell('profile: str = "quick"  # profile')
    params.metadata["tags"] = ["parameters"]
    exercise = nbformat.v4.new_code_cell("from mmcl_core import exercises\n# BEGIN SOLUTION\nrate = 1 / 10\n"
                                         "# END SOLUTION\nexercises.check('03.2', rate)")
    exercise.metadata.update(tags=["exercise"], exercise_id="03.2")
    nb.cells = [params, exercise, nbformat.v4.new_code_cell(after_exercise)]
    nbformat.write(nb, str(folder / "03_tiny.ipynb"))
    return folder


@pytest.mark.slow
def test_course_build_execute_passes_a_clean_course_and_fails_a_dependent_cell(tmp_path, capsys):
    good = _course_notebook(tmp_path / "good")
    assert cli.main(["course", "build", "--out", str(tmp_path / "out"), "--notebook-dir", str(good), "--execute",
                     "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1/1 checkers passed" in out and "1/1 notebooks fail only with NotImplementedError" in out
    assert (tmp_path / "out" / "run" / "html" / "index.html").exists()
    bad = _course_notebook(tmp_path / "bad", after_exercise="print(rate)")  # depends on the exercise
    assert cli.main(["course", "build", "--out", str(tmp_path / "out2"), "--notebook-dir", str(bad), "--execute",
                     "--no-progress"]) == 1
    assert "(not an exercise): NameError" in capsys.readouterr().out
