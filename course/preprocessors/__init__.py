"""The course's nbgrader preprocessors, one per module (configured in ``nbgrader_config.py``).

Sanitizing (``Autograde.sanitize_preprocessors``): :class:`CheckSubmittedFiles`,
:class:`RestoreStructure`.  Autograding (``Autograde.autograde_preprocessors``):
:class:`SafeExecute`, :class:`SanitizeStudentHTML`, :class:`SaveGrades` (instead of nbgrader's
``SaveAutoGrades``: hand grades of unchanged answers stay).  Feedback
(``GenerateFeedback.preprocessors``): :class:`SummarizeTestErrors`.
"""

from importlib import import_module

_MODULES = {
    "CheckSubmittedFiles": "check_submitted_files",
    "RestoreStructure": "restore_structure",
    "SafeExecute": "safe_execute",
    "SanitizeStudentHTML": "sanitize_student_html",
    "SaveGrades": "save_grades",
    "SummarizeTestErrors": "summarize_test_errors",
}
__all__ = sorted(_MODULES)


def __getattr__(name: str):
    """Import a preprocessor on first use (a grading worker's ``precheck`` needs none of nbgrader's)."""
    if name in _MODULES:
        return getattr(import_module(f"course.preprocessors.{_MODULES[name]}"), name)
    raise AttributeError(f"module 'course.preprocessors' has no attribute {name!r}")
