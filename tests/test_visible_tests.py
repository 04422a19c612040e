"""The visible tests behave the same in JupyterLab and in the trusted test kernel.

A student runs the released notebook (visible tests only) in one plain kernel, as JupyterLab and
``nbgrader validate`` do.  Grading runs the same test cells in the trusted kernel.  For the
solution, the blank version and a typical wrong answer of every assignment, both runs must agree
on every test cell: passed, or failed with the same error and the same German message.
"""

from __future__ import annotations

import importlib
import os

import pytest
from harness import REPO, make_course
from nbclient import NotebookClient

from course.cells import grade_id, is_autograded_test
from course.layout import assignments, read_notebook, source_notebook, student_notebook
from course.preprocessors.safe_execute import SafeExecute
from course.submissions import fill_answers, solution_answers

HEAVY = {"06_mnist"}  # one MNIST run takes a minute: solution and blank version only


def cases(assignment: str) -> list[str]:
    module = importlib.import_module(f"test_{assignment}")
    wrong = [name for name, variant in module.VARIANTS.items() if variant.base == "solution"][:1]
    return ["loesung", "leer"] + ([] if assignment in HEAVY else wrong)


def results(nb) -> dict[str, tuple[str, str] | None]:
    """``test cell -> None`` (passed) or ``(error name, message)``."""
    found = {}
    for cell in nb.cells:
        if is_autograded_test(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            found[grade_id(cell)] = (errors[0].ename, errors[0].evalue) if errors else None
    return found


@pytest.mark.parametrize("assignment", assignments(REPO))
def test_visible_tests_agree_locally_and_in_the_trusted_kernel(assignment, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", os.environ.get("COURSE_DATA_DIR", str(REPO / "data")))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the same (shorter) training in both runs
    root = make_course(tmp_path, assignment)
    solution = solution_answers(read_notebook(source_notebook(root, assignment)))
    released = read_notebook(student_notebook(root, assignment))
    module = importlib.import_module(f"test_{assignment}")
    folder = student_notebook(root, assignment).parent
    for case in cases(assignment):
        variant = module.VARIANTS.get(case)
        answers = {} if case == "leer" else dict(solution)
        if variant is not None:
            answers.update(variant.answers)
        nb = fill_answers(released, answers)
        local = fill_answers(released, answers)
        NotebookClient(
            local, timeout=600, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()
        SafeExecute(timeout=600).preprocess(nb, {"metadata": {"path": str(folder)}})
        assert results(nb) == results(local), f"{assignment}, {case}"
        if case == "loesung":
            assert not any(results(nb).values()), f"{assignment}: the solution passes every visible test"
        if case == "leer":
            assert all(results(nb).values()), f"{assignment}: the blank version passes no test"
