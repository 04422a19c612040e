"""Run the grading kernel of a submission inside a bubblewrap sandbox.

While a submission is graded, the student's code sees only what it needs: the
system and Python installation (read-only), the course package, the data
folder (read-only) and an empty scratch copy of its working folder.  It cannot
read ``source/`` (solutions, hidden tests), other submissions, the autograded
notebook with the restored hidden tests, or the gradebook; it cannot write
outside its scratch folder and ``/tmp``; it has no network.

How it plugs into nbgrader: the grading worker writes a kernelspec whose
command is ``python -m course.sandbox {connection_file}``; that wrapper runs
outside the sandbox, builds the bubblewrap command line and replaces itself
with ``bwrap ... -- python -m ipykernel_launcher -f {connection_file}``.  The
kernel talks to nbgrader over IPC sockets in a folder bound into the sandbox
(TCP would not cross the separate network namespace); interrupts are sent as
messages.  ``COURSE_SANDBOX=off`` switches it off (for instructors who grade
inside their own containers); ``auto`` (default) uses it when ``bwrap`` works,
``on`` insists on it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

KERNEL_NAME = "nn-kurs-sandbox"
MODE_ENV = "COURSE_SANDBOX"
# Set by the grading worker for the wrapper: the folders the kernel may see.
DATA_ENV = "COURSE_SANDBOX_DATA"
IPC_ENV = "COURSE_SANDBOX_IPC"


class SandboxError(RuntimeError):
    pass


@cache
def bwrap_works() -> bool:
    """True if bubblewrap is installed and can create the namespaces we need here."""
    if not shutil.which("bwrap"):
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--dev", "/dev", "--proc", "/proc", "true"]
    return subprocess.run(probe, capture_output=True).returncode == 0


def enabled() -> bool:
    mode = os.environ.get(MODE_ENV, "auto").lower()
    if mode in {"0", "off", "no", "false"}:
        return False
    if mode in {"1", "on", "yes", "true"}:
        if not bwrap_works():
            raise SandboxError("COURSE_SANDBOX=on, aber bubblewrap (bwrap) fehlt oder funktioniert hier nicht")
        return True
    return bwrap_works()


def prepare(data_dir: Path) -> dict:
    """Set up a sandboxed kernelspec for this grading process; return the nbgrader config to use it.

    Writes the kernelspec into a fresh temporary folder that is put in front of
    ``JUPYTER_PATH``, creates the IPC folder and passes both folders to the
    wrapper through the environment.
    """
    base = Path(tempfile.mkdtemp(prefix="nn-kurs-sandbox-"))
    atexit.register(shutil.rmtree, base, True)  # kernelspec, sockets and the scratch folders go with the worker
    spec_dir = base / "share" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "course.sandbox", "{connection_file}"],
        "display_name": "Python 3 (Bewertung in bubblewrap)",
        "language": "python",
        "interrupt_mode": "message",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ipc = base / "ipc"
    ipc.mkdir()
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(base / "share"), os.environ.get("JUPYTER_PATH")]))
    os.environ[DATA_ENV] = str(data_dir)
    os.environ[IPC_ENV] = str(ipc)
    return {
        "Execute": {"kernel_name": KERNEL_NAME},
        "KernelManager": {"transport": "ipc", "ip": str(ipc / "kernel")},
    }


def _readonly_targets(folder: Path) -> list[Path]:
    """``folder`` and the targets of symbolic links inside it (two levels deep), for read-only binds."""
    paths = [folder.resolve()]
    for path in [*folder.glob("*"), *folder.glob("*/*")]:
        if path.is_symlink():
            paths.append(path.resolve())
    return [p for p in paths if p.exists()]


def bwrap_command(connection_file: str, workdir: Path, scratch: Path) -> list[str]:
    """The bubblewrap command line that runs the kernel with ``workdir`` replaced by ``scratch``."""
    python_home = Path(sys.base_prefix).resolve()
    venv = Path(sys.prefix).resolve()
    package = Path(__file__).resolve().parent
    data = Path(os.environ[DATA_ENV])
    ipc = Path(os.environ[IPC_ENV])
    cmd = ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--cap-drop", "ALL"]
    cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--ro-bind", "/sys", "/sys"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path("/", link).is_symlink():
            cmd += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in dict.fromkeys([python_home, venv, package]):
        cmd += ["--ro-bind", str(path), str(path)]
    for path in _readonly_targets(data):
        cmd += ["--ro-bind", str(path), str(path)]
    cmd += ["--bind", str(ipc), str(ipc), "--ro-bind", connection_file, connection_file]
    cmd += ["--bind", str(scratch), str(workdir), "--chdir", str(workdir)]
    cmd += ["--clearenv", "--setenv", "PATH", f"{venv / 'bin'}:/usr/bin:/bin", "--setenv", "HOME", "/tmp"]
    cmd += ["--setenv", "MPLCONFIGDIR", "/tmp/matplotlib", "--setenv", "COURSE_DATA_DIR", str(data)]
    for name in ("LANG", "LC_ALL", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "OMP_NUM_THREADS"):
        if name in os.environ:
            cmd += ["--setenv", name, os.environ[name]]
    return [*cmd, "--", sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]


def main(argv: list[str]) -> None:
    """Kernel command of the sandboxed kernelspec: ``python -m course.sandbox CONNECTION_FILE``."""
    connection_file = str(Path(argv[0]).resolve())
    workdir = Path.cwd().resolve()
    scratch = Path(tempfile.mkdtemp(prefix="nn-kurs-arbeit-", dir=os.environ[IPC_ENV]))
    for item in workdir.iterdir():  # data files of the assignment, never notebooks (they hold the tests)
        if item.is_file() and item.suffix != ".ipynb":
            shutil.copy(item, scratch / item.name)
    os.execvp("bwrap", bwrap_command(connection_file, workdir, scratch))


if __name__ == "__main__":
    main(sys.argv[1:])
