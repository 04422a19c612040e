"""The relay between a sandboxed kernel and everything outside it: Jupyter's five channels, within a budget.

ZeroMQ limits the size of each frame of a message (``MAXMSGSIZE``), not the number of frames: a student's kernel
could send one message of 24 frames of 200 MB each, and every process that reads its channels (the grading
worker, the Formgrader, the trusted test kernel) would hold all of it before it could look at it.  So nothing
outside the sandbox reads the kernel's sockets directly.  The sandbox's wrapper (:func:`course.sandbox.main`)
stays as this relay: it binds the sockets the grader knows (the connection file's), connects to the sockets the
kernel bound inside the sandbox (a folder the grader's side never sees), and forwards every message whose frames
and bytes fit :data:`course.trusted.wire.MAX_FRAMES` / :data:`MAX_FROM_KERNEL_BYTES`; larger ones are dropped.  The
relay itself runs with an address-space limit of its own (:data:`RELAY_MEMORY`): a message that does not fit
into it ends the relay, which the grader sees as a dead kernel ("Kernel abgestürzt"), costing only that
submission.

Besides the budget of one message, every request from outside (a cell's ``execute_request``, a test's comm
request, an interrupt) has a budget for everything the kernel sends in reply to it (:data:`MAX_PER_REQUEST`): the
relay reads the ``msg_id`` of every request it forwards and the parent header of every message from the kernel.
A message whose parent is not a request of the grader's side (a forged or unsolicited one) passes only if it is
small (:data:`MAX_UNSOLICITED`, e.g. the kernel's "starting" status).  So a cell that prints a thousand messages of
200 MB, each within the budget of one message, delivers at most :data:`MAX_PER_REQUEST` bytes.

When the kernel ends, the relay ends with its exit code; when the relay ends, bubblewrap ends the kernel
(``--die-with-parent``); when the grading process that started the relay is gone, the relay ends the kernel.

Shell, control, stdin and heartbeat are ROUTER (outside) to DEALER (inside), the usual broker: identities travel
as envelope frames, as ipykernel expects.  IOPub is XPUB (outside) to XSUB (inside), subscriptions included.
"""

from __future__ import annotations

import os
import resource
import signal

from course.trusted.wire import MAX_FRAMES

CHANNELS = ("shell", "control", "stdin", "hb", "iopub")
#: Address space of the relay: a few messages of the largest size fit, a flood of frames does not.
RELAY_MEMORY = 1536 * 1024**2
MAX_FROM_KERNEL_BYTES = 256 * 1024**2
MAX_PER_REQUEST = 512 * 1024**2
MAX_UNSOLICITED = 64 * 1024
MAX_HEADER = 64 * 1024
MAX_REQUESTS_REMEMBERED = 10_000
DELIMITER = b"<IDS|MSG>"


def url(info: dict, channel: str) -> str:
    port = info[f"{channel}_port"]
    if info.get("transport", "tcp") == "ipc":
        return f"ipc://{info['ip']}-{port}"
    return f"tcp://{info['ip']}:{port}"


def _header_field(frames: list, offset: int, field: str) -> str | None:
    """``field`` of the header (``offset`` 1) or parent header (2) of a Jupyter message, if it is small and sane."""
    import json

    delimiter = next(
        (i for i, frame in enumerate(frames) if len(frame) == len(DELIMITER) and bytes(frame) == DELIMITER), None
    )
    if delimiter is None:
        return None
    position = delimiter + 1 + offset  # delimiter, signature, header, parent header
    if position >= len(frames) or len(frames[position]) > MAX_HEADER:
        return None
    try:
        value = json.loads(bytes(frames[position])).get(field)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


class Budgets:
    """Bytes the kernel may still send in reply to each request the grader's side made."""

    def __init__(self):
        self.left: dict[str, int] = {}

    def request(self, frames: list) -> None:
        msg_id = _header_field(frames, 1, "msg_id")
        if msg_id is not None:
            self.left[msg_id] = MAX_PER_REQUEST
            if len(self.left) > MAX_REQUESTS_REMEMBERED:
                self.left.pop(next(iter(self.left)))

    def spend(self, frames: list) -> bool:
        """Whether a message from the kernel may pass (and charge it to its request)."""
        size = sum(len(f) for f in frames)
        if len(frames) > MAX_FRAMES or size > MAX_FROM_KERNEL_BYTES:
            return False
        parent = _header_field(frames, 2, "msg_id")
        if parent not in self.left:
            return size <= MAX_UNSOLICITED
        if self.left[parent] < size:
            return False
        self.left[parent] -= size
        return True


def serve(outside: dict, inside: dict, kernel_pid: int) -> int:
    """Forward between ``outside`` (bound here) and ``inside`` (the kernel's); return the kernel's exit status."""
    import zmq

    resource.setrlimit(resource.RLIMIT_AS, (RELAY_MEMORY, RELAY_MEMORY))
    grader = os.getppid()
    context = zmq.Context()
    pairs = {}
    for channel in CHANNELS:
        front = context.socket(zmq.XPUB if channel == "iopub" else zmq.ROUTER)
        back = context.socket(zmq.XSUB if channel == "iopub" else zmq.DEALER)
        for socket in (front, back):
            socket.setsockopt(zmq.LINGER, 0)
        back.setsockopt(zmq.MAXMSGSIZE, MAX_FROM_KERNEL_BYTES)  # queues keep ZeroMQ's defaults: a dropped status
        # message would look like a dead kernel; what they can hold is bounded by the budgets per request
        front.bind(url(outside, channel))
        back.connect(url(inside, channel))
        pairs[front] = (back, False)  # from the grader's side: forwarded as it is
        pairs[back] = (front, True)  # from the kernel: only within the budget
    poller = zmq.Poller()
    for socket in pairs:
        poller.register(socket, zmq.POLLIN)
    budgets = Budgets()
    while True:
        for socket, _event in poller.poll(timeout=200):
            frames = socket.recv_multipart(copy=False)
            target, from_kernel = pairs[socket]
            if from_kernel:
                if not budgets.spend(frames):
                    continue
            else:
                budgets.request(frames)
            target.send_multipart(frames, copy=False)
        pid, status = os.waitpid(kernel_pid, os.WNOHANG)
        if pid:
            context.destroy(linger=0)
            return os.waitstatus_to_exitcode(status)
        if os.getppid() != grader:  # the grading process is gone: nobody will read this kernel again
            os.kill(kernel_pid, signal.SIGKILL)  # bubblewrap takes the kernel with it
            context.destroy(linger=0)
            return 1
