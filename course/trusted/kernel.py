"""The life cycle of the trusted test kernel: start it, connect it to a student's kernel, replace it, stop it.

The trusted kernel is a plain IPython kernel (jupyter_client's :class:`AsyncKernelManager`) that never runs
student code, only the graded test cells.  It starts in an empty folder of its own (so nothing of the
submission is importable), with the environment :class:`~course.grading_environment.GradingEnvironment`
decides (the data folder, nothing of the grader's secrets), under resource limits of its own (address space,
files, no core dumps: it decodes what the student's kernel sends), and talks to the grader over IPC sockets in
a private folder.  It reaches the student's kernel only through :mod:`course.trusted.client`; the student's
kernel gets its end (:mod:`course.trusted.kernel_side`) before its first cell.

:class:`TrustedKernel` owns all of this for :class:`course.preprocessors.SafeExecute`, which only swaps its
client in while a test cell runs.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from queue import Empty
from time import monotonic

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient.util import ensure_async

from course.grading_environment import GradingEnvironment
from course.sandbox import make_runtime, remove_runtime, sockets_folder, trusted_bwrap_command

#: Run silently in the student's kernel before its first cell.
STUDENT_SIDE = '__import__("course.trusted.kernel_side", fromlist=["serve"]).serve()'
SETUP_SECONDS = 60


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

    def __init__(self, environment: GradingEnvironment | None = None, student_sockets: Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.environment = environment or GradingEnvironment(config=self.config)
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

    async def launch(self, student_sockets: Path | None = None) -> None:
        """Start the kernel and wait until it answers (not yet connected to a student's kernel); sandboxed when
        ``student_sockets`` (the folder the student's kernel is reached at) is given."""
        self.student_sockets = student_sockets
        self.km = TrustedKernelManager(environment=self.environment, student_sockets=student_sockets)
        await self.km.start()
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
