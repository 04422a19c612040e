"""Sanitizing step: undo tampering with the graded cells of a submission.

Runs before nbgrader's own ``OverwriteCells``.  The graded and locked cells get
their metadata, their order and (locked cells) their source back from the
released student version; deleted ones are put back; a student's own extra cells
stay where they were (see :func:`course.submissions.restore_structure`).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from course.submissions import restore_structure


class RestoreStructure(NbGraderPreprocessor):
    """Restore the structure of a submission from ``release/<assignment>/<notebook>.ipynb``."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        release = Path(coursedir.format_path(coursedir.release_directory, ".", info["assignment"]))
        path = release / f"{info['notebook']}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"Studierendenversion fehlt: {path} (zuerst `python -m course release`)")
        restored = restore_structure(nb, nbformat.read(path, as_version=nbformat.NO_CONVERT))
        return restored, resources
