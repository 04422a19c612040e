"""The course functions that test_postgres.py and test_cluster.py use, from either module layout.

``course/pipeline.py`` is being split by concern (grading, publish, scores, demo, api); until both layouts
are gone but one, these two test modules take the functions from whichever is installed.
"""

from __future__ import annotations

import functools

try:  # after the split
    from course.api import nbgrader_api
    from course.demo import DEMO_STUDENTS, demo_answers, write_submission

    from course import grading as _grading
    from course import publish as _publish
    from course import scores as _scores

    release, feedback = _publish.release, _publish.feedback
    task_scores, export = _scores.task_scores, _scores.export
    grade = functools.partial(_grading.grade, preflight=False)  # the pre-flight has its own tests
    grade_one = _grading.grade_one

    def db_url(root) -> str:
        return nbgrader_api(root).coursedir.db_url

except ImportError:  # course/pipeline.py
    from course import pipeline as _pipeline

    DEMO_STUDENTS, demo_answers, write_submission = (
        _pipeline.DEMO_STUDENTS,
        _pipeline.demo_answers,
        _pipeline.write_submission,
    )
    release, feedback, task_scores, export = (
        _pipeline.release,
        _pipeline.feedback,
        _pipeline.task_scores,
        _pipeline.export,
    )
    grade, grade_one = _pipeline.grade, _pipeline._autograde_one

    def db_url(root) -> str:
        return _pipeline.nbgrader_api(root).coursedir.db_url
