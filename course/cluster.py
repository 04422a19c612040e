"""Grading on a Dask cluster: one task per submission, the same worker subprocess as local grading.

``python -m course grade --cluster ADDRESS`` (or ``COURSE_DASK_SCHEDULER=ADDRESS``) hands every
submission to a Dask cluster (``distributed``).  A task grades one submission by calling the same
per-submission function as local grading (which hands it to the long-lived ``python -m course.worker``
process of the Dask worker's thread, started on first use) and returns its ``GradeResult``;
:func:`grade_on_cluster` yields the results as they finish, so the progress bar and the summary stay those
of local grading.

``ADDRESS`` is a scheduler (``tcp://host:8786``, started by ``dask scheduler``, dask-jobqueue or
dask-kubernetes) or ``local`` / ``local:N``: a ``LocalCluster`` of N worker processes on this machine.

Faults: a Dask worker that dies while it grades (its machine, pod or job is lost, the OOM killer) sends
the submission back to the scheduler, which grades it again on another worker; grading a submission
again replaces its grades in the gradebook (nbgrader's ``force``), so every test cell keeps exactly one
grade.  A submission during which workers die ``tries`` times is reported as failed (Dask's
``allowed-failures``, ``KilledWorker``), the others go on.  What the workers need (the course's
environment, bubblewrap, the course folder on a shared filesystem, the gradebook) is in the README.
"""

from __future__ import annotations

import hashlib
import os
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from course.database import DB_URL_ENV, mask_password

# A Dask worker imports the grading module (and with it nbformat and jsonschema) when it unpickles its first
# task, after this module.  jsonschema compiles an RFC 3987 grammar at import time when the optional package
# rfc3987_syntax is installed: seconds per worker process for a URI format nbgrader never checks
# (course.worker skips it the same way).
sys.modules.setdefault("rfc3987_syntax", None)

SCHEDULER_ENV = "COURSE_DASK_SCHEDULER"
#: How often a submission may lose its worker before it is reported as failed.
DEFAULT_TRIES = 3
LOCAL = "local"
CONNECT_TIMEOUT = "30s"
#: Seconds to wait for the first worker of a remote cluster (a batch job may wait in the queue).
WORKER_TIMEOUT = float(os.environ.get("COURSE_DASK_WORKER_TIMEOUT", "600"))


class ClusterError(RuntimeError):
    """The cluster cannot be used (no scheduler at the address, ``distributed`` missing)."""


def scheduler_address(option: str | None = None) -> str | None:
    """The cluster to grade on: the ``--cluster`` option, else ``COURSE_DASK_SCHEDULER``, else none (local)."""
    return option or os.environ.get(SCHEDULER_ENV) or None


def _result_type():
    """``GradeResult`` of the grading module (``course.grading`` after the split, ``course.pipeline`` before)."""
    try:
        from course.grading import GradeResult
    except ImportError:
        from course.pipeline import GradeResult
    return GradeResult


def _failed(assignment: str, student: str, message: str):
    return _result_type()(assignment, student, False, mask_password(message))


def gradebook_fingerprint(url: str | None = None) -> str:
    """A short hash of ``COURSE_DB_URL`` (or ``url``): compares the gradebook of client and workers, never sends it."""
    url = os.environ.get(DB_URL_ENV, "") if url is None else url
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _start_topic(batch: str, assignment: str, student: str) -> str:
    """The scheduler's event topic that counts how often grading of this submission started."""
    return f"nn-kurs-bewertung-{batch}-{assignment}-{student}"


def _starts(client, topic: str) -> int:
    return len(client.get_events(topic))


def _killed_message(tries: int) -> str:
    return (
        f"Bewertung abgebrochen: der Dask-Worker starb bei {tries} Versuchen "
        "(die Abgabe bringt vermutlich ihren Bewertungsprozess zum Absturz)"
    )


def _grade_task(
    grade_one: Callable, assignment: str, student: str, root: str | None, fingerprint: str, topic: str, tries: int
):
    """Runs on a Dask worker: check what the worker must share with the client, then grade one submission.

    Every start is logged as an event on the scheduler; a submission whose grading already started ``tries``
    times (each time its worker died) is not started again.
    """
    if root is not None and not (Path(root) / "nbgrader_config.py").is_file():
        return _failed(
            assignment, student, f"Kursordner auf dem Worker nicht gefunden: {root} (gemeinsames Dateisystem?)"
        )
    if gradebook_fingerprint() != fingerprint:
        return _failed(assignment, student, f"{DB_URL_ENV} des Workers zeigt auf ein anderes Gradebook als beim Aufruf")
    try:
        from distributed import get_client, get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # called outside a Dask worker (tests)
        worker = None
    if worker is not None:
        if _starts(get_client(), topic) >= tries:
            return _failed(assignment, student, _killed_message(tries))
        worker.log_event(topic, {"worker": worker.address})
    try:
        return grade_one(assignment, student)
    except Exception as exc:  # the per-submission function reports failures itself; this is the last resort
        return _failed(assignment, student, f"{exc.__class__.__name__}: {exc}")


@contextmanager
def client_for(address: str, workers: int | None = None, tries: int = DEFAULT_TRIES):
    """A ``distributed.Client`` for ``address``; ``local``/``local:N`` starts (and stops) a ``LocalCluster``.

    The local cluster gets one single-threaded worker process per grading slot, holds at most one
    submission per worker (``worker-saturation`` 1.0, so a dying worker takes no queued submission with
    it) and gives up on a submission after ``tries`` lost workers (``allowed-failures``).  A remote
    scheduler brings its own settings (README: ``DASK_DISTRIBUTED__SCHEDULER__…``).
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed is pinned in requirements.txt
        raise ClusterError(f"Für die Bewertung auf einem Cluster fehlt das Paket distributed ({exc})") from None

    settings = {
        "distributed.scheduler.allowed-failures": max(0, tries - 1),
        "distributed.scheduler.worker-saturation": 1.0,
    }
    if address == LOCAL or address.startswith(LOCAL + ":"):
        count = int(address.split(":", 1)[1]) if ":" in address else (workers or os.cpu_count() or 1)
        with dask.config.set(settings):
            cluster = LocalCluster(
                n_workers=max(1, count), threads_per_worker=1, processes=True, dashboard_address=None,
                memory_limit=0,  # the grading subprocess has its own limit (COURSE_GRADING_MEMORY_GB)
            )  # fmt: skip
            try:
                with Client(cluster) as client:
                    yield client
            finally:
                cluster.close()
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"Dask-Scheduler nicht erreichbar: {mask_password(address)} ({exc.__class__.__name__})"
        ) from None
    try:
        yield client
    finally:
        client.close()


def grade_on_cluster(
    todo: Iterable[tuple[str, str]],
    grade_one: Callable,
    address: str,
    workers: int | None = None,
    root: Path | None = None,
    tries: int = DEFAULT_TRIES,
) -> Iterator:
    """Grade every ``(assignment, student)`` of ``todo`` on the cluster at ``address``; yield results as they finish.

    ``grade_one(assignment, student)`` grades one submission and returns its ``GradeResult`` (local
    grading's per-submission function, e.g. a ``functools.partial`` with the course root); it must be
    picklable.  ``workers`` sizes a ``local`` cluster.  ``root``, if given, is checked on each worker
    (the course folder must be shared).  Yields exactly one ``GradeResult`` per submission: a
    submission whose grading started ``tries`` times and each time lost its worker, or whose task
    raised, gets ``ok=False`` and the reason; the others are not affected.  A submission that lost its
    worker only while it waited behind another one is handed out again.

    Only as many submissions as the cluster has worker threads are handed out at a time: a worker that
    dies takes just the submission it was grading with it (Dask counts a death against every task
    assigned to the worker, and would otherwise assign the whole batch at once).
    """
    from collections import deque

    from distributed import KilledWorker, as_completed

    queue = deque(todo)
    if not queue:
        return
    fingerprint = gradebook_fingerprint()
    batch = uuid.uuid4().hex[:8]
    shared_root = None if root is None else str(root)
    with client_for(address, workers, tries) as client:
        if not (address == LOCAL or address.startswith(LOCAL + ":")):
            try:
                client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except TimeoutError:
                raise ClusterError(
                    f"Der Dask-Scheduler {mask_password(address)} hat nach {WORKER_TIMEOUT} s noch keinen Worker"
                ) from None
        running: dict = {}
        resubmits: dict[tuple[str, str], int] = {}
        finished = as_completed()

        def hand_out() -> None:
            slots = max(1, sum(client.nthreads().values()))
            while queue and len(running) < slots:
                assignment, student = queue.popleft()
                submit(assignment, student)

        def submit(assignment: str, student: str) -> None:
            topic = _start_topic(batch, assignment, student)
            future = client.submit(
                _grade_task, grade_one, assignment, student, shared_root, fingerprint, topic, tries,
                key=f"bewertung-{assignment}-{student}-{batch}-{uuid.uuid4().hex[:6]}", pure=False,
            )  # fmt: skip
            running[future] = (assignment, student)
            finished.add(future)

        hand_out()
        for future in finished:
            assignment, student = running.pop(future)
            try:
                result = future.result()
            except KilledWorker:
                # Dask counts every worker death while the task was assigned, queued behind another
                # submission included; only deaths during its own grading count against the submission.
                started = _starts(client, _start_topic(batch, assignment, student))
                resubmits[(assignment, student)] = resubmits.get((assignment, student), 0) + 1
                if started < tries and resubmits[(assignment, student)] <= tries:
                    future.release()
                    submit(assignment, student)
                    continue
                result = _failed(assignment, student, _killed_message(max(1, min(started, tries))))
            except Exception as exc:
                result = _failed(
                    assignment, student, f"Bewertung auf dem Cluster fehlgeschlagen: {exc.__class__.__name__}: {exc}"
                )
            future.release()
            hand_out()
            yield result
