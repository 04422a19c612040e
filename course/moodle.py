"""Grades for Moodle's grade import (*Bewertungen → Import → CSV-Datei*): ``course export --format moodle``.

One row per student, the first column the student's login (nbgrader's student id, on the hub the
login name; in Moodle mapped to *Anmeldename* / ``username``), then one column per assignment with
the points from the gradebook (nbgrader's score after a late penalty, as the ``score`` column of its CSV).
Numbers use a decimal point: Moodle's importer reads grades with ``unformat_float``, which takes a
point in every language (and the language's own separator, a comma in German, besides).  Separator
comma, UTF-8 without BOM, fields with a comma or quote quoted, as Moodle's ``csv_import_reader`` reads
them.  A bonus assignment (:data:`course.scores.BONUS_ASSIGNMENTS`) gets its own column, marked
"(Bonus)"; in Moodle it becomes a grade item with *Extrapunkte* (extra credit) in the course total.
"""

from __future__ import annotations

import csv
from pathlib import Path

from nbgrader.api import Gradebook

from course.api import nbgrader_api
from course.layout import selected
from course.scores import BONUS_ASSIGNMENTS

ID_COLUMN = "Anmeldename"


def column(assignment: str) -> str:
    return f"{assignment} (Bonus)" if assignment in BONUS_ASSIGNMENTS else assignment


def points(x: float) -> str:
    """``2``, ``1.5``, ``0.33``: a decimal point, at most two decimals, no exponent."""
    text = f"{round(float(x), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def moodle_rows(gb: Gradebook, names: list[str]) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """Header, one row per student of the gradebook, and the students whose points are still provisional.

    A student without a submission gets 0 points for that assignment (as in nbgrader's own CSV export).
    """
    present = [n for n in names if any(a.name == n for a in gb.assignments)]
    header = [ID_COLUMN] + [column(n) for n in present]
    rows, provisional = [], []
    for student in sorted(gb.students, key=lambda s: s.id):
        row = {ID_COLUMN: student.id}
        pending = False
        for name in present:
            try:
                submission = gb.find_submission(name, student.id)
            except Exception:  # MissingEntry: nothing submitted
                row[column(name)] = points(0)
                continue
            penalty = submission.late_submission_penalty or 0.0  # as nbgrader's CSV: score after a late penalty
            row[column(name)] = points(max(0.0, submission.score - penalty))
            pending = pending or bool(submission.needs_manual_grade)
        rows.append(row)
        if pending:
            provisional.append(student.id)
    return header, rows, provisional


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def export(root: Path, path: Path) -> list[str]:
    """Write the Moodle CSV of all assignments; return the students whose points are still provisional."""
    api = nbgrader_api(root)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        header, rows, provisional = moodle_rows(gb, selected(root, None))
    write(path, header, rows)
    return provisional
