"""The wire format between the student's kernel and the trusted test kernel: both ends import only this.

One module for everything that crosses: the request and answer envelopes, the operation names, the
reference node, the kinds of errors, the budgets of a message and the value codec.

A value is encoded as a JSON tree plus a list of binary buffers (Jupyter comm messages carry
both).  Plain data is copied: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``,
``bytes``, lists, tuples, sets and dicts of them, NumPy arrays and torch tensors (dtype, shape and
raw buffer; for tensors also ``requires_grad``, whether it is a leaf and its ``grad``; the student's
end adds the tensor's identity in its kernel, the trusted end never sends one of its own),
``torch.device``/``torch.dtype`` (by name), slices, ranges and ``Ellipsis``.  Everything else travels
as a *reference*: :func:`ref_node` (an id in the student's kernel, a display name and the names of its
classes).

Decoding never unpickles or evaluates anything: every node is checked for its shape, tensors
only take dtypes from a fixed list and buffers must have exactly the announced size.  Only
:func:`decode` and the ``parse_*`` functions guard the trusted side; the ``encode``/envelope
builders are convenience for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

#: dtypes that cross as raw buffers (torch name, NumPy name of the buffer's items).
TENSOR_DTYPES = {
    "float16": "float16",
    "float32": "float32",
    "float64": "float64",
    "bfloat16": "int16",  # NumPy has no bfloat16: the raw 16-bit words travel
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "bool": "bool",
    "complex64": "complex64",
    "complex128": "complex128",
}
ARRAY_DTYPES = {
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
}
#: The comm target of the student's end.
TARGET = "course.bridge"
#: Binary operators the trusted side may forward (names of the :mod:`operator` module).
ARITHMETIC = (
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "matmul",
    "and_",
    "or_",
    "xor",
    "lshift",
    "rshift",
)
MAX_DEPTH = 40
MAX_NODES = 1_000_000
MAX_STR = 10_000_000
MAX_INT_DIGITS = 4000
MAX_CLASS_NAMES = 64  # classes of a reference node that the trusted side looks at
MAX_NAME = 200  # characters of a class, module or exception name
MAX_MESSAGE = 100_000  # characters of an error message
#: Budget of one message from the student's kernel (a Jupyter message: identities, delimiter, signature,
#: header, parent, metadata, content, then the buffers): frames and bytes, checked before anything is parsed.
MAX_FRAMES = 4096  # a list of many small tensors is one buffer each
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_JSON_BYTES = 32 * 1024 * 1024  # header, parent, metadata and content together

# --------------------------------------------------------------------------- operations


class Op:
    """The operations the student's end performs (``kernel_side.OPERATIONS`` implements each one)."""

    NAMES = "names"
    GETATTR = "getattr"
    SETATTR = "setattr"
    DELATTR = "delattr"
    CALL = "call"
    CALL_INPUTS = "call_inputs"
    GETITEM = "getitem"
    SETITEM = "setitem"
    DELITEM = "delitem"
    CONTAINS = "contains"
    ITER = "iter"
    NEXT = "next"
    BINARY = "binary"
    UNARY = "unary"
    CONVERT = "convert"
    ISINSTANCE = "isinstance"
    ISSUBCLASS = "issubclass"
    MODULE = "module"
    DIR = "dir"


OPERATIONS = frozenset(v for k, v in vars(Op).items() if k.isupper())
UNARY = ("neg", "pos", "abs", "invert")
CONVERSIONS = ("bool", "float", "int", "index", "complex", "len", "repr", "str", "hash")

# --------------------------------------------------------------------------- errors


class ProtocolError(ValueError):
    """A message that does not follow the protocol (the student's side answered nonsense)."""


class UnknownOperation(ProtocolError):
    """A request names an operation (or operand) the student's end does not perform: a bug of the trusted side."""


#: Error kinds of an answer: the student's code raised, or the request itself was not understood.
STUDENT, REQUEST = "student", "request"


def is_forwardable(name: str) -> bool:
    """May an attribute of this name be asked of the student's object?  Never a dunder (Python's and the
    libraries' protocols: ``__array_interface__``, ``__torch_function__``, ``__dlpack__`` ...) and never an IPython
    display hook (``_repr_html_``, ``_ipython_display_``): those are asked by the trusted side's own machinery,
    whose answer it would trust."""
    if not isinstance(name, str) or not name.isidentifier():
        return False
    if name.startswith("__") and name.endswith("__"):
        return False
    return not (name.startswith("_repr_") or name.startswith("_ipython_"))


# --------------------------------------------------------------------------- envelopes


def request_envelope(op: str, args: dict, release: list[int] | None = None) -> dict:
    return {"op": op, "args": args, "release": list(release or [])}


def parse_request(data) -> tuple[str, dict, list[int]]:
    """The student's end: ``(op, args tree, references to forget)``; :class:`UnknownOperation` for an unknown op."""
    if not isinstance(data, dict):
        raise ProtocolError("Anfrage ohne Inhalt")
    op = data.get("op")
    if op not in OPERATIONS:
        raise UnknownOperation(f"unbekannte Operation {str(op)[:40]!r}")
    release = [k for k in data.get("release") or [] if isinstance(k, int) and not isinstance(k, bool)]
    return op, data.get("args", {"t": "list", "v": []}), release


def answer_ok(tree: dict) -> dict:
    return {"ok": tree}


def answer_error(exc: BaseException) -> dict:
    """An exception on the student's end as an answer: its kind, type name, whether builtin, message."""
    kind = REQUEST if isinstance(exc, ProtocolError) else STUDENT
    message = "maximum recursion depth" if isinstance(exc, RecursionError) else str(exc)
    return {
        "error": {
            "kind": kind,
            "type": type(exc).__name__[:MAX_NAME],
            "builtin": type(exc).__module__ == "builtins",
            "message": message[:MAX_MESSAGE],
        }
    }


def parse_answer(data) -> tuple[str, object]:
    """The trusted end: ``("ok", tree)`` or ``("error", {"kind", "type", "builtin", "message"})`` with checked
    fields; anything else is a :class:`ProtocolError`."""
    if not isinstance(data, dict):
        raise ProtocolError("Antwort ohne Inhalt")
    if "ok" in data:
        return "ok", data["ok"]
    error = data.get("error")
    if not isinstance(error, dict):
        raise ProtocolError("Antwort ohne Ergebnis")
    return "error", {
        "kind": REQUEST if error.get("kind") == REQUEST else STUDENT,
        "type": str(error.get("type", "Exception"))[:MAX_NAME],
        "builtin": error.get("builtin") is True,
        "message": str(error.get("message", ""))[:MAX_MESSAGE],
    }


def within_budget(frames: list) -> bool:
    """Whether a received message (its frames, identities included) fits the budget of one message."""
    if len(frames) > MAX_FRAMES:
        return False
    sizes = [len(f) for f in frames]
    if sum(sizes) > MAX_MESSAGE_BYTES:
        return False
    try:
        start = next(i for i, f in enumerate(frames) if bytes(f[:20]) == b"<IDS|MSG>") + 1
    except StopIteration:
        return False
    return sum(sizes[start : start + 5]) <= MAX_JSON_BYTES  # signature, header, parent, metadata, content


# --------------------------------------------------------------------------- reference nodes


def ref_node(key: int, name: str, classes: list[list[str]]) -> dict:
    """A reference to an object of the student's kernel: its id there, a display name and its classes
    (``[module, qualname]`` along the MRO)."""
    return {"t": "ref", "id": key, "name": name[:MAX_NAME], "classes": classes[:MAX_CLASS_NAMES]}


def parse_ref(node: dict) -> tuple[int, str, list[tuple[str, str]]]:
    """``(id, display name, classes)`` of a reference node; the name is an identifier (else ``Objekt``) and only
    well-formed class entries are kept."""
    key = node.get("id")
    if not isinstance(key, int) or isinstance(key, bool):
        raise ProtocolError("ungültiger Verweis")
    name = node.get("name")
    name = name if isinstance(name, str) and name.isidentifier() and len(name) <= MAX_NAME else "Objekt"
    classes = node.get("classes")
    entries = []
    for entry in classes[:MAX_CLASS_NAMES] if isinstance(classes, list) else []:
        if (
            isinstance(entry, list)
            and len(entry) == 2
            and all(isinstance(e, str) and len(e) <= MAX_NAME for e in entry)
        ):
            entries.append((entry[0], entry[1]))
    return key, name, entries


# --------------------------------------------------------------------------- encoding


def encode(value: Any, buffers: list, ref: Callable[[Any], dict], depth: int = 0, identities: bool = False) -> dict:
    """Encode ``value``; objects that are not plain data become ``ref(value)``.

    ``identities``: tensors carry their ``id`` (only the student's end sets it: the trusted side never tells
    the student where its objects live)."""
    if depth > MAX_DEPTH:
        raise ProtocolError("Der Wert ist zu tief verschachtelt.")
    cls = type(value)  # the real type: a lying ``__class__`` changes nothing here
    if value is None:
        return {"t": "none"}
    if value is Ellipsis:
        return {"t": "ellipsis"}
    if issubclass(cls, bool):
        return {"t": "bool", "v": bool.__bool__(value)}
    if issubclass(cls, int):
        return {"t": "int", "v": int.__repr__(value)}
    if issubclass(cls, float):
        return {"t": "float", "v": float.__repr__(value)}
    if issubclass(cls, complex):
        return {
            "t": "complex",
            "v": [float.__repr__(complex.real.__get__(value)), float.__repr__(complex.imag.__get__(value))],
        }
    if issubclass(cls, str):
        return {"t": "str", "v": str.__str__(value)}
    if issubclass(cls, bytes | bytearray):
        buffers.append(bytes.__bytes__(value) if issubclass(cls, bytes) else bytes(bytearray(value)))
        return {"t": "bytes", "b": len(buffers) - 1}
    if issubclass(cls, slice):
        return {
            "t": "slice",
            "v": [encode(p, buffers, ref, depth + 1, identities) for p in (value.start, value.stop, value.step)],
        }
    if issubclass(cls, range):
        return {"t": "range", "v": [int.__repr__(p) for p in (value.start, value.stop, value.step)]}
    for kind, base in (("list", list), ("tuple", tuple), ("set", set), ("frozenset", frozenset)):
        if issubclass(cls, base):
            return {"t": kind, "v": [encode(v, buffers, ref, depth + 1, identities) for v in base.__iter__(value)]}
    if issubclass(cls, dict):
        return {
            "t": "dict",
            "v": [
                [encode(k, buffers, ref, depth + 1, identities), encode(v, buffers, ref, depth + 1, identities)]
                for k, v in dict.items(value)
            ],
        }
    special = _encode_library_value(value, buffers, ref, depth, identities)
    if special is not None:
        return special
    return ref(value)


def _encode_library_value(value, buffers, ref, depth, identities):
    """NumPy and torch values (imported lazily: only where they are already loaded)."""
    import sys

    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    if np is not None:
        cls = type(value)
        if issubclass(cls, np.ndarray) and value.dtype.name in ARRAY_DTYPES:
            data = np.ascontiguousarray(value)
            buffers.append(data.tobytes())
            return {"t": "ndarray", "dtype": value.dtype.name, "shape": list(value.shape), "b": len(buffers) - 1}
        if issubclass(cls, np.bool_):
            return {"t": "bool", "v": bool(value)}
        if issubclass(cls, np.integer):
            return {"t": "int", "v": str(int(value))}
        if issubclass(cls, np.floating):
            return {"t": "float", "v": repr(float(value))}
    if torch is not None:
        cls = type(value)
        if issubclass(cls, torch.Tensor):
            return _encode_tensor(value, buffers, ref, depth, torch, identities)
        if issubclass(cls, torch.device):
            return {"t": "device", "v": str(value)}
        if issubclass(cls, torch.dtype):
            return {"t": "dtype", "v": str(value).removeprefix("torch.")}
    return None


def _encode_tensor(value, buffers, ref, depth, torch, identities):
    name = str(value.dtype).removeprefix("torch.")
    if name not in TENSOR_DTYPES or value.layout != torch.strided:
        return ref(value)
    data = value.detach().cpu().contiguous()
    if name == "bfloat16":
        data = data.view(torch.int16)
    buffers.append(data.numpy().tobytes() if data.numel() else b"")
    grad = getattr(value, "grad", None) if value.is_leaf else None
    node = {
        "t": "tensor",
        "dtype": name,
        "shape": list(value.shape),
        "b": len(buffers) - 1,
        "rg": bool(value.requires_grad),
        "leaf": bool(value.is_leaf),
        "grad": None if grad is None else encode(grad, buffers, ref, depth + 1, identities),
        "device": str(value.device),
    }
    if identities:
        node["id"] = id(value)
    return node


# --------------------------------------------------------------------------- decoding


class _Budget:
    def __init__(self):
        self.nodes = 0

    def spend(self):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ProtocolError("Der Wert hat zu viele Teile.")


def decode(tree: Any, buffers: list, resolve: Callable[[dict], Any]) -> Any:
    """Decode a tree made by :func:`encode`; ``resolve`` turns a ``ref`` node into an object."""
    return _decode(tree, buffers, resolve, 0, _Budget())


def _field(node: dict, key: str, kind):
    value = node.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ProtocolError(f"Feld {key!r} fehlt oder hat den falschen Typ.")
    return value


def _int(text) -> int:
    if not isinstance(text, str) or len(text) > MAX_INT_DIGITS:
        raise ProtocolError("ungültige ganze Zahl")
    try:
        return int(text, 10)
    except ValueError:
        raise ProtocolError("ungültige ganze Zahl") from None


def _float(text) -> float:
    if not isinstance(text, str) or len(text) > 64:
        raise ProtocolError("ungültige Gleitkommazahl")
    try:
        return float(text)
    except ValueError:
        raise ProtocolError("ungültige Gleitkommazahl") from None


def _buffer(node: dict, buffers: list) -> bytes:
    index = _field(node, "b", int)
    if not 0 <= index < len(buffers):
        raise ProtocolError("Verweis auf einen fehlenden Puffer")
    return bytes(buffers[index])


def _shape(node: dict) -> tuple[int, ...]:
    shape = _field(node, "shape", list)
    if len(shape) > 32 or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**40 for n in shape):
        raise ProtocolError("ungültige Form")
    return tuple(shape)


def _decode(tree, buffers, resolve, depth, budget):
    budget.spend()
    if depth > MAX_DEPTH:
        raise ProtocolError("Der Wert ist zu tief verschachtelt.")
    if not isinstance(tree, dict):
        raise ProtocolError("Knoten ohne Typ")
    kind = tree.get("t")

    def sub(item):
        return _decode(item, buffers, resolve, depth + 1, budget)

    match kind:
        case "none":
            return None
        case "ellipsis":
            return Ellipsis
        case "bool":
            return _field(tree, "v", bool)
        case "int":
            return _int(tree.get("v"))
        case "float":
            return _float(tree.get("v"))
        case "complex":
            parts = _field(tree, "v", list)
            if len(parts) != 2:
                raise ProtocolError("ungültige komplexe Zahl")
            return complex(_float(parts[0]), _float(parts[1]))
        case "str":
            text = _field(tree, "v", str)
            if len(text) > MAX_STR:
                raise ProtocolError("Text zu lang")
            return text
        case "bytes":
            return _buffer(tree, buffers)
        case "slice":
            parts = _field(tree, "v", list)
            if len(parts) != 3:
                raise ProtocolError("ungültiger Slice")
            return slice(*(sub(p) for p in parts))
        case "range":
            parts = _field(tree, "v", list)
            if len(parts) != 3:
                raise ProtocolError("ungültiger Bereich")
            return range(*(_int(p) for p in parts))
        case "list" | "tuple" | "set" | "frozenset":
            items = [sub(v) for v in _field(tree, "v", list)]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        case "dict":
            result = {}
            for pair in _field(tree, "v", list):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ProtocolError("ungültiger Eintrag eines dict")
                result[sub(pair[0])] = sub(pair[1])
            return result
        case "ndarray":
            return _decode_array(tree, buffers)
        case "tensor":
            return _decode_tensor(tree, buffers, sub)
        case "device":
            import torch

            return torch.device(_field(tree, "v", str)[:32])
        case "dtype":
            import torch

            name = _field(tree, "v", str)
            if name not in TENSOR_DTYPES:
                raise ProtocolError("unbekannter dtype")
            return getattr(torch, name)
        case "ref":
            return resolve(tree)
    raise ProtocolError(f"unbekannter Knotentyp {str(kind)[:40]!r}")


def _decode_array(tree, buffers):
    import numpy as np

    name = _field(tree, "dtype", str)
    if name not in ARRAY_DTYPES:
        raise ProtocolError("unbekannter dtype")
    shape = _shape(tree)
    raw = _buffer(tree, buffers)
    dtype = np.dtype(name)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise ProtocolError("Die Größe des Puffers passt nicht zur Form.")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode_tensor(tree, buffers, sub):
    import numpy as np
    import torch

    name = _field(tree, "dtype", str)
    if name not in TENSOR_DTYPES:
        raise ProtocolError("unbekannter dtype")
    shape = _shape(tree)
    raw = _buffer(tree, buffers)
    item = np.dtype(TENSOR_DTYPES[name])
    if len(raw) != math.prod(shape) * item.itemsize:
        raise ProtocolError("Die Größe des Puffers passt nicht zur Form.")
    tensor = torch.from_numpy(np.frombuffer(raw, dtype=item).reshape(shape).copy())
    if name == "bfloat16":
        tensor = tensor.view(torch.bfloat16)
    device = tree.get("device")
    if isinstance(device, str) and device.startswith("cuda") and len(device) < 16 and torch.cuda.is_available():
        try:
            tensor = tensor.to(device)  # back onto the GPU it came from, where this side has one
        except (RuntimeError, ValueError):
            pass
    if _field(tree, "rg", bool) and (tensor.is_floating_point() or tensor.is_complex()):
        tensor.requires_grad_(True)
        grad = tree.get("grad")
        if grad is not None:
            grad = sub(grad)
            if type(grad) is torch.Tensor and grad.shape == tensor.shape and grad.dtype == tensor.dtype:
                tensor.grad = grad.detach()
        if not _field(tree, "leaf", bool):
            tensor = tensor.clone()  # a result of a computation: not a leaf, has a grad_fn
    identity = tree.get("id")
    if isinstance(identity, int) and not isinstance(identity, bool):
        tensor._course_identity = identity
    return tensor
