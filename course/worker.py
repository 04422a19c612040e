"""Grading worker: ``python -m course.worker ROOT ASSIGNMENT STUDENT`` grades one submission.

Started by :func:`course.pipeline.grade`, one process per submission, so a crash
costs only that submission.  Prints the :class:`course.pipeline.GradeResult` as
JSON on its last line of output.
"""

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

# jsonschema (imported by nbformat) compiles an RFC 3987 grammar at import time when the optional
# package rfc3987_syntax is installed: 1.3 s per worker for a URI format nbgrader never checks.
sys.modules.setdefault("rfc3987_syntax", None)

from course.pipeline import GradeResult, autograde_submission  # noqa: E402


def limit_memory() -> None:
    """Cap the address space of this worker and so of its kernel (``COURSE_GRADING_MEMORY_GB``, 0 = off).

    A cell that asks for more then gets a ``MemoryError`` instead of taking the machine down.
    """
    import resource

    gigabytes = float(os.environ.get("COURSE_GRADING_MEMORY_GB", "6"))
    if gigabytes > 0:
        limit = int(gigabytes * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> None:
    root, assignment, student = argv[:3]
    limit_memory()
    try:
        result = autograde_submission(Path(root), assignment, student)
    except Exception as exc:  # report, never hide, a crash of nbgrader itself
        result = GradeResult(assignment, student, False, f"{exc.__class__.__name__}: {exc}")
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main(sys.argv[1:])
