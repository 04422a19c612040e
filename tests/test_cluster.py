"""Grading on a Dask ``LocalCluster`` of several worker processes, with a real PostgreSQL gradebook.

* ``python -m course grade --cluster local:N`` grades through the same worker subprocess as local
  grading and prints the same summary;
* a worker that dies in the middle of a submission (its whole process tree is killed, as when a node
  is lost): the submission is graded again on another worker, every test cell has exactly one grade;
* a submission that kills its worker every time is reported as failed after a bounded number of tries,
  the rest of the batch gets its points.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness import REPO, make_course, max_points
from pgserver import postgres  # noqa: F401  (fixture)

from course import cluster, database
from course.demo import DEMO_STUDENTS, demo_answers, write_submission
from course.grading import grade_one
from course.scores import task_scores

ASSIGNMENT = "01_neuronen"


@pytest.fixture(scope="module")
def course(postgres, tmp_path_factory):  # noqa: F811
    """A course with ``ASSIGNMENT`` released into a fresh PostgreSQL gradebook; COURSE_DB_URL set meanwhile."""
    before = os.environ.get(database.DB_URL_ENV)
    os.environ[database.DB_URL_ENV] = postgres.new_database()
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    try:
        yield make_course(tmp_path_factory.mktemp("cluster"), ASSIGNMENT)
    finally:
        if before is None:
            os.environ.pop(database.DB_URL_ENV, None)
        else:
            os.environ[database.DB_URL_ENV] = before


def expected(root: Path, student: str) -> dict[str, float]:
    full = max_points(root, ASSIGNMENT)
    answers = demo_answers(root, ASSIGNMENT)
    solved = answers.get(student, answers["demo-loesung"])  # other students answer like the solution
    return {task: (points if task in solved else 0.0) for task, points in full.items()}


def scores(root: Path) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for row in task_scores(root, ASSIGNMENT):
        found.setdefault(row["student"], {})[row["task"]] = row["score"]
    return found


def grades_per_cell(url: str) -> list[tuple]:
    """(student, cell, number of grades) for every graded cell that has not exactly one grade."""
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT sa.student_id, g.cell_id, count(*) FROM grade g"
            " JOIN submitted_notebook sn ON g.notebook_id = sn.id"
            " JOIN submitted_assignment sa ON sn.assignment_id = sa.id"
            " GROUP BY sa.student_id, g.cell_id HAVING count(*) <> 1"
        ).fetchall()


class KillsItsWorker:
    """Grades like ``grade_one``, but for the students in ``kills`` the Dask worker (with every process it
    started: grading subprocess, kernel) is killed with SIGKILL while the kernel runs the submission, as when
    its machine is lost.  ``kills[student]`` is how many attempts die (``None``: every one).  Attempts are
    counted in ``log`` (shared between the worker processes)."""

    def __init__(self, grade_one, kills: dict[str, int | None], log: Path):
        self.grade_one, self.kills, self.log = grade_one, kills, log

    def __call__(self, assignment: str, student: str):
        if student in self.kills:
            attempts = self.log / student
            before = attempts.read_text().count("\n") if attempts.exists() else 0
            with attempts.open("a") as f:
                f.write(f"{os.getpid()}\n")
            limit = self.kills[student]
            if limit is None or before < limit:
                threading.Thread(target=self.kill_worker_mid_grading, daemon=True).start()
        return self.grade_one(assignment, student)

    @staticmethod
    def kill_worker_mid_grading() -> None:
        import psutil

        me = psutil.Process()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the kernel runs the student's code
            try:
                if any("ipykernel" in " ".join(p.cmdline()) for p in me.children(recursive=True)):
                    break
            except psutil.Error:
                pass
            time.sleep(0.2)
        time.sleep(1.0)
        for child in me.children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass
        os.kill(os.getpid(), signal.SIGKILL)


def test_cli_grades_on_a_local_cluster(course):
    for student, answers in demo_answers(course, ASSIGNMENT).items():
        write_submission(course, ASSIGNMENT, student, answers)
    proc = subprocess.run(
        [sys.executable, "-m", "course", "--root", str(course), "grade", ASSIGNMENT, "--cluster", "local:3"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert proc.stdout.strip() == "3 von 3 Abgaben bewertet."
    assert "Bewertung" in proc.stderr and "3/3" in proc.stderr  # the same progress bar as local grading
    found = scores(course)
    for student in DEMO_STUDENTS:
        assert found[student] == expected(course, student), student
    assert grades_per_cell(os.environ[database.DB_URL_ENV]) == []


def test_dead_workers(course, tmp_path):
    """One submission loses its worker once, one kills it on every try; the batch completes."""
    students = ["absturz-einmal", "absturz-immer", "demo-teilweise"]
    answers = demo_answers(course, ASSIGNMENT)
    for student in students:
        write_submission(course, ASSIGNMENT, student, answers.get(student, answers["demo-loesung"]))
    killing = KillsItsWorker(
        functools.partial(grade_one, course), {"absturz-einmal": 1, "absturz-immer": None}, tmp_path
    )
    results = list(
        cluster.grade_on_cluster([(ASSIGNMENT, s) for s in students], killing, "local:3", root=course, tries=2)
    )
    by_student = {r.student: r for r in results}
    assert sorted(by_student) == sorted(students) and len(results) == len(students)  # one result each

    poisoned = by_student.pop("absturz-immer")
    assert not poisoned.ok
    assert "Dask-Worker starb bei 2 Versuchen" in poisoned.message
    assert (tmp_path / "absturz-immer").read_text().count("\n") == 2  # bounded: exactly `tries` attempts

    assert all(r.ok for r in by_student.values()), by_student
    assert (tmp_path / "absturz-einmal").read_text().count("\n") == 2  # killed once, graded again
    pids = (tmp_path / "absturz-einmal").read_text().split()
    assert pids[0] != pids[1]  # ... by another worker process

    found = scores(course)
    for student in by_student:
        assert found[student] == expected(course, student), student
    assert grades_per_cell(os.environ[database.DB_URL_ENV]) == []  # exactly one grade per test cell


def test_worker_must_share_course_and_gradebook(course, tmp_path):
    """Checked on the worker before it grades: the course folder and the same gradebook as the caller."""

    def never_called(assignment, student):
        raise AssertionError("must not be called")

    missing = cluster._grade_task(never_called, ASSIGNMENT, "x", str(tmp_path), cluster.gradebook_fingerprint(), "t", 3)
    assert not missing.ok and "Kursordner auf dem Worker nicht gefunden" in missing.message
    other = cluster._grade_task(
        never_called, ASSIGNMENT, "x", str(course), cluster.gradebook_fingerprint("sqlite://"), "t", 3
    )
    assert not other.ok and "anderes Gradebook" in other.message
    assert cluster.gradebook_fingerprint() != cluster.gradebook_fingerprint("")


def test_unreachable_scheduler(monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(cluster.ClusterError, match="Dask-Scheduler nicht erreichbar: tcp://127.0.0.1:9"):
        list(cluster.grade_on_cluster([(ASSIGNMENT, "x")], print, "tcp://127.0.0.1:9"))


def test_scheduler_address_from_option_or_environment(monkeypatch):
    monkeypatch.setenv(cluster.SCHEDULER_ENV, "tcp://scheduler:8786")
    assert cluster.scheduler_address(None) == "tcp://scheduler:8786"
    assert cluster.scheduler_address("local:2") == "local:2"
    monkeypatch.delenv(cluster.SCHEDULER_ENV)
    assert cluster.scheduler_address(None) is None
