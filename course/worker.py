"""Grading worker: ``python -m course.worker ROOT ASSIGNMENT STUDENT`` grades one submission.

Started by :func:`course.grading.grade_one`, one process per submission, so a crash
costs only that submission.  Runs nbgrader's autograde with the course's
configuration and prints a :class:`course.grading.GradeResult` as JSON on its last line.
"""

import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

# jsonschema (imported by nbformat) compiles an RFC 3987 grammar at import time when the optional
# package rfc3987_syntax is installed: 1.3 s per worker for a URI format nbgrader never checks.
sys.modules.setdefault("rfc3987_syntax", None)

from course.api import nbgrader_api  # noqa: E402
from course.database import is_transient, mask_password  # noqa: E402
from course.grading import GradeResult  # noqa: E402

#: Lines of nbgrader's log that explain a failure best, most telling first.
OUR_MESSAGES = ("Abgabe abgelehnt", "Bewertungs-Kernel", "Studierendenversion fehlt")
_RAISED = re.compile(r"^[\w.]*(?:Error|Exception|Entry|Rejected): (.+)$")


def failure_message(result: dict) -> str:
    """The line of nbgrader's log that explains the failure best."""
    text = f"{result.get('log') or ''}\n{result.get('error') or ''}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for marker in OUR_MESSAGES:
        ours = [line for line in lines if marker in line]
        if ours:
            return ours[-1][ours[-1].index(marker) :]
    raised = [m.group(1) for line in lines if (m := _RAISED.match(line)) and "Please see" not in line]
    return (raised or lines or ["ohne Meldung"])[-1]


def autograde(root: Path, assignment: str, student: str) -> GradeResult:
    api = nbgrader_api(root)
    for attempt in range(5):  # parallel workers share one gradebook: retry a busy or briefly unavailable one
        result = api.autograde(assignment, student, force=True, create=True)
        if result.get("success") or not is_transient(str(result.get("error") or result.get("log") or "")):
            break
        time.sleep(1 + attempt)
    if result.get("success"):
        return GradeResult(assignment, student, True)
    return GradeResult(assignment, student, False, mask_password(failure_message(result)))


def main(argv: list[str]) -> None:
    root, assignment, student = argv[:3]
    try:
        result = autograde(Path(root), assignment, student)
    except Exception as exc:  # report, never hide, a crash of nbgrader itself
        result = GradeResult(assignment, student, False, mask_password(f"{exc.__class__.__name__}: {exc}"))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main(sys.argv[1:])
