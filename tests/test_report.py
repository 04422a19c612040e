"""The instructor report (`python -m course report`) on a small, really graded course."""

import base64
import csv
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from harness import answer_cell, free_text_cell, grading_cell, grading_meta, probe_notebook
from nbformat.v4 import new_code_cell, new_notebook, new_output

from course import cli, grading, publish, report
from course.api import nbgrader_api
from course.demo import write_submission
from course.scores import TASK_SCORE_FIELDS

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "01_probe"

DOPPELT_2 = "AssertionError: doppelt(2) muss 4 ergeben."
QUADRAT_3 = "AssertionError: quadrat(3) muss 9 ergeben, nicht <etwas anderes>."
QUADRAT_HIDDEN = "AssertionError: quadrat(-2) muss 4 ergeben (versteckter Test)."

# student -> answers; the comments give the result of each task
STUDENTS = {
    # everything right; the free text waits for manual grading
    "anna": {
        "doppelt": "def doppelt(x):\n    return x + x",
        "quadrat": "def quadrat(x):\n    return x**2",
        "warum": "Weil es so ist.",
    },
    # doppelt wrong, quadrat right, no free text (0 at once, nothing to grade by hand)
    "ben": {"doppelt": "def doppelt(x):\n    return 2 * x + 1", "quadrat": "def quadrat(x):\n    return x * x"},
    # both wrong with the visible messages (doppelt like ben); the free text waits
    "carla": {
        "doppelt": "def doppelt(x):\n    return 2 * x + 1",
        "quadrat": "def quadrat(x):\n    return 2 * x",
        "warum": "Keine Ahnung.",
    },
    # doppelt left as given (NotImplementedError); quadrat passes the visible test, fails the hidden one
    "dora": {"quadrat": "def quadrat(x):\n    return x * abs(x)"},
}


def report_notebook():
    """Two autograded tasks with distinct German assertion messages and one free-text answer."""
    return probe_notebook(
        answer_cell("doppelt", "def doppelt(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        grading_cell(
            "doppelt", 2, 'assert doppelt(2) == 4, "doppelt(2) muss 4 ergeben."',
            'assert doppelt(-3) == -6, "doppelt(-3) muss -6 ergeben."',
        ),
        answer_cell("quadrat", "def quadrat(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
        grading_cell(
            "quadrat", 1, 'assert quadrat(3) == 9, "quadrat(3) muss 9 ergeben, nicht <etwas anderes>."',
            'assert quadrat(-2) == 4, "quadrat(-2) muss 4 ergeben (versteckter Test)."',
        ),
        free_text_cell("warum", 1, "Warum?", "Darum."),
    )  # fmt: skip


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """Release, four submissions, grading: done once for all tests of this file."""
    root = tmp_path_factory.mktemp("bericht") / "kurs"
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    nbformat.write(report_notebook(), root / "source" / ASSIGNMENT / "probe.ipynb")
    publish.release(root)
    for student, answers in STUDENTS.items():
        write_submission(root, ASSIGNMENT, student, answers)
    results = grading.grade(root, jobs=2, progress=False)
    assert [r.ok for r in results] == [True] * len(STUDENTS), results
    return root


@pytest.fixture(scope="module")
def written(graded_course):
    return report.write_report(graded_course, graded_course / "reports")


def read_csv(path):
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_report_files(graded_course, written):
    assert written == [
        graded_course / "reports" / name for name in ("bericht.html", "punkte.csv", "fehlermeldungen.csv")
    ]


def test_points_csv(written):
    rows = [tuple(r.values()) for r in read_csv(written[1])]
    assert rows == [
        ("anna", ASSIGNMENT, "doppelt", "2", "2", "False"),
        ("anna", ASSIGNMENT, "quadrat", "1", "1", "False"),
        ("anna", ASSIGNMENT, "warum", "", "1", "True"),  # waiting for manual grading, not 0
        ("ben", ASSIGNMENT, "doppelt", "0", "2", "False"),
        ("ben", ASSIGNMENT, "quadrat", "1", "1", "False"),
        ("ben", ASSIGNMENT, "warum", "0", "1", "False"),
        ("carla", ASSIGNMENT, "doppelt", "0", "2", "False"),
        ("carla", ASSIGNMENT, "quadrat", "0", "1", "False"),
        ("carla", ASSIGNMENT, "warum", "", "1", "True"),
        ("dora", ASSIGNMENT, "doppelt", "0", "2", "False"),
        ("dora", ASSIGNMENT, "quadrat", "0", "1", "False"),
        ("dora", ASSIGNMENT, "warum", "0", "1", "False"),
    ]
    assert list(read_csv(written[1])[0]) == TASK_SCORE_FIELDS


def test_failing_messages_csv(written):
    rows = [tuple(r.values()) for r in read_csv(written[2])]
    assert rows == [
        (ASSIGNMENT, "doppelt", DOPPELT_2, "2"),
        (ASSIGNMENT, "doppelt", "NotImplementedError", "1"),
        (ASSIGNMENT, "quadrat", QUADRAT_HIDDEN, "1"),
        (ASSIGNMENT, "quadrat", QUADRAT_3, "1"),
    ]
    assert list(read_csv(written[2])[0]) == report.MESSAGE_FIELDS


def test_html_is_one_wellformed_file_with_both_figures(written):
    html = written[0].read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="de">' in html and '<meta charset="utf-8" />' in html
    tree = ET.fromstring(html.removeprefix("<!DOCTYPE html>"))  # escaped and closed like XHTML
    images = {img.get("alt"): img.get("src") for img in tree.iter("img")}
    assert set(images) == {
        f"Verteilung der Gesamtpunkte – {ASSIGNMENT}",
        f"Anteil mit voller Punktzahl – {ASSIGNMENT}",
    }
    for src in images.values():
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.removeprefix("data:image/png;base64,")).startswith(b"\x89PNG\r\n\x1a\n")
    assert 'src="http' not in html and "<link" not in html and "<script" not in html, "self-contained"


def test_html_points_shares_and_manual_tasks(written):
    html = written[0].read_text(encoding="utf-8")
    # points per student: anna's free text is open, not 0; ben's unanswered one is 0
    assert (
        '<tr><td>anna</td><td class="voll">2/2</td><td class="voll">1/1</td>'
        '<td class="offen">offen (max. 1)</td><td>3/4 (vorläufig)</td></tr>'
    ) in html
    assert '<tr><td>ben</td><td>0/2</td><td class="voll">1/1</td><td>0/1</td><td>1/4</td></tr>' in html
    assert '<tr><td>carla</td><td>0/2</td><td>0/1</td><td class="offen">offen (max. 1)</td>' in html
    assert "4 Abgaben, durchschnittlich 1 von 4 Punkten." in html
    assert "Bei 2 Abgaben steht noch eine Handbewertung aus" in html
    # share with full points: graded students only, the waiting ones counted apart
    assert "<tr><td>doppelt</td><td>1</td><td>4</td><td>25 %</td><td>0</td></tr>" in html
    assert "<tr><td>quadrat</td><td>2</td><td>4</td><td>50 %</td><td>0</td></tr>" in html
    assert "<tr><td>warum</td><td>0</td><td>2</td><td>0 %</td><td>2</td></tr>" in html


def test_html_messages_are_counted_and_escaped(written):
    html = written[0].read_text(encoding="utf-8")
    doppelt = html.split("<h4>doppelt</h4>")[1].split("</ol>")[0]
    assert doppelt == (
        f"\n<ol><li><strong>2 × </strong><code>{DOPPELT_2}</code></li>"
        "<li><strong>1 × </strong><code>NotImplementedError</code></li>"
    )
    quadrat = html.split("<h4>quadrat</h4>")[1].split("</ol>")[0]
    assert quadrat.count("<li>") == 2 and QUADRAT_HIDDEN in quadrat
    assert "nicht &lt;etwas anderes&gt;." in quadrat and "<etwas" not in html
    assert "<h4>warum</h4>" not in html, "a free-text task has no test cell"


def test_only_the_top_five_messages_per_task(tmp_path):
    """Seven students with seven different messages: the CSV keeps all, the HTML shows five."""
    cell = new_code_cell("assert False", metadata=grading_meta(grade=True, grade_id="test_a", locked=True, points=1))
    for i in range(7):
        nb = new_notebook(cells=[cell.copy()])
        nb.cells[0].outputs = [new_output("error", ename="AssertionError", evalue=f"Meldung {i}", traceback=[])]
        for _ in range(i % 3):  # a repeated message of the same student counts once
            nb.cells[0].outputs.append(nb.cells[0].outputs[0])
        for student in [f"s{i}"] + [f"t{i}"] * (i == 6):
            (tmp_path / "autograded" / student / "01_x").mkdir(parents=True)
            nbformat.write(nb, tmp_path / "autograded" / student / "01_x" / "x.ipynb")
    counts = report.failure_counts(tmp_path, ["01_x"])
    assert [(m["message"], m["count"]) for m in counts] == [("AssertionError: Meldung 6", 2)] + [
        (f"AssertionError: Meldung {i}", 1) for i in range(6)
    ]
    html = report.messages_html(["a"], counts)
    assert html.count("<li>") == 5 and "Meldung 6" in html and "Meldung 4" not in html
    assert "… und 2 weitere Meldungen" in html


def test_cli_report(graded_course, tmp_path, monkeypatch, capsys):
    """`python -m course report [A] --to DIR`, run in this process (the same `main` as the command)."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--root", str(graded_course), "report", ASSIGNMENT, "--to", "aus"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"geschrieben: {tmp_path / 'aus' / name}" for name in ("bericht.html", "punkte.csv", "fehlermeldungen.csv")
    ]
    assert "<img" in (tmp_path / "aus" / "bericht.html").read_text(encoding="utf-8")
    assert cli.main(["--root", str(graded_course), "report", "99_nix", "--to", "leer"]) == 2
    assert capsys.readouterr().err == "Fehler: unbekanntes Assignment '99_nix'; vorhanden: 01_probe\n"
    assert not (tmp_path / "leer").exists()


def test_report_after_manual_grading(graded_course, tmp_path):
    """Once anna's free text is graded by hand, it counts like any other score."""
    from nbgrader.api import Gradebook

    root = shutil.copytree(graded_course, tmp_path / "kurs")  # the other tests keep the pending grade
    with Gradebook(nbgrader_api(root).coursedir.db_url) as gb:
        grade = gb.find_grade("warum", "probe", ASSIGNMENT, "anna")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    html_path, scores_path, _ = report.write_report(root, tmp_path / "aus", ASSIGNMENT)
    assert ("anna", ASSIGNMENT, "warum", "1", "1", "False") in [tuple(r.values()) for r in read_csv(scores_path)]
    html = html_path.read_text(encoding="utf-8")
    assert '<td class="voll">1/1</td><td>4/4</td></tr>' in html
    assert "<tr><td>warum</td><td>1</td><td>3</td><td>33,3 %</td><td>1</td></tr>" in html


# --------------------------------------------------------------------------- bonus, grammar, width

MICROGRAD_TASKS = [
    "differenzenquotient", "neuron_knoten", "backward_add", "backward_mul", "backward_relu", "manuelles_backward",
    "topo_sort", "frage_prev_menge", "backward_methode", "gradienten_akkumulieren", "frage_akkumulieren",
    "mlp_training",
]  # fmt: skip


def fake_rows(assignment: str, students: int, tasks: list[str], pending: str | None = None) -> list[dict]:
    return [
        {
            "student": f"student{i:02d}",
            "assignment": assignment,
            "task": t,
            "score": 0.0 if t == pending else float((i + k) % 3),
            "max_score": 2.0,
            "needs_manual_grade": t == pending,
        }
        for i in range(students)
        for k, t in enumerate(tasks)
    ]


def test_one_submission_in_the_singular():
    html = report.assignment_section("01_x", ["a"], fake_rows("01_x", 1, ["a"], pending="a"), [])
    assert "<p>1 Abgabe, durchschnittlich 0 von 2 Punkten. Bei 1 Abgabe steht noch eine Handbewertung aus; " in html
    assert "ihre Summe ist vorläufig." in html and "1 Abgaben" not in html


def test_bonus_assignment_and_overview():
    rows = fake_rows("01_x", 2, ["a", "b"]) + fake_rows("08_micrograd", 1, ["c"])
    section = report.assignment_section("08_micrograd", ["c"], [r for r in rows if r["assignment"] != "01_x"], [])
    assert "<h2>08_micrograd (Bonus)</h2>" in section and "von 2 Bonuspunkten" in section
    overview = report.overview_html(rows, {"01_x": 4.0, "08_micrograd": 2.0})
    assert "Volle Punktzahl: 4 Punkte, dazu bis zu 2 Bonuspunkte (08_micrograd)." in overview
    # student00: 01_x 0 + 1, bonus 0; student01: 1 + 2, no bonus submission
    assert "<tr><td>student00</td><td>1/4</td><td>0/2</td><td>1</td></tr>" in overview
    assert "<tr><td>student01</td><td>3/4</td><td>0/2</td><td>3</td></tr>" in overview


def test_the_widest_table_fits_the_page(tmp_path):
    """08 with twelve tasks and 30 students, a pending free text: no wider than the page's text (70em)."""
    from playwright.sync_api import sync_playwright

    rows = fake_rows("08_micrograd", 30, MICROGRAD_TASKS, pending="frage_prev_menge")
    page_path = tmp_path / "bericht.html"
    page_path.write_text(report.report_html([report.assignment_section("08_micrograd", MICROGRAD_TASKS, rows, [])]))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_path.as_uri())
            table, body = page.evaluate(
                "[document.querySelector('table').getBoundingClientRect().width,"
                " document.body.getBoundingClientRect().width]"
            )
        finally:
            browser.close()
    assert table <= body <= 1130, (table, body)
