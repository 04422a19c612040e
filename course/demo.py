"""The main job of the quick start: three demo submissions per assignment, graded end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from course import grading, publish, scores
from course.cells import graded_tasks
from course.database import mask_password
from course.layout import read_notebook, source_notebook, student_notebook
from course.submissions import fill_answers, solution_answers

DEMO_STUDENTS = ("demo-loesung", "demo-leer", "demo-teilweise")


def write_submission(root: Path, assignment: str, student: str, answers: dict[str, str]) -> Path:
    """Write the student version of ``assignment`` with ``answers`` filled in to ``submitted/<student>/``."""
    release_nb = student_notebook(root, assignment)
    nb = fill_answers(read_notebook(release_nb), answers)
    target = root / "submitted" / student / assignment / release_nb.name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def demo_answers(root: Path, assignment: str) -> dict[str, dict[str, str]]:
    """Answers of the three demo students: the solution, nothing, and every other task solved."""
    source = read_notebook(source_notebook(root, assignment))
    solution = solution_answers(source)
    partly = {task: solution[task] for task in list(graded_tasks(source))[::2] if task in solution}
    return {"demo-loesung": solution, "demo-leer": {}, "demo-teilweise": partly}


def demo(root: Path, jobs: int | None = None) -> str:
    """Release, three demo submissions, autograde, feedback, CSV export, table."""
    for student in DEMO_STUDENTS:
        shutil.rmtree(root / "submitted" / student, ignore_errors=True)
    names = publish.release(root)
    for name in names:
        for student, answers in demo_answers(root, name).items():
            write_submission(root, name, student, answers)
    failures = [r for r in grading.grade(root, jobs=jobs) if not r.ok]
    publish.feedback(root)
    per_task = scores.export(root, root / "grades.csv")
    rows = [r for r in scores.task_scores(root) if r["student"] in DEMO_STUDENTS]
    notes = [f"Bewertung fehlgeschlagen: {r.assignment}/{r.student}: {mask_password(r.message)}" for r in failures]
    return "\n".join([scores.score_table(rows), "", f"Noten: {root / 'grades.csv'} und {per_task}", *notes])
