"""Execution for autograding: nbgrader's ``Execute`` made robust against hostile submissions.

nbgrader drops the whole notebook when the kernel dies (``os._exit``, a segfault,
the memory limit): every task of that student gets 0.  :class:`SafeExecute`
keeps the cells that ran before the crash and marks the crashing cell and all
later code cells with a readable error, so the tasks solved before keep their
points and the feedback says why the rest failed.  It also caps the output a
single cell may produce, so an output flood cannot blow up the autograded
notebook or the feedback.
"""

from __future__ import annotations

import secrets

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

from course.submissions import is_autograded_test

KERNEL_DIED = (
    "Der Python-Kernel ist in dieser Zelle abgestürzt (zum Beispiel durch os._exit, einen "
    "Speicherzugriffsfehler oder mehr Speicher, als die Bewertung erlaubt). Die Zellen davor sind "
    "bewertet; diese und alle folgenden Zellen wurden nicht ausgeführt."
)
NOT_RUN = "Nicht ausgeführt, weil der Kernel in einer früheren Zelle abgestürzt ist."
TAMPERED = (
    "Die Testumgebung wurde verändert (zum Beispiel über get_ipython().ast_transformers), "
    "deshalb konnte dieser Test nicht zuverlässig laufen und zählt als nicht bestanden."
)
# Run silently before every test cell: undo the known ways student code can change how later
# cells run (AST and input transformers, tracing, instance-level overrides of IPython's methods).
GUARD = """
def _course_guard():
    import sys
    ip = get_ipython()
    ip.ast_transformers.clear()
    ip.input_transformers_post.clear()
    sys.settrace(None)
    sys.setprofile(None)
    for name in ("run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell", "transform_ast"):
        ip.__dict__.pop(name, None)
_course_guard()
del _course_guard
"""
TRUNCATED = "\n... Ausgabe gekürzt: diese Zelle hat mehr als {limit} Zeichen ausgegeben ...\n"


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _content_size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    data = content.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in data.values()) + len(
        content.get("traceback") or []
    )


class SafeExecute(Execute):
    """``Execute`` that survives a dead kernel and caps each cell's output."""

    max_output_chars = Integer(
        200_000, help="Output characters kept per cell (text and images); the rest is dropped."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._current_cell = 0
        self._output_chars: dict[int, int] = {}
        try:
            return super().preprocess(nb, resources, km)
        except Exception as exc:  # DeadKernelError, a kernel that cannot be reached, ...
            self.log.warning("Kernel died in cell %s: %s", self._current_cell, exc)
            mark_not_run(nb, self._current_cell)
            return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._current_cell = index
        if is_autograded_test(cell) and not self._test_environment_intact():
            cell.outputs = [_error("TestumgebungVerändert", TAMPERED)]
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

    def _run_silently(self, code: str) -> dict:
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        return self.wait_for_reply(msg_id) or {}

    def _test_environment_intact(self) -> bool:
        """Restore the interpreter hooks, then check with a canary that a failing assert still fails."""
        self._run_silently(GUARD)
        token = secrets.token_hex(8)
        reply = self._run_silently(f"assert {token!r} == {token[::-1]!r}, {token!r}")
        content = reply.get("content", {})
        return content.get("status") == "error" and content.get("ename") == "AssertionError"

    def output(self, outs, msg, display_id, cell_index):
        used = self._output_chars.get(cell_index, 0)
        if used > self.max_output_chars:
            return None
        size = _content_size(msg.get("content", {}))
        self._output_chars[cell_index] = used + size
        if used + size > self.max_output_chars and msg.get("msg_type") != "error":
            outs.append(
                NotebookNode(output_type="stream", name="stdout", text=TRUNCATED.format(limit=self.max_output_chars))
            )
            return None
        return super().output(outs, msg, display_id, cell_index)


def mark_not_run(nb, first: int) -> None:
    """Give cell ``first`` the crash message and every later code cell a "not run" error."""
    for index, cell in enumerate(nb.cells):
        if index < first or cell.cell_type != "code":
            continue
        message = KERNEL_DIED if index == first else NOT_RUN
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
        cell.outputs.append(_error("KernelAbgestürzt" if index == first else "NichtAusgeführt", message))
