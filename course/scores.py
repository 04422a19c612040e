"""Points from the gradebook: per task, as a table, and as CSV (nbgrader's export plus one row per task).

:class:`TaskCsvExportPlugin` is an nbgrader export plugin, so the per-task CSV also
comes from ``nbgrader export --exporter=course.scores.TaskCsvExportPlugin``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin, ExportPlugin

from course.api import nbgrader_api
from course.cells import task_name
from course.layout import selected

#: Assignments whose points are extra credit: full marks are the points of the others, these come on top
#: (the report and the Moodle export show them apart).
BONUS_ASSIGNMENTS = ("08_micrograd",)

#: The columns of :func:`task_scores` rows and of the per-task CSV files.
TASK_SCORE_FIELDS = ["student", "assignment", "task", "score", "max_score", "needs_manual_grade"]


def task_rows(gb: Gradebook, names: list[str]) -> list[dict]:
    """One row per student, assignment and graded cell of ``names``: score and maximum."""
    rows = []
    for name in names:
        try:
            assignment = gb.find_assignment(name)
        except MissingEntry:
            continue
        for submission in assignment.submissions:
            for notebook in submission.notebooks:
                for g in notebook.grades:
                    rows.append(
                        {
                            "student": submission.student.id,
                            "assignment": name,
                            "task": task_name(g.name),
                            "score": g.score,
                            "max_score": g.max_score,
                            "needs_manual_grade": g.needs_manual_grade,
                            "by_hand": g.manual_score is not None,  # not a CSV column
                        }
                    )
    return sorted(rows, key=lambda r: (r["student"], r["assignment"], r["task"]))


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class TaskCsvExportPlugin(ExportPlugin):
    """nbgrader export plugin: one CSV row per student, assignment and task."""

    def export(self, gradebook: Gradebook) -> None:
        names = self.assignment or [a.name for a in gradebook.assignments]
        rows = task_rows(gradebook, names)
        if self.student:
            rows = [r for r in rows if r["student"] in self.student]
        write_csv(Path(self.to or "grades_aufgaben.csv"), TASK_SCORE_FIELDS, rows)


def task_scores(root: Path, assignment: str | None = None) -> list[dict]:
    """One row per student, assignment and graded cell: score and maximum from the gradebook."""
    api = nbgrader_api(root)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        return task_rows(gb, selected(root, assignment))


def assignment_maxima(root: Path, names: list[str]) -> dict[str, float]:
    """``assignment -> full marks`` of the assignments of ``names`` that the gradebook knows, in that order."""
    api = nbgrader_api(root)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        known = {a.name: float(a.max_score) for a in gb.assignments}
    return {n: known[n] for n in names if n in known}


def export(root: Path, path: Path) -> Path:
    """nbgrader's CSV export (points per student and assignment) plus the per-task CSV beside it."""
    api = nbgrader_api(root)
    per_task = path.with_name(path.stem + "_aufgaben.csv")
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        CsvExportPlugin(to=str(path)).export(gb)
        TaskCsvExportPlugin(to=str(per_task), assignment=selected(root, None)).export(gb)
    return per_task


def score_table(rows: list[dict]) -> str:
    """Plain-text table: one line per assignment and task, one column per student."""
    students = sorted({r["student"] for r in rows})
    tasks = sorted({(r["assignment"], r["task"]) for r in rows})
    cell = {(r["student"], r["assignment"], r["task"]): r for r in rows}
    width = max([len("Aufgabe")] + [len(f"{a}/{t}") for a, t in tasks])
    lines = ["Aufgabe".ljust(width) + "".join(f"  {s:>16}" for s in students)]
    for a, t in tasks:
        parts = []
        for s in students:
            r = cell.get((s, a, t))
            if r is None:
                parts.append("-")
            elif r["needs_manual_grade"] and r.get("by_hand"):  # reopened: the old hand grade still counts
                parts.append(f"offen {r['score']:g}/{r['max_score']:g}")
            elif r["needs_manual_grade"]:
                parts.append(f"manuell/{r['max_score']:g}")
            else:
                parts.append(f"{r['score']:g}/{r['max_score']:g}")
        lines.append(f"{a}/{t}".ljust(width) + "".join(f"  {p:>16}" for p in parts))
    totals = []
    for s in students:
        mine = [r for r in rows if r["student"] == s]
        totals.append(f"{sum(r['score'] or 0 for r in mine):g}/{sum(r['max_score'] for r in mine):g}")
    lines.append("Summe".ljust(width) + "".join(f"  {p:>16}" for p in totals))
    return "\n".join(lines)
