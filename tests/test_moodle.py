"""`course export --format moodle`: read back by a parser that follows Moodle's grade import (CSV).

Moodle's importer (grade/import/csv, ``gradeimport_csv_load_data`` with ``csv_import_reader``):
the first line names the columns (trimmed, no duplicates, at least two); every further line with more
than one field is a student; one column is mapped to a user field (here ``username``), the others to
grade items; a grade of ``''`` or ``'-'`` means no grade, anything else goes through
``unformat_float($value, true)``: spaces removed, the language's decimal separator turned into a point,
then it must be numeric (PHP ``is_numeric``), else the whole import stops ("badgrade").
"""

import csv
import io
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_notebook

from course import cli
from course.api import nbgrader_api
from course.moodle import ID_COLUMN, points

REPO = Path(__file__).resolve().parents[1]
PHP_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


class MoodleImportError(ValueError):
    pass


def unformat_float(value: str, decsep: str) -> float | None:
    """Moodle's ``unformat_float($value, true)`` for a language with decimal separator ``decsep``."""
    value = value.strip()
    if value == "":
        return None
    value = value.replace(" ", "").replace(decsep, ".")
    if not PHP_NUMERIC.match(value):
        raise MoodleImportError(f"badgrade: {value!r}")
    return float(value)


def moodle_import(text: str, mapfrom: str, decsep: str) -> dict[str, dict[str, float | None]]:
    """``username -> {grade item (new, named after its column) -> grade}`` as Moodle would import it."""
    if text.startswith("\ufeff"):
        text = text[1:]  # csv_import_reader drops a BOM
    lines = list(csv.reader(io.StringIO(text), delimiter=",", quotechar='"'))
    header = [h.strip() for h in lines[0]]
    if len(header) < 2:
        raise MoodleImportError("csvfewcolumns")
    if len(set(header)) != len(header):
        raise MoodleImportError("duplicatefieldname")
    if mapfrom not in header:
        raise MoodleImportError("no user mapping")
    grades = {}
    for line in lines[1:]:
        if len(line) <= 1:
            continue  # "There is no data on this line, move on."
        if len(line) != len(header):
            raise MoodleImportError("csvweirdcolumnscount")
        row = dict(zip(header, (v.strip() for v in line), strict=True))
        user = row.pop(mapfrom)
        if not user:
            raise MoodleImportError("usermappingerrorusernotfound")
        grades[user] = {item: None if v in {"", "-"} else unformat_float(v, decsep) for item, v in row.items()}
    return grades


def test_the_parser_rejects_what_moodle_rejects():
    with pytest.raises(MoodleImportError):
        moodle_import("Anmeldename,01\nanna,1.5.0\n", ID_COLUMN, ",")
    with pytest.raises(MoodleImportError):
        moodle_import('Anmeldename,01\nanna,"1,5"\n', ID_COLUMN, ".")  # a comma in an English Moodle
    assert moodle_import('Anmeldename,01\nanna,"1,5"\n', ID_COLUMN, ",") == {"anna": {"01": 1.5}}
    assert moodle_import("Anmeldename,01\nanna,-\n\n", ID_COLUMN, ".") == {"anna": {"01": None}}


def test_points_have_a_decimal_point():
    assert [points(x) for x in (2, 2.0, 1.5, 1 / 3, 0.0, -0.0, 49)] == ["2", "2", "1.5", "0.33", "0", "0", "49"]


@pytest.fixture
def gradebook_course(tmp_path):
    """A course with three assignments (the last a bonus one), points set in the gradebook directly."""
    from nbgrader.api import Gradebook

    root = tmp_path / "kurs"
    for name in ("01_eins", "02_zwei", "08_micrograd"):
        (root / "source" / name).mkdir(parents=True)
        nbformat.write(new_notebook(), root / "source" / name / "nb.ipynb")
    shutil.copy(REPO / "nbgrader_config.py", root)
    with Gradebook(nbgrader_api(root).coursedir.db_url) as gb:
        for name, cells in {"01_eins": {"a": 2, "b": 3}, "02_zwei": {"c": 4}, "08_micrograd": {"d": 22}}.items():
            gb.add_assignment(name)
            gb.add_notebook("nb", name)
            for cell, maximum in cells.items():
                gb.add_grade_cell(cell, "nb", name, max_score=maximum, cell_type="code")
        for student in ("anna", "ben", "o'neil"):
            gb.add_student(student)
        scores = {
            ("01_eins", "anna"): {"a": (2, None), "b": (1, 2.5)},  # (auto, hand): the hand grade counts
            ("02_zwei", "anna"): {"c": (1 / 3, None)},
            ("08_micrograd", "anna"): {"d": (12, None)},
            ("01_eins", "ben"): {"a": (0, None), "b": (3, None)},
            ("01_eins", "o'neil"): {"a": (1.5, None), "b": (0, None)},
        }
        for (name, student), cells in scores.items():
            gb.add_submission(name, student)
            for cell, (auto, hand) in cells.items():
                grade = gb.find_grade(cell, "nb", name, student)
                grade.auto_score, grade.manual_score, grade.needs_manual_grade = auto, hand, False
        gb.db.commit()
    return root


def test_moodle_export_round_trips(gradebook_course, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--root", str(gradebook_course), "export", "--format", "moodle"]) == 0
    assert capsys.readouterr().out == f"exportiert: {tmp_path / 'noten_moodle.csv'}\n"
    text = (tmp_path / "noten_moodle.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "Anmeldename,01_eins,02_zwei,08_micrograd (Bonus)"
    expected = {
        "anna": {"01_eins": 4.5, "02_zwei": 0.33, "08_micrograd (Bonus)": 12.0},
        "ben": {"01_eins": 3.0, "02_zwei": 0.0, "08_micrograd (Bonus)": 0.0},
        "o'neil": {"01_eins": 1.5, "02_zwei": 0.0, "08_micrograd (Bonus)": 0.0},
    }
    for decsep in (".", ","):  # an English and a German Moodle
        assert moodle_import(text, ID_COLUMN, decsep) == expected
    # the plain nbgrader CSV stays as it was, with the same totals
    assert cli.main(["--root", str(gradebook_course), "export"]) == 0
    with (tmp_path / "grades.csv").open(encoding="utf-8") as f:
        nbgrader_rows = list(csv.DictReader(f))
    same = {
        (s, a.removesuffix(" (Bonus)")): pytest.approx(v, abs=0.005) for s, g in expected.items() for a, v in g.items()
    }
    assert {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in nbgrader_rows} == same


def test_moodle_export_says_which_points_are_provisional(gradebook_course, tmp_path, capsys):
    from nbgrader.api import Gradebook

    with Gradebook(nbgrader_api(gradebook_course).coursedir.db_url) as gb:
        gb.find_grade("c", "nb", "02_zwei", "anna").needs_manual_grade = True
        gb.db.commit()
    target = tmp_path / "m.csv"
    assert cli.main(["--root", str(gradebook_course), "export", "--format", "moodle", "--to", str(target)]) == 0
    assert "Handbewertung ausstehend bei anna" in capsys.readouterr().out
    assert moodle_import(target.read_text(encoding="utf-8"), ID_COLUMN, ",")["anna"]["02_zwei"] == 0.33
