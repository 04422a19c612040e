"""Sanitizing step: undo tampering with the graded cells of a submission.

Runs before nbgrader's own ``OverwriteCells``.  The graded and locked cells get
their metadata, their order and (locked cells) their source back from the
released student version; deleted ones are put back; a student's own extra cells
stay where they were (see :func:`course.submissions.restore_structure`).
"""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from course.layout import released_notebook
from course.submissions import restore_structure


class RestoreStructure(NbGraderPreprocessor):
    """Restore the structure of a submission from ``release/<assignment>/<notebook>.ipynb``."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        path = released_notebook(self.config, info["assignment"], info["notebook"])
        if not path.is_file():
            raise FileNotFoundError(f"Studierendenversion fehlt: {path} (zuerst `python -m course release`)")
        restored = restore_structure(nb, nbformat.read(path, as_version=nbformat.NO_CONVERT))
        return restored, resources
