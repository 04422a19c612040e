"""Sanitizing step: a submission must consist of plain files and folders only, and only its notebooks are kept.

A symbolic link in a submission could point at the solutions, the gradebook or a
device; a FIFO or a device file could block the grader.  nbgrader would follow
them when it copies the submission, so such a submission is rejected, with a
clear message, before anything of it is executed.  ``python -m course grade``
runs the same check before it even starts nbgrader.

nbgrader copies every submitted file into ``autograded/<student>/<assignment>/``.  Nothing
there is needed for grading (the student's kernel works in an empty folder of its own), but a
file there can be mistaken for the course's own: an ``nbgrader_config.py`` that a command
started in that folder would run as the instructor, a ``data/`` folder with forged data sets,
a module that shadows a library.  So the autograded folder keeps only an allowlist: the
notebooks, the files the assignment itself ships (``source/<assignment>/``) and nbgrader's own
records of the submission (``timestamp.txt``, ``submission_secret.txt``: ``generate_feedback``
copies them to ``feedback/``, where ``release_feedback`` needs both); everything else the student
added is removed before any cell runs, and stays only in ``submitted/``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

#: Largest submission (all files together) in bytes, for nbgrader's sanitizing step and ``course grade``'s precheck.
MAX_SUBMISSION_BYTES = 100_000_000

#: What nbgrader's submit writes next to the notebooks (top level), read by nbgrader itself, never executed:
#: the time of the submission and the secret that names the released feedback (``release_feedback`` reads both
#: from ``feedback/<student>/<assignment>/``, which ``generate_feedback`` fills from the autograded folder).
NBGRADER_RECORDS = frozenset({"timestamp.txt", "submission_secret.txt"})


class SubmissionRejected(Exception):
    """The submission cannot be graded as it is; the message says why (German, for instructors)."""


def special_files(folder: Path) -> list[str]:
    """Paths (relative to ``folder``) of everything that is not a plain file or folder: links, FIFOs, devices."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            mode = path.lstat().st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                found.append(str(path.relative_to(folder)))
    return sorted(found)


def folder_size(folder: Path) -> int:
    return sum(Path(d, f).lstat().st_size for d, _, files in os.walk(folder, followlinks=False) for f in files)


def check_folder(folder: Path, max_bytes: int) -> None:
    """Raise :class:`SubmissionRejected` unless ``folder`` holds only plain files, ``max_bytes`` at most."""
    if folder.is_symlink() or not folder.is_dir():
        raise SubmissionRejected(f"Abgabe abgelehnt: {folder} ist kein gewöhnlicher Ordner")
    special = special_files(folder)
    if special:
        raise SubmissionRejected(
            "Abgabe abgelehnt: nur gewöhnliche Dateien sind erlaubt, nicht bewertet wegen "
            + ", ".join(special[:5])
            + (" ..." if len(special) > 5 else "")
            + " (symbolischer Link, FIFO oder Gerätedatei)"
        )
    size = folder_size(folder)
    if size > max_bytes:
        raise SubmissionRejected(f"Abgabe abgelehnt: {size / 1e6:.0f} MB, erlaubt sind {max_bytes / 1e6:.0f} MB")


def keep_only(folder: Path, allowed: set[str]) -> list[str]:
    """Remove every file and folder below ``folder`` whose relative path is not in ``allowed`` (nor a folder of
    one); return what was removed."""
    removed = []
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False, followlinks=False):
        for name in filenames:
            path = Path(dirpath, name)
            relative = str(path.relative_to(folder))
            if relative not in allowed:
                path.unlink()
                removed.append(relative)
        for name in dirnames:
            path = Path(dirpath, name)
            if not any(path.iterdir()):
                path.rmdir()
    return sorted(removed)


def allowed_files(coursedir: CourseDirectory, assignment: str, folder: Path) -> set[str]:
    """The notebooks in ``folder`` (top level), every file the assignment ships in ``source/`` and nbgrader's
    records of the submission (`NBGRADER_RECORDS`)."""
    source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
    shipped = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()} if source.is_dir() else set()
    return shipped | NBGRADER_RECORDS | {p.name for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink()}


class CheckSubmittedFiles(NbGraderPreprocessor):
    """Reject submissions with links, FIFOs or device files, or more than ``max_bytes``; keep only the notebooks
    and the assignment's own files in the autograded folder."""

    max_bytes = Integer(MAX_SUBMISSION_BYTES, help="Largest submission (all files together) in bytes.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, info["student"], info["assignment"]))
        check_folder(folder, self.max_bytes)
        graded = Path(coursedir.format_path(coursedir.autograded_directory, info["student"], info["assignment"]))
        if graded.is_dir():
            removed = keep_only(graded, allowed_files(coursedir, info["assignment"], graded))
            if removed:
                self.log.info("Removed from the autograded folder (kept in submitted/): %s", ", ".join(removed[:20]))
        return nb, resources
