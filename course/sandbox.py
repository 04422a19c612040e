"""Grading kernels in a bubblewrap sandbox, as an unprivileged user, with limits per submission.

While a submission is graded, the student's code runs in a kernel that:

- runs as a user of its own (never root, never the grader's user): a numeric uid
  that owns nothing on the machine, a fresh one for every kernel;
- lives in its own PID, network, IPC and UTS namespaces: it sees only its own
  processes (no ``/proc/<pid>/root``, ``cwd`` or ``environ`` of the grader), has no
  network, and every process it starts dies with it;
- sees only the system and Python installation, the course package and the data
  folder (all read-only); every place it can write is a size-limited tmpfs (its
  working folder, ``/tmp``, ``/dev/shm`` and, where the grader is root, the folder
  of its sockets); never ``source/``, ``submitted/``, ``autograded/``, the
  gradebook or the configuration;
- cannot create user namespaces (a nested bubblewrap with ``--disable-userns``), so
  no ``unshare -Urm`` mounts a tmpfs beyond these limits;
- starts with an empty environment (no secrets of the grader);
- is limited in memory (address space per process, and a memory cgroup for the
  whole sandbox, tmpfs included, where the machine offers one), number of
  processes, file size, open files, CPU time per process and, with a cpu cgroup,
  the cores of the whole sandbox.

How it plugs into nbgrader: :class:`course.sandbox_kernel.SandboxKernelManager` is the kernel manager of
:class:`course.preprocessors.SafeExecute`, so ``nbgrader autograde``, the
Formgrader and ``python -m course grade`` all get it from ``nbgrader_config.py``.
Its kernel command is ``python -m course.sandbox RUNTIME CONNECTION_FILE``: that
wrapper runs outside the sandbox, prepares the runtime folder, limits and cgroup,
and replaces itself with ``bwrap ... -- setpriv ... python -m ipykernel_launcher``.
The kernel talks over IPC sockets in the runtime folder (TCP would not cross the
network namespace); interrupts are messages.

Mode, limits, data folder and environment are decided by
:class:`course.grading_environment.GradingEnvironment` (traits in ``nbgrader_config.py``,
environment variables override): the kernel manager writes them into the runtime
folder (:func:`write_settings`), the wrapper reads them from there, never from the
folder it grades in.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

MODE_ENV = "COURSE_SANDBOX"
DATA_ENV = "COURSE_DATA_DIR"
#: Environment variables a grading kernel may see (their values are not secrets).
PASSED_ENV = ("LANG", "LC_ALL", "NBGRADER_EXECUTION", "NBGRADER_VALIDATING", "OMP_NUM_THREADS")
SETTINGS_FILE = "settings.json"  # in the runtime folder: limits, data folder and environment of the kernel
SOCKETS_TMPFS_KB = 1024  # the sockets' folder as a tmpfs of its own (where the grader is root)
#: The kernel's uid is drawn from this range (owners of nothing, one per kernel).
UID_BASE, UID_COUNT = 610_000, 100_000
CGROUP_FILE = "cgroups.json"
SOCKETS_FILE = "sockets"  # in the runtime folder: where the grader connects (the relay's IPC sockets)
KERNEL_SOCKETS_FILE = "kernel-sockets"  # in the runtime folder: where the kernel binds, inside the sandbox
#: A socket's path may have 107 bytes at most: the sockets get a short folder of their own.
MAX_SOCKET_BASE = 40


class SandboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class Limits:
    """Limits of one grading kernel (set through :class:`course.grading_environment.GradingEnvironment`)."""

    memory_gb: float = 6.0  # address space per process and the cgroup's memory
    tmp_mb: int = 512  # size of each tmpfs of the kernel (/tmp, /dev/shm, working folder; counts towards memory)
    processes: int = 256  # processes and threads
    file_mb: int = 256  # largest file the kernel may write
    cpu_seconds: int = 1800  # CPU time of each process
    cpus: float = 1.0  # cores of the whole sandbox at once (cpu cgroup), 0: no quota
    open_files: int = 1024

    def rlimits(self) -> dict[int, int]:
        limits = {
            resource.RLIMIT_NPROC: self.processes,
            resource.RLIMIT_FSIZE: self.file_mb * 1024**2,
            resource.RLIMIT_CPU: self.cpu_seconds,
            resource.RLIMIT_NOFILE: self.open_files,
            resource.RLIMIT_CORE: 0,
        }
        if self.memory_gb > 0:
            limits[resource.RLIMIT_AS] = int(self.memory_gb * 1024**3)
        return limits


# --------------------------------------------------------------------------- when to use it


@cache
def bwrap_works() -> bool:
    """True if bubblewrap is installed and can create the namespaces we need here."""
    if not shutil.which("bwrap"):
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--dev", "/dev", "--proc", "/proc"]
    if os.geteuid() != 0:
        probe.append("--unshare-user")
    return subprocess.run([*probe, "true"], capture_output=True).returncode == 0


# --------------------------------------------------------------------------- runtime folders


def make_runtime() -> Path:
    """A kernel's runtime folder (in ``$TMPDIR``) and its sockets' folders (short, also when ``$TMPDIR`` is long):
    the one the grader connects to, and the one inside the sandbox, where the kernel binds (the relay between)."""
    runtime = Path(tempfile.mkdtemp(prefix="nn-kurs-kernel-"))
    base = tempfile.gettempdir()
    base = base if len(base) <= MAX_SOCKET_BASE else "/tmp"
    for record in (SOCKETS_FILE, KERNEL_SOCKETS_FILE):
        (runtime / record).write_text(tempfile.mkdtemp(prefix="nnk-", dir=base))
    return runtime


def sockets_folder(runtime: Path) -> Path:
    """Where the grader (and the trusted test kernel) connect: the relay's sockets, never seen by the kernel."""
    return Path((runtime / SOCKETS_FILE).read_text())


def kernel_sockets_folder(runtime: Path) -> Path:
    """Where the sandboxed kernel binds its sockets (bound into the sandbox)."""
    return Path((runtime / KERNEL_SOCKETS_FILE).read_text())


def write_settings(runtime: Path, limits: Limits, data: Path, env: dict[str, str]) -> None:
    """What the wrapper needs to start the kernel, written by the kernel manager (the grader's own folder)."""
    settings = {"limits": asdict(limits), "data": str(data), "env": dict(env)}
    (runtime / SETTINGS_FILE).write_text(json.dumps(settings))


def read_settings(runtime: Path) -> tuple[Limits, Path, dict[str, str]]:
    settings = json.loads((runtime / SETTINGS_FILE).read_text())
    return Limits(**settings["limits"]), Path(settings["data"]), dict(settings["env"])


def remove_runtime(runtime: Path) -> None:
    """Remove a kernel's cgroups (killing what is left in them), its sockets' folder and its runtime folder."""
    remove_cgroups(runtime / CGROUP_FILE)
    for record in (SOCKETS_FILE, KERNEL_SOCKETS_FILE):
        try:
            sockets = Path((runtime / record).read_text())
        except OSError:
            continue
        if os.path.ismount(sockets):
            subprocess.run(["umount", "-l", str(sockets)], capture_output=True)
        shutil.rmtree(sockets, ignore_errors=True)
    shutil.rmtree(runtime, ignore_errors=True)


# --------------------------------------------------------------------------- cgroups (where available)


CONTROLLERS = ("memory", "pids", "cpu")


def _cgroup_parents() -> dict[str, Path]:
    """Writable cgroup folders of this process for the ``memory``, ``pids`` and ``cpu`` controllers (v1 or v2)."""
    found: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return found
    unified = next((m[1] for m in mounts if len(m) > 2 and m[2] == "cgroup2"), None)
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller in CONTROLLERS:
                found[controller] = Path("/sys/fs/cgroup", controllers, path.lstrip("/"))
        if controllers == "" and unified:  # cgroup v2
            base = Path(unified, path.lstrip("/"))
            try:
                active = (base / "cgroup.subtree_control").read_text().split()
            except OSError:
                active = []
            for controller in CONTROLLERS:
                if controller in active:
                    found.setdefault(controller, base)
    return {c: p for c, p in found.items() if p.is_dir() and os.access(p, os.W_OK)}


def enter_cgroups(limits: Limits, name: str) -> list[str]:
    """Put this process into new memory and pids cgroups with the limits; return their paths."""
    made = []
    for controller, parent in _cgroup_parents().items():
        group = parent / name
        try:
            group.mkdir()
            if controller == "memory":
                limit = str(int(limits.memory_gb * 1024**3))
                for knob in ("memory.limit_in_bytes", "memory.max"):
                    if (group / knob).exists():
                        (group / knob).write_text(limit)
                if (group / "memory.swap.max").exists():
                    (group / "memory.swap.max").write_text("0")
            elif controller == "pids":
                (group / "pids.max").write_text(str(limits.processes))
            elif limits.cpus > 0:  # a quota per 100 ms period for all processes of the sandbox together
                quota = str(int(limits.cpus * 100_000))
                if (group / "cpu.max").exists():
                    (group / "cpu.max").write_text(f"{quota} 100000")
                else:
                    (group / "cpu.cfs_period_us").write_text("100000")
                    (group / "cpu.cfs_quota_us").write_text(quota)
            (group / "cgroup.procs").write_text(str(os.getpid()))
            made.append(str(group))
        except OSError:
            try:
                group.rmdir()
            except OSError:
                pass
    return made


def remove_cgroups(record: Path) -> None:
    """Kill whatever is left in the kernel's cgroups and remove them."""
    try:
        groups = json.loads(record.read_text())
    except (OSError, ValueError):
        return
    for group in map(Path, groups):
        for _ in range(50):
            try:
                pids = (group / "cgroup.procs").read_text().split()
            except OSError:
                break
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
            try:
                group.rmdir()
                break
            except OSError:
                import time

                time.sleep(0.05)


# --------------------------------------------------------------------------- the wrapper


def _readonly_targets(folder: Path) -> list[tuple[Path, Path]]:
    """``(source, place)`` read-only binds: ``folder`` and the targets of symbolic links inside it (two levels
    deep).  A link's target is also bound where the link literally points, so a chain of links (a target below
    another link, such as ``../shared`` being a link itself) still leads somewhere inside the sandbox."""
    resolved = folder.resolve()
    binds = [(resolved, resolved)]
    for path in [*folder.glob("*"), *folder.glob("*/*")]:
        if path.is_symlink() and path.exists():
            target = path.resolve()
            literal = Path(os.path.normpath(path.parent / os.readlink(path)))
            binds += [(target, target)] + ([(target, literal)] if literal != target else [])
    return list(dict.fromkeys(binds))  # the caller checked that ``folder`` exists; each link target exists


def other_site_packages(*inside: Path) -> list[Path]:
    """Package folders on ``sys.path`` outside ``inside`` (e.g. ``PYTHONPATH``, user site): only ``site-packages``
    and ``dist-packages`` folders, never an arbitrary folder (a course checkout would expose the solutions)."""
    found = []
    for entry in sys.path:
        path = Path(entry).resolve() if entry else None
        if path is None or path.name not in {"site-packages", "dist-packages"} or not path.is_dir():
            continue
        if not any(path == base or base in path.parents for base in inside):
            found.append(path)
    return list(dict.fromkeys(found))


def python_paths() -> tuple[Path, Path, Path]:
    """(resolved Python installation, resolved virtual environment, its python) for the sandbox."""
    venv = Path(sys.prefix).resolve()
    python = venv / "bin" / Path(sys.executable).name
    if not python.exists():
        python = Path(sys.executable).resolve()
    return Path(sys.base_prefix).resolve(), venv, python


def _filesystem(limits: Limits, data: Path, writable: list[tuple[str, Path | None, Path]]) -> list[str]:
    """bubblewrap's arguments for the file system of a grading kernel: the system, Python, the course package and
    ``data`` read-only, tmpfs for ``/tmp`` and ``/dev/shm``, then ``writable`` (``("--bind", source, path)`` or
    ``("--tmpfs", None, path)``), mounted last so that nothing hides them."""
    python_home, venv, _python = python_paths()
    package = Path(__file__).resolve().parent
    cmd = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if Path("/", link).is_symlink():
            cmd += ["--symlink", os.readlink(Path("/", link)), f"/{link}"]
    cmd += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    tmpfs = ["--perms", "1777", "--size", str(limits.tmp_mb * 1024**2), "--tmpfs"]
    cmd += [*tmpfs, "/tmp", *tmpfs, "/dev/shm"]  # /dev/shm: DataLoader workers share tensors there
    extra_sites = other_site_packages(python_home, venv)
    binds = [("--ro-bind", path, path) for path in dict.fromkeys([python_home, venv, package, *extra_sites])]
    if data.exists():
        binds += [("--ro-bind", source, place) for source, place in _readonly_targets(data)]
    mounted = [Path(p) for p in ("/usr", "/etc", "/proc", "/dev", "/sys", "/tmp")]
    made: set[Path] = set()
    for kind, source, path in [*binds, *writable]:
        # bubblewrap would create missing parent folders with the host's modes (/root is 0700):
        # create them readable for the kernel's user first
        for parent in reversed(path.parents):
            inside_mount = any(parent == m or m in parent.parents for m in mounted)
            if parent != Path("/") and parent not in made and (not inside_mount or Path("/tmp") in parent.parents):
                cmd += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        cmd += [kind, str(source), str(path)] if source is not None else [*tmpfs, str(path)]
        mounted.append(path)
    return cmd


def _environment(data: Path, env: dict[str, str] | None) -> list[str]:
    """``--clearenv`` and the environment of a grading kernel: what Python needs, the course's variables."""
    python_home, venv, _python = python_paths()
    package = Path(__file__).resolve().parent
    extra_sites = other_site_packages(python_home, venv)
    chosen = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib"}
    # the grader's course package (also outside an editable install) and packages installed outside the venv
    chosen["PYTHONPATH"] = os.pathsep.join([str(package.parent), *map(str, extra_sites)])
    if list((python_home / "lib").glob("libpython*.so*")):  # a relocated interpreter (the hub's copy): its own
        chosen["LD_LIBRARY_PATH"] = str(python_home / "lib")  # libpython, never the system's of another version
    chosen.update({name: value for name, value in (env or {}).items() if name in (*PASSED_ENV, DATA_ENV)})
    chosen[DATA_ENV] = str(data)
    # ipykernel's "has a parent" without its parent poller (pid 1 is bubblewrap's --die-with-parent job); without
    # it the kernel prints its Ctrl-C note on the grader's stdout (`course grade` prints only its summary there)
    chosen["JPY_PARENT_PID"] = "1"
    return ["--clearenv"] + [arg for name, value in chosen.items() for arg in ("--setenv", name, value)]


NAMESPACES = ["--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]


def bwrap_command(
    runtime: Path,
    connection_file: Path,
    workdir: Path,
    uid: int,
    limits: Limits,
    data: Path = Path("/nonexistent"),
    env: dict[str, str] | None = None,
) -> list[str]:
    """The bubblewrap command line that runs the student's kernel as ``uid`` in ``workdir`` (an empty tmpfs), with
    the read-only ``data`` folder and the environment ``env`` (plus what Python needs)."""
    _home, _venv, python = python_paths()
    ipc = kernel_sockets_folder(runtime) if (runtime / KERNEL_SOCKETS_FILE).exists() else sockets_folder(runtime)
    root = os.geteuid() == 0
    cmd = ["bwrap", *NAMESPACES, "--unshare-cgroup-try", "--hostname", "bewertung"]
    if root:  # bwrap keeps only what setpriv needs to become the kernel's user; that user has no capabilities
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:  # an unprivileged grader: a user namespace maps the kernel's uid onto the grader's
        cmd += ["--unshare-user", "--disable-userns", "--uid", str(uid), "--gid", str(uid), "--cap-drop", "ALL"]
    # the working folder is a tmpfs (a host folder would have no quota); the sockets' folder last
    cmd += _filesystem(limits, data, [("--tmpfs", None, workdir), ("--bind", ipc, ipc)])
    cmd += ["--chdir", str(workdir), *_environment(data, env), "--"]
    if root:
        cmd += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--inh-caps=-all"]
        # as the kernel's user, a user namespace of its own in which no further one can be made
        cmd += ["bwrap", "--die-with-parent", "--unshare-user", "--disable-userns", "--dev-bind", "/", "/", "--"]
    return [*cmd, str(python), "-m", "ipykernel_launcher", "-f", str(connection_file)]


def trusted_bwrap_command(
    workdir: Path, sockets: list[Path], limits: Limits, data: Path, env: dict[str, str]
) -> list[str]:
    """bubblewrap around the trusted test kernel (defence in depth: it runs only the course's tests, but decodes
    what the student's kernel sends): the same read-only file system, no network, its own PID namespace, no
    capabilities; writable only its tmpfs and the ``sockets`` folders (its own and the relay's, which belong to the
    grader's user, as this kernel does)."""
    cmd = ["bwrap", *NAMESPACES, "--hostname", "tests"]
    if os.geteuid() == 0:
        cmd += ["--cap-drop", "ALL"]
    else:
        cmd += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    writable = [("--tmpfs", None, workdir), *(("--bind", folder, folder) for folder in sockets)]
    cmd += _filesystem(limits, data, writable)
    return [*cmd, "--chdir", str(workdir), *_environment(data, env), "--"]


def main(argv: list[str]) -> None:
    """Kernel command of the sandbox: ``python -m course.sandbox RUNTIME CONNECTION_FILE``.

    Starts the kernel in bubblewrap (a child process) and stays as the relay between its sockets and the
    connection file's (:mod:`course.sandbox_relay`)."""
    runtime, connection_file = Path(argv[0]), Path(argv[1]).resolve()
    workdir = Path.cwd().resolve()  # only a place: the kernel gets an empty tmpfs there
    limits, data, env = read_settings(runtime)
    uid = UID_BASE + secrets.randbelow(UID_COUNT)
    ipc = kernel_sockets_folder(runtime)
    if os.geteuid() == 0:  # the sockets' folder, the one host folder the kernel writes to, as a small tmpfs
        options = f"size={SOCKETS_TMPFS_KB}k,mode=0700,uid={uid},gid={uid},nodev,nosuid,noexec"
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "nn-kurs-sockets", str(ipc)], capture_output=True)
    outside = json.loads(connection_file.read_text())
    inside = {**outside, "ip": str(ipc / "kernel")}
    # the kernel's own connection file, in the folder of its sockets
    kernel_file = ipc / "kernel.json"
    kernel_file.write_text(json.dumps(inside))
    if os.geteuid() == 0:
        for path in (ipc, kernel_file):
            os.chown(path, uid, uid)
    # what the kernel and the relay print goes nowhere (never into the grader's terminal or log)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    command = bwrap_command(runtime, kernel_file, workdir, uid, limits, data=data, env=env)
    kernel = os.fork()
    if kernel == 0:  # the kernel: cgroups and limits of the sandbox (the relay stays outside them)
        groups = enter_cgroups(limits, runtime.name)
        (runtime / CGROUP_FILE).write_text(json.dumps(groups))
        for kind, value in limits.rlimits().items():
            resource.setrlimit(kind, (value, value))
        # bubblewrap itself starts with an empty environment too: nothing of the grader's (secrets included)
        # is in any process of the sandbox, not even in /proc/1/environ of bubblewrap's own init
        os.execvpe("bwrap", command, {"PATH": "/usr/bin:/bin"})
    from course.sandbox_relay import serve

    sys.exit(serve(outside, inside, kernel))


if __name__ == "__main__":
    main(sys.argv[1:])
