"""The instructor pipeline, built on nbgrader's Python API.

Every function takes the course root (the folder with ``nbgrader_config.py``)
so the tests can run the same pipeline in a temporary copy of the course.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course.submissions import fill_answers, is_autograded_test, nbgrader_meta, restore_structure, solution_answers

DEMO_STUDENTS = ("demo-loesung", "demo-leer", "demo-teilweise")


class CourseError(Exception):
    """A problem with the input (unknown assignment, broken notebook, missing folder)."""


# --------------------------------------------------------------------------- course layout


def find_root(start: Path | None = None) -> Path:
    """The course root: the first folder at or above ``start`` that holds ``nbgrader_config.py``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "nbgrader_config.py").is_file():
            return folder
    raise CourseError(f"kein Kurs gefunden: weder {here} noch ein Ordner darüber enthält nbgrader_config.py")


def assignments(root: Path) -> list[str]:
    """All assignments in ``source/``, sorted by name."""
    source = root / "source"
    if not source.is_dir():
        raise CourseError(f"Ordner fehlt: {source}")
    return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))


def source_notebook(root: Path, assignment: str) -> Path:
    """The single instructor notebook of ``assignment``; a clear error if it is missing or broken."""
    known = assignments(root)
    if assignment not in known:
        raise CourseError(f"unbekanntes Assignment {assignment!r}; vorhanden: {', '.join(known)}")
    notebooks = sorted((root / "source" / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        raise CourseError(f"source/{assignment} muss genau ein Notebook enthalten, gefunden: {len(notebooks)}")
    read_notebook(notebooks[0])
    return notebooks[0]


def read_notebook(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for broken files
        raise CourseError(f"Notebook nicht lesbar: {path}: {exc.__class__.__name__}: {exc}") from None


def selected(root: Path, assignment: str | None) -> list[str]:
    """The assignments to work on; every one is checked first, so bad input changes nothing."""
    names = assignments(root) if assignment is None else [assignment]
    for name in names:
        source_notebook(root, name)
    return names


# --------------------------------------------------------------------------- nbgrader API


def nbgrader_api(root: Path, extra_config: dict | None = None):
    """An ``NbGraderAPI`` configured from the course's ``nbgrader_config.py`` (plus ``extra_config``)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    config.merge(Config(extra_config or {}))
    config.CourseDirectory.root = str(root)
    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def _check(result: dict, what: str) -> None:
    if not result.get("success"):
        detail = (result.get("error") or result.get("log") or "").strip().splitlines()
        raise CourseError(f"{what} fehlgeschlagen: {detail[-1] if detail else 'ohne Meldung'}")


def release(root: Path, assignment: str | None = None) -> list[str]:
    """Generate the student versions of all (or one) assignments into ``release/``."""
    names = selected(root, assignment)
    api = nbgrader_api(root)
    for name in names:
        _check(api.generate_assignment(name, force=True, create=True), f"release {name}")
    return names


def student_notebook(root: Path, assignment: str) -> Path:
    path = root / "release" / assignment / source_notebook(root, assignment).name
    if not path.is_file():
        raise CourseError(f"Studierendenversion fehlt: {path} (zuerst `python -m course release`)")
    return path


def submitted_students(root: Path, assignment: str) -> list[str]:
    submitted = root / "submitted"
    if not submitted.is_dir():
        raise CourseError(f"Ordner fehlt: {submitted}")
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())


@dataclass
class GradeResult:
    assignment: str
    student: str
    ok: bool
    message: str = ""
    seconds: float = 0.0


def _autograde_one(root: Path, assignment: str, student: str, threads: int = 1) -> GradeResult:
    """Autograde one submission in a child process (``python -m course.worker``)."""
    start = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(threads))}
    proc = subprocess.run(
        [sys.executable, "-m", "course.worker", str(root), assignment, student],
        capture_output=True,
        text=True,
        env=env,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    seconds = time.perf_counter() - start
    try:
        return GradeResult(**{**json.loads(lines[-1]), "seconds": seconds})
    except (IndexError, ValueError, TypeError):
        tail = (proc.stderr.strip().splitlines() or ["ohne Meldung"])[-1]
        return GradeResult(
            assignment, student, False, f"Bewertungsprozess endete mit Code {proc.returncode}: {tail}", seconds
        )


STAGING = ".bewertung"  # checked copies of the submissions, what nbgrader actually grades


def stage_submission(root: Path, assignment: str, student: str) -> list[str]:
    """Copy ``submitted/<student>/<assignment>`` to the staging folder and repair what can be repaired.

    The original submission is never changed.  A single notebook under another
    name is graded under the expected one; tampered graded cells are restored
    (:func:`course.submissions.restore_structure`).  What cannot be graded (no
    notebook, invalid JSON, an empty file) raises ``CourseError`` with the reason.
    Returns notes about the repairs.
    """
    source = root / "submitted" / student / assignment
    if not source.is_dir():
        raise CourseError(f"keine Abgabe unter {source}")
    expected = source_notebook(root, assignment).name
    target = root / STAGING / student / assignment
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    notes = []
    if not (target / expected).exists():
        found = sorted(p.name for p in target.glob("*.ipynb"))
        if len(found) != 1:
            raise CourseError(
                f"Notebook {expected} fehlt in der Abgabe (gefunden: {', '.join(found) or 'keine Notebooks'})"
            )
        (target / found[0]).rename(target / expected)
        notes.append(f"{found[0]} als {expected} bewertet")
    path = target / expected
    if path.stat().st_size == 0:
        raise CourseError(f"{expected} ist eine leere Datei")
    try:
        submitted = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise CourseError(f"{expected} ist kein gültiges Notebook ({exc.__class__.__name__})") from None
    student_version = read_notebook(student_notebook(root, assignment))
    nbformat.write(restore_structure(submitted, student_version), path)
    return notes


def kernel_config(root: Path) -> dict:
    """nbgrader settings for the grading kernel: sandboxed (bubblewrap) unless switched off."""
    from course import sandbox

    try:
        if not sandbox.enabled():
            return {}
    except sandbox.SandboxError as exc:
        raise CourseError(str(exc)) from None
    return sandbox.prepare(Path(os.environ.get("COURSE_DATA_DIR") or root / "data").resolve())


def autograde_submission(root: Path, assignment: str, student: str) -> GradeResult:
    try:
        notes = stage_submission(root, assignment, student)
        api = nbgrader_api(root, kernel_config(root))
        api.coursedir.submitted_directory = STAGING
        for attempt in range(3):  # parallel workers share one SQLite gradebook: retry a busy database
            result = api.autograde(assignment, student, force=True, create=True)
            if result.get("success") or "database is locked" not in str(result.get("error", "")):
                break
            time.sleep(1 + attempt)
    except CourseError as exc:
        return GradeResult(assignment, student, False, str(exc))
    finally:
        shutil.rmtree(root / STAGING / student, ignore_errors=True)
    message = "; ".join(notes)
    if not result.get("success"):
        lines = (result.get("error") or result.get("log") or "").strip().splitlines()
        errors = [line for line in lines if "Error" in line and not line.startswith("[ERROR]")]
        message = (errors or lines or ["ohne Meldung"])[-1].strip()
    return GradeResult(assignment, student, bool(result.get("success")), message)


def grade(
    root: Path, assignment: str | None = None, jobs: int | None = None, progress: bool = True
) -> list[GradeResult]:
    """Autograde every submission of all (or one) assignments, ``jobs`` submissions at a time.

    Each submission is graded in its own process and kernel, so a crash costs
    only that submission.
    """
    names = selected(root, assignment)
    todo = [(name, student) for name in names for student in submitted_students(root, name)]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    results: list[GradeResult] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        threads = max(1, (os.cpu_count() or 1) // jobs)  # parallel kernels must not fight over the cores
        futures = [pool.submit(_autograde_one, root, a, s, threads) for a, s in todo]
        done = as_completed(futures)
        if progress:
            from tqdm import tqdm

            done = tqdm(done, total=len(futures), desc="Bewertung", unit="Abgabe")
        results = [future.result() for future in done]
    return sorted(results, key=lambda r: (r.assignment, r.student))


def feedback(root: Path, assignment: str | None = None) -> list[str]:
    """Generate the feedback HTML of every autograded submission into ``feedback/``."""
    api = nbgrader_api(root)
    done = []
    for name in selected(root, assignment):
        if not (root / "autograded").is_dir() or not any((root / "autograded").glob(f"*/{name}")):
            continue
        _check(api.generate_feedback(name), f"feedback {name}")
        done.append(name)
    return done


# --------------------------------------------------------------------------- scores


#: The columns of :func:`task_scores` rows and of the per-task CSV files.
TASK_SCORE_FIELDS = ["student", "assignment", "task", "score", "max_score", "needs_manual_grade"]


def task_scores(root: Path, assignment: str | None = None) -> list[dict]:
    """One row per student, assignment and graded cell: score and maximum from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    api = nbgrader_api(root)
    rows = []
    with Gradebook(api.coursedir.db_url) as gb:
        for name in selected(root, assignment):
            try:
                gb_assignment = gb.find_assignment(name)
            except MissingEntry:
                continue
            for submission in gb_assignment.submissions:
                for notebook in submission.notebooks:
                    for g in notebook.grades:
                        rows.append(
                            {
                                "student": submission.student.id,
                                "assignment": name,
                                "task": g.name.removeprefix("test_"),
                                "score": g.score,
                                "max_score": g.max_score,
                                "needs_manual_grade": g.needs_manual_grade,
                            }
                        )
    return sorted(rows, key=lambda r: (r["student"], r["assignment"], r["task"]))


def export(root: Path, path: Path) -> Path:
    """nbgrader's CSV export (points per student and assignment) plus a per-task CSV beside it."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    api = nbgrader_api(root)
    plugin = CsvExportPlugin(to=str(path))
    with Gradebook(api.coursedir.db_url) as gb:
        plugin.export(gb)
    per_task = path.with_name(path.stem + "_aufgaben.csv")
    write_csv(per_task, TASK_SCORE_FIELDS, task_scores(root))
    return per_task


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def score_table(rows: list[dict]) -> str:
    """Plain-text table: one line per assignment and task, one column per student."""
    students = sorted({r["student"] for r in rows})
    tasks = sorted({(r["assignment"], r["task"]) for r in rows})
    cell = {(r["student"], r["assignment"], r["task"]): r for r in rows}
    width = max([len("Aufgabe")] + [len(f"{a}/{t}") for a, t in tasks])
    lines = ["Aufgabe".ljust(width) + "".join(f"  {s:>16}" for s in students)]
    for a, t in tasks:
        parts = []
        for s in students:
            r = cell.get((s, a, t))
            if r is None:
                parts.append("-")
            elif r["needs_manual_grade"]:
                parts.append(f"manuell/{r['max_score']:g}")
            else:
                parts.append(f"{r['score']:g}/{r['max_score']:g}")
        lines.append(f"{a}/{t}".ljust(width) + "".join(f"  {p:>16}" for p in parts))
    totals = []
    for s in students:
        mine = [r for r in rows if r["student"] == s]
        totals.append(f"{sum(r['score'] or 0 for r in mine):g}/{sum(r['max_score'] for r in mine):g}")
    lines.append("Summe".ljust(width) + "".join(f"  {p:>16}" for p in totals))
    return "\n".join(lines)


# --------------------------------------------------------------------------- solution notebooks


def execute_notebook(path: Path, timeout: int = 600):
    """Execute a notebook in its own folder and return the executed copy (the file is not changed).

    Cells tagged ``raises-exception`` may fail; any other error raises
    ``nbclient.exceptions.CellExecutionError``.
    """
    from nbclient import NotebookClient

    nb = read_notebook(path)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def check(root: Path, assignment: str | None = None) -> list[tuple[str, float]]:
    """Execute every solution notebook top to bottom (all visible and hidden tests included)."""
    timings = []
    for name in selected(root, assignment):
        start = time.perf_counter()
        execute_notebook(source_notebook(root, name))
        timings.append((name, time.perf_counter() - start))
    return timings


# --------------------------------------------------------------------------- demo submissions


def write_submission(root: Path, assignment: str, student: str, answers: dict[str, str]) -> Path:
    """Write the student version of ``assignment`` with ``answers`` filled in to ``submitted/<student>/``."""
    release_nb = student_notebook(root, assignment)
    nb = fill_answers(read_notebook(release_nb), answers)
    target = root / "submitted" / student / assignment / release_nb.name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def demo_answers(root: Path, assignment: str) -> dict[str, dict[str, str]]:
    """Answers of the three demo students: the solution, nothing, and every other task solved."""
    source = read_notebook(source_notebook(root, assignment))
    solution = solution_answers(source)
    graded = [nbgrader_meta(c)["grade_id"].removeprefix("test_") for c in source.cells if is_autograded_test(c)]
    partly = {task: solution[task] for task in graded[::2] if task in solution}
    return {"demo-loesung": solution, "demo-leer": {}, "demo-teilweise": partly}


def demo(root: Path, jobs: int | None = None) -> str:
    """The main job: release, three demo submissions, autograde, feedback, CSV export, table."""
    for student in DEMO_STUDENTS:
        shutil.rmtree(root / "submitted" / student, ignore_errors=True)
    names = release(root)
    for name in names:
        for student, answers in demo_answers(root, name).items():
            write_submission(root, name, student, answers)
    failures = [r for r in grade(root, jobs=jobs) if not r.ok]
    feedback(root)
    per_task = export(root, root / "grades.csv")
    rows = [r for r in task_scores(root) if r["student"] in DEMO_STUDENTS]
    report = score_table(rows)
    notes = [f"Bewertung fehlgeschlagen: {r.assignment}/{r.student}: {r.message}" for r in failures]
    return "\n".join([report, "", f"Noten: {root / 'grades.csv'} und {per_task}", *notes])
