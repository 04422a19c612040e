"""The relay between a sandboxed kernel and the grader: budgets per message and per request, with a real kernel.

Unit tests of the budgets (no kernel), then a sandboxed kernel whose cells try to push more than the budgets
through IOPub: one message of many frames, and a flood of messages each within the budget of one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

from course import sandbox
from course.sandbox_relay import DELIMITER, MAX_PER_REQUEST, MAX_UNSOLICITED, Budgets
from course.trusted.wire import MAX_FRAMES


def message(msg_id: str = "", parent: str = "", buffers: int = 0, size: int = 0) -> list[bytes]:
    header = json.dumps({"msg_id": msg_id}).encode()
    parent_header = json.dumps({"msg_id": parent} if parent else {}).encode()
    return [b"topic", DELIMITER, b"sig", header, parent_header, b"{}", b"{}"] + [b"x" * size] * buffers


def test_answers_to_requests_pass_within_their_budget():
    budgets = Budgets()
    budgets.request(message(msg_id="zelle-1"))
    assert budgets.spend(message(parent="zelle-1", buffers=1, size=1000))
    assert budgets.left["zelle-1"] == MAX_PER_REQUEST - 1000 - len(b"".join(message(parent="zelle-1")))


def test_too_many_frames_or_bytes_never_pass():
    budgets = Budgets()
    budgets.request(message(msg_id="zelle-1"))
    assert not budgets.spend(message(parent="zelle-1", buffers=MAX_FRAMES))
    budgets.left["zelle-1"] = 10_000
    assert not budgets.spend(message(parent="zelle-1", buffers=2, size=6000))  # over what is left of the request


def test_unsolicited_messages_pass_only_when_small():
    budgets = Budgets()
    assert budgets.spend(message(parent=""))  # e.g. the kernel's "starting" status
    assert not budgets.spend(message(parent="erfunden", buffers=1, size=MAX_UNSOLICITED))
    assert not budgets.spend([b"ohne Trenner", b"x" * MAX_UNSOLICITED])
    assert budgets.spend([b"heartbeat"])


FLOODS = {
    "rahmen": "k = get_ipython().kernel\n"
    "k.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': 'RAHMEN'}, parent=k.get_parent(),\n"
    "               buffers=[b'x' * 1000] * 5000)\nprint('gesendet')",
    "flut": "k = get_ipython().kernel\nblock = b'x' * 50_000_000\n"
    "for i in range(20):\n"
    "    k.session.send(k.iopub_socket, 'stream', {'name': 'stdout', 'text': f'FLUT{i}'}, parent=k.get_parent(),\n"
    "                   buffers=[block])\nprint('gesendet')",
}


@contextlib.asynccontextmanager
async def sandboxed_kernel(course: Path):
    """A student's kernel in the sandbox of the course at ``course``: ``(config, manager, client)``, ready."""
    from traitlets.config import Config

    from course.sandbox_kernel import SandboxKernelManager

    config = Config()
    config.CourseDirectory.root = str(course)
    km = SandboxKernelManager(config=config)
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        yield config, km, kc
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        await km.cleanup_resources()


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")
def test_a_sandboxed_kernel_cannot_push_more_than_the_budgets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def run() -> dict:
        seen: dict = {}
        async with sandboxed_kernel(tmp_path) as (_config, km, kc):
            for name, code in FLOODS.items():
                msg_id = kc.execute(code)
                texts, received = [], 0
                while True:
                    msg = await kc.get_iopub_msg(timeout=120)
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    received += sum(len(b) for b in msg.get("buffers") or [])
                    if msg["msg_type"] == "stream":
                        texts.append(msg["content"]["text"].strip())
                    if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                        break
                seen[name] = (texts, received)
            seen["lebt"] = await km.is_alive()
        return seen

    seen = asyncio.run(run())
    assert seen["rahmen"][0] == ["gesendet"]  # the message of 5000 frames never arrived
    texts, received = seen["flut"]
    assert texts[-1] == "gesendet" and received <= MAX_PER_REQUEST
    assert 0 < len(texts) - 1 < 20  # some of the 50 MB messages passed, the rest exceeded the cell's budget
    assert seen["lebt"]
