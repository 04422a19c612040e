"""Grading on submit on the demo hub (`make hub`): the hub starts the service, anna submits 01 on the command
line as her own unix user, the service grades it and releases feedback that `nbgrader fetch_feedback` brings
into her home; the status page answers behind the hub's login.  As root only (real accounts, like
tests/test_hub.py); no browser.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from harness import REPO

DEPLOY = REPO / "deploy"
sys.path.insert(0, str(DEPLOY))
import kurs_hub  # noqa: E402

from course import service  # noqa: E402
from course.submissions import fill_answers, solution_answers  # noqa: E402

ASSIGNMENT = "01_neuronen"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="legt echte Benutzerkonten an: nur als root")


def free_ports(n: int = 4) -> int:
    """A port p with p .. p+n-1 free on 127.0.0.1 (proxy, proxy API, hub, grading service)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            for p in range(base + 1, base + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        return base
    raise RuntimeError("keine freien Ports")


@pytest.fixture(scope="module")
def hub():
    if not (DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.fail("configurable-http-proxy fehlt: `make install` installiert ihn nach deploy/node_modules")
    state = Path(tempfile.mkdtemp(prefix="nn-kurs-dienst-hub-"))
    state.chmod(0o755)
    port = free_ports()
    settings = {"NNKURS_HUB_DIR": str(state), "NNKURS_HUB_PORT": str(port), "NNKURS_HUB_ASSIGNMENTS": ASSIGNMENT}
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = None
    try:
        setup = subprocess.run([sys.executable, str(DEPLOY / "kurs_hub.py"), "setup", "--frisch"], env=env,
                               capture_output=True, text=True)  # fmt: skip
        assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
        course = kurs_hub.course_dir()
        owner = pwd.getpwnam(kurs_hub.INSTRUCTORS[0])
        settings_file = course / service.SETTINGS_FILE
        settings_file.write_text(json.dumps({ASSIGNMENT: "voll"}))  # the instructor switches 01 on
        os.chown(settings_file, owner.pw_uid, owner.pw_gid)
        log = (state / "hub.log").open("w")
        cmd = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py")]
        proc = subprocess.Popen(cmd, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hub/api/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (state / "hub.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (state / "hub.log").read_text()[-3000:]
            time.sleep(0.5)
        yield {"port": port, "state": state, "course": course}
    finally:
        if proc is not None:
            import psutil

            for child in psutil.Process(proc.pid).children():
                if "jupyterhub_idle_culler" in " ".join(child.cmdline()):
                    child.terminate()
            proc.send_signal(signal.SIGTERM)  # the hub stops its managed services
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(state, ignore_errors=True)


def test_submission_on_the_hub_gets_feedback(hub):
    home = kurs_hub.home("anna")
    nbgrader = str(kurs_hub.user_bin() / "nbgrader")
    kurs_hub._as_user("anna", [nbgrader, "fetch_assignment", ASSIGNMENT], cwd=home)
    path = home / ASSIGNMENT / "neuronen.ipynb"
    solution = solution_answers(nbformat.read(REPO / "source" / ASSIGNMENT / "neuronen.ipynb", as_version=4))
    nbformat.write(fill_answers(nbformat.read(path, as_version=4), solution), path)
    start = time.monotonic()
    kurs_hub._as_user("anna", [nbgrader, "submit", ASSIGNMENT], cwd=home)
    journal = hub["course"] / service.STATE_DIR / service.JOURNAL
    entry = {}
    while entry.get("status") != service.DONE:
        assert time.monotonic() - start < 300, (hub["state"] / "hub.log").read_text()[-3000:]
        time.sleep(1)
        try:
            entry = next(iter(json.loads(journal.read_text()).values()), {})
        except (OSError, ValueError):
            entry = {}
    seconds = time.monotonic() - start
    print(f"anna: bewertet {seconds:.0f} s nach der Abgabe")
    assert (entry["student"], entry["points"], entry["max_points"]) == ("anna", 4.0, 4.0)
    kurs_hub._as_user("anna", [nbgrader, "fetch_feedback", ASSIGNMENT], cwd=home)
    pages = list((home / ASSIGNMENT / "feedback").glob("*/neuronen.html"))
    assert len(pages) == 1 and pages[0].stat().st_uid == pwd.getpwnam("anna").pw_uid
    assert "BEGIN HIDDEN" not in pages[0].read_text()
    # with one subdomain per user the hub gives each service its own host too (JupyterHub's subdomain_hook)
    from jupyterhub.utils import subdomain_hook_idna

    domain = subdomain_hook_idna("bewertung", os.environ.get("NNKURS_HUB_HOST", "nn-kurs.localhost"), "service")
    host = f"{domain}:{hub['port']}"
    request = urllib.request.Request(f"http://127.0.0.1:{hub['port']}/services/bewertung/", headers={"Host": host})
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:  # the service answers, and only after the hub's login
        opener.open(request, timeout=30)
    assert answer.value.code == 302 and "oauth2/authorize" in answer.value.headers["Location"]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
