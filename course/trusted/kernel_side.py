"""The student's end of the channel: answers the trusted test kernel's requests.

Runs inside the student's (sandboxed) kernel, registered before the first cell as the comm target
``course.bridge``.  It holds the objects the trusted side refers to (by their ``id``), and performs
exactly the operations of :data:`OPERATIONS` on them.  Nothing here is trusted: the student's code can
replace any of it; whatever it answers is only data to the trusted side.
"""

from __future__ import annotations

import importlib
import operator
import sys
import types

from course.trusted.wire import (
    ARITHMETIC,
    CONVERSIONS,
    TARGET,
    UNARY,
    Op,
    ProtocolError,
    UnknownOperation,
    answer_error,
    answer_ok,
    decode,
    encode,
    parse_request,
    ref_node,
)

BINARY = {name: getattr(operator, name) for name in ARITHMETIC}
UNARIES = {name: getattr(operator, name) for name in UNARY}
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
assert set(CONVERT) == set(CONVERSIONS)


class Objects:
    """The student's objects that the trusted side holds references to, and the namespace names come from
    (IPython's ``user_ns`` unless another one is given, as in the in-process unit tests)."""

    def __init__(self, namespace: dict | None = None):
        self.table: dict[int, object] = {}
        self.namespace = namespace

    def ref(self, value) -> dict:
        self.table[id(value)] = value
        cls = type(value)
        classes = [
            [str(getattr(c, "__module__", "")), str(getattr(c, "__qualname__", ""))]
            for c in getattr(cls, "__mro__", ())[:64]
        ]
        return ref_node(id(value), str(getattr(cls, "__name__", "?")), classes)

    def resolve(self, node: dict):
        key = node.get("id")
        if key not in self.table:
            raise ProtocolError("unbekannter Verweis")
        return self.table[key]


def _operand(table: dict, name):
    if name not in table:
        raise UnknownOperation(f"unbekannter Operator {str(name)[:40]!r}")
    return table[name]


def _namespace() -> dict:
    from IPython import get_ipython

    return get_ipython().user_ns


def _names(objects, names):
    ns = objects.namespace if objects.namespace is not None else _namespace()
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


OPERATIONS = {
    Op.NAMES: _names,
    Op.GETATTR: lambda o, obj, name: getattr(obj, name),
    Op.SETATTR: lambda o, obj, name, value: setattr(obj, name, value),
    Op.DELATTR: lambda o, obj, name: delattr(obj, name),
    Op.CALL: lambda o, obj, args, kwargs: obj(*args, **kwargs),
    Op.CALL_INPUTS: lambda o, obj, args, kwargs: [obj(*args, **kwargs), args, kwargs],
    Op.GETITEM: lambda o, obj, key: obj[key],
    Op.SETITEM: lambda o, obj, key, value: operator.setitem(obj, key, value),
    Op.DELITEM: lambda o, obj, key: operator.delitem(obj, key),
    Op.CONTAINS: lambda o, obj, item: item in obj,
    Op.ITER: lambda o, obj: iter(obj),
    Op.NEXT: _next,
    Op.BINARY: lambda o, name, a, b: _operand(BINARY, name)(a, b),
    Op.UNARY: lambda o, name, a: _operand(UNARIES, name)(a),
    Op.CONVERT: lambda o, name, a: _operand(CONVERT, name)(a),
    Op.ISINSTANCE: lambda o, obj, cls: isinstance(obj, cls),
    Op.ISSUBCLASS: lambda o, cls, base: issubclass(cls, base),
    Op.MODULE: lambda o, name: importlib.import_module(name),
    Op.DIR: lambda o, obj: [str(n) for n in dir(obj)],
}


def answer(objects: Objects, data: dict, buffers: list) -> tuple[dict, list]:
    """Perform one request; exceptions become an ``error`` answer (a malformed request: kind ``request``)."""
    out: list = []
    try:
        op, args_tree, release = parse_request(data)
        for key in release:  # references the trusted side no longer holds
            objects.table.pop(key, None)
        args = decode(args_tree, buffers, objects.resolve)
        result = OPERATIONS[op](objects, *args)
        return answer_ok(encode(result, out, objects.ref, identities=True)), out
    except BaseException as exc:  # the student's exceptions, KeyboardInterrupt from a deadline included
        return answer_error(exc), []


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
