"""The course's nbgrader preprocessors, one per module (configured in ``nbgrader_config.py``).

Sanitizing (``Autograde.sanitize_preprocessors``): :class:`CheckSubmittedFiles`,
:class:`RestoreStructure`.  Autograding (``Autograde.autograde_preprocessors``):
:class:`SafeExecute`, :class:`SanitizeStudentHTML`.  Feedback
(``GenerateFeedback.preprocessors``): :class:`SummarizeTestErrors`.
"""

from course.preprocessors.check_submitted_files import CheckSubmittedFiles
from course.preprocessors.restore_structure import RestoreStructure
from course.preprocessors.safe_execute import SafeExecute
from course.preprocessors.sanitize_student_html import SanitizeStudentHTML
from course.preprocessors.summarize_test_errors import SummarizeTestErrors

__all__ = ["CheckSubmittedFiles", "RestoreStructure", "SafeExecute", "SanitizeStudentHTML", "SummarizeTestErrors"]
