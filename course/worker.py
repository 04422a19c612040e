"""Grading worker: ``python -m course.worker ROOT FD`` grades submissions one after another.

Started by :class:`course.grading.Worker`.  It sets nbgrader up once (imports, the course's
configuration, the API object) and then grades every submission the parent sends on the
connection ``FD`` (a socket it inherited), each with nbgrader's autograde as configured in
``nbgrader_config.py``: a fresh sandboxed kernel (and trusted test kernel) per submission, so
nothing of one submission reaches the next; the worker itself never runs student code.

Requests and results are data on that connection (JSON, one message each), never text on
stdout: ``{"assignment": ..., "student": ...}`` in, a :class:`course.grading.GradeResult` out.
Why a submission failed is the exception the failing step raised (recorded where nbgrader
would turn it into log text), classified by :func:`classify`.  nbgrader's own log goes to
stderr, which the parent keeps in a file for the case the worker dies.  The parent kills the
worker (its whole process group) when a submission runs past its budget and starts a new one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path

# jsonschema (imported by nbformat) compiles an RFC 3987 grammar at import time when the optional
# package rfc3987_syntax is installed: 1.3 s per worker for a URI format nbgrader never checks.
sys.modules.setdefault("rfc3987_syntax", None)

from course.database import is_transient, mask_password  # noqa: E402
from course.grading import FailureKind, GradeResult  # noqa: E402
from course.layout import CourseError  # noqa: E402

#: Attempts per submission when the shared gradebook is busy or briefly unavailable.
GRADEBOOK_ATTEMPTS = 5


def classify(exc: BaseException) -> tuple[str, str]:
    """``(kind, message)`` of a failure, from the exception's type (see :class:`course.grading.FailureKind`).

    The course's own errors carry a German message meant for the instructor; anything else is
    reported with its type, since it is a problem of nbgrader or of the grading environment.
    """
    from course.preprocessors.check_submitted_files import SubmissionRejected
    from course.preprocessors.safe_execute import KernelStartError

    if isinstance(exc, SubmissionRejected):
        return FailureKind.REJECTED, str(exc)
    if isinstance(exc, KernelStartError):
        return FailureKind.ENVIRONMENT, str(exc)
    if isinstance(exc, CourseError):
        return FailureKind.COURSE, str(exc)
    if _is_database_error(exc):
        return FailureKind.GRADEBOOK, f"Gradebook: {exc.__class__.__name__}: {exc}"
    return FailureKind.ERROR, f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


def _is_database_error(exc: BaseException) -> bool:
    import sqlalchemy.exc

    return isinstance(exc, sqlalchemy.exc.DBAPIError | sqlalchemy.exc.OperationalError)


def recording_autograde():
    """nbgrader's ``Autograde`` that keeps the exception of a failing step in ``failure``.

    nbgrader catches it per submission and logs its traceback as text; the typed exception is
    what the worker reports.
    """
    from nbgrader.converters import Autograde

    class RecordingAutograde(Autograde):
        failure: BaseException | None = None

        def _record(self, step, *args):
            try:
                return step(*args)
            except Exception as exc:
                self.failure = self.failure or exc
                raise

        def init_assignment(self, assignment_id, student_id):
            return self._record(super().init_assignment, assignment_id, student_id)

        def convert_single_notebook(self, notebook_filename):
            return self._record(super().convert_single_notebook, notebook_filename)

    return RecordingAutograde


class Grader:
    """nbgrader set up once for the course at ``root``; :meth:`grade` autogrades one submission."""

    def __init__(self, root: Path):
        from nbgrader.utils import temp_attrs

        from course.api import nbgrader_api

        self.api = nbgrader_api(root)
        self.autograde_class = recording_autograde()
        self._temp_attrs = temp_attrs

    def attempt(self, assignment: str, student: str) -> BaseException | None:
        """Autograde once; the exception that made it fail, or ``None``."""
        with self._temp_attrs(self.api.coursedir, assignment_id=assignment, student_id=student):
            app = self.autograde_class(coursedir=self.api.coursedir, parent=self.api)
            app.force = True
            app.create_student = True
            try:
                app.start()
            except Exception as exc:  # nbgrader's summary exception; the step's own one is more telling
                return app.failure or exc
        return app.failure

    def grade(self, assignment: str, student: str) -> GradeResult:
        start = time.perf_counter()
        for attempt in range(GRADEBOOK_ATTEMPTS):  # parallel workers share one gradebook
            failure = self.attempt(assignment, student)
            if failure is None or not (_is_database_error(failure) and is_transient(str(failure))):
                break
            time.sleep(1 + attempt)
        seconds = time.perf_counter() - start
        if failure is None:
            return GradeResult(assignment, student, True, seconds=seconds)
        kind, message = classify(failure)
        return GradeResult(assignment, student, False, mask_password(message), seconds, kind)


def serve(root: Path, fd: int) -> None:
    """Answer every request on connection ``fd`` with a result, until the parent closes it.

    The trusted test kernel of the next notebook starts while one is graded (:class:`TrustedKernelSupply`: a
    fresh, never used kernel per notebook); the one left at the end is stopped."""
    from nbclient.util import run_sync

    from course.preprocessors.safe_execute import SafeExecute
    from course.trusted.kernel import TrustedKernelSupply

    conn = Connection(fd)
    grader = Grader(root)
    supply = SafeExecute.trusted_supply = TrustedKernelSupply()
    try:
        while True:
            try:
                request = json.loads(conn.recv_bytes())
            except EOFError:
                return
            assignment, student = request["assignment"], request["student"]
            supply.ahead = request.get("ahead", True)  # the last submission has no successor to start a kernel for
            try:
                result = grader.grade(assignment, student)
            except Exception as exc:  # report, never hide, a crash of nbgrader itself
                kind, message = classify(exc)
                result = GradeResult(assignment, student, False, mask_password(message), kind=kind)
            conn.send_bytes(json.dumps(asdict(result)).encode())
    finally:
        SafeExecute.trusted_supply = None
        run_sync(supply.close)()


#: Address space of a grading worker (a soft limit: the kernels it starts set their own): it holds notebooks and
#: the budgeted messages of the sandbox's relay; a runaway costs this worker (its submission is reported), not the
#: machine.  Kernels started without the sandbox inherit it, hence room for torch's address space.
WORKER_MEMORY = 12 * 1024**3


def main(argv: list[str]) -> None:
    import resource

    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard == resource.RLIM_INFINITY or hard > WORKER_MEMORY:
        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, hard))
    root, fd = argv[:2]
    os.set_inheritable(int(fd), False)  # kernels started from here must not hold the parent's connection
    serve(Path(root), int(fd))


if __name__ == "__main__":
    main(sys.argv[1:])
