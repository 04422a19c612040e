"""``python -m course grade``: nbgrader's autograde for many submissions, in parallel, with a summary.

Grading itself is nbgrader's, configured in ``nbgrader_config.py`` (sandbox, structure
repair, caps, sanitizing), exactly as ``nbgrader autograde`` and the Formgrader run it.
This module adds only what a batch needs: a pre-flight check that the grading
environment can run the reference solution, one worker process per submission
(``python -m course.worker``) with a wall-clock budget, several at a time, a
progress bar and a result per submission.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from course.database import mask_password
from course.layout import CourseError, notebook_name, selected, submitted_students
from course.preprocessors.check_submitted_files import MAX_SUBMISSION_BYTES, SubmissionRejected, check_folder
from course.sandbox import remove_runtime

#: Wall-clock seconds a worker may take beyond the notebook's own budget (start-up, nbgrader, gradebook).
WORKER_MARGIN = 120


@dataclass
class GradeResult:
    assignment: str
    student: str
    ok: bool
    message: str = ""
    seconds: float = 0.0


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


def grade_one(root: Path, assignment: str, student: str, threads: int = 1, budget: float | None = None) -> GradeResult:
    """Grade one submission in a worker process; kill it (and all it started) after ``budget`` seconds.

    The worker keeps its kernels' runtime folders in a temporary folder of its own, removed
    afterwards together with whatever a killed worker left there (sockets, cgroups).
    """
    start = time.perf_counter()
    try:
        precheck(root, assignment, student)
    except CourseError as exc:
        return GradeResult(assignment, student, False, str(exc), time.perf_counter() - start)
    budget = budget or worker_budget(root)
    scratch = Path(tempfile.mkdtemp(prefix="nn-kurs-bewertung-"))
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(threads)), "TMPDIR": str(scratch)}
    _prctl()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "course.worker", str(root), assignment, student],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=_own_session_dying_with_parent,
        )
        try:
            stdout, stderr = proc.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and the sandbox launcher; bwrap takes the kernel
            proc.communicate()
            message = f"Bewertung nach {budget:.0f} s abgebrochen (Zeitbudget der Abgabe überschritten)"
            return GradeResult(assignment, student, False, message, time.perf_counter() - start)
    finally:
        for runtime in scratch.glob("nn-kurs-kernel-*"):
            remove_runtime(runtime)
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - start
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        return GradeResult(**{**json.loads(lines[-1]), "seconds": seconds})
    except (IndexError, ValueError, TypeError):
        tail = (stderr.strip().splitlines() or ["ohne Meldung"])[-1]
        message = mask_password(f"Bewertungsprozess endete mit Code {proc.returncode}: {tail}")
        return GradeResult(assignment, student, False, message, seconds)


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
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_one, root, a, s, threads, budget) for a, s in todo]
        results = [future.result() for future in _progress(as_completed(futures), len(futures), progress)]
    return sorted(results, key=lambda r: (r.assignment, r.student))


def _progress(items, total: int, show: bool):
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="Bewertung", unit="Abgabe")
