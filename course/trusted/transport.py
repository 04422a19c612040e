"""How requests reach the student's end: a Jupyter comm over the kernel's own channels, or an in-process pair.

A :class:`Transport` moves envelopes of :mod:`course.trusted.wire` (a JSON-able dict plus binary buffers) and
knows nothing of their meaning.  :class:`CommTransport` is the real one: it talks to the student's kernel the
way a Jupyter frontend does (jupyter_client's :class:`~jupyter_client.session.Session` signs and parses the
messages), over a comm of its own: ``comm_open``/``comm_msg`` on the shell channel, the answer as ``comm_msg``
on IOPub, where it subscribes to its comm's topic only (the student's prints never reach it).  Every message
from the student's kernel is checked against the budget of one message (:func:`wire.within_budget`: frames and
bytes) before it is parsed; ZeroMQ drops frames over the budget before they are read.

:class:`InProcessTransport` answers in the same process with :func:`course.trusted.kernel_side.answer` (or any
function given to it), after a round trip through JSON: the channel's unit tests run without kernels, in
milliseconds, and can put malformed or hostile answers on the wire.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from time import monotonic

from course.trusted import wire


class Transport:
    """Sends a request, waits for its answer; interrupts the student's end."""

    def send(self, data: dict, buffers: list) -> str:
        """Send one request; returns the token its answer is waited for with."""
        raise NotImplementedError

    def receive(self, token: str, seconds: float) -> tuple[dict, list] | None:
        """The answer to ``token`` (its data and buffers), or ``None`` after ``seconds``."""
        raise NotImplementedError

    def interrupt(self, wait: bool = True) -> None:
        """Interrupt what the student's end is running (``wait``: for the kernel's acknowledgement, ≤ 2 s)."""

    def close(self) -> None:
        pass


class CommTransport(Transport):
    """A comm ``wire.TARGET`` to the student's kernel, from its connection info (IPC or TCP)."""

    def __init__(self, info: dict):
        import zmq
        from jupyter_client.session import Session

        self.zmq = zmq
        key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        self.session = Session(key=key, signature_scheme=info.get("signature_scheme", "hmac-sha256"))
        self.context = zmq.Context()
        self.shell = self._socket(zmq.DEALER, info, "shell_port")
        self.control = self._socket(zmq.DEALER, info, "control_port")
        self.comm_id = uuid.uuid4().hex
        self.iopub = self._socket(zmq.SUB, info, "iopub_port", subscribe=f"comm-{self.comm_id}".encode())
        self.session.send(self.shell, "comm_open", {"comm_id": self.comm_id, "target_name": wire.TARGET, "data": {}})

    def _socket(self, kind, info, port_key, subscribe=None):
        zmq = self.zmq
        socket = self.context.socket(kind)
        socket.setsockopt(zmq.MAXMSGSIZE, wire.MAX_MESSAGE_BYTES)  # per frame; the whole message: within_budget
        socket.setsockopt(zmq.RCVHWM, 16)
        socket.setsockopt(zmq.LINGER, 0)
        if subscribe is not None:
            socket.setsockopt(zmq.SUBSCRIBE, subscribe)
        if info.get("transport", "tcp") == "ipc":
            socket.connect(f"ipc://{info['ip']}-{info[port_key]}")
        else:
            socket.connect(f"tcp://{info['ip']}:{info[port_key]}")
        return socket

    def send(self, data: dict, buffers: list) -> str:
        content = {"comm_id": self.comm_id, "data": data}
        return self.session.send(self.shell, "comm_msg", content, buffers=buffers)["header"]["msg_id"]

    def receive(self, token: str, seconds: float) -> tuple[dict, list] | None:
        zmq = self.zmq
        end = monotonic() + seconds
        poller = zmq.Poller()
        poller.register(self.iopub, zmq.POLLIN)
        while (left := end - monotonic()) > 0:
            if not poller.poll(timeout=max(1, int(left * 1000))):
                continue
            frames = self.iopub.recv_multipart(copy=True)
            if not wire.within_budget(frames):
                continue
            try:
                _idents, frames = self.session.feed_identities(frames)
                msg = self.session.deserialize(frames, content=True, copy=True)
            except Exception:
                continue  # not a valid, signed message: ignore it
            content = msg.get("content")
            if (
                msg.get("msg_type") == "comm_msg"
                and msg.get("parent_header", {}).get("msg_id") == token
                and isinstance(content, dict)
                and content.get("comm_id") == self.comm_id
                and isinstance(content.get("data"), dict)
            ):
                return content["data"], list(msg.get("buffers") or [])
        return None

    def interrupt(self, wait: bool = True) -> None:
        zmq = self.zmq
        self.session.send(self.control, "interrupt_request", {})
        if wait:
            poller = zmq.Poller()
            poller.register(self.control, zmq.POLLIN)
            if poller.poll(timeout=2000):
                self.control.recv_multipart()

    def close(self) -> None:
        self.context.destroy(linger=0)


class InProcessTransport(Transport):
    """The student's end in this process: ``answer(data, buffers) -> (data, buffers)``, after a JSON round trip.

    Without ``answer``, a fresh :class:`course.trusted.kernel_side.Objects` table and
    :func:`course.trusted.kernel_side.answer` serve the requests, with ``namespace`` as the student's names.
    """

    def __init__(self, answer: Callable[[dict, list], tuple[dict, list]] | None = None, namespace: dict | None = None):
        if answer is None:
            from course.trusted import kernel_side

            self.objects = kernel_side.Objects({} if namespace is None else namespace)
            answer = lambda data, buffers: kernel_side.answer(self.objects, data, buffers)  # noqa: E731
        self.answer = answer
        self.answers: dict[str, tuple[dict, list]] = {}
        self.interrupts = 0

    def send(self, data: dict, buffers: list) -> str:
        token = uuid.uuid4().hex
        reply = self.answer(json.loads(json.dumps(data)), [bytes(b) for b in buffers])
        if reply is not None:
            reply_data, reply_buffers = reply
            self.answers[token] = (json.loads(json.dumps(reply_data)), [bytes(b) for b in reply_buffers])
        return token

    def receive(self, token: str, seconds: float) -> tuple[dict, list] | None:
        return self.answers.pop(token, None)

    def interrupt(self, wait: bool = True) -> None:
        self.interrupts += 1
