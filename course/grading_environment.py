"""What a grading kernel sees, decided in one place: data folder, environment, sandbox mode and limits.

Both kernels of a graded notebook, the student's (:class:`course.sandbox_kernel.SandboxKernelManager`) and the
trusted test kernel (:class:`course.trusted.kernel.TrustedKernel`), take their settings from one
:class:`GradingEnvironment`, configured in ``nbgrader_config.py`` like every other grading knob
(``c.GradingEnvironment.memory_gb = 4``).  Environment variables still override (``COURSE_SANDBOX``,
``COURSE_DATA_DIR``, ``COURSE_GRADING_MEMORY_GB`` ...), for containers and CI.

Nothing here is ever derived from the notebook being graded: the data folder is ``COURSE_DATA_DIR``, else the
configured ``data_dir``, else ``data/`` of the course root nbgrader was configured with
(``CourseDirectory.root``) — never a folder found by walking up from ``autograded/<student>/...``, which holds
whatever the student submitted.  A kernel's environment is built from scratch: the variables of
:data:`PASSED_ENV` and the course's own, never the grader's (``COURSE_DB_URL``, tokens, keys).
"""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Float, Integer, Unicode
from traitlets.config import Configurable

from course.sandbox import DATA_ENV, MODE_ENV, PASSED_ENV, Limits

#: environment variable -> trait, for the overrides
OVERRIDES = {
    MODE_ENV: "sandbox",
    DATA_ENV: "data_dir",
    "COURSE_GRADING_MEMORY_GB": "memory_gb",
    "COURSE_GRADING_TMP_MB": "tmp_mb",
    "COURSE_GRADING_PROCESSES": "processes",
    "COURSE_GRADING_FILE_MB": "file_mb",
    "COURSE_GRADING_CPU_SECONDS": "cpu_seconds",
    "COURSE_GRADING_CPUS": "cpus",
    "COURSE_TRUSTED_MEMORY_GB": "trusted_memory_gb",
}


class GradingEnvironment(Configurable):
    """Settings of the grading kernels (traits; each can be overridden by its environment variable)."""

    sandbox = Unicode("auto", help="Student kernels in the bubblewrap sandbox: auto (where it works), on, off.").tag(
        config=True
    )
    data_dir = Unicode("", help="Read-only data folder of the grading kernels (default: <course root>/data).").tag(
        config=True
    )
    memory_gb = Float(Limits.memory_gb, help="Memory of a student's kernel (address space and cgroup).").tag(
        config=True
    )
    tmp_mb = Integer(Limits.tmp_mb, help="Size of each writable tmpfs of a student's kernel.").tag(config=True)
    processes = Integer(Limits.processes, help="Processes and threads of a student's kernel.").tag(config=True)
    file_mb = Integer(Limits.file_mb, help="Largest file a student's kernel may write.").tag(config=True)
    cpu_seconds = Integer(Limits.cpu_seconds, help="CPU seconds of each process of a student's kernel.").tag(
        config=True
    )
    cpus = Float(Limits.cpus, help="Cores a student's kernel may use at once (cgroup CPU quota, all processes).").tag(
        config=True
    )
    trusted_memory_gb = Float(
        16.0,
        help="Address space of the trusted test kernel (it decodes the student's data; torch alone reserves several "
        "GB of address space, MNIST tests need more).",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for name, trait in OVERRIDES.items():
            value = os.environ.get(name)
            if value not in (None, ""):
                setattr(self, trait, type(getattr(self, trait))(value))

    def sandboxed(self) -> bool:
        from course.sandbox import SandboxError, bwrap_works

        mode = self.sandbox.lower()
        mode = {"0": "off", "no": "off", "false": "off", "1": "on", "yes": "on", "true": "on"}.get(mode, mode)
        if mode == "off":
            return False
        if mode == "on" and not bwrap_works():
            raise SandboxError("Sandbox verlangt, aber bubblewrap (bwrap) fehlt oder funktioniert hier nicht")
        return bwrap_works()

    def limits(self) -> Limits:
        return Limits(
            memory_gb=self.memory_gb,
            tmp_mb=self.tmp_mb,
            processes=self.processes,
            file_mb=self.file_mb,
            cpu_seconds=self.cpu_seconds,
            cpus=self.cpus,
        )

    def data(self) -> Path:
        """The data folder both kernels see (read-only in the sandbox)."""
        if self.data_dir:
            return Path(self.data_dir).resolve()
        from nbgrader.coursedir import CourseDirectory

        return (Path(CourseDirectory(config=self.config).root) / "data").resolve()

    def kernel_env(self) -> dict[str, str]:
        """The environment of a grading kernel: what it needs to run, nothing of the grader's."""
        env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
        env[DATA_ENV] = str(self.data())
        return env
