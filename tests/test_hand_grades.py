"""Hand grades that stay: a re-grade keeps the hand grade of an unchanged answer, reopens a changed one.

One small course, one student, graded three times on two paths (``course grade`` and the
Formgrader's Autograde button); after every step the Formgrader's API, the gradebook,
``course scores``, ``course report`` and ``course export`` must show the same points.
"""

import csv
import shutil
from pathlib import Path

import nbformat
import pytest
from formgrader import formgrader
from harness import answer_cell, free_text_cell, grading_cell, probe_notebook
from nbgrader.api import Gradebook

from course import cli, publish, report, scores
from course.api import nbgrader_api
from course.demo import write_submission
from course.preprocessors.save_grades import CHANGED_MARK, NO_ANSWER

REPO = Path(__file__).resolve().parents[1]
A, NB, STUDENT = "01_hand", "hand", "anna"

ANSWERS = {"doppelt": "def doppelt(x):\n    return x + x", "warum": "Weil zwei gleiche Summanden."}


def hand_notebook():
    return probe_notebook(
        answer_cell("doppelt", "def doppelt(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        grading_cell("doppelt", 2, "assert doppelt(2) == 4", "assert doppelt(-3) == -6"),
        free_text_cell("warum", 3, "Warum?", "Darum."),
        free_text_cell("wozu", 1, "Wozu?", "Dazu."),
    )


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("hand") / "kurs"
    (root / "source" / A).mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    nbformat.write(hand_notebook(), root / "source" / A / f"{NB}.ipynb")
    publish.release(root)
    write_submission(root, A, STUDENT, ANSWERS)
    return root


def cli_grade(root: Path, capsys) -> None:
    assert cli.main(["--root", str(root), "grade", A, "-j", "1"]) == 0, capsys.readouterr()


def gradebook_state(root: Path) -> dict:
    with Gradebook(nbgrader_api(root).coursedir.db_url) as gb:
        notebook = gb.find_submission_notebook(NB, A, STUDENT)
        return {g.name: (g.manual_score, g.auto_score, g.score, g.needs_manual_grade) for g in notebook.grades} | {
            "total": notebook.score
        }


def formgrader_state(fg) -> tuple[dict, dict, float, bool]:
    (submission,) = fg.notebook_submissions(A, NB)
    grades = {g["name"]: g for g in fg.grades(submission["id"])}
    comments = {c["name"]: c for c in fg.comments(submission["id"])}
    return grades, comments, submission["score"], submission["needs_manual_grade"]


def assert_views_agree(root: Path, fg, tmp: Path, capsys) -> dict:
    """Every view shows the gradebook's points; returns the gradebook's state."""
    state = gradebook_state(root)
    grades, _, total, needs = formgrader_state(fg)
    for name, grade in grades.items():
        manual, auto = grade["manual_score"], grade["auto_score"]
        score = manual if manual is not None else (auto or 0.0)  # what the Formgrader's form counts
        assert (manual, auto, score, grade["needs_manual_grade"]) == state[name], name
    assert total == state["total"]
    assert needs == any(v[3] for k, v in state.items() if k != "total")
    rows = {r["task"]: r for r in scores.task_scores(root, A)}
    for name, (_, _, score, pending) in ((k, v) for k, v in state.items() if k != "total"):
        task = name.removeprefix("test_")
        assert (rows[task]["score"], rows[task]["needs_manual_grade"]) == (score, pending), task
    # course report: punkte.csv and the total in bericht.html
    html_path, points_path, _ = report.write_report(root, tmp / "bericht", A)
    with points_path.open(encoding="utf-8") as f:
        csv_rows = {r["task"]: r for r in csv.DictReader(f)}
    for task, r in rows.items():
        if csv_rows[task]["score"] != "":  # empty only while a grade without any points is pending
            assert float(csv_rows[task]["score"]) == r["score"], task
        else:
            assert r["needs_manual_grade"] and r["score"] == 0, task
    total_text = report.number(state["total"]) + "/6"
    assert f"<td>{total_text}" in html_path.read_text(encoding="utf-8")
    # course export: nbgrader's CSV
    assert cli.main(["--root", str(root), "export", "--to", str(tmp / "noten.csv")]) == 0
    capsys.readouterr()
    with (tmp / "noten.csv").open(encoding="utf-8") as f:
        (exported,) = [r for r in csv.DictReader(f) if r["student_id"] == STUDENT]
    assert float(exported["raw_score"]) == state["total"]
    return state


def test_hand_grades_survive_a_regrade_and_changed_answers_reopen(course_root, tmp_path, capsys):
    root = course_root
    cli_grade(root, capsys)
    with formgrader(root, tmp_path / "server.log") as fg:
        state = assert_views_agree(root, fg, tmp_path, capsys)
        assert state["warum"][3] and state["test_doppelt"] == (None, 2.0, 2.0, False)
        grades, comments, _, _ = formgrader_state(fg)
        assert comments["wozu"]["auto_comment"] == NO_ANSWER, "German, not nbgrader's 'No response.'"
        # the instructor grades the free text and overrides the test's points by hand
        fg.api("PUT", f"/grade/{grades['warum']['id']}", json={"manual_score": 2, "extra_credit": 0})
        fg.api("PUT", f"/grade/{grades['test_doppelt']['id']}", json={"manual_score": 1.5, "extra_credit": 0})
        fg.api("PUT", f"/grade/{grades['wozu']['id']}", json={"manual_score": 0, "extra_credit": 0})
        graded = assert_views_agree(root, fg, tmp_path, capsys)
        assert graded["warum"] == (2.0, None, 2.0, False) and graded["total"] == 3.5

        # re-grade, answers unchanged: through the Formgrader's button and through `course grade`
        result = fg.autograde(A, STUDENT)
        assert result["success"] and "[DEBUG]" not in result["log"], result["log"][:3000]
        assert assert_views_agree(root, fg, tmp_path, capsys) == graded
        cli_grade(root, capsys)
        assert assert_views_agree(root, fg, tmp_path, capsys) == graded
        _, comments, _, needs = formgrader_state(fg)
        assert not needs and not any(CHANGED_MARK in (c["auto_comment"] or "") for c in comments.values())

        # a re-submission changes the free text and the code: both hand grades reopen, with a note
        write_submission(
            root, A, STUDENT, {**ANSWERS, "warum": "Ganz anders.", "doppelt": "def doppelt(x):\n    return 2*x"}
        )
        cli_grade(root, capsys)
        reopened = assert_views_agree(root, fg, tmp_path, capsys)
        assert reopened["warum"] == (2.0, None, 2.0, True)
        assert reopened["test_doppelt"] == (1.5, 2.0, 1.5, True)
        assert reopened["wozu"] == (0.0, 0.0, 0.0, False), "unchanged (still empty): stays graded"
        _, comments, _, needs = formgrader_state(fg)
        assert needs
        assert comments["warum"]["auto_comment"].startswith(CHANGED_MARK)
        assert "bisher 2 von 3 Punkten" in comments["warum"]["auto_comment"]
        assert "bisher 1,5 von 2 Punkten" in comments["doppelt"]["auto_comment"], "the test's note sits on its answer"
        html = (tmp_path / "bericht" / "bericht.html").read_text(encoding="utf-8")
        assert '<td class="offen">offen, bisher 2/3</td>' in html
        table = scores.score_table(scores.task_scores(root, A))
        assert "offen 2/3" in table and "offen 1.5/2" in table
        # the feedback: points with a decimal comma, the instructors' note is not for the student
        publish.feedback(root, A)
        feedback = (root / "feedback" / STUDENT / A / f"{NB}.html").read_text(encoding="utf-8")
        assert "Punkte: 1,5 / 2" in feedback and "(Punkte: 3,5 / 6)" in feedback and ".0 /" not in feedback
        assert CHANGED_MARK not in feedback and "No response" not in feedback

        # graded again unchanged: still open, the note stays until the instructor grades again
        assert fg.autograde(A, STUDENT)["success"]
        assert assert_views_agree(root, fg, tmp_path, capsys) == reopened
        grades, comments, _, _ = formgrader_state(fg)
        assert comments["warum"]["auto_comment"].startswith(CHANGED_MARK)
        fg.api("PUT", f"/grade/{grades['warum']['id']}", json={"manual_score": 1, "extra_credit": 0})
        fg.api("PUT", f"/grade/{grades['test_doppelt']['id']}", json={"manual_score": 2, "extra_credit": 0})
        cli_grade(root, capsys)
        final = assert_views_agree(root, fg, tmp_path, capsys)
        assert final["warum"] == (1.0, None, 1.0, False) and final["total"] == 3.0
        _, comments, _, needs = formgrader_state(fg)
        assert not needs and comments["warum"]["auto_comment"] is None


def test_no_config_warning_from_the_feedback_summary(caplog):
    """HTMLExporter's NbConvertBase.display_data_priority reaches every preprocessor; ours takes it silently."""
    from nbconvert.exporters import HTMLExporter

    from course.preprocessors import SummarizeTestErrors

    exporter = HTMLExporter()
    with caplog.at_level("WARNING"):
        SummarizeTestErrors(config=exporter.config, parent=exporter)
    assert "not recognized" not in caplog.text


def test_the_formgrader_reads_what_a_terminal_wrote(course_root, capsys):
    """The Formgrader's one long-lived gradebook session returned grades it had loaded before with their old
    columns (flaky in the test above: it lasted until a garbage collection). ``course.lab`` makes every
    Formgrader request start from the database; held references make the stale read deterministic here."""
    from nbgrader.server_extensions.formgrader.base import BaseHandler

    from course import lab

    cli_grade(course_root, capsys)
    url = nbgrader_api(course_root).coursedir.db_url
    with Gradebook(url) as formgrader_gb, Gradebook(url) as terminal_gb:
        settings = {"nbgrader_gradebook": formgrader_gb}
        held = formgrader_gb.find_grade("warum", NB, A, STUDENT)  # loaded by an earlier request, still referenced
        before = held.manual_score
        changed = terminal_gb.find_grade("warum", NB, A, STUDENT)
        changed.manual_score = (before or 0) + 1
        terminal_gb.db.commit()
        assert formgrader_gb.find_grade("warum", NB, A, STUDENT).manual_score == before  # nbgrader alone: stale
        lab.fresh_gradebook(settings)
        assert formgrader_gb.find_grade("warum", NB, A, STUDENT).manual_score == (before or 0) + 1
        changed.manual_score = before
        terminal_gb.db.commit()
    lab.fresh_formgrader_reads()
    assert getattr(BaseHandler.prepare, "_nn_kurs", False)  # what the extension installs on load
