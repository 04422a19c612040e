"""The instructors' page "Kursverwaltung" (course.lab) on a real Jupyter server: grade all, report, export."""

import csv
import io
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from formgrader import formgrader
from harness import answer_cell, grading_cell, probe_notebook

from course import publish
from course.demo import write_submission

REPO = Path(__file__).resolve().parents[1]
A, NB = "01_seite", "seite"
ANSWERS = {
    "anna": {"doppelt": "def doppelt(x):\n    return x + x"},  # right: 2 points
    "ben": {"doppelt": "def doppelt(x):\n    return 2 * x + 1"},  # wrong: 0
    "carla": {},  # nothing: 0
}


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("seite") / "kurs"
    (root / "source" / A).mkdir(parents=True)
    (root / "source" / "02_leer").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    nb = probe_notebook(
        answer_cell("doppelt", "def doppelt(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        grading_cell("doppelt", 2, "assert doppelt(2) == 4", "assert doppelt(-3) == -6"),
    )
    nbformat.write(nb, root / "source" / A / f"{NB}.ipynb")
    nbformat.write(nb, root / "source" / "02_leer" / f"{NB}.ipynb")
    publish.release(root)
    for student, answers in ANSWERS.items():
        write_submission(root, A, student, answers)
    return root


def test_grade_all_report_and_export_from_the_page(course_root, tmp_path):
    with formgrader(course_root, tmp_path / "server.log") as fg:
        redirect = fg.get("/kurs", allow_redirects=False)
        assert redirect.status_code in (301, 302) and redirect.headers["Location"].endswith("/kurs/")
        page = fg.get("/kurs/")
        assert page.status_code == 200 and '<html lang="de">' in page.text
        assert f'<tr><td>{A}</td><td>3</td><td><button data-assignment="{A}" data-leer="0">' in page.text
        assert '<tr><td>02_leer</td><td>0</td><td><button data-assignment="02_leer" data-leer="1">' in page.text

        start = time.monotonic()
        started = fg.session.post(f"{fg.url}/kurs/api/bewerten/{A}", timeout=30)
        assert started.status_code == 202, started.text
        again = fg.session.post(f"{fg.url}/kurs/api/bewerten/{A}", timeout=30)
        assert again.status_code == 409 and "schon bewertet" in again.json()["fehler"]
        seen = []
        while True:
            status = fg.get("/kurs/api/status").json()
            seen.append((status["fertig"], status["gesamt"]))
            if not status["laeuft"]:
                break
            assert time.monotonic() - start < 300, status
            time.sleep(0.5)
        assert status["exitcode"] == 0 and (status["fertig"], status["gesamt"]) == (3, 3), status
        assert "3 von 3 Abgaben bewertet." in status["meldungen"], status
        assert fg.session.post(f"{fg.url}/kurs/api/bewerten/99_nix", timeout=30).status_code == 404

        # the same gradebook as every other path: the Formgrader shows the points
        scores = {s["student"]: s["score"] for s in fg.notebook_submissions(A, NB)}
        assert scores == {"anna": 2.0, "ben": 0.0, "carla": 0.0}

        report = fg.get("/kurs/bericht")
        assert report.status_code == 200 and "Bericht für Lehrende" in report.text
        assert "<tr><td>anna</td>" in report.text and (course_root / "reports" / "bericht.html").is_file()

        moodle = fg.get("/kurs/export", params={"format": "moodle"})
        assert moodle.headers["Content-Disposition"] == 'attachment; filename="noten_moodle.csv"'
        rows = list(csv.DictReader(io.StringIO(moodle.content.decode("utf-8"))))
        assert [(r["Anmeldename"], r[A]) for r in rows] == [("anna", "2"), ("ben", "0"), ("carla", "0")]
        plain = fg.get("/kurs/export", params={"format": "nbgrader"})
        assert plain.text.startswith("assignment,duedate,timestamp,student_id")
        assert fg.get("/kurs/export", params={"format": "xls"}).status_code == 400
