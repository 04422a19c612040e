"""The trusted end of the channel: requests to the student's kernel, and references to its objects.

Runs in the trusted test kernel, which never runs student code.  It talks to the student's kernel
the way a Jupyter frontend does (jupyter_client's :class:`~jupyter_client.session.Session` signs
and parses the messages), over a comm of its own: ``comm_open``/``comm_msg`` on the shell channel,
the answer as ``comm_msg`` on IOPub, where this side subscribes to its comm's topic only (the
student's prints never reach it).  Every request has a deadline; after it the student's kernel is
interrupted (``interrupt_request`` on the control channel) and the request fails.  Incoming
messages are limited in size by ZeroMQ (``MAXMSGSIZE``) before anything is parsed.

:class:`Ref` stands for an object that stays in the student's kernel.  Attribute access, indexing,
calls, iteration, ``len`` and arithmetic are forwarded; what comes back is plain data or a new
:class:`Ref`.  Comparisons and truth values are never asked of the student's side: ``==`` is
identity, ordering and ``bool()`` raise ``TypeError`` (an object that answers "yes" to every
question would otherwise pass every assert).  ``isinstance(ref, cls)`` with a class of the trusted side is true when the
student's object names that class among its own (a claim the following checks have to test, like
any other answer); ``isinstance(obj, ref)`` asks the student's kernel.
"""

from __future__ import annotations

import builtins
import sys
import uuid
import weakref
from time import monotonic

import zmq
from jupyter_client.session import Session

from course.trusted.protocol import ARITHMETIC, TARGET, ProtocolError, decode, encode

MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # a whole answer, buffers included (checked by ZeroMQ)
MAX_JSON_BYTES = 32 * 1024 * 1024  # its JSON parts (checked before parsing)
#: Exceptions of the student's code that keep their type on the trusted side (loops and
#: ``getattr(obj, name, default)`` depend on them); every other one becomes :class:`StudentError`.
KEPT_EXCEPTIONS = (
    "AttributeError",
    "IndexError",
    "KeyError",
    "StopIteration",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
    "NotImplementedError",
    "RecursionError",
    "OverflowError",
)


NOT_DATA = (
    "{what} mit einem Objekt deiner Abgabe wird im Test nicht ausgewertet: Das Objekt bleibt in deinem Kernel "
    "und ist keine Zahl, kein Text und kein Tensor."
)


PLAIN_TYPES = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset, slice, range)


STUCK = (
    "Dein Code reagiert nicht mehr (er hat sich nach einer Zeitüberschreitung nicht unterbrechen lassen). "
    "Die folgenden Tests konnten ihn nicht mehr benutzen."
)


class StudentError(RuntimeError):
    """An exception raised by the student's code while a test used it."""


class NoAnswer(TimeoutError):
    """The student's kernel did not answer in time (or is gone)."""


#: The connection of this trusted kernel, set by :func:`attach`; ``None`` outside grading.
connection: Connection | None = None


class Connection:
    """One comm to the student's kernel; requests strictly one after the other."""

    def __init__(self, info: dict, deadline: float = 60.0):
        self.deadline = deadline
        key = info["key"] if isinstance(info["key"], bytes) else info["key"].encode()
        self.session = Session(key=key, signature_scheme=info.get("signature_scheme", "hmac-sha256"))
        self.context = zmq.Context()
        self.shell = self._socket(zmq.DEALER, info, "shell_port")
        self.control = self._socket(zmq.DEALER, info, "control_port")
        self.comm_id = uuid.uuid4().hex
        self.iopub = self._socket(zmq.SUB, info, "iopub_port", subscribe=f"comm-{self.comm_id}".encode())
        self.refs: weakref.WeakValueDictionary[int, Ref] = weakref.WeakValueDictionary()
        self.released: set[int] = set()  # references the tests dropped: the student's side may forget them
        self.broken: str | None = None
        self.unchecked = False  # interrupted without waiting whether it worked
        self.session.send(self.shell, "comm_open", {"comm_id": self.comm_id, "target_name": TARGET, "data": {}})

    def _socket(self, kind, info, port_key, subscribe=None):
        socket = self.context.socket(kind)
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        socket.setsockopt(zmq.LINGER, 0)
        if subscribe is not None:
            socket.setsockopt(zmq.SUBSCRIBE, subscribe)
        if info.get("transport", "tcp") == "ipc":
            socket.connect(f"ipc://{info['ip']}-{info[port_key]}")
        else:
            socket.connect(f"tcp://{info['ip']}:{info[port_key]}")
        return socket

    # -- requests

    def request(self, op: str, *args):
        if self.unchecked:
            self.unchecked = False
            self._check_alive()
        if self.broken:
            raise NoAnswer(self.broken)
        buffers: list = []
        tree = encode(list(args), buffers, _trusted_ref)
        release, self.released = sorted(self.released), set()
        data = {"op": op, "args": tree, "release": release}
        msg = self.session.send(self.shell, "comm_msg", {"comm_id": self.comm_id, "data": data}, buffers=buffers)
        try:
            reply, reply_buffers = self._wait(msg["header"]["msg_id"])
        except KeyboardInterrupt:  # the test cell's own timeout: stop the student's side, too
            self.session.send(self.control, "interrupt_request", {})
            self.unchecked = True  # whether it stopped is asked by the next request: this cell must end now
            raise
        if "error" in reply:
            raise _student_exception(reply["error"])
        if "ok" not in reply:
            raise ProtocolError("Antwort ohne Ergebnis")
        try:
            return decode(reply["ok"], reply_buffers, self._ref)
        except ProtocolError:
            raise
        except Exception as exc:  # e.g. an unhashable key: still only a malformed answer
            raise ProtocolError(f"ungültige Antwort ({type(exc).__name__})") from None

    def ping(self, seconds: float) -> bool:
        """One harmless request without interrupting anything: is the student's end answering?"""
        msg = self.session.send(
            self.shell,
            "comm_msg",
            {
                "comm_id": self.comm_id,
                "data": {"op": "convert", "args": encode(["bool", True], [], _trusted_ref)},
            },
        )
        try:
            self._wait(msg["header"]["msg_id"], seconds, interrupt=False)
        except NoAnswer:
            return False
        return True  # any answer, even an error (a late interrupt can hit this very request): it is alive

    def _wait(self, msg_id: str, seconds: float | None = None, interrupt: bool = True):
        end = monotonic() + (self.deadline if seconds is None else seconds)
        poller = zmq.Poller()
        poller.register(self.iopub, zmq.POLLIN)
        while (left := end - monotonic()) > 0:
            if not poller.poll(timeout=max(1, int(left * 1000))):
                continue
            frames = self.iopub.recv_multipart(copy=True)
            try:
                _idents, frames = self.session.feed_identities(frames)
                if sum(len(f) for f in frames[:5]) > MAX_JSON_BYTES:  # signature, header, parent, metadata, content
                    continue
                msg = self.session.deserialize(frames, content=True, copy=True)
            except Exception:
                continue  # not a valid, signed message: ignore it
            content = msg.get("content")
            if (
                msg.get("msg_type") == "comm_msg"
                and msg.get("parent_header", {}).get("msg_id") == msg_id
                and isinstance(content, dict)
                and content.get("comm_id") == self.comm_id
                and isinstance(content.get("data"), dict)
            ):
                return content["data"], list(msg.get("buffers") or [])
        if interrupt:
            self._interrupt()
        raise NoAnswer(
            f"Dein Code hat nicht innerhalb von {self.deadline:.0f} s geantwortet, als der Test ihn benutzt hat "
            "(zum Beispiel eine Endlosschleife). Dieser Test zählt als nicht bestanden."
        )

    def _interrupt(self) -> None:
        """Interrupt the student's kernel; if it stays busy, every later request fails at once."""
        self.session.send(self.control, "interrupt_request", {})
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        if poller.poll(timeout=2000):
            self.control.recv_multipart()
        self._check_alive()

    def _check_alive(self, seconds: float = 5.0) -> None:
        """After an interrupt: if the student's kernel does not answer a ping, every later request fails at once."""
        if not self.ping(seconds):
            self.broken = STUCK

    # -- references

    def _ref(self, node: dict) -> Ref:
        key = node.get("id")
        if not isinstance(key, int) or isinstance(key, bool):
            raise ProtocolError("ungültiger Verweis")
        ref = self.refs.get(key)
        if ref is None:
            ref = _proxy_class(node)(self, key, node)
            self.refs[key] = ref
            self.released.discard(key)
            weakref.finalize(ref, self.released.add, key)
        return ref

    def names(self, names: list[str]) -> dict:
        found = self.request("names", list(names))
        if not isinstance(found, dict):
            raise ProtocolError("Die Namen kamen nicht als dict zurück.")
        return {k: v for k, v in found.items() if isinstance(k, str) and k in names}

    def module(self, name: str) -> Ref:
        return self.request("module", name)

    def close(self) -> None:
        self.context.destroy(linger=0)


def _trusted_ref(value):
    """Trusted objects never cross: only plain data and the student's own references do."""
    if isinstance(value, Ref):
        return {"t": "ref", "id": object.__getattribute__(value, "_id")}
    raise TypeError(
        f"Ein Objekt vom Typ {type(value).__name__} kann nicht an deinen Code übergeben werden: Der Test darf ihm "
        "nur Daten (Zahlen, Texte, Listen, Arrays, Tensoren) und deine eigenen Objekte geben."
    )


def _student_exception(error) -> BaseException:
    if not isinstance(error, dict):
        return ProtocolError("ungültige Fehlermeldung")
    name = str(error.get("type", "Exception"))[:200]
    message = str(error.get("message", ""))[:100_000]
    if error.get("builtin") is True and name in KEPT_EXCEPTIONS:
        return getattr(builtins, name)(message)
    return StudentError(f"{name}: {message}" if message else name)


_PROXY_CLASSES: dict[str, type] = {}


def _proxy_class(node: dict) -> type:
    name = node.get("name")
    name = name if isinstance(name, str) and name.isidentifier() else "Objekt"
    if name not in _PROXY_CLASSES:
        _PROXY_CLASSES[name] = type(name, (Ref,), {"__module__": "deine_abgabe", "__slots__": ()})
    return _PROXY_CLASSES[name]


def _trusted_class(classes) -> type | None:
    """The first of the student's classes that names a class already loaded on the trusted side."""
    if not isinstance(classes, list):
        return None
    for entry in classes[:64]:
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry)):
            continue
        module, qualname = entry
        if module in ("builtins", "__main__") and qualname == "object":
            return None
        target = sys.modules.get(module)
        for part in qualname.split("."):
            target = getattr(target, part, None) if target is not None and part.isidentifier() else None
        if isinstance(target, type) and module != "__main__":
            # a real int, float, str, list, ... always arrives as data: a reference claiming one is forged
            return None if issubclass(target, PLAIN_TYPES) else target
    return None


def _forward(op, name=None):
    def method(self, *args):
        conn = object.__getattribute__(self, "_conn")
        return conn.request(op, name, self, *args) if name is not None else conn.request(op, self, *args)

    return method


def _converted(kind, name):
    """``len(ref)``, ``float(ref)``, ...: asked of the student's side, the answer must have Python's required type."""

    def method(self):
        return _as(kind, object.__getattribute__(self, "_conn").request("convert", name, self))

    return method


def _reflected(name):
    def method(self, other):
        return object.__getattribute__(self, "_conn").request("binary", name, other, self)

    return method


class Ref:
    """An object that stays in the student's kernel; operations on it are forwarded there."""

    __slots__ = ("_conn", "_id", "_node", "__weakref__")

    def __init__(self, conn: Connection, key: int, node: dict):
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_id", key)
        object.__setattr__(self, "_node", node)

    def __getattribute__(self, name):
        if name == "__class__":
            return _trusted_class(object.__getattribute__(self, "_node").get("classes")) or type(self)
        if name in ("__dict__", "__slots__"):
            raise AttributeError(name)
        if name in ("_conn", "_id", "_node"):
            return object.__getattribute__(self, name)
        if name.startswith("__") and name.endswith("__"):
            try:
                return object.__getattribute__(self, name)
            except AttributeError:
                pass
        return object.__getattribute__(self, "_conn").request("getattr", self, name)

    def __setattr__(self, name, value):
        object.__getattribute__(self, "_conn").request("setattr", self, name, value)

    def __delattr__(self, name):
        object.__getattribute__(self, "_conn").request("delattr", self, name)

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_conn").request("call", self, list(args), kwargs)

    def __iter__(self):
        conn = object.__getattribute__(self, "_conn")
        iterator = conn.request("iter", self)
        while True:
            step = conn.request("next", iterator)
            if not isinstance(step, dict) or step.get("stop"):
                return
            yield step.get("value")

    def __next__(self):
        step = object.__getattribute__(self, "_conn").request("next", self)
        if not isinstance(step, dict) or step.get("stop"):
            raise StopIteration
        return step.get("value")

    def __hash__(self):
        return hash(object.__getattribute__(self, "_id"))

    # Comparisons and truth values decide asserts: they stay on the trusted side.  ``==`` is identity
    # (as for any object without ``__eq__``); ordering and ``bool()`` would only repeat the student's
    # claim, so a test has to turn the student's answer into data first (``float(...)``, ``len(...)``).
    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __lt__(self, other):
        raise TypeError(NOT_DATA.format(what="Ein Größenvergleich"))

    __le__ = __gt__ = __ge__ = __lt__

    def __bool__(self):
        raise TypeError(NOT_DATA.format(what="Ein Wahrheitswert"))

    def __instancecheck__(self, obj):
        if not isinstance(obj, Ref):
            return False  # trusted data is never an instance of the student's classes
        return _as(bool, object.__getattribute__(self, "_conn").request("isinstance", obj, self))

    def __subclasscheck__(self, cls):
        if not isinstance(cls, Ref):
            return False
        return _as(bool, object.__getattribute__(self, "_conn").request("issubclass", cls, self))

    def __mro_entries__(self, bases):
        raise TypeError("Der Test kann keine Klasse von einer Klasse deiner Abgabe ableiten.")

    def __reduce_ex__(self, protocol):
        raise TypeError("Verweise auf Objekte deiner Abgabe lassen sich nicht kopieren.")

    __len__ = _converted(int, "len")
    __repr__ = _converted(str, "repr")
    __str__ = _converted(str, "str")
    __float__ = _converted(float, "float")
    __int__ = _converted(int, "int")
    __index__ = _converted(int, "index")
    __getitem__ = _forward("getitem")
    __setitem__ = _forward("setitem")
    __delitem__ = _forward("delitem")
    __contains__ = _forward("contains")
    __neg__ = _forward("unary", "neg")
    __pos__ = _forward("unary", "pos")
    __abs__ = _forward("unary", "abs")
    __invert__ = _forward("unary", "invert")


for _op in ARITHMETIC:
    _name = _op.rstrip("_")
    setattr(Ref, f"__{_name}__", _forward("binary", _op))
    setattr(Ref, f"__r{_name}__", _reflected(_op))


def _as(kind, value):
    """The answer of a conversion must already have the type Python requires of it."""
    if kind is bool and isinstance(value, bool) or kind is not bool and type(value) is kind:
        return value
    raise TypeError(f"Dein Objekt hat statt {kind.__name__} ein Objekt vom Typ {type(value).__name__} geliefert.")


def attach(info: dict, deadline: float = 60.0) -> Connection:
    """Connect this (trusted) kernel to the student's kernel."""
    global connection
    connection = Connection(info, deadline)
    return connection
