"""The trusted test kernel's own sandbox (defence in depth): it reaches the student's kernel and the read-only data,
nothing else of the machine, and nothing of the grader's environment."""

from __future__ import annotations

import asyncio

import pytest

from course import sandbox

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")

PROBE = """import os, socket
found = {{"name": len(werte), "data": os.environ.get("COURSE_DATA_DIR"), "secret": "COURSE_DB_URL" in os.environ}}
found["course"] = sorted(os.listdir({course!r}))  # only the mount point of the data
found["gradebook"] = os.path.exists({gradebook!r})
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    found["net"] = True
except OSError:
    found["net"] = False
print(found)
"""


def test_the_trusted_kernel_sees_the_student_and_the_data_only(tmp_path, monkeypatch):
    import socket

    from test_sandbox_relay import sandboxed_kernel

    from course.grading_environment import GradingEnvironment
    from course.sandbox import sockets_folder
    from course.trusted.kernel import STUDENT_SIDE, TrustedKernel, require_ok, run_silently

    course = tmp_path / "kurs"
    (course / "data").mkdir(parents=True)
    (course / "gradebook.db").write_text("geheim")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_DB_URL", "postgresql://nbgrader:geheim@db/kurs")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    code = PROBE.format(course=str(course), gradebook=str(course / "gradebook.db"), port=server.getsockname()[1])

    async def run() -> str:
        async with sandboxed_kernel(course) as (config, km, kc):
            require_ok(await run_silently(kc, STUDENT_SIDE + "\nwerte = [1, 2, 3]"), "Kernel der Abgabe")
            trusted = TrustedKernel(GradingEnvironment(config=config), 60, 20)
            try:
                await trusted.launch(sockets_folder(km.runtime))
                await trusted.connect(km.get_connection_info())
                msg_id = trusted.kc.execute(code)
                while True:
                    msg = await trusted.kc.get_iopub_msg(timeout=60)
                    if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in ("stream", "error"):
                        return msg["content"].get("text") or msg["content"].get("evalue")
            finally:
                await trusted.stop()

    try:
        found = asyncio.run(run())
    finally:
        server.close()
    expected = {"name": 3, "data": str((course / "data").resolve()), "secret": False}
    assert found.strip() == str({**expected, "course": ["data"], "gradebook": False, "net": False})
