"""The life cycle of the trusted test kernel: start it, connect it to a student's kernel, replace it, stop it.

The trusted kernel is a plain IPython kernel (jupyter_client's :class:`AsyncKernelManager`) that never runs
student code, only the graded test cells.  It starts in an empty folder of its own (so nothing of the
submission is importable), with the environment :class:`~course.grading_environment.GradingEnvironment`
decides (the data folder, nothing of the grader's secrets), under resource limits of its own (address space,
files, no core dumps: it decodes what the student's kernel sends), and talks to the grader over IPC sockets in
a private folder.  It reaches the student's kernel only through :mod:`course.trusted.client`; the student's
kernel gets its end (:mod:`course.trusted.kernel_side`) before its first cell.

:class:`TrustedKernel` owns all of this for :class:`course.preprocessors.SafeExecute`, which only swaps its
client in while a test cell runs.  A long-lived grading process (:mod:`course.worker`) gives SafeExecute a
:class:`TrustedKernelSupply`: a trusted kernel started ahead (importing what the tests will) serves one notebook after
another, reset in between (:func:`course.trusted.reset`); it never ran student code.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from queue import Empty
from time import monotonic

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient.util import ensure_async

from course.grading_environment import GradingEnvironment
from course.sandbox import (
    MAX_SOCKET_BASE,
    SOCKETS_FILE,
    make_runtime,
    remove_runtime,
    sockets_folder,
    trusted_bwrap_command,
)

#: Run silently in the student's kernel before its first cell.
STUDENT_SIDE = '__import__("course.trusted.kernel_side", fromlist=["serve"]).serve()'
SETUP_SECONDS = 60
#: Run silently in a trusted kernel after its notebook, before it serves the next one.
RESET = '__import__("course.trusted", fromlist=["reset"]).reset()'
RESET_SECONDS = 10


class KernelStartError(RuntimeError):
    """A grading kernel could not be started or set up: a problem of the grading environment, not the student's."""


def trusted_side(info: dict, deadline: float, first: bool = True) -> str:
    """Code run silently in the trusted kernel to connect it (the student's connection info as JSON)."""
    plain = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in info.items()}
    args = f"{json.dumps(plain)!r}, {float(deadline)!r}, {bool(first)!r}"
    return f'__import__("course.trusted", fromlist=["setup"]).setup({args})'


async def run_silently(kc, code: str, seconds: float = SETUP_SECONDS) -> dict:
    """Run ``code`` without output on ``kc`` and wait for its reply, at most ``seconds`` of wall-clock time."""
    msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
    deadline = monotonic() + seconds
    while (left := deadline - monotonic()) > 0:
        try:
            msg = await ensure_async(kc.shell_channel.get_msg(timeout=left))
        except Empty:
            break
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg
    return {}


def require_ok(reply: dict, which: str) -> None:
    content = reply.get("content", {})
    if content.get("status") != "ok":
        detail = f"{content.get('ename', 'keine Antwort')}: {content.get('evalue', '')}"
        raise KernelStartError(f"Der {which} ließ sich nicht einrichten ({detail}).")


class TrustedKernelManager(AsyncKernelManager):
    """A plain Python kernel in an empty working folder, with its sockets in a private folder, under limits.

    ``student_sockets``: the folder of the sockets the student's kernel is reached at (its sandbox's relay); when
    given, the trusted kernel runs in a bubblewrap sandbox of its own that sees only that folder, its own sockets,
    and the read-only system, Python, course package and data (:func:`course.sandbox.trusted_bwrap_command`)."""

    def __init__(
        self,
        environment: GradingEnvironment | None = None,
        student_sockets: Path | None = None,
        preload: tuple[str, ...] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.environment = environment or GradingEnvironment(config=self.config)
        self.student_sockets = student_sockets
        self.runtime = make_runtime()
        (self.runtime / "work").mkdir(mode=0o700)
        self.transport = "ipc"
        sockets = sockets_folder(self.runtime)
        self.ip = str(sockets / "test")
        self.connection_file = str(sockets / "test.json")
        limits = []
        if shutil.which("prlimit"):
            address_space = int(self.environment.trusted_memory_gb * 1024**3)
            limits = ["prlimit", f"--as={address_space}", "--core=0", "--nofile=1024", "--"]
        if student_sockets is not None:
            limits += trusted_bwrap_command(
                self.runtime / "work",
                [sockets, student_sockets],
                self.environment.limits(),
                self.environment.data(),
                self.environment.kernel_env(),
            )
        self._kernel_spec = KernelSpec(
            argv=[
                *limits,
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
                "--HistoryManager.hist_file=:memory:",
                # before it answers: import the modules its tests will (they bind no name)
                *([f"--IPKernelApp.exec_lines={preload_code(preload)}"] if preload else []),
            ],
            display_name="Python 3 (Tests der Bewertung)",
            language="python",
            interrupt_mode="message",  # a signal would reach prlimit/bubblewrap, not the kernel
            env={},
        )

    def environment_of_kernel(self) -> dict[str, str]:
        """The course's environment, not the grader's: the data folder, Python's paths, a private home."""
        import os

        env = self.environment.kernel_env()
        env["HOME"] = str(self.runtime / "work")
        env["PATH"] = f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"
        for name in ("PYTHONPATH", "VIRTUAL_ENV", "TMPDIR"):
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    async def start(self) -> None:
        await self.start_kernel(cwd=str(self.runtime / "work"), env=self.environment_of_kernel())

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self.runtime.exists():
            remove_runtime(self.runtime)


class TrustedKernel:
    """The trusted kernel of one graded notebook (its manager ``km`` and client ``kc`` while it runs)."""

    def __init__(self, environment: GradingEnvironment, startup_timeout: float, request_timeout: float):
        self.environment = environment
        self.startup_timeout = startup_timeout
        self.request_timeout = request_timeout
        self.km: TrustedKernelManager | None = None
        self.kc = None
        self.student_sockets: Path | None = None

    async def launch(self, student_sockets: Path | None = None, started: TrustedKernelManager | None = None) -> None:
        """Start the kernel and wait until it answers (not yet connected to a student's kernel); sandboxed when
        ``student_sockets`` (the folder the student's kernel is reached at) is given.

        ``started``: a kernel started ahead for these settings (:meth:`TrustedKernelSupply.take`), never used; if
        it does not answer, it is stopped and a fresh one started as without it."""
        self.student_sockets = student_sockets
        if started is not None:
            self.km = started
            try:
                await self._wait_until_ready()
                return
            except Exception:
                await self.stop()
        self.km = TrustedKernelManager(environment=self.environment, student_sockets=student_sockets)
        await self.km.start()
        await self._wait_until_ready()

    async def _wait_until_ready(self) -> None:
        self.kc = self.km.client()
        self.kc.start_channels()
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))

    async def connect(self, student_info: dict, preload: str = "", first: bool = True) -> None:
        """Connect to the student's kernel (whose end must already serve); ``preload``: imports to run now.

        A failure is a :class:`KernelStartError`: the grading environment is broken, never the student's fault.
        """
        code = trusted_side(student_info, self.request_timeout, first)
        require_ok(await run_silently(self.kc, code), "Kernel der Tests")
        if preload:  # loads while the student's cells run; errors would show in the test cells
            self.kc.execute(preload, silent=True, store_history=False, allow_stdin=False)

    async def replace(self, student_info: dict, preload: str = "") -> None:
        """A fresh trusted kernel after one died or stopped answering (the student's may be stuck by now)."""
        await self.stop()
        try:
            await self.launch(self.student_sockets)
            await self.connect(student_info, preload, first=False)
        except KernelStartError:
            raise
        except Exception as exc:
            raise KernelStartError(f"Der Kernel der Tests ließ sich nicht neu starten: {exc}") from exc

    async def stop(self) -> None:
        km, kc = self.km, self.kc
        self.km = self.kc = None
        if kc is not None:
            kc.stop_channels()
        if km is not None:
            try:
                await km.shutdown_kernel(now=True)
            finally:
                await km.cleanup_resources()


def preload_code(modules: tuple[str, ...]) -> str:
    """One line for a trusted kernel's start: import ``modules`` (those the notebook's tests import), bind no name."""
    return f'__import__("course.trusted", fromlist=["preload"]).preload({list(modules)!r})'


def imported_modules(imports: str) -> tuple[str, ...]:
    """The absolute modules that import statements (:func:`course.preprocessors.safe_execute.test_imports`) load."""
    found: dict[str, None] = {}
    for node in ast.parse(imports).body:
        if isinstance(node, ast.Import):
            found.update(dict.fromkeys(alias.name for alias in node.names))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found[node.module] = None
    return tuple(found)


def trusted_settings(environment: GradingEnvironment, sandboxed: bool, modules: tuple[str, ...]) -> str:
    """Everything a trusted kernel is started with: a kernel started ahead serves only a notebook with the same
    (data folder, environment, limits, sandbox, the modules it imported; the grader's variables it passes on)."""
    passed = {name: os.environ.get(name) for name in ("PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")}
    settings = {
        "memory_gb": environment.trusted_memory_gb,
        "limits": asdict(environment.limits()),
        "data": str(environment.data()),
        "env": environment.kernel_env(),
        "passed": passed,
        "sandboxed": sandboxed,
        "modules": list(modules),
        "python": sys.executable,
    }
    return json.dumps(settings, sort_keys=True)


def _new_sockets_folder() -> Path:
    """A fresh folder for a student's relay sockets, made as :func:`course.sandbox.make_runtime` makes it."""
    base = tempfile.gettempdir()
    base = base if len(base) <= MAX_SOCKET_BASE else "/tmp"
    return Path(tempfile.mkdtemp(prefix="nnk-", dir=base))


async def stop_manager(km: TrustedKernelManager) -> None:
    """Stop a trusted kernel that no client uses (at once: nothing in it is needed) and remove its folders."""
    if not km.has_kernel and not km.runtime.exists():
        return  # stopped before
    try:
        await km.shutdown_kernel(now=True)
    finally:
        await km.cleanup_resources()


@dataclass
class _Started:
    km: TrustedKernelManager
    settings: str
    student_sockets: Path | None  # bound into its sandbox: each student's relay gets a fresh folder inside
    served: int = 0  # notebooks it served


class TrustedKernelSupply:
    """Trusted kernels for a process that grades many notebooks (:mod:`course.worker`), started ahead and reused.

    While a notebook is graded with a fresh trusted kernel, the next one starts and imports the modules this
    notebook's tests import (torch takes seconds).  :meth:`take` hands it to the next notebook if that one needs
    the same settings (:func:`trusted_settings`), else stops it (a fresh kernel is then started as without a
    supply).  After its notebook, :meth:`finish` resets a kernel it handed out (:func:`course.trusted.reset`: the
    tests' names, the connection, IPython's history, the course modules' state, the generators) and keeps it for
    the next notebook, at most ``max_notebooks`` times; one that was replaced mid-notebook, does not answer the
    reset, or whose notebook is the last of the process is stopped.  The trusted kernel never runs student code:
    it only decodes data and holds references that die with their connection.

    In the sandbox the trusted kernel sees one folder of the grader's from its start; each student's relay puts
    its sockets into a fresh folder inside it (:meth:`take` moves them there before the student's kernel starts),
    removed with that student's kernel.
    """

    def __init__(self, max_notebooks: int = 25) -> None:
        self.max_notebooks = max_notebooks
        self._next: _Started | None = None
        self._lent: _Started | None = None  # handed out to the notebook being graded
        self.ahead = True  # another notebook will follow: keep or start its kernel (the grading process knows)
        self.handed_out = 0  # kernels taken (started ahead or kept)
        self.reused = 0  # kernels kept after a notebook
        self.discarded = 0  # kernels started ahead and stopped unused (other settings, or at the end)

    async def take(self, environment: GradingEnvironment, student_km, imports: str) -> TrustedKernelManager | None:
        """The kernel kept or started ahead for ``environment`` and the tests' ``imports``, or ``None`` (then
        start one).

        ``student_km``: the student's kernel manager, before its kernel starts; in the sandbox its relay's sockets
        move into the folder the kernel sees."""
        started, self._next = self._next, None
        if started is None:
            return None
        runtime = getattr(student_km, "runtime", None)
        settings = trusted_settings(environment, runtime is not None, imported_modules(imports))
        if started.settings != settings or not await started.km.is_alive():
            await self._discard(started)
            return None
        if runtime is not None:
            old = sockets_folder(runtime)
            folder = Path(tempfile.mkdtemp(prefix="s", dir=started.student_sockets))
            (runtime / SOCKETS_FILE).write_text(str(folder))  # removed with the student's runtime
            student_km.ip = str(folder / "kernel")
            shutil.rmtree(old, ignore_errors=True)
        self.handed_out += 1
        self._lent = started
        return started.km

    async def prepare(self, environment: GradingEnvironment, sandboxed: bool, imports: str) -> None:
        """Start the next trusted kernel (not waiting for it), unless the current one will serve it; a failure
        only means the next one starts as usual."""
        if self._next is not None or not self.ahead:
            return
        if self._lent is not None and await self._lent.km.is_alive():
            return  # taken from this supply: reset and kept after its notebook
        modules = imported_modules(imports)
        student_sockets = _new_sockets_folder() if sandboxed else None
        km = None
        try:
            km = TrustedKernelManager(environment=environment, student_sockets=student_sockets, preload=modules)
            await km.start()
        except Exception as exc:
            logging.getLogger(__name__).warning("Could not start a trusted kernel ahead: %s", exc)
            if km is not None:
                with contextlib.suppress(Exception):
                    await stop_manager(km)
            if student_sockets is not None:
                shutil.rmtree(student_sockets, ignore_errors=True)
            return
        self._next = _Started(km, trusted_settings(environment, sandboxed, modules), student_sockets)

    async def finish(self, trusted: TrustedKernel | None) -> None:
        """After a notebook (``trusted``: its trusted kernel, ``None`` if it got none): keep the kernel handed out
        for it, reset, for the next notebook, or stop it."""
        lent, self._lent = self._lent, None
        ours = lent is not None and trusted is not None and trusted.km is lent.km  # not replaced mid-notebook
        if ours and self.ahead and self._next is None and lent.served + 1 < self.max_notebooks:
            try:
                reply = await run_silently(trusted.kc, RESET, RESET_SECONDS)
                if reply.get("content", {}).get("status") == "aborted":  # queued while an error of a test was handled
                    reply = await run_silently(trusted.kc, RESET, RESET_SECONDS)
                require_ok(reply, "Kernel der Tests")
                kept = await trusted.km.is_alive()
            except Exception as exc:
                logging.getLogger(__name__).warning("A trusted kernel could not be reset: %s", exc)
                kept = False
            if kept:
                trusted.kc.stop_channels()
                trusted.km = trusted.kc = None
                self._next = replace(lent, served=lent.served + 1)
                self.reused += 1
                return
        try:
            if trusted is not None:
                await trusted.stop()
        finally:
            if lent is not None:
                await self._stop(lent)

    async def close(self) -> None:
        """Stop the kernel kept or started ahead (at the end of the grading process)."""
        started, self._next = self._next, None
        if started is not None:
            await self._discard(started)

    async def _discard(self, started: _Started) -> None:
        self.discarded += 1
        await self._stop(started)

    @staticmethod
    async def _stop(started: _Started) -> None:
        try:
            await stop_manager(started.km)
        finally:
            if started.student_sockets is not None:
                shutil.rmtree(started.student_sockets, ignore_errors=True)
