"""Read and write the answer cells of nbgrader notebooks.

Used by the demo (to build example submissions) and by the tests (to inject
right and wrong answers into the student version).
"""

from __future__ import annotations

import re

import nbformat

_SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_answer_cell(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_autograded_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def solution_answers(source_nb) -> dict[str, str]:
    """``grade_id -> source`` of every answer cell, with the solution markers removed."""
    answers = {}
    for cell in source_nb.cells:
        if is_answer_cell(cell):
            lines = cell.source.splitlines()
            answers[nbgrader_meta(cell)["grade_id"]] = "\n".join(
                line for line in lines if not _SOLUTION_MARKER.match(line)
            )
    return answers


def fill_answers(student_nb, answers: dict[str, str]):
    """Return a copy of ``student_nb`` whose answer cells hold ``answers`` (by grade_id).

    Raises ``KeyError`` for a grade_id that is not an answer cell of the notebook,
    so a typo in a test cannot go unnoticed.
    """
    nb = nbformat.from_dict(student_nb)
    cells = {nbgrader_meta(c).get("grade_id"): c for c in nb.cells if is_answer_cell(c)}
    unknown = sorted(set(answers) - set(cells))
    if unknown:
        raise KeyError(f"no answer cell with grade_id {unknown}; known: {sorted(cells)}")
    for grade_id, source in answers.items():
        cells[grade_id].source = source
    return nb
