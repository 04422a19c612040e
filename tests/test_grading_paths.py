"""One grading path: ``nbgrader autograde``, the Formgrader and ``python -m course grade`` grade alike.

The same submissions (honest, wrong, tampered, crashing, hostile) are graded in
three identical copies of a course, once each way; the gradebooks must agree
exactly.  Then the Formgrader's manual grading of the real assignments: every
submission page opens, and points and comments reach the gradebook and the
German feedback.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from formgrader import formgrader
from harness import REPO, make_course
from test_robust_grading import (
    FULL,
    NO_ASSERTS,
    WRONG_ZWEI,
    XSS_MARKDOWN,
    XSS_OUTPUT,
    A,
    edit_test_cell,
    probe_course,
)
from test_trusted_tests import CLEANUP_HOOK, LYING_FLOAT, with_top_cell

from course import grading, publish
from course.api import nbgrader_api
from course.cells import is_autograded_test
from course.demo import write_submission
from course.layout import read_notebook, source_notebook
from course.scores import task_scores
from course.submissions import solution_answers

CASES = {
    "loesung": ({}, None),
    "falsch": ({"zwei": WRONG_ZWEI}, None),
    "ast_transformer": ({"eins": NO_ASSERTS + "a = 1", "zwei": WRONG_ZWEI}, None),
    "test_assert_true": (
        {"zwei": WRONG_ZWEI},
        lambda nb: edit_test_cell(nb, "zwei", lambda cells, i: setattr(cells[i], "source", "assert True")),
    ),
    "os_exit": ({"zwei": "import os\nos._exit(1)"}, None),
    "liest_loesung": ({"eins": "a = int('HIDDEN' in open('daten.txt').read())"}, "symlink_source"),
    "xss": ({"eins": XSS_OUTPUT + "a = 1", "warum": XSS_MARKDOWN}, None),
    # attacks on the test cells themselves (they run in the trusted kernel every way)
    "hook_cleanup": ({"zwei": WRONG_ZWEI}, with_top_cell(CLEANUP_HOOK)),
    "luegende_zahl": ({"eins": LYING_FLOAT + "\na = Alles(2)"}, None),
    "endlos_im_test": ({"zwei": "def zwei(x):\n    while x == 5:\n        pass\n    return 2 * x"}, None),
    "liest_versteckt": (
        {
            "eins": 'get_ipython().events.register("post_run_cell", lambda r: print(r.info.raw_cell))\na = 1',
            "zwei": "import inspect, sys\ndef zwei(x):\n    if x == 5:\n"
            "        raise ValueError(inspect.getsource(sys._getframe(1)))\n    return 2 * x",
            "drei": "print(_ih)\nc = 3",
        },
        None,
    ),
}
HIDDEN_CODE = "zwei(5) == 10"  # from the hidden part of the test of `zwei`
EXPECTED = {
    "loesung": FULL,
    "falsch": {**FULL, "zwei": 0},
    "ast_transformer": {**FULL, "zwei": 0},
    "test_assert_true": {**FULL, "zwei": 0},
    "os_exit": {**FULL, "zwei": 0, "drei": 0},
    "xss": FULL,
    "hook_cleanup": {**FULL, "zwei": 0},
    "luegende_zahl": {**FULL, "eins": 0},
    "endlos_im_test": {**FULL, "zwei": 0},
    "liest_versteckt": {**FULL, "zwei": 0},
}
WAYS = ("nbgrader", "formgrader", "course")


def points(root: Path) -> dict:
    """Points per student and task; a rejected submission (no gradebook entry or zeros) has 0 everywhere."""
    found = {student: dict.fromkeys(FULL, 0.0) for student in CASES}
    for row in task_scores(root, A):
        if row["task"] in FULL:
            found[row["student"]][row["task"]] = row["score"]
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    config = "c.Execute.timeout = 20\nc.SafeExecute.request_timeout = 20"
    roots = {way: probe_course(tmp_path_factory.mktemp(way), CASES, config) for way in WAYS}
    nbgrader = Path(sys.executable).parent / "nbgrader"
    subprocess.run([str(nbgrader), "autograde", A], cwd=roots["nbgrader"], capture_output=True, timeout=900)
    with formgrader(roots["formgrader"], roots["formgrader"].parent / "server.log") as fg:
        answers = {student: fg.autograde(A, student) for student in CASES}
        (xss,) = [n for n in fg.notebook_submissions(A, "probe") if n["student"] == "xss"]
        answers["xss_page"] = fg.get(f"/formgrader/submissions/{xss['id']}/").text
    results = {r.student: r for r in grading.grade(roots["course"], A, jobs=2, progress=False)}
    return roots, {way: points(root) for way, root in roots.items()}, answers, results


@pytest.mark.parametrize("way", WAYS)
def test_every_way_gives_the_exact_points(graded, way):
    _, scores, _, _ = graded
    assert {s: p for s, p in scores[way].items() if s in EXPECTED} == EXPECTED


def test_the_three_gradebooks_agree(graded):
    _, scores, _, _ = graded
    assert scores["nbgrader"] == scores["formgrader"] == scores["course"]


@pytest.mark.parametrize("way", WAYS)
def test_a_submission_with_a_link_is_rejected_every_way(graded, way):
    roots, scores, answers, results = graded
    assert not any(scores[way]["liest_loesung"].values())
    assert not (roots[way] / "autograded" / "liest_loesung" / A / "daten.txt").exists()
    if way == "formgrader":
        assert not answers["liest_loesung"]["success"]
        assert "Abgabe abgelehnt" in answers["liest_loesung"]["log"]
    if way == "course":
        assert not results["liest_loesung"].ok and "Abgabe abgelehnt" in results["liest_loesung"].message


@pytest.mark.parametrize("way", WAYS)
def test_hidden_test_code_stays_out_of_the_students_cells(graded, way):
    """The student's cells (shown in the feedback) never print hidden test code, however they try."""
    roots = graded[0]
    for student in EXPECTED:
        nb = nbformat.read(roots[way] / "autograded" / student / A / "probe.ipynb", as_version=4)
        student_cells = [c for c in nb.cells if c.cell_type == "code" and not is_autograded_test(c)]
        assert not any(HIDDEN_CODE in str(c.outputs) for c in student_cells), student
    nb = nbformat.read(roots[way] / "autograded" / "liest_versteckt" / A / "probe.ipynb", as_version=4)
    outputs = str([c.outputs for c in nb.cells if c.cell_type == "code" and not is_autograded_test(c)])
    assert "print(_ih)" in outputs, "the attack ran: its hook printed the student's own cells"


def test_the_formgrader_shows_student_html_as_text(graded):
    page = graded[2]["xss_page"]
    assert "xss-freitext" in page, "the free-text answer is on the page"
    for marker in ("<script>alert(", "<img src=x onerror", 'href="javascript:'):
        assert marker not in page, marker


# --------------------------------------------------------------------------- manual grading in the Formgrader

MANUAL = ("02_aktivierung", "07_kettenregel", "08_micrograd")


@pytest.fixture(scope="module")
def manual_course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("manuell")
    root = make_course(tmp, MANUAL[0])
    for name in MANUAL[1:]:
        shutil.copytree(REPO / "source" / name, root / "source" / name)
        publish.release(root, name)
    for name in MANUAL:
        write_submission(root, name, "anna", solution_answers(read_notebook(source_notebook(root, name))))
    results = grading.grade(root, jobs=2, progress=False)
    assert all(r.ok for r in results), results
    return root


def test_manual_grading_in_the_formgrader(manual_course):
    root = manual_course
    manual = []
    with formgrader(root, root.parent / "server.log") as fg:
        for name in MANUAL:
            notebook = source_notebook(root, name).stem
            (submission,) = fg.notebook_submissions(name, notebook)
            page = fg.get(f"/formgrader/submissions/{submission['id']}/")
            assert page.status_code == 200 and "encountered an error" not in page.text, name
            comments = {c["name"]: c for c in fg.comments(submission["id"])}
            for grade in fg.grades(submission["id"]):
                if grade["needs_manual_grade"]:
                    score = grade["max_score"] / 2
                    fg.api("PUT", f"/grade/{grade['id']}", json={"manual_score": score, "extra_credit": 0})
                    text = f"Kommentar zu {grade['name']}"
                    fg.api("PUT", f"/comment/{comments[grade['name']]['id']}", json={"manual_comment": text})
                    manual.append((name, grade["name"], score, text))
    assert {(a, g) for a, g, _, _ in manual} >= {
        ("02_aktivierung", "relu_ableitung"),
        ("07_kettenregel", "rechengraph"),
    }
    assert any(a == "08_micrograd" for a, _, _, _ in manual), "08 has free-text answers graded by hand"
    from nbgrader.api import Gradebook

    with Gradebook(nbgrader_api(root).coursedir.db_url) as gb:
        for name, grade_name, score, text in manual:
            notebook = source_notebook(root, name).stem
            assert gb.find_grade(grade_name, notebook, name, "anna").manual_score == score
            assert gb.find_comment(grade_name, notebook, name, "anna").manual_comment == text
    publish.feedback(root)
    for name, _, _, text in manual:
        html = (root / "feedback" / "anna" / name / f"{source_notebook(root, name).stem}.html").read_text()
        assert text in html and '<html lang="de">' in html
