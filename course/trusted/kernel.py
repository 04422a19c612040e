"""Starting the trusted test kernel next to a student's kernel, and connecting the two.

The trusted kernel is a plain IPython kernel (jupyter_client's :class:`AsyncKernelManager`) that
runs outside the student's sandbox: it never runs student code, only the graded test cells.  It
starts in an empty folder of its own (so nothing of the submission is importable), talks to the
grader over IPC sockets in a private folder, and reaches the student's kernel only through
:mod:`course.trusted.client`.  The student's kernel gets its end (:mod:`course.trusted.kernel_side`)
before its first cell.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from course.sandbox import DATA_ENV, make_runtime, remove_runtime, sockets_folder

#: Run silently in the student's kernel before its first cell.
STUDENT_SIDE = '__import__("course.trusted.kernel_side", fromlist=["serve"]).serve()'


def trusted_side(info: dict, deadline: float, first: bool = True) -> str:
    """Code run silently in the trusted kernel to connect it (the student's connection info as JSON)."""
    plain = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in info.items()}
    args = f"{json.dumps(plain)!r}, {float(deadline)!r}, {bool(first)!r}"
    return f'__import__("course.trusted", fromlist=["setup"]).setup({args})'


class TrustedKernelManager(AsyncKernelManager):
    """A plain Python kernel in an empty working folder, with its sockets in a private folder."""

    def __init__(self, data: Path | None = None, **kwargs):
        """``data``: the data folder the student's kernel sees, so that ``course.data_dir()`` in a test cell
        finds the same files (the trusted kernel's own working folder is empty and outside any course)."""
        super().__init__(**kwargs)
        self.runtime: Path = make_runtime()
        (self.runtime / "work").mkdir(mode=0o700)
        self.transport = "ipc"
        self.ip = str(sockets_folder(self.runtime) / "test")
        self._kernel_spec = KernelSpec(
            argv=[
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
                "--HistoryManager.hist_file=:memory:",
            ],
            display_name="Python 3 (Tests der Bewertung)",
            language="python",
            env={DATA_ENV: str(data)} if data is not None and data.is_dir() else {},
        )

    async def start(self) -> None:
        await self.start_kernel(cwd=str(self.runtime / "work"))

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self.runtime.exists():
            remove_runtime(self.runtime)
