"""Feedback for students: which visible and hidden checks failed and why, without the hidden code.

nbgrader's ``ClearHiddenTests`` removes the hidden block from the feedback, but
the traceback of a failing hidden assert still quotes its lines (nbgrader
issues 917 and 1363).  :class:`SummarizeTestErrors` runs before it and replaces
the traceback of every failing test cell by a short German summary: whether a
visible or a hidden check failed, and the check's own message.
"""

from __future__ import annotations

import re

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List

from course.cells import hidden_lines, is_autograded_test

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ARROW = re.compile(r"^-*>\s*(\d+)", re.M)


def failing_line(traceback: list[str]) -> int | None:
    """Line of the test cell where the error came from (first ``---->`` of the cell's frame)."""
    match = _ARROW.search(_ANSI.sub("", "\n".join(traceback)))
    return int(match.group(1)) if match else None


def summary(output: NotebookNode, hidden: range) -> list[str]:
    line = failing_line(output.get("traceback", []))
    where = "Ein versteckter Test" if line is not None and line in hidden else "Ein sichtbarer Test"
    if line is None and hidden:
        where = "Ein Test"
    message = output.get("evalue") or "(ohne Meldung)"
    return [f"{where} ist fehlgeschlagen.", f"{output.get('ename', 'Fehler')}: {message}"]


class SummarizeTestErrors(NbGraderPreprocessor):
    """Replace the tracebacks of failing graded test cells by a short summary."""

    # nbconvert's HTMLExporter configures NbConvertBase.display_data_priority for every preprocessor; nbgrader's base
    # class redeclares the trait without config=True, so traitlets warned "Config option `display_data_priority` not
    # recognized" on every Generate Feedback.  Configurable here, as in nbgrader's own GetGrades.
    display_data_priority = List(
        ["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png", "image/jpeg", "text/plain"]
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if is_autograded_test(cell):
            hidden = hidden_lines(cell.source)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output.traceback = summary(output, hidden)
        return cell, resources
