"""Where things are in a course: the root, the assignments, their notebooks and submissions.

Every function takes the course root (the folder with ``nbgrader_config.py``), so
the tests can run everything in a temporary copy of the course.  Paths of nbgrader's
steps come from nbgrader's own :class:`~nbgrader.coursedir.CourseDirectory`.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_FILE = "nbgrader_config.py"


class CourseError(Exception):
    """A problem with the input (unknown assignment, broken notebook, missing folder)."""


#: Folders of a course that hold what students hand in or get back: a config file inside them is a student's.
STUDENT_FOLDERS = ("submitted", "autograded", "feedback", "release", "source")


def find_root(start: Path | None = None) -> Path | None:
    """The first folder at or above ``start`` (default: the working folder) that holds ``nbgrader_config.py``.

    A configuration below another course's ``submitted/``, ``autograded/``, ``feedback/``, ``release/`` or
    ``source/`` is never a course root: it came with a submission, and loading it would run the student's file.
    """
    here = (start or Path.cwd()).resolve()
    candidates = [folder for folder in (here, *here.parents) if (folder / CONFIG_FILE).is_file()]
    for folder in candidates:
        outer = [root for root in candidates if root in folder.parents]
        if not any(root / name in (folder, *folder.parents) for root in outer for name in STUDENT_FOLDERS):
            return folder
    return None


def course_root(start: Path | None = None) -> Path:
    """Like :func:`find_root`, but a clear error outside a course."""
    root = find_root(start)
    if root is None:
        here = (start or Path.cwd()).resolve()
        raise CourseError(f"kein Kurs gefunden: weder {here} noch ein Ordner darüber enthält {CONFIG_FILE}")
    return root


def coursedir(root: Path):
    """nbgrader's ``CourseDirectory`` of the course, configured from its ``nbgrader_config.py``."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    return CourseDirectory(config=config)


def assignments(root: Path) -> list[str]:
    """All assignments in ``source/``, sorted by name."""
    source = root / "source"
    if not source.is_dir():
        raise CourseError(f"Ordner fehlt: {source}")
    return sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_notebook(path: Path):
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for broken files
        raise CourseError(f"Notebook nicht lesbar: {path}: {exc.__class__.__name__}: {exc}") from None


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


def notebook_name(root: Path, assignment: str) -> str:
    """File name of the assignment's notebook (without reading it; :func:`source_notebook` checks it)."""
    notebooks = sorted((root / "source" / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        source_notebook(root, assignment)  # the clear error
    return notebooks[0].name


def student_notebook(root: Path, assignment: str) -> Path:
    """The released student version of ``assignment``."""
    path = root / "release" / assignment / source_notebook(root, assignment).name
    if not path.is_file():
        raise CourseError(f"Studierendenversion fehlt: {path} (zuerst `python -m course release`)")
    return path


def selected(root: Path, assignment: str | None) -> list[str]:
    """The assignments to work on; every one is checked first, so bad input changes nothing."""
    names = assignments(root) if assignment is None else [assignment]
    for name in names:
        source_notebook(root, name)
    return names


def submitted_students(root: Path, assignment: str) -> list[str]:
    submitted = root / "submitted"
    if not submitted.is_dir():
        raise CourseError(f"Ordner fehlt: {submitted}")
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir() and not p.is_symlink())


def grading_data_dir(root: Path) -> Path:
    """The data folder the grading kernels see (read-only): ``COURSE_DATA_DIR`` or ``<root>/data``."""
    import os

    return Path(os.environ.get("COURSE_DATA_DIR") or root / "data").resolve()


def released_notebook(config, assignment: str, notebook: str) -> Path:
    """``release/<assignment>/<notebook>.ipynb`` of the course that ``config`` (an nbgrader config) describes."""
    from nbgrader.coursedir import CourseDirectory

    cd = CourseDirectory(config=config)
    return Path(cd.format_path(cd.release_directory, ".", assignment)) / f"{notebook}.ipynb"
