"""The course's JupyterHub: accounts, folders, the course directory of the instructors, the spawner.

Used by ``jupyterhub_config.py`` (the hub) and, as a script, by ``make hub``::

    python deploy/kurs_hub.py setup   # as root: unix accounts, folders, course, released assignments
    python deploy/kurs_hub.py start   # setup, then run the hub in the foreground
    python deploy/kurs_hub.py konto NAME   # as root: a student's login (unix account), known after a restart

Everything the hub writes lives under ``$NNKURS_HUB_DIR`` (default ``/srv/nn-kurs``): the hub's
database and secrets (``hub/``), nbgrader's exchange (``exchange/``), the shared read-only data
(``daten/``) and the home folders of the demo accounts (``home/<name>``). The users' Python
environment is shared by all hubs of a checkout on the machine: ``/var/cache/nn-kurs``.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parent
#: The checkout's environment (root's: its Python may live in a folder other users cannot enter).
VENV = REPO / ".venv"
#: Where `make hub` keeps a copy of the checkout's Python when other users may not run the original.
PYTHON_CACHE = Path(os.environ.get("NNKURS_HUB_PYTHON_CACHE", "/var/cache/nn-kurs"))
PYVER = f"python{sys.version_info.major}.{sys.version_info.minor}"

COURSE_ID = "nn-kurs"
#: Demo accounts (real unix users, password below); hub groups are named as in nbgrader's docs.
STUDENTS = ("anna", "ben")
#: Names in the gradebook (the Formgrader lists students by name).
NAMES = {"anna": ("Anna", "Adler"), "ben": ("Ben", "Berger")}
INSTRUCTORS = ("lehrende",)
GROUPS = {"students": STUDENTS, "instructors": INSTRUCTORS}
#: Password of every demo account (a local demo only: real courses log in through LTI or OAuth).
DEMO_PASSWORD = os.environ.get("NNKURS_HUB_PASSWORD", "nn-kurs-demo")
#: The instructors' course directory inside their home folder.
COURSE_FOLDER = "nn-kurs"
#: What `setup` releases to the students (all assignments of the course by default).
ALL_ASSIGNMENTS = tuple(sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir()))

#: Per-user limits. KubeSpawner and SystemdSpawner enforce Spawner.mem_limit/cpu_limit themselves;
#: the local demo enforces them with a cgroup per user where the kernel offers one (`KursSpawner`).
MEM_LIMIT = os.environ.get("NNKURS_HUB_MEM_LIMIT", "4G")
CPU_LIMIT = float(os.environ.get("NNKURS_HUB_CPU_LIMIT", "1.0"))
#: Idle culler: stop servers without activity for this many seconds.
CULL_TIMEOUT = int(os.environ.get("NNKURS_HUB_CULL_TIMEOUT", "3600"))

#: Paths in the repository that no student may read (solutions, hidden tests, grades, history).
#: Students need .venv/ and course/ of the checkout (the local demo runs their servers from it).
PRIVATE_IN_REPO = (
    "source",
    "tests",
    ".git",
    "submitted",
    "autograded",
    "feedback",
    "gradebook.db",
    "gradebook.db-journal",
    ".bewertung",
    "reports",
    "grades.csv",
    "grades_aufgaben.csv",
    "benchmarks",
)


def hub_dir() -> Path:
    return Path(os.environ.get("NNKURS_HUB_DIR", "/srv/nn-kurs"))


def accounts_file() -> Path:
    """Logins added after `setup` with `kurs_hub.py konto NAME` (one per line), students of the next hub start."""
    return hub_dir() / "hub" / "weitere_konten.txt"


def extra_students() -> list[str]:
    path = accounts_file()
    if not path.is_file():
        return []
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def all_students() -> list[str]:
    return [*STUDENTS, *(s for s in extra_students() if s not in STUDENTS)]


def add_account(user: str) -> None:
    """A student's login on the demo hub: unix account with the demo password; listed for the hub's next start."""
    import re

    if os.geteuid() != 0:
        sys.exit("kurs_hub: ein Konto anlegen geht nur als root (sudo).")
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,30}", user) or user in INSTRUCTORS:
        sys.exit(f"kurs_hub: ungültiger Kontoname {user!r} (Kleinbuchstaben, Ziffern, _ und -)")
    _ensure_user(user, fresh=False)
    if user not in all_students():
        path = accounts_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.write(user + "\n")
    print(
        f"Konto {user} angelegt (Passwort wie die Demo-Konten). Der Hub kennt es nach seinem nächsten Start "
        f"(Strg+C, dann `sudo make hub`)."
    )


def home(user: str) -> Path:
    return hub_dir() / "home" / user


def course_dir() -> Path:
    """The instructors' course directory (shared by all instructors of the demo: the first one owns it)."""
    return home(INSTRUCTORS[0]) / COURSE_FOLDER


def exchange_dir() -> Path:
    return hub_dir() / "exchange"


def data_dir() -> Path:
    return hub_dir() / "daten"


def user_env() -> Path:
    """The users' environment: a venv of the checkout's Python with the checkout's packages (see `_user_env`).

    One per checkout and machine, next to the copy of the Python: every hub of this checkout shares it.
    """
    return PYTHON_CACHE / f"umgebung-{_checkout_id()}"


def _checkout_id() -> str:
    import hashlib

    return hashlib.sha256(str(VENV).encode()).hexdigest()[:12]


def user_bin() -> Path:
    return user_env() / "bin"


def role_environment(groups: set[str]) -> dict[str, str]:
    """What differs between the servers of students and instructors: their Jupyter configuration."""
    env = {"JUPYTER_CONFIG_PATH": jupyter_config_path(groups)}
    if "instructors" in groups:
        env["JUPYTER_PATH"] = str(DEPLOY / "jupyter-data")  # the Formgrader's MathJax template
        env["NNKURS_KURSORDNER"] = str(course_dir())  # a terminal opened in the home folder starts there
    return env


#: Where `setup` writes the login shells' snippet (Debian's /etc/profile sources /etc/profile.d/*.sh).
PROFILE = Path(os.environ.get("NNKURS_HUB_PROFILE", "/etc/profile.d/nn-kurs.sh"))

#: JupyterLab's terminal is a login shell (`bash -l`): Debian's /etc/profile sets PATH anew, without the
#: course's environment. This snippet puts it back first, only in shells of a hub server (the spawner sets
#: NNKURS_USER_BIN), and starts an instructor's terminal in the course folder.
PROFILE_SNIPPET = """\
# nn-kurs (written by deploy/kurs_hub.py setup): the course's environment in the login shells of the
# course's JupyterHub servers (JupyterLab's terminal), after /etc/profile has set PATH anew.
if [ -n "${NNKURS_USER_BIN:-}" ] && [ -d "$NNKURS_USER_BIN" ]; then
  case ":$PATH:" in
    *":$NNKURS_USER_BIN:"*) ;;
    *) PATH="$NNKURS_USER_BIN:$PATH"; export PATH ;;
  esac
fi
if [ -n "${NNKURS_KURSORDNER:-}" ] && [ "$PWD" = "$HOME" ] && [ -d "$NNKURS_KURSORDNER" ]; then
  cd "$NNKURS_KURSORDNER" || true
fi
"""


def write_profile(path: Path = PROFILE) -> Path:
    """The login shells' snippet (`PROFILE_SNIPPET`), readable by everyone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PROFILE_SNIPPET)
    path.chmod(0o644)
    return path


def jupyter_config_path(groups: set[str]) -> str:
    """JUPYTER_CONFIG_PATH of a user's server: the group's folder first, then the common one."""
    role = "lehrende" if "instructors" in groups else "studierende"
    return os.pathsep.join(str(DEPLOY / "jupyter" / d) for d in (role, "alle"))


def user_python_home() -> Path:
    """Prefix of the Python that the users' servers run: the checkout's own, or a copy others may run."""
    base = Path(sys.base_prefix)
    return base if _world_executable(base / "bin" / PYVER) else PYTHON_CACHE / f"python-{sys.version.split()[0]}"


def _world_executable(path: Path) -> bool:
    path = path.resolve()
    if not path.is_file() or not path.stat().st_mode & 0o001:
        return False
    return all(p.stat().st_mode & 0o001 for p in path.parents)


def user_environment() -> dict[str, str]:
    """Environment of every single-user server (and so of its kernels)."""
    return {
        "LD_LIBRARY_PATH": str(user_python_home() / "lib"),
        "PATH": f"{user_bin()}:/usr/local/bin:/usr/bin:/bin",
        "NNKURS_USER_BIN": str(user_bin()),  # PATH again in login shells (PROFILE_SNIPPET)
        "COURSE_DATA_DIR": str(data_dir()),
        "NNKURS_EXCHANGE": str(exchange_dir()),
        "NNKURS_COURSE_DIR": str(course_dir()),
        "NNKURS_LAB_SETTINGS": str(DEPLOY / "jupyter" / "lab-settings"),
        "LANG": "de_DE.UTF-8" if _has_locale("de_DE.utf8") else "C.UTF-8",
    }


#: Name of the grading-on-submit service (course/service.py): /services/bewertung/ on the hub.
GRADING_SERVICE = "bewertung"


def grading_service(port: int) -> dict:
    """JupyterHub service that grades new submissions of the assignments the instructors switched on.

    It runs as the first instructor (the owner of the course folder) with the users' environment, reads
    nbgrader's exchange and the course folder's `bewertung_bei_abgabe.json` (missing: nothing is graded on
    submit) and serves every student's status page at /services/bewertung/.
    """
    owner = INSTRUCTORS[0]
    env = {
        **user_environment(),
        "HOME": str(home(owner)),
        "USER": owner,
        "LOGNAME": owner,
        **role_environment({"instructors"}),
    }
    return {
        "name": GRADING_SERVICE,
        "url": f"http://127.0.0.1:{port}",
        "command": [
            str(user_bin() / "python"),
            "-m",
            "course.service",
            "--root",
            str(course_dir()),
            "--exchange",
            str(exchange_dir()),
        ],
        "user": owner,
        "cwd": str(course_dir()),
        "environment": env,
        "oauth_no_confirm": True,
        "display": True,
    }


def _has_locale(name: str) -> bool:
    try:
        out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return False
    return name.lower() in out.lower().split()


# ------------------------------------------------------------------------------------------- spawner


def _parse_bytes(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper()
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def _own_cgroup(controller: str) -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path.lstrip("/")
    return ""


def cgroup_limits(name: str, mem_bytes: int, cpus: float) -> list[Path]:
    """Create the cgroup(s) of one user's server with memory and CPU limits; [] where the kernel offers none.

    cgroup v2 (one hierarchy) or v1 (memory and cpu controllers mounted separately). The returned
    files are the `cgroup.procs` the server's process writes itself into before it drops root.
    """
    root = Path("/sys/fs/cgroup")
    procs = []
    try:
        if (root / "cgroup.controllers").exists():  # v2
            parent = root / "nn-kurs"
            parent.mkdir(exist_ok=True)
            (parent / "cgroup.subtree_control").write_text("+memory +cpu")
            group = parent / name
            group.mkdir(exist_ok=True)
            (group / "memory.max").write_text(str(mem_bytes))
            (group / "cpu.max").write_text(f"{int(cpus * 100_000)} 100000")
            procs.append(group / "cgroup.procs")
        else:  # v1, below the cgroup this hub runs in
            mem = root / "memory" / _own_cgroup("memory") / "nn-kurs" / name
            mem.mkdir(parents=True, exist_ok=True)
            (mem / "memory.limit_in_bytes").write_text(str(mem_bytes))
            procs.append(mem / "cgroup.procs")
            cpu = root / "cpu" / _own_cgroup("cpu") / "nn-kurs" / name
            cpu.mkdir(parents=True, exist_ok=True)
            (cpu / "cpu.cfs_period_us").write_text("100000")
            (cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * 100_000)))
            procs.append(cpu / "cgroup.procs")
    except OSError:
        return []
    return procs


def make_spawner_class():
    """LocalProcessSpawner that enforces Spawner.mem_limit and cpu_limit with a cgroup per user."""
    from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid

    class KursSpawner(LocalProcessSpawner):
        """The server's home is this hub's folder of the user (`home`), not the account's entry in /etc/passwd:
        the accounts are the machine's, and another hub's `setup` (another state folder) points them elsewhere."""

        def user_env(self, env):
            env = super().user_env(env)
            env["HOME"] = str(home(self.user.name))  # the server's root folder (notebook_dir "~"), nbgrader's ~
            return env

        def make_preexec_fn(self, name):
            demote = set_user_setuid(name, chdir=False)
            folder = str(home(name))
            procs = []
            if self.mem_limit or self.cpu_limit:
                procs = cgroup_limits(name, self.mem_limit or (1 << 62), self.cpu_limit or os.cpu_count())
                if not procs:
                    self.log.warning("Keine cgroups: Speicher- und CPU-Grenze für %s nicht durchgesetzt", name)

            def preexec():
                for f in procs:
                    with open(f, "w") as fh:
                        fh.write("0")
                demote()
                os.chdir(folder)  # start in the user's home folder of this hub

            return preexec

    return KursSpawner


# --------------------------------------------------------------------------------------------- setup


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def _as_user(user: str, cmd: list[str], cwd: Path) -> None:
    """Run a command as `user` with the environment of that user's server."""
    groups = {g for g, members in GROUPS.items() if user in members}
    env = {**user_environment(), "HOME": str(home(user)), "USER": user, "LOGNAME": user, **role_environment(groups)}
    _run(
        ["runuser", "-u", user, "--", "env", "-i", *[f"{k}={v}" for k, v in env.items()], *cmd],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
    )


def _ensure_user(user: str, fresh: bool) -> None:
    folder = home(user)
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        _run(["useradd", "--no-create-home", "--home-dir", str(folder), "--shell", "/bin/bash", "--user-group", user])
        entry = pwd.getpwnam(user)
    else:
        if entry.pw_dir != str(folder):
            _run(["usermod", "--home", str(folder), user])
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    os.chown(folder, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o700)  # nobody else reads a student's folder
    _run(["chpasswd"], input=f"{user}:{DEMO_PASSWORD}\n".encode())


def _protect_repository() -> None:
    """Solutions, hidden tests and grades in the checkout: readable by root only (the demo's users can reach it)."""
    for name in PRIVATE_IN_REPO:
        path = REPO / name
        if path.exists() and not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o700)


def _check_reachable(user: str) -> None:
    """Every user's server runs this checkout's environment: stop early with a clear message if they can't."""
    python = user_bin() / "python"
    check = "import course, soupsieve; soupsieve.compile('img')  # soupsieve: see _user_python"
    probe = subprocess.run(
        ["runuser", "-u", user, "--", "env", f"LD_LIBRARY_PATH={user_python_home() / 'lib'}", str(python), "-c", check],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        sys.exit(
            f"kurs_hub: {user} kann die Kursumgebung {python} nicht ausführen (Rechte der Ordner "
            f"darüber?): {probe.stderr.strip().splitlines()[-1:] or ''}"
        )


def _user_python() -> Path:
    """The checkout's Python for everyone: itself if others may run it, else a copy (interpreter, libpython, stdlib).

    The same interpreter as the tests and `course grade` use, not the system's Python: Debian's 3.11.2, for
    one, mis-compiles soupsieve's selectors, so nbconvert's HTML export (the Formgrader, feedback) fails.
    """
    home = user_python_home()
    python = home / "bin" / PYVER
    if home == Path(sys.base_prefix) or (home / ".vollstaendig").exists():
        return python
    base = Path(sys.base_prefix)
    if home.exists():
        shutil.rmtree(home)
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    shutil.copy2(base / "bin" / PYVER, python)
    for lib in (base / "lib").glob("libpython*.so*"):
        shutil.copy2(lib, home / "lib" / lib.name, follow_symlinks=False)
    shutil.copytree(
        base / "lib" / PYVER,
        home / "lib" / PYVER,
        symlinks=True,
        ignore=lambda d, names: [
            n for n in names if d == str(base / "lib" / PYVER) and n in {"site-packages", "test", "idlelib", "tkinter"}
        ],
    )
    (home / "lib" / PYVER / "site-packages").mkdir()
    for path in (PYTHON_CACHE, home, *home.rglob("*")):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    (home / ".vollstaendig").touch()
    return python


def _user_env() -> None:
    """A venv of the checkout's Python (`_user_python`) with the checkout's packages, for the users' servers.

    Its site-packages is a tree of hard links to the checkout's (no copy of the data: seconds, no disk),
    so the environment is complete in itself: the grading sandbox mounts exactly sys.prefix and the Python
    installation. It shares share/ and etc/ of the checkout's .venv (JupyterLab, extensions, server
    configuration) and carries copies of its scripts with this venv's interpreter in the #! line.

    Two set-ups at once (two hubs of one checkout, two test modules) build it one after the other (a file lock);
    the stamp goes before a rebuild starts, so a build that was interrupted is never taken for a finished one.
    """
    import fcntl

    PYTHON_CACHE.mkdir(parents=True, exist_ok=True)
    with open(PYTHON_CACHE / f"{user_env().name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build_user_env()


def _build_user_env() -> None:
    env = user_env()
    site = env / "lib" / PYVER / "site-packages"
    source = VENV / "lib" / PYVER / "site-packages"
    python = _user_python()
    # rebuilt when the checkout's packages change (installs touch site-packages and .venv/.installed)
    installed = VENV / ".installed"
    stamp = f"{source.stat().st_mtime_ns} {installed.stat().st_mtime_ns if installed.exists() else 0}"
    if (env / ".stand").exists() and (env / ".stand").read_text() == stamp:
        return
    (env / ".stand").unlink(missing_ok=True)
    if not (env / "bin" / "python").exists():
        _run([str(python), "-m", "venv", "--without-pip", str(env)], env={**os.environ, **user_environment()})
    if site.exists():
        shutil.rmtree(site)
    _run(["cp", "-al", str(source), str(site)])
    # Like course/worker.py: without rfc3987_syntax, jsonschema skips compiling a URI grammar that
    # nobody here checks (seconds per server start and per nbgrader command on 2 cores).
    # (a new file in the new folder: the hard-linked files themselves are never written)
    (site / "zz_nn_kurs.pth").write_text("import sys; sys.modules.setdefault('rfc3987_syntax', None)\n")
    for name in ("share", "etc"):
        link = env / name
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link)
            link.symlink_to(VENV / name)
    shebang = f"#!{VENV / 'bin'}/python".encode()
    for script in (VENV / "bin").iterdir():
        if script.is_file() and not script.is_symlink() and script.name not in {"python", "python3"}:
            head = script.read_bytes()
            if head.startswith(shebang):
                _, _, rest = head.partition(b"\n")
                target = env / "bin" / script.name
                target.write_bytes(f"#!{env / 'bin' / 'python'}".encode() + b"\n" + rest)
                target.chmod(0o755)
    for path in (env, env / "bin", *(env / "bin").iterdir(), env / "lib", env / "lib" / PYVER):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    (env / ".stand").write_text(stamp)


def _shared_data() -> None:
    """Read-only data for everyone (COURSE_DATA_DIR): the 1-D data set and MNIST, downloaded nobody's twice."""
    target = data_dir()
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted((REPO / "data").glob("*.pt")):
        shutil.copy2(f, target / f.name)
    mnist = REPO / "data" / "MNIST" / "raw"
    if mnist.is_dir() and not (target / "MNIST" / "raw").is_dir():
        shutil.copytree(mnist.resolve(), target / "MNIST" / "raw")
    for path in (target, *target.rglob("*")):
        os.chown(path, 0, 0)
        path.chmod(0o755 if path.is_dir() else 0o644)


def _course(assignments: tuple[str, ...]) -> None:
    """The instructors' course directory: the course's nbgrader_config.py and source/, released assignments."""
    owner = INSTRUCTORS[0]
    entry = pwd.getpwnam(owner)
    folder = course_dir()
    folder.mkdir(exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", folder / "nbgrader_config.py")
    for a in ALL_ASSIGNMENTS:
        shutil.copytree(REPO / "source" / a, folder / "source" / a, dirs_exist_ok=True)
    for path in (folder, *folder.rglob("*")):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o700)
    if assignments:  # one process for all: nbgrader takes seconds to start
        students = json.dumps({s: NAMES.get(s, (s, "")) for s in STUDENTS})
        _as_user(owner, [str(user_bin() / "python"), "-c", RELEASE, students, *assignments], cwd=folder)


#: Generate the student version and release it, as `nbgrader generate_assignment --force` and
#: `nbgrader release_assignment --force` do, through nbgrader's API (the Formgrader's own calls).
RELEASE = """
import json, sys
from nbgrader.apps.api import NbGraderAPI
from nbgrader.apps.baseapp import NbGrader
app = NbGrader()
app.load_config_file()
api = NbGraderAPI(config=app.config)
with api.gradebook as gb:
    for student, (first, last) in json.loads(sys.argv[1]).items():
        gb.update_or_create_student(student, first_name=first, last_name=last)
released = api.get_released_assignments()
for a in sys.argv[2:]:
    if a in released:
        api.unrelease(a)
    for step in (lambda: api.generate_assignment(a, force=True), lambda: api.release_assignment(a)):
        result = step()
        if not result["success"]:
            sys.exit(f"{a}: {result['error']} {result['log']}")
"""


def setup(fresh: bool = False, assignments: tuple[str, ...] = ALL_ASSIGNMENTS) -> None:
    if os.geteuid() != 0:
        sys.exit("kurs_hub: `make hub` legt echte Benutzerkonten an und muss als root laufen.")
    base = hub_dir()
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    (base / "home").mkdir(exist_ok=True)
    (base / "home").chmod(0o755)
    (base / "hub").mkdir(exist_ok=True)
    (base / "hub").chmod(0o700)
    if fresh and exchange_dir().exists():
        shutil.rmtree(exchange_dir())
    exchange_dir().mkdir(exist_ok=True)
    exchange_dir().chmod(0o777)  # nbgrader's exchange: everyone writes, nbgrader sets the modes inside
    _user_env()
    write_profile()
    _shared_data()
    _protect_repository()
    for user in (*STUDENTS, *INSTRUCTORS):
        _ensure_user(user, fresh)
    _check_reachable(STUDENTS[0])
    _course(assignments)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "konto":
        add_account(argv[1])
        return 0
    if not argv or argv[0] not in {"setup", "start"}:
        print(__doc__)
        return 2
    fresh = "--frisch" in argv
    env_assignments = os.environ.get("NNKURS_HUB_ASSIGNMENTS")
    assignments = tuple(env_assignments.split()) if env_assignments else ALL_ASSIGNMENTS
    setup(fresh=fresh, assignments=assignments)
    if argv[0] == "start":
        hub = str(VENV / "bin" / "jupyterhub")
        os.execv(hub, [hub, "-f", str(DEPLOY / "jupyterhub_config.py")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
