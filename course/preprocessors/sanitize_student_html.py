"""Autograding step: nothing a student wrote can run as HTML or JavaScript in a grader's browser.

The Formgrader and the feedback render the autograded notebook as HTML, and the
Formgrader does not sanitize markdown cells.  So the autograded notebook itself is
made harmless: outputs keep only inert formats (text, PNG/JPEG/GIF, SVG, which the
HTML exporters show as ``<img>``), and markdown written by the student (every
markdown cell that is not a cell of the released version) shows raw HTML as text
and loses ``javascript:`` links and active attachments.
"""

from __future__ import annotations

import re

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

from course.layout import released_notebook

SAFE_OUTPUT_TYPES = {"text/plain", "image/png", "image/jpeg", "image/gif", "image/svg+xml"}
SAFE_ATTACHMENTS = {"image/png", "image/jpeg", "image/gif"}
REMOVED = "(HTML-/JavaScript-Ausgabe bei der Bewertung entfernt)"
_SCHEME = r"(?:j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t|v\s*b\s*s\s*c\s*r\s*i\s*p\s*t|d\s*a\s*t\s*a)\s*:"
# the target of a markdown link or image, inline ``](target)`` or as a reference ``[name]: target``
_SCRIPT_LINK = re.compile(r"(\]\(\s*(?:&lt;)?\s*|^[ \t]{0,3}\[[^\]\n]+\]:\s*(?:&lt;)?\s*)" + _SCHEME, re.I | re.M)


def inert_output(output) -> None:
    data = output.get("data")
    if not isinstance(data, dict):
        return
    kept = {mime: value for mime, value in data.items() if mime in SAFE_OUTPUT_TYPES}
    if not kept:
        kept = {"text/plain": REMOVED}
    output["data"] = kept
    output.get("metadata", {}).clear()


def inert_markdown(source: str) -> str:
    """Markdown that renders the student's text, with raw HTML shown as text and no script links."""
    return _SCRIPT_LINK.sub(r"\1entfernt:", source.replace("&", "&amp;").replace("<", "&lt;"))


class SanitizeStudentHTML(NbGraderPreprocessor):
    """Strip active content from outputs and from markdown cells the student wrote."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        path = released_notebook(self.config, info["assignment"], info["notebook"])
        given = set()
        if path.is_file():
            given = {c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"}
        for cell in nb.cells:
            if cell.cell_type == "code":
                for output in cell.get("outputs", []):
                    inert_output(output)
            elif cell.cell_type == "markdown" and cell.source not in given:
                cell.source = inert_markdown(cell.source)
                for name, bundle in list(cell.get("attachments", {}).items()):
                    cell.attachments[name] = {k: v for k, v in bundle.items() if k in SAFE_ATTACHMENTS}
            elif cell.cell_type == "raw":
                cell.source = inert_markdown(cell.source)
        return nb, resources
