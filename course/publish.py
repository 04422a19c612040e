"""What goes out to the students: the released student versions and the feedback."""

from __future__ import annotations

from pathlib import Path

from course.api import check_result, nbgrader_api
from course.layout import selected


def release(root: Path, assignment: str | None = None) -> list[str]:
    """Generate the student versions of all (or one) assignments into ``release/``."""
    names = selected(root, assignment)
    api = nbgrader_api(root)
    for name in names:
        check_result(api.generate_assignment(name, force=True, create=True), f"release {name}")
    return names


def feedback(root: Path, assignment: str | None = None) -> list[str]:
    """Generate the feedback HTML of every autograded submission into ``feedback/``."""
    api = nbgrader_api(root)
    done = []
    for name in selected(root, assignment):
        if not (root / "autograded").is_dir() or not any((root / "autograded").glob(f"*/{name}")):
            continue
        check_result(api.generate_feedback(name), f"feedback {name}")
        done.append(name)
    return done
