"""The course's tools in the hub servers' terminals, without starting a hub (cheap; `test_hub.py` does the rest).

JupyterLab's terminal is a login shell; Debian's /etc/profile sets PATH anew, so the course's
environment would be gone. `make hub` writes `deploy/kurs_hub.PROFILE_SNIPPET` to /etc/profile.d.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "deploy"))
import kurs_hub  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PROBE = "command -v python nbgrader alembic; pwd; python -m course --help | head -1"


def login_shell(env: dict[str, str], snippet: Path | None, cwd: Path) -> list[str]:
    """What a login shell started with ``env`` prints for PROBE: /etc/profile first, then the snippet."""
    steps = ". /etc/profile >/dev/null 2>&1; " + (f". {snippet}; " if snippet else "") + PROBE
    result = subprocess.run(
        ["env", "-i", *[f"{k}={v}" for k, v in env.items()], "bash", "--noprofile", "--norc", "-c", steps],
        cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return result.stdout.splitlines()


@pytest.mark.skipif(not Path("/etc/profile").is_file(), reason="no /etc/profile on this system")
def test_login_shell_keeps_the_course_environment(tmp_path):
    home, course = tmp_path / "home", tmp_path / "home" / "nn-kurs"
    course.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text("")
    server_env = {
        "HOME": str(home),
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",  # as the spawner sets it (kurs_hub.user_environment)
        "NNKURS_USER_BIN": str(VENV_BIN),
        "NNKURS_KURSORDNER": str(course),
        "LD_LIBRARY_PATH": kurs_hub.user_environment()["LD_LIBRARY_PATH"],
    }
    outside = {k: v for k, v in server_env.items() if not k.startswith("NNKURS_")}  # not a hub server's shell
    without = login_shell(outside, None, home)
    assert str(VENV_BIN / "nbgrader") not in without, "/etc/profile resets PATH (the problem this fixes)"
    snippet = kurs_hub.write_profile(tmp_path / "profile.d" / "nn-kurs.sh")
    assert snippet.stat().st_mode & 0o777 == 0o644
    lines = login_shell(server_env, snippet, home)
    assert lines[:3] == [str(VENV_BIN / name) for name in ("python", "nbgrader", "alembic")], lines
    assert lines[3] == str(course), "an instructor's terminal opened in the home folder starts in the course"
    assert lines[4].startswith("usage: course"), lines
    # elsewhere than in the home folder the terminal stays where it was opened
    assert login_shell(server_env, snippet, tmp_path)[3] == str(tmp_path)
    # a student's server has no course folder, a shell outside the hub not even the environment
    student = {k: v for k, v in server_env.items() if k != "NNKURS_KURSORDNER"}
    assert login_shell(student, snippet, home)[3] == str(home)
    assert str(VENV_BIN / "nbgrader") not in login_shell(outside, snippet, home)


def test_server_environment_reaches_the_course_tools():
    """Kernels (`!` in a notebook) inherit the server's PATH; the login shells find the environment again."""
    env = kurs_hub.user_environment()
    assert env["PATH"].split(":")[0] == env["NNKURS_USER_BIN"] == str(kurs_hub.user_bin())
    assert kurs_hub.role_environment({"instructors"})["NNKURS_KURSORDNER"] == str(kurs_hub.course_dir())
    assert "NNKURS_KURSORDNER" not in kurs_hub.role_environment({"students"})


def test_instructors_may_restart_students_servers(tmp_path, monkeypatch):
    """The hub's configuration gives the group instructors a role for /hub/admin and the students' servers."""
    from jupyterhub.scopes import _check_scopes_exist
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("NNKURS_HUB_DIR", str(tmp_path))
    kurs_hub.accounts_file().parent.mkdir(parents=True)
    kurs_hub.accounts_file().write_text("carla\nanna\n")  # a login added with `kurs_hub.py konto carla`
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "deploy")).load_config()
    (role,) = [r for r in config.JupyterHub.load_roles if r["name"] == "kursleitung"]
    assert role["groups"] == ["instructors"] and "servers!group=students" in role["scopes"]
    assert "admin-ui" in role["scopes"] and not any(s.startswith("access:servers") for s in role["scopes"])
    _check_scopes_exist(role["scopes"])  # JupyterHub knows every scope (it refuses to start otherwise)
    assert config.JupyterHub.load_groups["students"]["users"] == ["anna", "ben", "carla"]
    assert config.Authenticator.allowed_users == {"anna", "ben", "carla", "lehrende"}
    assert not config.Authenticator.admin_users


def test_setups_at_once_build_one_working_user_environment(tmp_path):
    """`kurs_hub setup` run several times at once (two hubs, two test modules) builds the users' environment one
    after the other (a file lock): without it, one set-up removes site-packages while another links it."""
    env = {**os.environ, "NNKURS_HUB_PYTHON_CACHE": str(tmp_path / "cache")}
    build = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO / 'deploy')!r}); import kurs_hub; "
             "kurs_hub._user_env()"]  # fmt: skip
    first = subprocess.run(build, env=env, check=False)  # the Python copy, shared by all; then three rebuilds
    assert first.returncode == 0
    (user_env,) = (tmp_path / "cache").glob("umgebung-*/")
    (user_env / ".stand").unlink()
    runs = [subprocess.Popen(build, env=env, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    assert all(run.wait(timeout=600) == 0 for run in runs), [run.stderr.read()[-2000:] for run in runs]
    assert (user_env / ".stand").exists()
    check = subprocess.run(
        [user_env / "bin" / "python", "-c", "import soupsieve, nbgrader, course; print('ok')"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.stdout.strip() == "ok", check.stderr[-2000:]
