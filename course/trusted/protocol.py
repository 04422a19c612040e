"""The values that cross between the student's kernel and the trusted test kernel.

A value is encoded as a JSON tree plus a list of binary buffers (Jupyter comm messages carry
both).  Plain data is copied: ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``,
``bytes``, lists, tuples, sets and dicts of them, NumPy arrays and torch tensors (dtype, shape and
raw buffer; for tensors also ``requires_grad``, whether it is a leaf, its ``grad`` and its
identity in the student's kernel), ``torch.device``/``torch.dtype`` (by name), slices, ranges and
``Ellipsis``.  Everything else travels as a *reference*: ``{"t": "ref", "id": ...}`` plus the
names of its classes.

Decoding never unpickles or evaluates anything: every node is checked for its shape, tensors
only take dtypes from a fixed list and buffers must have exactly the announced size.  Both sides
use this module; only :func:`decode` guards the trusted side, :func:`encode` is convenience for
both.
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
MAX_CLASS_NAMES = 64


class ProtocolError(ValueError):
    """A message that does not follow the protocol (the student's side answered nonsense)."""


# --------------------------------------------------------------------------- encoding


def encode(value: Any, buffers: list, ref: Callable[[Any], dict], depth: int = 0) -> dict:
    """Encode ``value``; objects that are not plain data become ``ref(value)``."""
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
        return {"t": "slice", "v": [encode(p, buffers, ref, depth + 1) for p in (value.start, value.stop, value.step)]}
    if issubclass(cls, range):
        return {"t": "range", "v": [int.__repr__(p) for p in (value.start, value.stop, value.step)]}
    for kind, base in (("list", list), ("tuple", tuple), ("set", set), ("frozenset", frozenset)):
        if issubclass(cls, base):
            return {"t": kind, "v": [encode(v, buffers, ref, depth + 1) for v in base.__iter__(value)]}
    if issubclass(cls, dict):
        return {
            "t": "dict",
            "v": [
                [encode(k, buffers, ref, depth + 1), encode(v, buffers, ref, depth + 1)] for k, v in dict.items(value)
            ],
        }
    special = _encode_library_value(value, buffers, ref, depth)
    if special is not None:
        return special
    return ref(value)


def _encode_library_value(value, buffers, ref, depth):
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
            return _encode_tensor(value, buffers, ref, depth, torch)
        if issubclass(cls, torch.device):
            return {"t": "device", "v": str(value)}
        if issubclass(cls, torch.dtype):
            return {"t": "dtype", "v": str(value).removeprefix("torch.")}
    return None


def _encode_tensor(value, buffers, ref, depth, torch):
    name = str(value.dtype).removeprefix("torch.")
    if name not in TENSOR_DTYPES or value.layout != torch.strided:
        return ref(value)
    data = value.detach().cpu().contiguous()
    if name == "bfloat16":
        data = data.view(torch.int16)
    buffers.append(data.numpy().tobytes() if data.numel() else b"")
    grad = getattr(value, "grad", None) if value.is_leaf else None
    return {
        "t": "tensor",
        "dtype": name,
        "shape": list(value.shape),
        "b": len(buffers) - 1,
        "rg": bool(value.requires_grad),
        "leaf": bool(value.is_leaf),
        "grad": None if grad is None else encode(grad, buffers, ref, depth + 1),
        "id": id(value),
        "device": str(value.device),
    }


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
