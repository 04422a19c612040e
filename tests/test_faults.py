"""Faults during grading on submit, each with a real process and nothing mocked.

* a grading worker killed (SIGKILL, its whole process group) in the middle of a submission;
* the PostgreSQL server restarted (immediate shutdown) while a submission is graded;
* the ``autograded/`` folder's disk full (a tmpfs of 8 kB), then enlarged;
* the grading service itself killed while submissions arrive, and started again.

After each: every submission is graded exactly once (one grade per test cell, its known points) or
reported as not graded with its reason; ``submitted/`` holds exactly what the students submitted; hand
grades are unchanged; the next pass grades only what is missing.  Few submissions each (01_neuronen).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from harness import REPO
from pgserver import postgres  # noqa: F401  (fixture)
from test_service import hub_course, manual_scores, submit

from course import database, service
from course.layout import coursedir

ASSIGNMENT = "01_neuronen"
MODES = {ASSIGNMENT: "voll"}


def solution(root: Path) -> dict[str, str]:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import synthetic

    return synthetic.Pool(root, ASSIGNMENT).solution


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_submitted_as_sent(root: Path, exchange: Path, svc_entries: list[service.Entry]) -> None:
    """submitted/<student>/<assignment> holds exactly the newest inbound submission of each student."""
    for e in svc_entries:
        inbound = exchange / "nn-kurs" / "inbound" / e.inbound
        assert digest(root / "submitted" / e.student / ASSIGNMENT) == digest(inbound), e.student


def grade_counts(root: Path) -> dict[tuple[str, str], int]:
    """(student, cell id) -> number of grades, from SQLite or PostgreSQL alike (nbgrader's tables)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(coursedir(root).db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT sa.student_id, g.cell_id, count(*) FROM grade g"
                    " JOIN submitted_notebook sn ON g.notebook_id = sn.id"
                    " JOIN submitted_assignment sa ON sn.assignment_id = sa.id GROUP BY sa.student_id, g.cell_id"
                )
            ).fetchall()
    finally:
        engine.dispose()
    return {(s, c): n for s, c, n in rows}


def assert_graded_once(root: Path, students: list[str]) -> None:
    counts = grade_counts(root)
    assert {s for s, _ in counts} >= set(students)
    assert all(n == 1 for n in counts.values()), counts


def busy_worker(root: Path):
    """A grading worker (``python -m course.worker ROOT FD``) of the course at ``root`` that runs a kernel now."""
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "course.worker" in cmd and str(root) in cmd:
            try:
                if proc.children(recursive=True):
                    return proc
            except psutil.NoSuchProcess:
                continue
    return None


def when_grading(root: Path, action, delay: float = 2.0, timeout: float = 300) -> threading.Thread:
    """Run ``action(worker process)`` once a worker of ``root`` has graded for ``delay`` seconds (in a thread)."""
    done = threading.Event()

    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                proc = busy_worker(root)
            except psutil.Error as exc:  # a process that ended while it was looked at
                thread.seen = exc
                continue
            if proc is not None:
                time.sleep(delay)
                try:
                    action(proc)
                except Exception as exc:  # the test fails on it, with the reason
                    thread.error = exc
                done.set()
                return
            time.sleep(0.1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.done, thread.error, thread.seen = done, None, None
    thread.start()
    return thread


def step_until_settled(svc: service.Service, passes: int = 4) -> None:
    for _ in range(passes):
        svc.step()
        if all(e.status in service.FINAL for e in svc.journal.entries.values()):
            return


def status(svc: service.Service) -> dict[str, service.Entry]:
    return {e.student: e for e in svc.journal.entries.values() if e.status != service.SUPERSEDED}


@pytest.fixture
def course(tmp_path):
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    return hub_course(tmp_path, MODES)


def test_worker_killed_mid_batch(course):
    root, exchange = course
    submit(root, exchange, "anna", solution(root))
    submit(root, exchange, "ben", {})
    svc = service.Service(root, exchange, jobs=1, check_owner=False)
    try:
        killer = when_grading(root, lambda p: os.killpg(p.pid, signal.SIGKILL))  # anna comes first
        first = svc.step()
        assert killer.done.is_set() and killer.error is None, killer.error
        anna = status(svc)["anna"]
        assert [e.student for e in first] == ["ben"]
        assert anna.status == service.PENDING and "Code -9" in anna.reason and anna.attempts == 1
        assert [e.student for e in svc.step()] == ["anna"]  # the next pass grades only what is missing
        assert svc.step() == []
        done = status(svc)
        assert (done["anna"].status, done["anna"].points, done["anna"].attempts) == (service.DONE, 4.0, 2)
        assert (done["ben"].status, done["ben"].points, done["ben"].attempts) == (service.DONE, 0.0, 1)
        assert_graded_once(root, ["anna", "ben"])
        assert_submitted_as_sent(root, exchange, list(done.values()))
    finally:
        svc.close()


def test_postgres_restarted_mid_batch(postgres, tmp_path):  # noqa: F811
    before = os.environ.get(database.DB_URL_ENV)
    os.environ[database.DB_URL_ENV] = postgres.new_database()
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    try:
        root, exchange = hub_course(tmp_path, MODES)
        submit(root, exchange, "anna", solution(root))
        svc = service.Service(root, exchange, jobs=1, check_owner=False)
        svc.step()  # anna graded; the instructor then gives a hand grade
        from nbgrader.api import Gradebook

        cd = coursedir(root)
        with Gradebook(cd.db_url, cd.course_id) as gb:
            gb.find_grade("test_layer_erzeugen", "neuronen", ASSIGNMENT, "anna").manual_score = 1.5
            gb.db.commit()
        submit(root, exchange, "ben", {})
        submit(root, exchange, "carl", solution(root))

        def restart(_proc):
            log = str(postgres.folder / "log")  # without -l the server would keep pg_ctl's output pipe open
            postgres._run(
                database_bin("pg_ctl"), "-D", str(postgres.data), "-l", log, "-m", "immediate", "-w", "restart"
            )

        restarter = when_grading(root, restart, delay=1.0)  # ben comes first
        step_until_settled(svc)
        restarter.join(60)
        states = {e.student: (e.status, e.attempts, e.reason) for e in svc.journal.entries.values()}
        assert restarter.done.is_set() and restarter.error is None, (restarter.error, restarter.seen, states)
        done = status(svc)
        assert {s: (e.status, e.points) for s, e in done.items()} == {
            "anna": (service.DONE, 4.0),
            "ben": (service.DONE, 0.0),
            "carl": (service.DONE, 4.0),
        }, {s: e.reason for s, e in done.items()}
        assert done["anna"].attempts == 1  # not graded again
        assert manual_scores(root)[("anna", "test_layer_erzeugen")] == 1.5
        assert_graded_once(root, ["anna", "ben", "carl"])
        assert_submitted_as_sent(root, exchange, list(done.values()))
        svc.close()
    finally:
        if before is None:
            os.environ.pop(database.DB_URL_ENV, None)
        else:
            os.environ[database.DB_URL_ENV] = before


def database_bin(name: str) -> str:
    from pgserver import server_bin

    return server_bin(name)


@pytest.mark.skipif(os.geteuid() != 0, reason="mount braucht root")
def test_autograded_disk_full(course):
    root, exchange = course
    autograded = root / "autograded"
    autograded.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(autograded)], check=True)
    try:
        submit(root, exchange, "anna", solution(root))
        submit(root, exchange, "ben", {})
        svc = service.Service(root, exchange, jobs=1, check_owner=False)
        try:
            assert svc.step() == []
            waiting = status(svc)
            for e in waiting.values():
                assert e.status == service.PENDING and e.attempts == 1, (e.status, e.reason)
                assert "No space left" in e.reason, e.reason
            assert_submitted_as_sent(root, exchange, list(waiting.values()))
            page = service.status_page([waiting["anna"]], "/")
            assert "wird bewertet" in page
            subprocess.run(["mount", "-o", "remount,size=64m", str(autograded)], check=True)
            assert sorted(e.student for e in svc.step()) == ["anna", "ben"]
            done = status(svc)
            assert {s: (e.status, e.points, e.attempts) for s, e in done.items()} == {
                "anna": (service.DONE, 4.0, 2),
                "ben": (service.DONE, 0.0, 2),
            }
            assert_graded_once(root, ["anna", "ben"])
            assert_submitted_as_sent(root, exchange, list(done.values()))
        finally:
            svc.close()
    finally:
        subprocess.run(["umount", "-l", str(autograded)], check=False)


def run_service(root: Path, exchange: Path, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "course.service", "--root", str(root), "--exchange", str(exchange),
           "--intervall", "1", "--ohne-eigentuemer-pruefung"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)


def journal(root: Path) -> dict[str, dict]:
    path = root / service.STATE_DIR / service.JOURNAL
    try:
        return {v["student"]: v for v in json.loads(path.read_text()).values() if v["status"] != service.SUPERSEDED}
    except (OSError, ValueError):
        return {}


def wait_for(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: {log.read_text()[-3000:]}"
        time.sleep(0.5)


def test_service_restarted_while_submissions_arrive(course, tmp_path):
    root, exchange = course
    log = tmp_path / "dienst.log"
    proc = run_service(root, exchange, log)
    try:
        anna_ts = submit(root, exchange, "anna", solution(root))
        wait_for(lambda: journal(root).get("anna", {}).get("status") == service.DONE, 300, "anna", log)
        graded_at = journal(root)["anna"]["graded_at"]
        submit(root, exchange, "ben", {})
        submit(root, exchange, "carl", solution(root))
        wait_for(lambda: busy_worker(root), 300, "ben/carl", log)
        time.sleep(2)
        proc.kill()  # the service dies (SIGKILL); its workers die with it
        proc.wait()
        wait_for(lambda: not busy_worker(root), 30, "workers", log)
        submit(root, exchange, "dora", {})  # arrives while the service is down
        proc = run_service(root, exchange, log)
        wait_for(lambda: len(journal(root)) == 4 and all(e["status"] in service.FINAL for e in journal(root).values()),
                 400, "restart", log)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(30)
    done = journal(root)
    assert {s: (e["status"], e["points"]) for s, e in done.items()} == {
        "anna": (service.DONE, 4.0),
        "ben": (service.DONE, 0.0),
        "carl": (service.DONE, 4.0),
        "dora": (service.DONE, 0.0),
    }
    assert done["anna"]["timestamp"] == anna_ts
    assert (done["anna"]["attempts"], done["anna"]["graded_at"]) == (1, graded_at)  # not graded again
    assert_graded_once(root, list(done))
    entries = [service.Entry(**e) for e in done.values()]
    assert_submitted_as_sent(root, exchange, entries)
