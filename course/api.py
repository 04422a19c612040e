"""nbgrader's Python API, configured from the course's ``nbgrader_config.py``."""

from __future__ import annotations

from pathlib import Path

from course.database import mask_password
from course.layout import CourseError, coursedir


def nbgrader_api(root: Path):
    """An ``NbGraderAPI`` for the course at ``root`` (the same configuration as ``nbgrader`` and the Formgrader)."""
    from nbgrader.apps import NbGraderAPI

    cd = coursedir(root)
    return NbGraderAPI(coursedir=cd, config=cd.config)


def check_result(result: dict, what: str) -> None:
    """Raise ``CourseError`` with the last line of nbgrader's log unless ``result`` reports success."""
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "").strip().splitlines()
        raise CourseError(mask_password(f"{what} fehlgeschlagen: {detail[-1] if detail else 'ohne Meldung'}"))
