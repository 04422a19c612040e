"""Execution for autograding: nbgrader's ``Execute`` made robust against hostile submissions.

- The kernel runs in the sandbox (:class:`course.sandbox_kernel.SandboxKernelManager`).
- A kernel that dies (``os._exit``, a segfault, a limit) costs only the cells from
  the crash on: they get a readable error, the cells before keep their points.
  nbgrader alone would drop the whole notebook.
- A kernel that cannot even start is an error of the grading environment, not of
  the student: the submission fails loudly instead of being graded 0.
- Every wait has a wall-clock deadline: each cell its ``timeout``, the whole
  submission ``submission_timeout`` (cells after it are not run, with a message).
- Output is capped per cell and per notebook, whatever its kind (streams, display
  data and updates, errors, comm messages); widget state is never stored.
- Before every test cell, a guard undoes the known ways to change how later cells
  run, and a canary checks that a failing ``assert`` still fails.
"""

from __future__ import annotations

import secrets
from queue import Empty
from time import monotonic

from nbclient.util import ensure_async, run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

from course.cells import is_autograded_test
from course.sandbox_kernel import SandboxKernelManager

KERNEL_DIED = (
    "Der Python-Kernel ist in dieser Zelle abgestürzt (zum Beispiel durch os._exit, einen "
    "Speicherzugriffsfehler oder mehr Speicher, Prozesse oder Rechenzeit, als die Bewertung erlaubt). "
    "Die Zellen davor sind bewertet; diese und alle folgenden Zellen wurden nicht ausgeführt."
)
NOT_RUN = "Nicht ausgeführt, weil der Kernel in einer früheren Zelle abgestürzt ist."
OUT_OF_TIME = (
    "Nicht ausgeführt: Die Abgabe hat ihr Zeitbudget für die Bewertung ({seconds} s) aufgebraucht, "
    "zum Beispiel durch Endlosschleifen in mehreren Zellen."
)
TAMPERED = (
    "Die Testumgebung wurde verändert (zum Beispiel über get_ipython().ast_transformers), "
    "deshalb konnte dieser Test nicht zuverlässig laufen und zählt als nicht bestanden."
)
TRUNCATED = "\n... Ausgabe gekürzt: diese Zelle hat mehr als {limit} Zeichen ausgegeben ...\n"
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
GUARD_SECONDS = 10
OUTPUT_TYPES = {"stream", "display_data", "execute_result", "update_display_data", "comm_open", "comm_msg", "error"}


class KernelStartError(RuntimeError):
    """The grading kernel could not be started: a problem of the grading environment."""


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def size(value) -> int:
    """Characters in a message or output (strings, nested in dicts and lists)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, dict):
        return sum(size(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(size(v) for v in value)
    return 8


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " ... (gekürzt)"


def cap_outputs(outputs: list, limit: int) -> list:
    """Keep outputs up to ``limit`` characters; errors always stay, shortened (they decide the grade)."""
    kept, used, truncated = [], 0, False
    for output in outputs:
        if output.get("output_type") == "error":
            output.evalue = shorten(str(output.get("evalue", "")), 2000)
            output.ename = shorten(str(output.get("ename", "")), 200)
            output.traceback = [shorten(str(line), 2000) for line in output.get("traceback", [])[-20:]]
            kept.append(output)
            continue
        used += size(output)
        if used > limit:
            truncated = True
            continue
        kept.append(output)
    if truncated:
        kept.insert(0, NotebookNode(output_type="stream", name="stdout", text=TRUNCATED.format(limit=limit)))
    return kept


class SafeExecute(Execute):
    """``Execute`` in the sandbox, with deadlines, caps and protected test cells."""

    max_output_chars = Integer(200_000, help="Output characters kept per cell; the rest is dropped.").tag(config=True)
    max_notebook_output_chars = Integer(2_000_000, help="Output characters kept per notebook.").tag(config=True)
    submission_timeout = Integer(900, help="Wall-clock seconds for the whole notebook; later cells are not run.").tag(
        config=True
    )

    def __init__(self, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager  # nbgrader's Execute sets its own default
        kwargs.setdefault("store_widget_state", False)
        super().__init__(**kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._current_cell = None
        self._deadline = monotonic() + self.submission_timeout
        self._output_chars: dict[int, int] = {}
        self._notebook_chars = 0
        try:
            return super().preprocess(nb, resources, km)
        except Exception as exc:  # DeadKernelError, a kernel that cannot be reached, ...
            if self._current_cell is None:
                raise KernelStartError(f"Der Bewertungs-Kernel ließ sich nicht starten: {exc}") from exc
            self.log.warning("Kernel died in cell %s: %s", self._current_cell, exc)
            mark_not_run(nb, self._current_cell)
            return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._current_cell = index
        if cell.cell_type != "code":
            return cell, resources
        if self._remaining() <= 0:
            cell.outputs = [_error("Zeitbudget", OUT_OF_TIME.format(seconds=self.submission_timeout))]
            return cell, resources
        if is_autograded_test(cell) and not self._test_environment_intact():
            cell.outputs = [_error("TestumgebungVerändert", TAMPERED)]
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, index)
        cell.outputs = cap_outputs(cell.outputs, self.max_output_chars)
        return cell, resources

    def _remaining(self) -> float:
        return self._deadline - monotonic()

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        remaining = max(1, int(self._remaining()))
        return remaining if timeout is None else min(timeout, remaining)

    async def _async_run_silently(self, code: str, seconds: float = GUARD_SECONDS) -> dict:
        """Run ``code`` without output and wait for its reply, at most ``seconds`` of wall-clock time."""
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = monotonic() + seconds
        while (left := deadline - monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=left))
            except Empty:
                break
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return {}

    _run_silently = run_sync(_async_run_silently)

    def _test_environment_intact(self) -> bool:
        """Restore the interpreter hooks, then check with a canary that a failing assert still fails."""
        self._run_silently(GUARD)
        token = secrets.token_hex(8)
        reply = self._run_silently(f"assert {token!r} == {token[::-1]!r}, {token!r}")
        content = reply.get("content", {})
        return content.get("status") == "error" and content.get("ename") == "AssertionError"

    def process_message(self, msg, cell, cell_index):
        """Drop output beyond the caps while it streams in (the final cap is applied per cell)."""
        if msg.get("msg_type") in OUTPUT_TYPES and msg.get("msg_type") != "error":
            n = size(msg.get("content", {}))
            used = self._output_chars.get(cell_index, 0) + n
            self._output_chars[cell_index] = used
            self._notebook_chars += n
            if used > self.max_output_chars or self._notebook_chars > self.max_notebook_output_chars:
                return None
        return super().process_message(msg, cell, cell_index)


def mark_not_run(nb, first: int) -> None:
    """Give cell ``first`` the crash message and every later code cell a "not run" error."""
    for index, cell in enumerate(nb.cells):
        if index < first or cell.cell_type != "code":
            continue
        message = KERNEL_DIED if index == first else NOT_RUN
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
        cell.outputs.append(_error("KernelAbgestürzt" if index == first else "NichtAusgeführt", message))
