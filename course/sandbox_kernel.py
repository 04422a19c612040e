"""The kernel manager of grading: kernels in the sandbox of :mod:`course.sandbox`, or plain ones when it is off.

Kept apart from :mod:`course.sandbox` (the launcher that runs for every kernel start), which must stay
light: it imports nothing of Jupyter.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from course.grading_environment import GradingEnvironment
from course.sandbox import make_runtime, remove_runtime, sockets_folder, write_settings


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox (or plain ones when it is switched off).

    Mode, limits, data folder and environment come from :class:`GradingEnvironment` (the course's config); the
    sandbox's wrapper reads them from the runtime folder."""

    def __init__(self, environment: GradingEnvironment | None = None, **kwargs):
        super().__init__(**kwargs)
        self.environment = environment or GradingEnvironment(config=self.config)
        self.runtime: Path | None = None
        if not self.environment.sandboxed():
            return
        self.runtime = make_runtime()
        write_settings(self.runtime, self.environment.limits(), self.environment.data(), self.environment.kernel_env())
        self.transport = "ipc"
        self.ip = str(sockets_folder(self.runtime) / "kernel")
        self._kernel_spec = KernelSpec(
            argv=[sys.executable, "-m", "course.sandbox", str(self.runtime), "{connection_file}"],
            display_name="Python 3 (Bewertung in der Sandbox)",
            language="python",
            interrupt_mode="message",
            env={},
        )

    async def _async_pre_start_kernel(self, **kw):
        """Without the sandbox, too, the kernel's environment is the course's, not the grader's."""
        if self.runtime is None:
            kw["env"] = {**_minimal_env(), **self.environment.kernel_env()}
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self._remove_runtime()

    def _remove_runtime(self) -> None:
        if self.runtime is None or not self.runtime.exists():
            return
        remove_runtime(self.runtime)

    def __del__(self):
        try:
            self._remove_runtime()
        except Exception:
            pass


def _minimal_env() -> dict[str, str]:
    """What a plain Python kernel needs from the grader's environment to start (no secrets)."""
    import os

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR", "VIRTUAL_ENV")
    return {name: os.environ[name] for name in keep if name in os.environ}
