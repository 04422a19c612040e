"""nbgrader settings of every server on the hub: the course and its exchange."""

import os

c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "nn-kurs"
c.Exchange.root = os.environ.get("NNKURS_EXCHANGE", "/srv/nn-kurs/exchange")
