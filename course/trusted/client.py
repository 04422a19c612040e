"""The trusted end of the channel: a connection that sends requests to the student's kernel and waits for answers.

Runs in the trusted test kernel, which never runs student code.  A :class:`Connection` sends the envelopes of
:mod:`course.trusted.wire` over a :mod:`course.trusted.transport` (the Jupyter comm in grading, an in-process
pair in unit tests), strictly one request after the other.  Every request has a deadline; after it the
student's kernel is interrupted and the request fails; if it does not answer a ping then, every later request
fails at once.  Answers are decoded with :func:`wire.decode`: plain data becomes data of this side, references
become :class:`~course.trusted.proxies.Ref` objects (one per student object, so ``is``, sets and dicts work by
identity); references the tests drop are released on the student's side with the next request.

Errors keep their kind: an exception of the student's code arrives with its builtin type where tests rely on it
(:data:`KEPT_EXCEPTIONS`), otherwise as :class:`StudentError`; a request the student's end did not understand is
a :class:`~course.trusted.wire.ProtocolError` (a bug of this side, never a student's ``KeyError``).
"""

from __future__ import annotations

import builtins
import weakref

from course.trusted import proxies
from course.trusted.proxies import Ref
from course.trusted.transport import CommTransport, Transport
from course.trusted.wire import (
    STUDENT,
    Op,
    ProtocolError,
    decode,
    encode,
    parse_answer,
    parse_ref,
    request_envelope,
)

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
    """Requests to the student's end over ``transport``, strictly one after the other."""

    def __init__(self, transport: Transport, deadline: float = 60.0):
        self.transport = transport
        self.deadline = deadline
        self.refs: weakref.WeakValueDictionary[int, Ref] = weakref.WeakValueDictionary()
        self.released: set[int] = set()  # references the tests dropped: the student's side may forget them
        self.broken: str | None = None
        self.proxy_classes: dict[str, type] = {}  # see proxies.proxy_class
        self.unchecked = False  # interrupted without waiting whether it worked

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
        token = self.transport.send(request_envelope(op, tree, release), buffers)
        try:
            answer = self.transport.receive(token, self.deadline)
        except KeyboardInterrupt:  # the test cell's own timeout: stop the student's side, too
            self.transport.interrupt(wait=False)
            self.unchecked = True  # whether it stopped is asked by the next request: this cell must end now
            raise
        if answer is None:
            self.transport.interrupt()
            self._check_alive()
            raise NoAnswer(
                f"Dein Code hat nicht innerhalb von {self.deadline:.0f} s geantwortet, als der Test ihn benutzt hat "
                "(zum Beispiel eine Endlosschleife). Dieser Test zählt als nicht bestanden."
            )
        data, answer_buffers = answer
        status, value = parse_answer(data)
        if status == "error":
            if value["kind"] == STUDENT:
                raise _student_exception(value)
            detail = f"{value['type']}: {value['message']}"
            raise ProtocolError(f"Der Kernel der Abgabe hat die Anfrage {op!r} nicht verstanden ({detail}).")
        try:
            return decode(value, answer_buffers, self._ref)
        except ProtocolError:
            raise
        except Exception as exc:  # e.g. an unhashable key: still only a malformed answer
            raise ProtocolError(f"ungültige Antwort ({type(exc).__name__})") from None

    def ping(self, seconds: float) -> bool:
        """One harmless request without interrupting anything: is the student's end answering?"""
        token = self.transport.send(request_envelope(Op.CONVERT, encode(["bool", True], [], _trusted_ref)), [])
        return self.transport.receive(token, seconds) is not None  # any answer, even an error: it is alive

    def _check_alive(self, seconds: float = 5.0) -> None:
        """After an interrupt: if the student's kernel does not answer a ping, every later request fails at once."""
        if not self.ping(seconds):
            self.broken = STUCK

    # -- references

    def _ref(self, node: dict) -> Ref:
        key, name, classes = parse_ref(node)
        ref = self.refs.get(key)
        if ref is None:
            ref = proxies.make_ref(self, key, name, classes)
            self.refs[key] = ref
            self.released.discard(key)
            weakref.finalize(ref, self.released.add, key)
        return ref

    def names(self, names: list[str]) -> dict:
        found = self.request(Op.NAMES, list(names))
        if not isinstance(found, dict):
            raise ProtocolError("Die Namen kamen nicht als dict zurück.")
        return {k: v for k, v in found.items() if isinstance(k, str) and k in names}

    def module(self, name: str) -> Ref:
        return self.request(Op.MODULE, name)

    def close(self) -> None:
        self.transport.close()


def _trusted_ref(value):
    """Trusted objects never cross: only plain data and the student's own references do."""
    if isinstance(value, Ref):
        return {"t": "ref", "id": proxies.key_of(value)}
    raise TypeError(
        f"Ein Objekt vom Typ {type(value).__name__} kann nicht an deinen Code übergeben werden: Der Test darf ihm "
        "nur Daten (Zahlen, Texte, Listen, Arrays, Tensoren) und deine eigenen Objekte geben."
    )


def _student_exception(error: dict) -> BaseException:
    name, message = error["type"], error["message"]
    if error["builtin"] and name in KEPT_EXCEPTIONS:
        return getattr(builtins, name)(message)
    return StudentError(f"{name}: {message}" if message else name)


def attach(info: dict, deadline: float = 60.0) -> Connection:
    """Connect this (trusted) kernel to the student's kernel."""
    global connection
    connection = Connection(CommTransport(info), deadline)
    return connection
