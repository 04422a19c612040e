"""A real, throw-away PostgreSQL server for the tests (Debian's ``postgresql`` package, ``make install``).

``initdb`` and ``pg_ctl`` run in a fresh temporary folder, as the ``postgres`` user when the tests run as
root (PostgreSQL refuses to run as root), listening on 127.0.0.1 and a free port, with password
authentication, so ``COURSE_DB_URL`` carries a real secret.  Import the fixture ``postgres`` into a test
module (``from pgserver import postgres``); ``postgres.new_database()`` gives a fresh, empty database URL.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

USER = "nbgrader"


def server_bin(name: str) -> str | None:
    """``initdb``/``pg_ctl``: on PATH or in Debian's versioned folder (not on PATH by default)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.password = "Gh-" + secrets.token_hex(12)  # long and unique, so a leak is easy to spot
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="nn-kurs-pg-"))
        self.data = self.folder / "data"
        self._as = {}
        if os.geteuid() == 0:  # PostgreSQL will not run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
            self._as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [], "env": {"PATH": "/usr/bin:/bin"}}

    def _run(self, *cmd: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=self.folder, **self._as)
        if proc.returncode:
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")

    def start(self) -> PostgresServer:
        pwfile = self.folder / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        self._run(
            server_bin("initdb"), "-D", str(self.data), "-U", USER, "--auth=scram-sha-256",
            f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        pwfile.unlink()
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            server_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o", options, "start"
        )
        return self

    def stop(self) -> None:
        try:
            self._run(server_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database on this server; its URL (with the password)."""
        import psycopg

        name = "kurs_" + secrets.token_hex(4)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def log(self) -> str:
        path = self.folder / "log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture(scope="module")
def postgres():
    if not server_bin("initdb") or not server_bin("pg_ctl"):
        pytest.fail("PostgreSQL fehlt: `make install` installiert Debians Paket postgresql")
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
