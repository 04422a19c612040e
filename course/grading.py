"""``python -m course grade``: nbgrader's autograde for many submissions, in parallel, with a summary.

Grading itself is nbgrader's, configured in ``nbgrader_config.py`` (sandbox, structure
repair, caps, sanitizing), exactly as ``nbgrader autograde`` and the Formgrader run it.
This module adds only what a batch needs: a pre-flight check that the grading
environment can run the reference solution (skipped while nothing it depends on
changed), long-lived worker processes (``python -m course.worker``, one per parallel
slot, each grading submission after submission with one nbgrader set-up) with a
wall-clock budget per submission, a progress bar and a typed result per submission.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache, partial
from multiprocessing.connection import Connection
from pathlib import Path

from course.database import mask_password
from course.layout import CourseError, notebook_name, selected, submitted_students
from course.preprocessors.check_submitted_files import MAX_SUBMISSION_BYTES, SubmissionRejected, check_folder
from course.sandbox import remove_runtime

#: Wall-clock seconds a worker may take beyond the notebook's own budget (start-up, nbgrader, gradebook).
WORKER_MARGIN = 120


class FailureKind:
    """Why a submission was not graded (``GradeResult.kind``), decided from the type of what failed."""

    REJECTED = "abgelehnt"  # the submission itself: links, a missing or broken notebook, too large
    COURSE = "kurs"  # the course: no student version released, an unknown assignment
    ENVIRONMENT = "umgebung"  # the grading environment: the kernel could not start
    GRADEBOOK = "gradebook"  # the database, after retries
    BUDGET = "zeitbudget"  # ran past its wall-clock budget; its worker was killed
    WORKER_LOST = "abgestürzt"  # the worker process died while it graded this submission
    ERROR = "fehler"  # anything else nbgrader raised


@dataclass
class GradeResult:
    assignment: str
    student: str
    ok: bool
    message: str = ""
    seconds: float = 0.0
    kind: str = ""  # a FailureKind when not ok


def precheck(root: Path, assignment: str, student: str, max_bytes: int = MAX_SUBMISSION_BYTES) -> None:
    """Reject what nbgrader cannot grade, with a clear message, before it touches anything.

    Links, FIFOs and devices (nbgrader would follow them while copying), a missing,
    empty or broken notebook.  The submission itself is never changed.  Cheap on purpose
    (no schema validation): it runs once per submission before the worker starts.
    """
    folder = root / "submitted" / student / assignment
    try:
        check_folder(folder, max_bytes)
    except SubmissionRejected as exc:
        raise CourseError(str(exc)) from None
    expected = notebook_name(root, assignment)
    path = folder / expected
    if not path.exists():
        found = sorted(p.name for p in folder.glob("*.ipynb"))
        listed = ", ".join(found) or "keine Notebooks"
        raise CourseError(f"Notebook {expected} fehlt in der Abgabe (gefunden: {listed})")
    if path.stat().st_size == 0:
        raise CourseError(f"{expected} ist eine leere Datei")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CourseError(f"{expected} ist kein gültiges Notebook ({exc.__class__.__name__})") from None
    if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
        raise CourseError(f"{expected} ist kein gültiges Notebook (keine Zellen)")


def worker_budget(root: Path) -> float:
    """Wall-clock seconds one worker may take: the notebook's ``SafeExecute.submission_timeout`` and a margin."""
    from course.layout import coursedir

    config = coursedir(root).config
    return float(config.SafeExecute.get("submission_timeout", 900)) + WORKER_MARGIN


@cache
def _prctl():
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl  # loaded in the parent: the child only calls it


def _own_session_dying_with_parent() -> None:
    """In the worker before it starts: a process group of its own (so it can be killed as a whole), and
    death with the process that started it (a Dask worker that dies must not leave a grader behind)."""
    os.setsid()
    _prctl()(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Worker:
    """A long-lived grading process (``python -m course.worker ROOT FD``) for one course.

    It sets nbgrader up once and grades the submissions it is sent one after another, each in a
    fresh sandboxed kernel; requests and results travel as data on a socket pair, never on
    stdout.  Its own process group dies with the thread that started it (``PR_SET_PDEATHSIG``)
    and is killed as a whole when a submission runs past its budget; the worker is then gone and
    :meth:`grade` reports that submission alone.  Kernels keep their runtime folders in a
    temporary folder of the worker's (``TMPDIR``), removed by :meth:`close`.
    """

    def __init__(self, root: Path, threads: int = 1):
        self.root, self.threads = root, threads
        self.scratch = Path(tempfile.mkdtemp(prefix="nn-kurs-bewertung-"))
        self.log = self.scratch / "worker.log"
        env = {
            **os.environ,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(threads)),
            "TMPDIR": str(self.scratch),
        }
        _prctl()
        ours, theirs = socket.socketpair()
        try:
            with self.log.open("wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "course.worker", str(root), str(theirs.fileno())],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                    pass_fds=[theirs.fileno()],
                    preexec_fn=_own_session_dying_with_parent,
                )
        except BaseException:
            ours.close()
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and not self.conn.closed

    def grade(self, assignment: str, student: str, budget: float, ahead: bool = True) -> GradeResult:
        """Grade one submission; after ``budget`` seconds the worker is killed (and this object is spent).

        ``ahead``: another submission may follow (the worker starts its trusted kernel meanwhile)."""
        start = time.perf_counter()
        try:
            request = {"assignment": assignment, "student": student, "ahead": ahead}
            self.conn.send_bytes(json.dumps(request).encode())
            if self.conn.poll(budget):
                data = json.loads(self.conn.recv_bytes())
                return GradeResult(**{**data, "seconds": time.perf_counter() - start})
        except (EOFError, OSError, ValueError, TypeError):  # the worker died (or sent something that is no result)
            self.close(kill=True, keep_log=True)
            tail = mask_password(self._log_tail())
            shutil.rmtree(self.scratch, ignore_errors=True)
            message = f"Bewertungsprozess endete mit Code {self.proc.returncode}: {tail}"
            seconds = time.perf_counter() - start
            return GradeResult(assignment, student, False, message, seconds, FailureKind.WORKER_LOST)
        self.close(kill=True)
        message = f"Bewertung nach {budget:.0f} s abgebrochen (Zeitbudget der Abgabe überschritten)"
        return GradeResult(assignment, student, False, message, time.perf_counter() - start, FailureKind.BUDGET)

    def _log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return (lines or ["ohne Meldung"])[-1]

    def close(self, kill: bool = False, keep_log: bool = False) -> None:
        """End the worker (at once with ``kill``, else when it has finished) and remove its temporary folder
        (but for its log with ``keep_log``)."""
        if self.conn.closed and self.proc.returncode is not None:
            return  # closed before: its process is reaped, its pid may belong to another process by now
        if not self.conn.closed:
            self.conn.close()  # an idle worker ends on the closed connection
        if not kill:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        if kill or self.proc.returncode is None:
            # the whole group, also when the worker itself is already dead (not yet reaped: its pid is not reused)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and the sandbox launcher; bwrap the kernel
            self.proc.wait()
        for runtime in self.scratch.glob("nn-kurs-kernel-*"):
            remove_runtime(runtime)
        if not keep_log:
            shutil.rmtree(self.scratch, ignore_errors=True)


#: The worker of each thread that grades (a thread-pool slot, a Dask worker thread), reused while it lives.
_workers = threading.local()
_all_workers: dict[Worker, threading.Thread] = {}  # each with the thread it belongs to
_all_lock = threading.Lock()


def _worker_key(root: Path, threads: int) -> tuple:
    """What a worker was started with: a change (configuration, environment) needs a new worker."""
    try:
        config = (root / "nbgrader_config.py").stat().st_mtime_ns
    except OSError:
        config = None
    return (str(root), threads, config, hash(frozenset(os.environ.items())))


def _thread_worker(root: Path, threads: int) -> Worker:
    key = _worker_key(root, threads)
    current: Worker | None = getattr(_workers, "worker", None)
    if current is not None and (_workers.key != key or not current.alive):
        _forget(current)
        current = None
    if current is None:
        close_workers()  # those of threads that have ended (another caller's thread pool)
        current = Worker(root, threads)
        _workers.worker, _workers.key = current, key
        with _all_lock:
            _all_workers[current] = threading.current_thread()
    return current


def _forget(worker: Worker, kill: bool = False) -> None:
    worker.close(kill=kill)
    with _all_lock:
        _all_workers.pop(worker, None)
    if getattr(_workers, "worker", None) is worker:
        _workers.worker = None


def close_workers(everyone: bool = False) -> None:
    """End the workers whose thread has ended (a batch's thread pool), or with ``everyone`` all (at exit)."""
    with _all_lock:
        workers = [w for w, thread in _all_workers.items() if everyone or not thread.is_alive()]
        for worker in workers:
            del _all_workers[worker]
    for worker in workers:
        worker.close()


atexit.register(close_workers, everyone=True)


def grade_one(
    root: Path, assignment: str, student: str, threads: int = 1, budget: float | None = None, ahead: bool = True
) -> GradeResult:
    """Grade one submission in this thread's worker process; kill it (and all it started) after ``budget`` seconds.

    The worker stays for the next submission of this thread (one nbgrader set-up for many
    submissions); one killed, dead or started with another configuration is replaced.
    """
    start = time.perf_counter()
    try:
        precheck(root, assignment, student)
    except CourseError as exc:
        return GradeResult(assignment, student, False, str(exc), time.perf_counter() - start, FailureKind.REJECTED)
    budget = budget or worker_budget(root)
    worker = _thread_worker(root, threads)
    result = worker.grade(assignment, student, budget, ahead)
    if not worker.alive:
        _forget(worker, kill=True)
    result.seconds = time.perf_counter() - start
    return result


def prepare_gradebook(root: Path, todo: list[tuple[str, str]]) -> None:
    """Check the gradebook and create every student before the workers start, so they never race to do it."""
    from nbgrader.api import Gradebook

    from course import database
    from course.api import nbgrader_api

    api = nbgrader_api(root)
    url, course_id = api.coursedir.db_url, api.coursedir.course_id
    problem = database.check(url)
    if problem:
        raise CourseError(problem)
    with Gradebook(url, course_id) as gb:
        missing = sorted({a for a, _ in todo} - {a.name for a in gb.assignments})
    if missing:
        raise CourseError(f"nicht im Gradebook: {', '.join(missing)} (zuerst `python -m course release`)")
    database.prepare(url, sorted({s for _, s in todo}), course_id)


def grade(
    root: Path,
    assignment: str | None = None,
    jobs: int | None = None,
    progress: bool = True,
    preflight: bool = True,
    cluster: str | None = None,
) -> list[GradeResult]:
    """Autograde every submission of all (or one) assignments, ``jobs`` submissions at a time.

    First runs each assignment's reference solution in a grading kernel
    (:func:`course.solutions.preflight`): if that fails, nobody is graded.  With ``cluster``
    (or ``COURSE_DASK_SCHEDULER``) the submissions go to a Dask cluster (:mod:`course.cluster`),
    each graded there by the same per-submission function.
    """
    from course import cluster as dask_cluster
    from course.solutions import preflight as run_preflight

    names = selected(root, assignment)
    todo = [(name, student) for name in names for student in submitted_students(root, name)]
    if not todo:
        return []
    prepare_gradebook(root, todo)
    if preflight:
        for name in sorted({a for a, _ in todo}):
            run_preflight(root, name)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // jobs)  # parallel kernels must not fight over the cores
    budget = worker_budget(root)
    address = dask_cluster.scheduler_address(cluster)
    if address:
        try:
            done = dask_cluster.grade_on_cluster(todo, partial(grade_one, root), address, workers=jobs, root=root)
            results = list(_progress(done, len(todo), progress))
        except dask_cluster.ClusterError as exc:
            raise CourseError(str(exc)) from None
        return sorted(results, key=lambda r: (r.assignment, r.student))
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            started = itertools.count(1)  # a submission started as the last one has no successor in its worker

            def one(assignment: str, student: str) -> GradeResult:
                return grade_one(root, assignment, student, threads, budget, ahead=next(started) < len(todo))

            futures = [pool.submit(one, a, s) for a, s in todo]
            results = [future.result() for future in _progress(as_completed(futures), len(futures), progress)]
    finally:
        close_workers()
    return sorted(results, key=lambda r: (r.assignment, r.student))


def _progress(items, total: int, show: bool):
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="Bewertung", unit="Abgabe")
