"""nbgrader configuration of the course: German stubs, gradebook, and the one protected grading path.

Everything that protects grading is an nbgrader extension configured here, so
``nbgrader autograde``, the Formgrader's Autograde button and ``python -m course grade``
grade every submission the same way (``course grade`` only adds parallel workers,
progress and a summary).
"""

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

# Before anything of a submission runs: only plain files (no links, FIFOs, devices), and the
# graded cells restored from the released version (order, metadata, locked sources, deleted cells).
c.Autograde.sanitize_preprocessors = [
    "course.preprocessors.CheckSubmittedFiles",
    "course.preprocessors.RestoreStructure",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# A deleted test cell is restored from the gradebook instead of leaving its task to manual grading.
c.OverwriteCells.add_missing_cells = True

# Execution: the kernel runs in the sandbox (course.sandbox: own user, namespaces, limits), a dead
# kernel costs only the cells from the crash on, every wait has a deadline, output is capped, and
# nothing the student wrote can run as HTML/JavaScript in the Formgrader or the feedback.
c.Autograde.autograde_preprocessors = [
    "course.preprocessors.SafeExecute",
    "course.preprocessors.SanitizeStudentHTML",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "course.preprocessors.SaveGrades",  # nbgrader's SaveAutoGrades, but hand grades of unchanged answers stay
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Execute.timeout = 120  # seconds per cell; then the kernel is interrupted and grading goes on
c.Execute.interrupt_on_timeout = True
c.SafeExecute.idle_timeout = 15  # seconds a cell may only wait (no CPU in the kernel's processes); then as timeout
# CPU seconds per cell (kernel and its child processes): unlike the wall-clock timeout above, a loaded machine does
# not use it up sooner. About 10x the slowest cell of the reference solution (1.2-3 s when graded), at least 30 s.
c.SafeExecute.cpu_timeout = {
    "01_neuronen": 30,
    "02_aktivierung": 30,
    "03_netze": 30,
    "04_fehlerfunktion": 30,
    "05_training": 60,
    "06_mnist": 60,
    "07_kettenregel": 30,
    "08_micrograd": 60,
}
c.SafeExecute.submission_timeout = 900  # seconds for the whole notebook
c.SafeExecute.request_timeout = 60  # seconds per call a test cell makes into the student's kernel (< timeout)
c.SafeExecute.max_output_chars = 200_000
c.SafeExecute.max_notebook_output_chars = 2_000_000

# Every HTML view (Formgrader and feedback) also runs outputs through nbconvert's sanitizer.
c.HTMLExporter.sanitize_html = True

# Feedback shows which checks failed and why, but never the hidden test code:
# tracebacks of test cells are summarised before the hidden block is removed.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "course.preprocessors.SummarizeTestErrors",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Feedback in German: course/templates/feedback is nbgrader's template with translated labels.
# Scoped to GenerateFeedback: plain c.HTMLExporter would also change the Formgrader's exporter.
c.GenerateFeedback.HTMLExporter.template_name = "feedback"  # our German copy shadows nbgrader's
c.GenerateFeedback.HTMLExporter.extra_template_basedirs = [
    str(Path(importlib.util.find_spec("course").submodule_search_locations[0]) / "templates")
]
