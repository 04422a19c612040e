"""nbgrader configuration of the course (German stubs, timeouts, gradebook)."""

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

# A deleted test cell is restored from the gradebook instead of leaving its
# task to manual grading.
c.OverwriteCells.add_missing_cells = True
