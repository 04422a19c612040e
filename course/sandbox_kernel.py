"""The kernel manager of grading: kernels in the sandbox of :mod:`course.sandbox`, or plain ones when it is off.

Kept apart from :mod:`course.sandbox` (the launcher that runs for every kernel start), which must stay
light: it imports nothing of Jupyter.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from course.sandbox import enabled, make_runtime, remove_runtime, sockets_folder


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in the sandbox (or plain ones when it is switched off)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.runtime: Path | None = None
        if not enabled():
            return
        self.runtime = make_runtime()
        self.transport = "ipc"
        self.ip = str(sockets_folder(self.runtime) / "kernel")
        self._kernel_spec = KernelSpec(
            argv=[sys.executable, "-m", "course.sandbox", str(self.runtime), "{connection_file}"],
            display_name="Python 3 (Bewertung in der Sandbox)",
            language="python",
            interrupt_mode="message",
            env={},
        )

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
