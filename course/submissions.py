"""Read and write the answer cells of nbgrader notebooks.

Used by the demo (to build example submissions) and by the tests (to inject
right and wrong answers into the student version).
"""

from __future__ import annotations

import nbformat

from course.cells import grade_id, is_answer_cell, without_solution_markers


def solution_answers(source_nb) -> dict[str, str]:
    """``grade_id -> source`` of every answer cell, with the solution markers removed."""
    answers = {}
    for cell in source_nb.cells:
        if is_answer_cell(cell):
            answers[grade_id(cell)] = without_solution_markers(cell.source)
    return answers


def fill_answers(student_nb, answers: dict[str, str]):
    """Return a copy of ``student_nb`` whose answer cells hold ``answers`` (by grade_id).

    Raises ``KeyError`` for a grade_id that is not an answer cell of the notebook,
    so a typo in a test cannot go unnoticed.
    """
    nb = nbformat.from_dict(student_nb)
    cells = {grade_id(c): c for c in nb.cells if is_answer_cell(c)}
    unknown = sorted(set(answers) - set(cells))
    if unknown:
        raise KeyError(f"no answer cell with grade_id {unknown}; known: {sorted(cells)}")
    for name, source in answers.items():
        cells[name].source = source
    return nb


def restore_structure(submitted_nb, student_nb):
    """Undo tampering with the graded cells of a submission, keeping every answer and extra cell.

    Cells with an nbgrader ``grade_id`` of the student version (``student_nb``) get
    their original metadata back, locked cells (tests, given code) also their
    original source, and all of them their original order; a deleted one is put
    back.  A student's own extra cells stay right after the graded cell they
    followed.  Cells that claim an unknown or a duplicate grade_id lose their
    nbgrader metadata and run as ordinary code.  nbgrader then restores the
    hidden tests from the gradebook as usual.
    """
    nb = nbformat.from_dict(submitted_nb)
    reference = nbformat.from_dict(student_nb)
    position = {grade_id(c): i for i, c in enumerate(reference.cells) if grade_id(c)}
    groups: dict[int, list] = {}
    leading: list = []
    current = None
    for cell in nb.cells:
        name = grade_id(cell)
        index = position.get(name)
        if index is not None and index not in groups:
            groups[index] = [_restored(cell, reference.cells[index])]
            current = index
            continue
        if name is not None or "nbgrader" in cell.get("metadata", {}):
            cell.metadata.pop("nbgrader", None)
        (groups[current] if current is not None else leading).append(cell)
    for index in position.values():
        groups.setdefault(index, [reference.cells[index]])
    nb.cells = leading + [cell for index in sorted(groups) for cell in groups[index]]
    return nb


def _restored(cell, original):
    """``original`` with the student's source where the cell is an answer cell."""
    restored = nbformat.from_dict(original)
    if is_answer_cell(original) and cell.cell_type == original.cell_type:
        restored.source = cell.source
        if cell.cell_type == "code":
            restored.outputs = cell.get("outputs", [])
    return restored
