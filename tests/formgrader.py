"""A real Jupyter server with nbgrader's Formgrader, driven through its HTTP API (as its buttons do)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Formgrader:
    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.session.get(f"{self.url}/formgrader", timeout=30)  # sets the _xsrf cookie
        self.session.headers["X-XSRFToken"] = self.session.cookies.get("_xsrf", "")

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(f"{self.url}{path}", timeout=600, **kwargs)

    def api(self, method: str, path: str, **kwargs):
        response = self.session.request(method, f"{self.url}/formgrader/api{path}", timeout=600, **kwargs)
        response.raise_for_status()
        return response.json()

    def autograde(self, assignment: str, student: str) -> dict:
        return self.api("POST", f"/submission/{assignment}/{student}/autograde")

    def notebook_submissions(self, assignment: str, notebook: str) -> list[dict]:
        return self.api("GET", f"/submitted_notebooks/{assignment}/{notebook}")

    def grades(self, submission_id: str) -> list[dict]:
        return self.api("GET", "/grades", params={"submission_id": submission_id})

    def comments(self, submission_id: str) -> list[dict]:
        return self.api("GET", "/comments", params={"submission_id": submission_id})


@contextmanager
def formgrader(root: Path, log: Path, env: dict | None = None):
    """Start ``jupyter server`` in the course folder (nbgrader's extensions enabled) and yield a client."""
    port, token = free_port(), secrets.token_hex(16)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", **(env or {})}
    command = [
        sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
        "--ServerApp.jpserver_extensions=course.lab=True",  # as on the instructors' servers of the hub
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if requests.get(f"{url}/api/status", headers={"Authorization": f"token {token}"}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter server ended: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield Formgrader(url, token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
