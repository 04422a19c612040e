"""Grading on submit (course/service.py) without a browser: a real exchange folder, nbgrader's own release,
submit and fetch-feedback code, and real grading of 01_neuronen.

One course, passes in order: two students submit and get their points and feedback; a second pass grades
nothing again; a hand grade survives a re-submission; of two quick submissions only the newer is graded;
mode ``sichtbar`` shows the visible tests only; mode ``aus`` leaves submissions alone.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from harness import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import synthetic  # noqa: E402

from course import service  # noqa: E402
from course.layout import coursedir, read_notebook, student_notebook  # noqa: E402
from course.submissions import fill_answers  # noqa: E402

ASSIGNMENT = "01_neuronen"
CONFIG = ""  # the course's own timeouts: no submission here hangs
FULL = {"neuron_ausgabe": 1.0, "layer_erzeugen": 2.0, "batch_korrigieren": 1.0}


def exchange_config(exchange: Path, cache: Path, course_id: str = "nn-kurs"):
    from traitlets.config import Config

    config = Config()
    config.Exchange.root = str(exchange)
    config.Exchange.cache = str(cache)
    config.CourseDirectory.course_id = course_id
    return config


def hub_course(tmp: Path, modes: dict[str, str], config: str = CONFIG) -> tuple[Path, Path]:
    """A course with 01 released into a fresh exchange (nbgrader's own release code) and ``modes`` set."""
    from nbgrader.exchange.default import ExchangeReleaseAssignment

    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    root = synthetic.course(tmp, ASSIGNMENT, config)
    exchange = tmp / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    cd = coursedir(root)
    cd.assignment_id = ASSIGNMENT
    release = ExchangeReleaseAssignment(coursedir=cd, config=exchange_config(exchange, tmp / "cache-lehrende"))
    release.start()
    set_modes(root, modes)
    return root, exchange


def set_modes(root: Path, modes: dict[str, str]) -> None:
    import json

    (root / service.SETTINGS_FILE).write_text(json.dumps(modes))


def submit(root: Path, exchange: Path, student: str, answers: dict[str, str]) -> str:
    """``student`` submits the student version with ``answers`` through nbgrader's ExchangeSubmit; its timestamp."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeSubmit

    home = exchange.parent / "home" / student
    work = home / ASSIGNMENT
    work.mkdir(parents=True, exist_ok=True)
    released = student_notebook(root, ASSIGNMENT)
    nbformat.write(fill_answers(read_notebook(released), answers), work / released.name)
    cd = CourseDirectory(root=str(home), course_id="nn-kurs", assignment_id=ASSIGNMENT, student_id=student)
    config = exchange_config(exchange, home / "cache")
    sub = ExchangeSubmit(coursedir=cd, authenticator=Authenticator(config=config), config=config)
    sub.assignment_dir = str(home)
    sub.start()
    time.sleep(0.01)  # nbgrader's timestamps have microseconds: two submissions never share one
    return sub.timestamp


def fetch_feedback(root: Path, exchange: Path, student: str) -> list[Path]:
    """What ``student`` gets from nbgrader's ExchangeFetchFeedback (the assignment list's *Fetch Feedback*)."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchFeedback

    home = exchange.parent / "home" / student
    cd = CourseDirectory(root=str(home), course_id="nn-kurs", assignment_id=ASSIGNMENT, student_id=student)
    config = exchange_config(exchange, home / "cache")
    fetch = ExchangeFetchFeedback(coursedir=cd, authenticator=Authenticator(config=config), config=config)
    fetch.assignment_dir = str(home)
    fetch.start()
    return sorted((home / ASSIGNMENT / "feedback").glob("*/*.html"))


def manual_scores(root: Path) -> dict[tuple[str, str], float | None]:
    from nbgrader.api import Gradebook

    cd = coursedir(root)
    with Gradebook(cd.db_url, cd.course_id) as gb:
        submissions = gb.find_assignment(ASSIGNMENT).submissions
        return {(s.student.id, g.name): g.manual_score for s in submissions for n in s.notebooks for g in n.grades}


def grade_counts(root: Path) -> dict[tuple[str, str], int]:
    """(student, cell) -> number of grades in the gradebook (must be exactly 1 each)."""
    import sqlite3

    with sqlite3.connect(root / "gradebook.db") as conn:
        rows = conn.execute(
            "SELECT sa.student_id, g.cell_id, count(*) FROM grade g"
            " JOIN submitted_notebook sn ON g.notebook_id = sn.id"
            " JOIN submitted_assignment sa ON sn.assignment_id = sa.id GROUP BY sa.student_id, g.cell_id"
        ).fetchall()
    return {(s, c): n for s, c, n in rows}


def entries(svc: service.Service, student: str) -> list[service.Entry]:
    return svc.journal.of_student(student)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root, exchange = hub_course(tmp_path_factory.mktemp("dienst"), {ASSIGNMENT: "voll"})
    svc = service.Service(root, exchange, jobs=2, check_owner=False)
    yield root, exchange, svc
    svc.close()


@pytest.fixture(scope="module")
def first_pass(hub):
    root, exchange, svc = hub
    solution = synthetic.Pool(root, ASSIGNMENT).solution
    submit(root, exchange, "anna", solution)
    submit(root, exchange, "ben", {})
    start = time.perf_counter()
    finished = svc.step()
    return finished, time.perf_counter() - start


def test_new_submissions_are_graded_and_get_feedback(hub, first_pass):
    root, exchange, svc = hub
    finished, seconds = first_pass
    print(f"two submissions graded and released in {seconds:.0f} s")
    assert sorted(e.student for e in finished) == ["anna", "ben"]
    anna, ben = entries(svc, "anna")[0], entries(svc, "ben")[0]
    assert (anna.status, anna.points, anna.max_points) == (service.DONE, 4.0, 4.0), anna.reason
    assert (ben.status, ben.points, ben.max_points) == (service.DONE, 0.0, 4.0)
    assert {t["task"]: t["points"] for t in anna.tasks} == FULL
    assert (root / "submitted" / "anna" / ASSIGNMENT / "timestamp.txt").read_text() == anna.timestamp
    pages = fetch_feedback(root, exchange, "anna")
    assert len(pages) == 1
    text = pages[0].read_text()
    assert "neuron_ausgabe" in text and "BEGIN HIDDEN" not in text
    page = service.status_page(entries(svc, "anna"), "/services/bewertung/")
    assert "bewertet: 4 von 4 Punkten" in page and "Rückmeldung" in page


def test_a_second_pass_grades_nothing_again(hub, first_pass):
    root, exchange, svc = hub
    before = (grade_counts(root), (root / "gradebook.db").stat().st_mtime_ns)
    assert svc.step() == []
    assert (grade_counts(root), (root / "gradebook.db").stat().st_mtime_ns) == before
    restarted = service.Journal(root / service.STATE_DIR)  # what a restarted service would read
    assert {k: e.status for k, e in restarted.entries.items()} == {k: e.status for k, e in svc.journal.entries.items()}


def test_resubmission_supersedes_and_keeps_hand_grades(hub, first_pass):
    from nbgrader.api import Gradebook

    root, exchange, svc = hub
    cd = coursedir(root)
    with Gradebook(cd.db_url, cd.course_id) as gb:  # the instructor overrides a score by hand
        grade = gb.find_grade("test_neuron_ausgabe", "neuronen", ASSIGNMENT, "anna")
        grade.manual_score = 0.5
        gb.db.commit()
    solution = synthetic.Pool(root, ASSIGNMENT).solution
    submit(root, exchange, "anna", {**solution, "batch_korrigieren": "x_rnd = torch.rand(3, 5)"})
    first_ben = submit(root, exchange, "ben", {"neuron_ausgabe": solution["neuron_ausgabe"]})
    set_modes(root, {ASSIGNMENT: "sichtbar"})
    newest_ben = submit(
        root, exchange, "ben", {**solution, "batch_korrigieren": solution["batch_korrigieren"] + "\ndel x_rnd"}
    )
    finished = svc.step()
    assert sorted((e.student, e.timestamp) for e in finished) == sorted(
        [("anna", entries(svc, "anna")[0].timestamp), ("ben", newest_ben)]
    )
    statuses = {e.timestamp: e.status for e in entries(svc, "ben")}
    assert statuses[first_ben] == service.SUPERSEDED
    assert statuses[newest_ben] == service.DONE
    assert manual_scores(root)[("anna", "test_neuron_ausgabe")] == 0.5
    anna = entries(svc, "anna")[0]
    assert anna.status == service.DONE and anna.points == 0.5 + 2 + 0  # the hand grade counts, the new answer is wrong
    assert all(n == 1 for n in grade_counts(root).values())
    assert (root / "submitted" / "ben" / ASSIGNMENT / "timestamp.txt").read_text() == newest_ben
    ben = entries(svc, "ben")[0]
    assert ben.mode == "sichtbar" and ben.points == 3.0  # the visible test of batch_korrigieren fails
    failed = [t for t in ben.tasks if t["points"] == 0]
    assert [t["task"] for t in failed] == ["batch_korrigieren"] and "x_rnd" in failed[0]["message"]
    page = service.visible_page(ben)
    assert "nur die sichtbaren Tests" in page and "3 von 4" in page


def test_mode_off_leaves_submissions_alone(hub, first_pass):
    root, exchange, svc = hub
    set_modes(root, {ASSIGNMENT: "aus"})
    submit(root, exchange, "anna", {})
    before = (root / "submitted" / "anna" / ASSIGNMENT / "timestamp.txt").read_text()
    assert svc.step() == []
    assert (root / "submitted" / "anna" / ASSIGNMENT / "timestamp.txt").read_text() == before


def test_wrong_settings_and_second_service_are_refused(hub):
    root, exchange, svc = hub
    with pytest.raises(service.CourseError, match="läuft schon"):
        service.Service(root, exchange)
    (root / service.SETTINGS_FILE).write_text('{"01_neuronen": "alles"}')
    with pytest.raises(service.CourseError, match="unbekannte Modi"):
        service.load_modes(root)


def test_status_page_in_german():
    pending = service.Entry("anna", ASSIGNMENT, "2026-12-05 12:00:00.000000 UTC")
    failed = service.Entry(
        "anna",
        "02_aktivierung",
        "2026-12-05 12:00:00.000000 UTC",
        status=service.FAILED,
        reason="Abgabe abgelehnt: <b>Link</b>",
    )
    page = service.status_page([pending, failed], "/services/bewertung/")
    assert "wird bewertet" in page and "nicht bewertet: Abgabe abgelehnt: &lt;b&gt;Link" in page
    assert "Noch keine Abgabe" in service.status_page([], "/")


def test_inbound_names():
    assert service.parse_inbound("anna+01_neuronen+2026-12-05 12:00:00.000000 UTC+abc") == (
        "anna",
        "01_neuronen",
        "2026-12-05 12:00:00.000000 UTC",
    )
    assert service.parse_inbound("a+b+c+nicht-zeit+x") is None
    assert service.parse_inbound("unsinn") is None
