"""nbgrader settings of the instructors' servers: the course's own nbgrader_config.py in their course folder.

That file (a copy of the repository's) sets the course directory to its own folder, the gradebook,
the German stubs and the course's grading pipeline, so the Formgrader grades as `nbgrader autograde`
and `python -m course grade` do.
"""

import os

c = get_config()  # noqa: F821

course_config = os.path.join(os.environ.get("NNKURS_COURSE_DIR", os.path.expanduser("~/nn-kurs")), "nbgrader_config.py")
if os.path.isfile(course_config):
    load_subconfig(course_config)  # noqa: F821
