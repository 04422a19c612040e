"""Executing the instructor notebooks: ``course check`` and the pre-flight check of grading."""

from __future__ import annotations

import atexit
import os
import tempfile
import time
from pathlib import Path

from course.layout import CourseError, read_notebook, selected, source_notebook


def execute_notebook(path: Path, timeout: int = 600):
    """Execute a notebook as a student would, in one plain kernel; return the executed copy (the file is not changed).

    Cells tagged ``raises-exception`` may fail; any other error raises
    ``nbclient.exceptions.CellExecutionError``.
    """
    from nbclient import NotebookClient

    nb = read_notebook(path)
    client = NotebookClient(
        nb, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}, kernel_name="python3"
    )
    try:
        client.execute()
    finally:  # a kernel that never started leaves nbclient's exit handler without a kernel manager
        atexit.unregister(client._cleanup_kernel)
    return nb


def grade_notebook(path: Path, workdir: Path, timeout: int = 300):
    """Execute a notebook the way autograding does (:class:`~course.preprocessors.SafeExecute`: the
    student's cells in the sandbox, the test cells in the trusted kernel); return it executed."""
    from course.preprocessors.safe_execute import SafeExecute

    nb = read_notebook(path)
    SafeExecute(timeout=timeout).preprocess(nb, {"metadata": {"path": str(workdir)}})
    return nb


def first_error(nb) -> str | None:
    """``"Name: message"`` of the first error in a cell that is not tagged ``raises-exception``."""
    for cell in nb.cells:
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def check(root: Path, assignment: str | None = None) -> list[tuple[str, float]]:
    """Execute every solution notebook top to bottom (all visible and hidden tests included)."""
    timings = []
    for name in selected(root, assignment):
        start = time.perf_counter()
        execute_notebook(source_notebook(root, name))
        timings.append((name, time.perf_counter() - start))
    return timings


def preflight(root: Path, assignment: str) -> float:
    """Run the reference solution as autograding would (sandbox and trusted test kernel); a clear error if it fails.

    A grading environment that cannot run the reference solution (no kernel in the
    sandbox, data missing, a package missing) would grade every student 0: it must
    stop before it grades anyone.  Returns the seconds it took.
    """
    start = time.perf_counter()
    from course.layout import grading_data_dir

    changed = {"NBGRADER_EXECUTION": "autograde", "COURSE_DATA_DIR": str(grading_data_dir(root))}
    previous = {name: os.environ.get(name) for name in changed}
    os.environ.update(changed)
    try:
        with tempfile.TemporaryDirectory(prefix="nn-kurs-vorab-") as folder:
            error = first_error(grade_notebook(source_notebook(root, assignment), Path(folder)))
    except Exception as exc:
        raise CourseError(
            f"Die Bewertungsumgebung kann keinen Kernel für {assignment} starten ({exc.__class__.__name__}: {exc}); "
            "niemand wurde bewertet"
        ) from None
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if error is not None:
        last = error.strip().splitlines()[-1:] or ["ohne Meldung"]
        raise CourseError(
            f"Die Bewertungsumgebung kann die Musterlösung von {assignment} nicht ausführen ({last[0]}); "
            "niemand wurde bewertet"
        )
    return time.perf_counter() - start
