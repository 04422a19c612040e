"""The student's end of the channel: answers the trusted test kernel's requests.

Runs inside the student's (sandboxed) kernel, registered before the first cell as the comm target
``course.bridge``.  It holds the objects the trusted side refers to (by their ``id``), and performs
exactly the operations of :data:`OPS` on them.  Nothing here is trusted: the student's code can
replace any of it; whatever it answers is only data to the trusted side.
"""

from __future__ import annotations

import importlib
import operator
import sys
import types

from course.trusted.protocol import ARITHMETIC, TARGET, ProtocolError, decode, encode

BINARY = {name: getattr(operator, name) for name in ARITHMETIC}
UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": operator.abs, "invert": operator.invert}
CONVERT = {
    "bool": bool,
    "float": float,
    "int": int,
    "index": operator.index,
    "complex": complex,
    "len": len,
    "repr": repr,
    "str": str,
    "hash": hash,
}
MAX_TEXT = 100_000


class Objects:
    """The student's objects that the trusted side holds references to."""

    def __init__(self):
        self.table: dict[int, object] = {}

    def ref(self, value) -> dict:
        self.table[id(value)] = value
        cls = type(value)
        return {
            "t": "ref",
            "id": id(value),
            "name": getattr(cls, "__name__", "?")[:200],
            "classes": [
                [str(getattr(c, "__module__", ""))[:200], str(getattr(c, "__qualname__", ""))[:200]]
                for c in getattr(cls, "__mro__", ())[:64]
            ],
            "is_class": isinstance(value, type),
        }

    def resolve(self, node: dict):
        key = node.get("id")
        if key not in self.table:
            raise ProtocolError("unbekannter Verweis")
        return self.table[key]


def _namespace() -> dict:
    from IPython import get_ipython

    return get_ipython().user_ns


def _names(objects, names):
    ns = _namespace()
    found = {}
    for name in names:
        if isinstance(name, str) and name in ns and not isinstance(ns[name], types.ModuleType):
            found[name] = ns[name]
    return found


def _next(objects, iterator):
    try:
        return {"value": next(iterator)}
    except StopIteration:
        return {"stop": True}


OPS = {
    "names": _names,
    "getattr": lambda o, obj, name: getattr(obj, name),
    "setattr": lambda o, obj, name, value: setattr(obj, name, value),
    "delattr": lambda o, obj, name: delattr(obj, name),
    "call": lambda o, obj, args, kwargs: obj(*args, **kwargs),
    "call_inputs": lambda o, obj, args, kwargs: [obj(*args, **kwargs), args, kwargs],
    "getitem": lambda o, obj, key: obj[key],
    "setitem": lambda o, obj, key, value: operator.setitem(obj, key, value),
    "delitem": lambda o, obj, key: operator.delitem(obj, key),
    "contains": lambda o, obj, item: item in obj,
    "iter": lambda o, obj: iter(obj),
    "next": _next,
    "binary": lambda o, name, a, b: BINARY[name](a, b),
    "unary": lambda o, name, a: UNARY[name](a),
    "convert": lambda o, name, a: CONVERT[name](a),
    "isinstance": lambda o, obj, cls: isinstance(obj, cls),
    "issubclass": lambda o, cls, base: issubclass(cls, base),
    "module": lambda o, name: importlib.import_module(name),
    "dir": lambda o, obj: [str(n) for n in dir(obj)],
}


def answer(objects: Objects, data: dict, buffers: list) -> tuple[dict, list]:
    """Perform one request; exceptions become an ``error`` answer with type and message."""
    out: list = []
    for key in data.get("release") or []:  # references the trusted side no longer holds
        if isinstance(key, int):
            objects.table.pop(key, None)
    try:
        args = decode(data.get("args", {"t": "list", "v": []}), buffers, objects.resolve)
        result = OPS[data["op"]](objects, *args)
        return {"ok": encode(result, out, objects.ref)}, out
    except BaseException as exc:  # the student's exceptions, KeyboardInterrupt from a deadline included
        return {
            "error": {
                "type": type(exc).__name__[:200],
                "builtin": type(exc).__module__ == "builtins",
                "message": str(exc)[:MAX_TEXT] if not isinstance(exc, RecursionError) else "maximum recursion depth",
            }
        }, []


def serve() -> None:
    """Register the comm target (run once, silently, before the student's first cell)."""
    from comm import get_comm_manager

    objects = Objects()

    def opened(comm, _open_msg):
        def on_msg(msg):
            reply, buffers = answer(objects, msg["content"]["data"], msg.get("buffers") or [])
            comm.send(reply, buffers=buffers)

        comm.on_msg(on_msg)

    get_comm_manager().register_target(TARGET, opened)
    sys.modules[__name__]._objects = objects
