"""Executing the instructor notebooks: ``course check`` and the pre-flight check of grading."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import sys
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


def grade_notebook(path: Path, workdir: Path, timeout: int = 300, config=None):
    """Execute a notebook the way autograding does (:class:`~course.preprocessors.SafeExecute`: the
    student's cells in the sandbox, the test cells in the trusted kernel), configured by ``config``
    (the course's nbgrader configuration) but for the cell ``timeout``; return it executed."""
    from course.preprocessors.safe_execute import SafeExecute

    nb = read_notebook(path)
    SafeExecute(config=config, timeout=timeout).preprocess(nb, {"metadata": {"path": str(workdir)}})
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


#: Where a passed pre-flight is remembered, per assignment (ignored by git, private on the hub).
PREFLIGHT_CACHE = Path(".bewertung") / "vorabcheck"
#: Files of a data folder that are fingerprinted (names, sizes, times), at most.
MAX_DATA_ENTRIES = 10_000


def preflight_fingerprint(root: Path, assignment: str) -> str:
    """A hash of everything the pre-flight's outcome depends on.

    The reference solution, the course's configuration, the course package, the Python
    installation and its packages, the sandbox's program, the grading data (names, sizes and
    modification times) and the course's environment variables (limits, data folder; the
    gradebook's address excluded).  A pre-flight passed with the same fingerprint need not run again.
    """
    import importlib.metadata

    from course.layout import grading_data_dir

    digest = hashlib.sha256()

    def add(label: str, data: bytes | str) -> None:
        data = data.encode() if isinstance(data, str) else data
        digest.update(f"{label}\0{len(data)}\0".encode() + data)

    add("notebook", source_notebook(root, assignment).read_bytes())
    add("config", (root / "nbgrader_config.py").read_bytes())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            add(f"course/{path.relative_to(package)}", path.read_bytes())
    add("python", f"{sys.executable} {sys.version}")
    # only package folders: imports append others to sys.path at run time (setuptools/_vendor), which would
    # make the fingerprint of a process that already ran a pre-flight differ from a fresh one's
    sites = [entry for entry in sys.path if Path(entry).name in {"site-packages", "dist-packages"}]
    packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions(path=sites))
    add("packages", "\n".join(packages))
    add("bwrap", str(shutil.which("bwrap")))
    environment = {k: v for k, v in os.environ.items() if k.startswith("COURSE_") and k != "COURSE_DB_URL"}
    add("environment", json.dumps(environment, sort_keys=True))
    data = grading_data_dir(root)
    listing = []
    for folder, _, files in os.walk(data, followlinks=True):
        for name in sorted(files):
            path = Path(folder, name)
            try:
                stat = path.stat()
            except OSError:
                continue
            listing.append(f"{path.relative_to(data)} {stat.st_size} {stat.st_mtime_ns}")
        if len(listing) > MAX_DATA_ENTRIES:
            break
    add("data", f"{data}\n" + "\n".join(sorted(listing)))
    return digest.hexdigest()


def preflight(root: Path, assignment: str, cache: bool = True) -> float:
    """Run the reference solution as autograding would (sandbox and trusted test kernel); a clear error if it fails.

    A grading environment that cannot run the reference solution (no kernel in the
    sandbox, data missing, a package missing) would grade every student 0: it must
    stop before it grades anyone.  A pass is remembered in ``.bewertung/vorabcheck/`` with
    the :func:`preflight_fingerprint`; while that stays the same (nothing the outcome depends on
    changed), the reference solution is not run again (``cache=False`` runs it anyway).
    Returns the seconds it took.
    """
    start = time.perf_counter()
    from course.layout import coursedir, grading_data_dir

    remembered = root / PREFLIGHT_CACHE / assignment
    fingerprint = preflight_fingerprint(root, assignment) if cache else None
    if fingerprint is not None and remembered.is_file() and remembered.read_text() == fingerprint:
        return time.perf_counter() - start

    changed = {"NBGRADER_EXECUTION": "autograde", "COURSE_DATA_DIR": str(grading_data_dir(root))}
    previous = {name: os.environ.get(name) for name in changed}
    os.environ.update(changed)
    try:
        with tempfile.TemporaryDirectory(prefix="nn-kurs-vorab-") as folder:
            nb = grade_notebook(source_notebook(root, assignment), Path(folder), config=coursedir(root).config)
            error = first_error(nb)
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
    if fingerprint is not None:
        try:
            remembered.parent.mkdir(parents=True, exist_ok=True)
            remembered.write_text(fingerprint)
        except OSError:  # a read-only course folder: the pre-flight simply runs again next time
            pass
    return time.perf_counter() - start
