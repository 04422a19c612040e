"""nbgrader configuration of the course (German stubs, timeouts, gradebook)."""

import importlib.util
import os
from pathlib import Path

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

ROOT = Path(__file__).resolve().parent

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "nn-kurs"
# SQLite next to this file by default; set COURSE_DB_URL for PostgreSQL, e.g.
# postgresql://nbgrader:secret@db.example.org/nn_kurs
c.CourseDirectory.db_url = os.environ.get("COURSE_DB_URL", f"sqlite:///{ROOT / 'gradebook.db'}")

# German stubs in the student version.
c.ClearSolutions.code_stub = {"python": "# DEINE LÖSUNG HIER\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "DEINE ANTWORT HIER"

# An endless loop costs one cell, not the whole batch: every cell gets at most
# this many seconds, then the kernel is interrupted and grading goes on.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# A kernel that dies (os._exit, segfault, memory limit) costs only the cells from
# the crash on, not the whole notebook, and no cell may flood the output.
c.Autograde.autograde_preprocessors = [
    "course.execute.SafeExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.SafeExecute.max_output_chars = 200_000

# A deleted test cell is restored from the gradebook instead of leaving its
# task to manual grading.
c.OverwriteCells.add_missing_cells = True

# Feedback shows which checks failed and why, but never the hidden test code:
# tracebacks of test cells are summarised before the hidden block is removed.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course.feedback.SummarizeTestErrors",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Feedback in German: course/templates/feedback is nbgrader's template with translated labels.
# Scoped to GenerateFeedback: plain c.HTMLExporter would also change the Formgrader's exporter.
c.GenerateFeedback.HTMLExporter.template_name = "feedback"  # our German copy shadows nbgrader's
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [
    str(Path(importlib.util.find_spec("course").submodule_search_locations[0]) / "templates")
]
