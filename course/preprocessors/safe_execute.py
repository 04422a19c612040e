"""Execution for autograding: nbgrader's ``Execute`` made robust against hostile submissions.

- The kernel runs in the sandbox (:class:`course.sandbox_kernel.SandboxKernelManager`).
- A kernel that dies (``os._exit``, a segfault, a limit) costs only the cells from
  the crash on: they get a readable error, the cells before keep their points.
  nbgrader alone would drop the whole notebook.
- A kernel that cannot even start is an error of the grading environment, not of
  the student: the submission fails loudly instead of being graded 0.
- Every wait has a wall-clock deadline: each cell its ``timeout``, the whole
  submission ``submission_timeout`` (cells after it are not run, with a message).
  A cell whose kernel only waits (no CPU in its whole process tree for
  ``idle_timeout`` seconds: a sleep, a deadlock, messaging the student's code broke)
  is interrupted then, like a timeout, instead of at its deadline; so is a cell whose
  process tree used up its CPU budget (``cpu_timeout``, per assignment), which a
  loaded machine does not shorten.
- Output is capped per cell and per notebook, whatever its kind (streams, display
  data and updates, errors, comm messages); widget state is never stored.
- Graded test cells run in a second, trusted kernel that never runs student code
  (:mod:`course.trusted`); they reach the student's names through a narrow channel.
  Hidden test code never enters the student's kernel.
"""

from __future__ import annotations

import ast
import asyncio
from time import monotonic

import zmq
from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Integer

from course.cells import PASS_MARK, is_autograded_test
from course.grading_environment import GradingEnvironment
from course.kernel_activity import ProcessTreeWatch
from course.sandbox import sockets_folder
from course.sandbox_kernel import SandboxKernelManager
from course.trusted.kernel import (
    STUDENT_SIDE,
    KernelStartError,
    TrustedKernel,
    TrustedKernelSupply,
    require_ok,
    run_silently,
)

KERNEL_DIED = (
    "Der Python-Kernel ist in dieser Zelle abgestürzt (zum Beispiel durch os._exit, einen "
    "Speicherzugriffsfehler oder mehr Speicher, Prozesse oder Rechenzeit, als die Bewertung erlaubt). "
    "Die Zellen davor sind bewertet; diese und alle folgenden Zellen wurden nicht ausgeführt."
)
KERNEL_STUCK = (
    "Der Python-Kernel reagiert in dieser Zelle nicht mehr: er ließ sich nach einer Zeitüberschreitung nicht "
    "unterbrechen (zum Beispiel eine Endlosschleife, die KeyboardInterrupt abfängt). Die Zellen davor sind "
    "bewertet; diese und alle folgenden Zellen wurden nicht ausgeführt."
)
NOT_RUN = "Nicht ausgeführt, weil der Kernel in einer früheren Zelle abgestürzt ist oder nicht mehr reagiert hat."
OUT_OF_TIME = (
    "Nicht ausgeführt: Die Abgabe hat ihr Zeitbudget für die Bewertung ({seconds} s) aufgebraucht, "
    "zum Beispiel durch Endlosschleifen in mehreren Zellen."
)
TEST_CRASHED = (
    "Der Kernel der Tests ist bei diesem Test abgestürzt (zum Beispiel, weil deine Abgabe ihm zu große Daten "
    "geschickt hat). Dieser Test zählt als nicht bestanden."
)
TEST_ABORTED = (
    "Dieser Test wurde abgebrochen, weil er länger lief, als die Bewertung erlaubt (zum Beispiel, weil dein Code "
    "in einer Endlosschleife steckte). Dieser Test zählt als nicht bestanden."
)
CELL_IDLE = (
    "Die Zelle wurde abgebrochen, weil dein Kernel in ihr {seconds} s lang nur gewartet hat, ohne zu rechnen "
    "(zum Beispiel durch time.sleep, ein Warten auf etwas, das nie kommt, oder weil dein Code Teile von Python "
    "selbst ersetzt hat, etwa builtins.isinstance)."
)
CELL_CPU = (
    "Die Zelle wurde abgebrochen, weil sie mehr als {seconds} s Rechenzeit gebraucht hat, mehr als die Bewertung "
    "für eine Zelle dieses Notebooks erlaubt (zum Beispiel durch eine Endlosschleife)."
)
KERNEL_WATCH_STUCK = (
    "Der Python-Kernel reagiert in dieser Zelle nicht mehr: {why} und ließ sich danach nicht unterbrechen (zum "
    "Beispiel, weil dein Code Teile von Python selbst ersetzt hat, etwa builtins.isinstance, oder "
    "KeyboardInterrupt abfängt). Die Zellen davor sind bewertet; diese und alle folgenden Zellen wurden nicht "
    "ausgeführt."
)
#: After an interrupt for waiting or computing too long, the seconds a kernel has to answer before it is stuck.
AFTER_INTERRUPT = 5
CELL_TIMEOUT = (
    "Die Zelle wurde abgebrochen, weil sie länger lief, als die Bewertung erlaubt (zum Beispiel durch eine "
    "Endlosschleife)."
)
TRUNCATED = "\n... Ausgabe gekürzt: diese Zelle hat mehr als {limit} Zeichen ausgegeben ...\n"
OUTPUT_TYPES = {"stream", "display_data", "execute_result", "update_display_data", "comm_open", "comm_msg", "error"}


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


def cap_outputs(outputs: list, limit: int, truncated: bool = False) -> list:
    """Keep outputs up to ``limit`` characters; errors always stay, shortened (they decide the grade).

    ``truncated``: output was already dropped while it streamed in; the note says so either way."""
    kept, used = [], 0
    for output in outputs:
        if output.get("output_type") == "error":
            output.evalue = shorten(str(output.get("evalue", "")), 2000)
            output.ename = shorten(str(output.get("ename", "")), 200)
            output.traceback = [shorten(str(line), 2000) for line in output.get("traceback", [])[-20:]]
            kept.append(output)
            continue
        n = size(output)
        if used + n > limit:
            truncated = True
            text = output.get("text") if output.get("output_type") == "stream" else None
            room = limit - used - (n - len(text)) if isinstance(text, str) else 0  # characters of text that fit
            if room > 0:
                output.text = output.text[:room]  # the start of a long print stays readable
                kept.append(output)
                used = limit
            continue
        used += n
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
    trusted_tests = Bool(
        True,
        help="Run graded test cells in the trusted kernel (course.trusted). Switch off only to compare: then the "
        "student's code can change how the tests run.",
    ).tag(config=True)
    only_errors_and_pass_lines = Bool(
        True,
        help="Graded test cells keep only their error and the stdout lines of passing checks (no warnings, stderr, "
        "displays or values). Switch off only to compare.",
    ).tag(config=True)
    error_on_timeout = Dict(
        {"ename": "Zeitüberschreitung", "evalue": CELL_TIMEOUT, "traceback": [f"Zeitüberschreitung: {CELL_TIMEOUT}"]},
        help="The error a cell gets when it runs past ``timeout`` (shown to the student, so in German).",
    ).tag(config=True)
    request_timeout = Integer(
        60, help="Wall-clock seconds the student's kernel has to answer one request of a test cell."
    ).tag(config=True)

    idle_timeout = Integer(
        15,
        help="Seconds a cell of the student's kernel may run while the kernel and every process it started use "
        "(almost) no CPU; then the cell is interrupted like a timeout. 0: off (only ``timeout`` ends a cell).",
    ).tag(config=True)
    cpu_timeout = Dict(
        {},
        help="CPU seconds a cell of the student's kernel may use (kernel and every process it started), per "
        "assignment ({'01_neuronen': 20}; '*' for the others); then the cell is interrupted like a timeout. Unlike "
        "``timeout`` (wall clock) it does not run out sooner on a loaded machine. Missing: no CPU budget.",
    ).tag(config=True)

    def __init__(self, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager  # nbgrader's Execute sets its own default
        kwargs.setdefault("store_widget_state", False)
        # grading is over when the kernel goes: its state is thrown away, and the sandbox's cgroups kill what is
        # left (nbclient's graceful default waits up to 5 s per kernel)
        kwargs.setdefault("shutdown_kernel", "immediate")
        super().__init__(**kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._current_cell = None
        self._interrupted: dict[int, str] = {}  # cells the watch interrupted -> why (German)
        self._lost_after_interrupt: str | None = None  # ... and the kernel did not answer: why
        assignment = (resources or {}).get("nbgrader", {}).get("assignment")
        self._cpu_budget = self.cpu_timeout.get(assignment, self.cpu_timeout.get("*"))
        self._deadline = monotonic() + self.submission_timeout
        self._output_chars: dict[int, int] = {}
        self._notebook_chars = 0
        self._truncated: set[int] = set()  # cells whose output was cut while it streamed in
        try:
            return super().preprocess(nb, resources, km)
        except KernelStartError:  # the grading environment is broken (also mid-notebook): never the student's fault
            raise
        except Exception as exc:  # DeadKernelError, a kernel that cannot be reached, ...
            if self._current_cell is None:
                raise KernelStartError(f"Der Bewertungs-Kernel ließ sich nicht starten: {exc}") from exc
            self.log.warning("Kernel lost in cell %s: %s", self._current_cell, exc)
            # nbclient says DeadKernelError when the process is gone; otherwise it stopped answering
            if self._lost_after_interrupt:
                reason = KERNEL_WATCH_STUCK.format(why=self._lost_after_interrupt)
                mark_not_run(nb, self._current_cell, "KernelHängt", reason)
            elif isinstance(exc, DeadKernelError):
                mark_not_run(nb, self._current_cell, "KernelAbgestürzt", KERNEL_DIED)
            else:
                mark_not_run(nb, self._current_cell, "KernelHängt", KERNEL_STUCK)
            return nb, resources

    def preprocess_cell(self, cell, resources, index):
        self._current_cell = index
        if cell.cell_type != "code":
            return cell, resources
        if self._remaining() <= 0:
            cell.outputs = [_error("Zeitbudget", OUT_OF_TIME.format(seconds=self.submission_timeout))]
            return cell, resources
        if is_autograded_test(cell) and self.trusted_tests:
            cell, resources = self._run_trusted(cell, resources, index)
        else:
            cell, resources = super().preprocess_cell(cell, resources, index)
            if index in self._interrupted:  # its KeyboardInterrupt came from the grader, not from the student
                message = self._interrupted[index]
                outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
                cell.outputs = [*outputs, _error("Zeitüberschreitung", message)]
        if is_autograded_test(cell) and self.only_errors_and_pass_lines:
            cell.outputs = test_outputs(cell.outputs)
        cell.outputs = cap_outputs(cell.outputs, self.max_output_chars, index in self._truncated)
        return cell, resources

    def _remaining(self) -> float:
        return self._deadline - monotonic()

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        remaining = max(1, int(self._remaining()))
        return remaining if timeout is None else min(timeout, remaining)

    async def _async_poll_kernel_alive(self) -> None:
        """nbclient's check, once a second while a cell runs, that the kernel is alive; for the student's kernel
        also whether it only waits (``idle_timeout``) or used up its CPU budget (``cpu_timeout``): then it is
        interrupted, and if the cell has not ended :data:`AFTER_INTERRUPT` s later, the notebook ends as with a
        stuck kernel."""
        trusted = getattr(self, "trusted", None)
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        watching = self.idle_timeout or self._cpu_budget
        if not watching or process is None or (trusted is not None and self.kc is trusted.kc):
            return await super()._async_poll_kernel_alive()
        watch, interrupted_at = ProcessTreeWatch(process.pid), None
        while True:
            await asyncio.sleep(1)
            try:
                await self._async_check_alive()
            except DeadKernelError:
                self.task_poll_for_reply.cancel()
                return
            idle = watch.idle_seconds()
            if interrupted_at is not None:
                if monotonic() - interrupted_at >= AFTER_INTERRUPT:
                    self._lost_after_interrupt = self._why_interrupted
                    self.task_poll_for_reply.cancel()
                    return
                continue
            if self.idle_timeout and idle >= self.idle_timeout:
                message = CELL_IDLE.format(seconds=self.idle_timeout)
                self._why_interrupted = f"er hat {self.idle_timeout} s lang nur gewartet, ohne zu rechnen,"
            elif self._cpu_budget and watch.cpu_seconds() >= self._cpu_budget:
                message = CELL_CPU.format(seconds=self._cpu_budget)
                self._why_interrupted = f"er hat mehr als {self._cpu_budget} s Rechenzeit gebraucht"
            else:
                continue
            self.log.warning("Cell %s: %s; interrupting", self._current_cell, self._why_interrupted)
            self._interrupted[self._current_cell] = message
            interrupted_at = monotonic()
            await self.km.interrupt_kernel()

    #: Trusted kernels started ahead; set once by a process that grades many notebooks (:mod:`course.worker`).
    trusted_supply: TrustedKernelSupply | None = None

    async def async_start_new_kernel(self, **kwargs):
        """With a supply, its trusted kernel started ahead is taken before the student's kernel starts (in the
        sandbox, the student's relay then binds in the folder that kernel sees)."""
        self._started_trusted = None
        if self.trusted_tests and self.trusted_supply is not None:
            environment = GradingEnvironment(config=self.config)
            self._started_trusted = await self.trusted_supply.take(environment, self.km, test_imports(self.nb))
        try:
            await super().async_start_new_kernel(**kwargs)
        except BaseException:
            if self._started_trusted is not None:
                self._started_trusted = None
                await self.trusted_supply.finish(None)
            raise

    async def async_start_new_kernel_client(self):
        """The trusted kernel starts while the student's kernel gets ready; then the two are connected."""
        self.trusted = None
        started_trusted, self._started_trusted = getattr(self, "_started_trusted", None), None
        try:
            if not self.trusted_tests:
                return await super().async_start_new_kernel_client()
            # the kernels' settings come from the course's config; the student's kernel manager reads the same
            environment = GradingEnvironment(config=self.config)
            self.trusted = TrustedKernel(environment, self.startup_timeout, self.request_timeout)
            runtime = getattr(self.km, "runtime", None)  # the student's kernel is sandboxed: so is the trusted one
            student_sockets = sockets_folder(runtime) if runtime is not None else None
            launch = self.trusted.launch(student_sockets, started_trusted)
            started = await asyncio.gather(super().async_start_new_kernel_client(), launch, return_exceptions=True)
            for outcome in started:  # both have finished: nothing is left starting while we clean up
                if isinstance(outcome, BaseException):
                    raise outcome
            kc = started[0]
            require_ok(await run_silently(kc, STUDENT_SIDE), "Kernel der Abgabe")
            await self.trusted.connect(self.km.get_connection_info(), test_imports(self.nb))
            if self.trusted_supply is not None:  # the next notebook's, while this one runs
                await self.trusted_supply.prepare(environment, runtime is not None, test_imports(self.nb))
        except BaseException:  # the supply stops the kernel it handed out, used or not
            await self._async_cleanup_kernel()
            raise
        return kc

    async def _async_cleanup_kernel(self) -> None:
        try:
            trusted = getattr(self, "trusted", None)
            if self.trusted_supply is not None:  # keeps the kernel it handed out for the next notebook, or stops it
                await self.trusted_supply.finish(trusted)
            elif trusted is not None:
                await trusted.stop()
        finally:
            if self.km is not None:  # nbclient may have cleaned up already (a client that failed to start)
                await super()._async_cleanup_kernel()

    # nbclient binds its sync wrappers to its own coroutines: bind them to these
    start_new_kernel = run_sync(async_start_new_kernel)
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    async def _async_replace_trusted(self) -> None:
        await self.trusted.replace(self.km.get_connection_info(), test_imports(self.nb))

    _replace_trusted = run_sync(_async_replace_trusted)

    def _run_trusted(self, cell, resources, index):
        """Run a graded test cell in the trusted kernel (its outputs are the cell's outputs)."""
        student = self.kc, self.km
        self.kc, self.km = self.trusted.kc, self.trusted.km
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self.log.warning("The trusted test kernel died in cell %s; replacing it", index)
            cell.outputs = [_error("TestAbgestürzt", TEST_CRASHED)]
        except Exception as exc:  # e.g. no IOPub message after a timeout: the trusted kernel's state is unknown
            self.log.warning("The trusted test kernel failed in cell %s (%s); replacing it", index, exc)
            cell.outputs = [_error("TestAbgebrochen", TEST_ABORTED)]
        finally:
            self.kc, self.km = student
            self._drop_channel_messages()
        self._replace_trusted()  # a KernelStartError here ends grading loudly, not as the student's stuck kernel
        return cell, resources

    def _drop_channel_messages(self, seconds: float = 10.0) -> None:
        """Drop what a test cell's requests left in the student's IOPub queue (answers, busy and idle states).

        The student's kernel publishes them to every subscriber, this client included, which does not read
        its IOPub while the trusted kernel runs a cell: from about 650 requests on, the queue reaches
        ZeroMQ's high-water mark, the next cell's own messages are dropped and it ends in "Timeout waiting
        for IOPub output" (as if the kernel had died).
        """
        socket = zmq.Socket.shadow(self.kc.iopub_channel.socket.underlying)
        end = monotonic() + seconds
        while monotonic() < end and socket.poll(5):
            socket.recv_multipart()

    def process_message(self, msg, cell, cell_index):
        """Drop output beyond the caps while it streams in (the final cap is applied per cell)."""
        if msg.get("msg_type") in OUTPUT_TYPES and msg.get("msg_type") != "error":
            content = msg.get("content", {})
            n = size(content)
            used = self._output_chars.get(cell_index, 0)
            room = min(self.max_output_chars - used, self.max_notebook_output_chars - self._notebook_chars)
            if n > room:
                self._truncated.add(cell_index)
                text = content.get("text") if msg.get("msg_type") == "stream" else None
                if not isinstance(text, str) or room <= 0:
                    self._output_chars[cell_index] = self.max_output_chars  # later, smaller outputs stay out too
                    return None
                # one stream message can hold megabytes (the kernel flushes its buffer at once): keep its start
                content = {**content, "text": text[:room]}
                msg = {**msg, "content": content}
                n = size(content)
            self._output_chars[cell_index] = used + n
            self._notebook_chars += n
        return super().process_message(msg, cell, cell_index)


def test_outputs(outputs: list) -> list:
    """What a graded test cell may show: its error, and the stdout lines of passing checks (``PASS_MARK``).

    Warnings, stderr, other prints, displays and the cell's value never stay: they could quote hidden test code
    (a warning shows its source line), and nbgrader reads a test cell's value as partial credit and any stderr as
    a failure, both of which the student's data could steer."""
    kept = []
    for output in outputs:
        if output.get("output_type") == "error":
            kept.append(output)
        elif output.get("output_type") == "stream" and output.get("name") == "stdout":
            lines = [
                line for line in str(output.get("text", "")).splitlines(keepends=True) if line.startswith(PASS_MARK)
            ]
            if lines:
                kept.append(NotebookNode(output_type="stream", name="stdout", text="".join(lines)))
    return kept


def test_imports(nb) -> str:
    """The top-level import statements of the notebook's graded test cells, each once."""
    found: dict[str, None] = {}
    for cell in nb.cells:
        if is_autograded_test(cell):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            found.update(dict.fromkeys(ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)))
    return "\n".join(found)


def mark_not_run(nb, first: int, ename: str, reason: str) -> None:
    """Give cell ``first`` the error ``ename``/``reason`` (why the kernel was lost), every later code cell a
    "not run" error."""
    for index, cell in enumerate(nb.cells):
        if index < first or cell.cell_type != "code":
            continue
        cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
        cell.outputs.append(_error(ename, reason) if index == first else _error("NichtAusgeführt", NOT_RUN))
