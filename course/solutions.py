"""Executing the instructor notebooks: ``course check`` and the pre-flight check of grading."""

from __future__ import annotations

import atexit
import os
import tempfile
import time
from pathlib import Path

from course.layout import CourseError, read_notebook, selected, source_notebook


def execute_notebook(path: Path, timeout: int = 600, sandboxed: bool = False, workdir: Path | None = None):
    """Execute a notebook and return the executed copy (the file is not changed).

    Cells tagged ``raises-exception`` may fail; any other error raises
    ``nbclient.exceptions.CellExecutionError``.  ``sandboxed`` runs it in a grading
    kernel (:mod:`course.sandbox`), as nbgrader would.
    """
    from nbclient import NotebookClient

    nb = read_notebook(path)
    options = {"kernel_name": "python3"}
    if sandboxed:
        from course.sandbox_kernel import SandboxKernelManager

        options["kernel_manager_class"] = SandboxKernelManager
    folder = workdir or path.parent
    client = NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(folder)}}, **options)
    try:
        client.execute()
    finally:  # a kernel that never started leaves nbclient's exit handler without a kernel manager
        atexit.unregister(client._cleanup_kernel)
    return nb


def check(root: Path, assignment: str | None = None) -> list[tuple[str, float]]:
    """Execute every solution notebook top to bottom (all visible and hidden tests included)."""
    timings = []
    for name in selected(root, assignment):
        start = time.perf_counter()
        execute_notebook(source_notebook(root, name))
        timings.append((name, time.perf_counter() - start))
    return timings


def preflight(root: Path, assignment: str) -> float:
    """Run the reference solution in a grading kernel, as nbgrader would; a clear error if it fails.

    A grading environment that cannot run the reference solution (no kernel in the
    sandbox, data missing, a package missing) would grade every student 0: it must
    stop before it grades anyone.  Returns the seconds it took.
    """
    from nbclient.exceptions import CellExecutionError

    start = time.perf_counter()
    from course.layout import grading_data_dir

    changed = {"NBGRADER_EXECUTION": "autograde", "COURSE_DATA_DIR": str(grading_data_dir(root))}
    previous = {name: os.environ.get(name) for name in changed}
    os.environ.update(changed)
    try:
        with tempfile.TemporaryDirectory(prefix="nn-kurs-vorab-") as folder:
            execute_notebook(source_notebook(root, assignment), timeout=300, sandboxed=True, workdir=Path(folder))
    except CellExecutionError as exc:
        last = str(exc).strip().splitlines()[-1:] or ["ohne Meldung"]
        raise CourseError(
            f"Die Bewertungsumgebung kann die Musterlösung von {assignment} nicht ausführen ({last[0]}); "
            "niemand wurde bewertet"
        ) from None
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
    return time.perf_counter() - start
