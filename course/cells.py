"""The course's conventions for nbgrader cells, in one place.

A graded test cell is a locked code cell with ``grade_id = "test_<task>"``; its
hidden part sits between the hidden-test markers.  Answer cells hold a solution
block between the solution markers.  nbgrader's own ``is_grade``/``is_solution``
decide what a cell is.

Kernels import this module too (:mod:`course.checks` prints :data:`PASS_MARK`): nbgrader is imported only when a
cell is classified, never in a kernel.  Importing nbgrader loads nbformat, jsonschema and jupyter_server, about
three CPU seconds per kernel, which every graded submission would pay (``tests/test_course_package.py``).
"""

from __future__ import annotations

import re

TEST_PREFIX = "test_"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
#: A graded test cell's outputs keep only stdout lines that start with this mark (a passing check says so in
#: one German line); every other stream, warning and result of a test cell is dropped during grading.
PASS_MARK = "✔ "


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def task_name(grade_id_: str) -> str:
    """The task a grade belongs to: ``test_relu`` -> ``relu``; free-text answers keep their id."""
    return grade_id_.removeprefix(TEST_PREFIX)


def is_answer_cell(cell) -> bool:
    from nbgrader.utils import is_solution

    return is_solution(cell)


def is_autograded_test(cell) -> bool:
    """A test cell that nbgrader grades automatically (graded, code, not an answer)."""
    from nbgrader.utils import is_grade, is_solution

    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def graded_tasks(nb) -> dict[str, float]:
    """``task -> points`` of every autograded test cell, in notebook order."""
    return {task_name(grade_id(c)): float(nbgrader_meta(c)["points"]) for c in nb.cells if is_autograded_test(c)}


def hidden_lines(source: str) -> range:
    """1-based line numbers of the hidden block of a test cell (empty if there is none)."""
    lines = [line.strip() for line in source.splitlines()]
    if BEGIN_HIDDEN not in lines or END_HIDDEN not in lines:
        return range(0)
    return range(lines.index(BEGIN_HIDDEN) + 1, lines.index(END_HIDDEN) + 2)


def without_solution_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not SOLUTION_MARKER.match(line))
