"""References to the student's objects on the trusted side: :class:`Ref` and the classes it may claim.

A :class:`Ref` stands for an object that stays in the student's kernel.  Attribute access, indexing, calls,
iteration, ``len`` and arithmetic are forwarded; what comes back is plain data or a new :class:`Ref`.  Every
forwarded operation goes through one function, :func:`request` (like rpyc's ``syncreq``), which reaches the
connection the reference came from.

What the trusted side would believe is never forwarded:

- comparisons and truth values (``==`` is identity, ordering and ``bool()`` raise ``TypeError``): an object
  that answers "yes" to every question would otherwise pass every assert;
- dunder attributes and IPython display hooks (:func:`course.trusted.wire.is_forwardable`): NumPy's
  ``__array_interface__``, torch's ``__torch_function__``, ``_repr_html_`` ... are asked by the trusted side's
  own machinery, which would trust the answer (a pointer, a class);
- class claims beyond :func:`claimable_bases`: ``isinstance(ref, torch.nn.Linear)`` is true when the student's
  object names that class among its own and the class is one whose instances are never data (modules,
  optimizers, data sets, loaders, samplers).  A claim of ``numbers.Real``, ``torch.Tensor``, an ABC or a
  builtin type is ignored: C code that trusts ``__class__`` would read the proxy's memory as a tensor.
"""

from __future__ import annotations

import abc
import sys

from course.trusted.wire import ARITHMETIC, Op, is_forwardable

NOT_DATA = (
    "{what} mit einem Objekt deiner Abgabe wird im Test nicht ausgewertet: Das Objekt bleibt in deinem Kernel "
    "und ist keine Zahl, kein Text und kein Tensor."
)
#: At most this many proxy classes (one per class name the student's objects report); later names share one.
MAX_PROXY_CLASSES = 256


def connection_of(ref: Ref):
    """The connection a reference came from."""
    return object.__getattribute__(ref, "_conn")


def key_of(ref: Ref) -> int:
    """The reference's id in the student's kernel."""
    return object.__getattribute__(ref, "_id")


def request(ref: Ref, op: str, *args):
    """Ask the student's end to perform ``op`` on ``ref`` (the one way a reference reaches its connection)."""
    return connection_of(ref).request(op, *args)


def claimable_bases() -> tuple[type, ...]:
    """Classes a reference may claim (with their subclasses): instances that are never plain data."""
    torch = sys.modules.get("torch")
    if torch is None:
        return ()
    bases = [torch.nn.Module, torch.optim.Optimizer, torch.utils.data.Dataset, torch.utils.data.DataLoader]
    bases += [torch.utils.data.Sampler]
    scheduler = getattr(torch.optim.lr_scheduler, "LRScheduler", None)
    return tuple(bases + ([scheduler] if scheduler is not None else []))


def claimed_class(classes: list[tuple[str, str]]) -> type | None:
    """The first of the student's classes that names a claimable class already loaded on the trusted side."""
    allowed = claimable_bases()
    if not allowed:
        return None
    torch = sys.modules.get("torch")
    numpy = sys.modules.get("numpy")
    data_types = tuple(t for t in (getattr(torch, "Tensor", None), getattr(numpy, "ndarray", None)) if t)
    for module, qualname in classes:
        if module == "__main__" or module not in sys.modules:
            continue  # a student's own class, or a module the trusted side never imported: nothing is imported
        target = sys.modules[module]
        for part in qualname.split("."):
            target = getattr(target, part, None) if target is not None and part.isidentifier() else None
        if (
            isinstance(target, type)
            and not isinstance(target, abc.ABCMeta)
            and issubclass(target, allowed)
            and not (data_types and issubclass(target, data_types))
        ):
            return target
    return None


def proxy_class(name: str, cache: dict[str, type]) -> type:
    """A subclass of :class:`Ref` named like the student's class (for messages).

    ``cache`` belongs to one connection (one submission) and holds at most ``MAX_PROXY_CLASSES`` names: a
    student who reports a new class name for every object gets ``Objekt`` beyond that, and the classes go
    with the connection.
    """
    if name not in cache:
        if len(cache) >= MAX_PROXY_CLASSES:
            name = "Objekt"
            if name in cache:
                return cache[name]
        cache[name] = type(name, (Ref,), {"__module__": "deine_abgabe", "__slots__": ()})
    return cache[name]


def make_ref(conn, key: int, name: str, classes: list[tuple[str, str]]) -> Ref:
    return proxy_class(name, conn.proxy_classes)(conn, key, claimed_class(classes))


def _forward(op, name=None):
    def method(self, *args):
        return request(self, op, name, self, *args) if name is not None else request(self, op, self, *args)

    return method


def _converted(kind, name):
    """``len(ref)``, ``float(ref)``, ...: asked of the student's side, the answer must have Python's required type."""

    def method(self):
        return _as(kind, request(self, Op.CONVERT, name, self))

    return method


def _reflected(name):
    def method(self, other):
        return request(self, Op.BINARY, name, other, self)

    return method


class Ref:
    """An object that stays in the student's kernel; operations on it are forwarded there."""

    __slots__ = ("_conn", "_id", "_claim", "__weakref__")

    def __init__(self, conn, key: int, claim: type | None = None):
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_id", key)
        object.__setattr__(self, "_claim", claim)

    def __getattribute__(self, name):
        if name == "__class__":
            return object.__getattribute__(self, "_claim") or type(self)
        if name in ("__dict__", "__slots__"):
            raise AttributeError(name)
        if name in ("_conn", "_id", "_claim"):
            return object.__getattribute__(self, name)
        if not is_forwardable(name):
            return object.__getattribute__(self, name)  # the proxy's own, or AttributeError: never the student's
        return request(self, Op.GETATTR, self, name)

    def __setattr__(self, name, value):
        if not is_forwardable(name):
            raise AttributeError(f"{name} wird nicht an deine Abgabe weitergegeben.")
        request(self, Op.SETATTR, self, name, value)

    def __delattr__(self, name):
        if not is_forwardable(name):
            raise AttributeError(f"{name} wird nicht an deine Abgabe weitergegeben.")
        request(self, Op.DELATTR, self, name)

    def __call__(self, *args, **kwargs):
        return request(self, Op.CALL, self, list(args), kwargs)

    def __iter__(self):
        iterator = request(self, Op.ITER, self)
        while True:
            step = request(self, Op.NEXT, iterator)
            if not isinstance(step, dict) or step.get("stop"):
                return
            yield step.get("value")

    def __next__(self):
        step = request(self, Op.NEXT, self)
        if not isinstance(step, dict) or step.get("stop"):
            raise StopIteration
        return step.get("value")

    def __hash__(self):
        return hash(key_of(self))

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
        return _as(bool, request(self, Op.ISINSTANCE, obj, self))

    def __subclasscheck__(self, cls):
        if not isinstance(cls, Ref):
            return False
        return _as(bool, request(self, Op.ISSUBCLASS, cls, self))

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
    __getitem__ = _forward(Op.GETITEM)
    __setitem__ = _forward(Op.SETITEM)
    __delitem__ = _forward(Op.DELITEM)
    __contains__ = _forward(Op.CONTAINS)
    __neg__ = _forward(Op.UNARY, "neg")
    __pos__ = _forward(Op.UNARY, "pos")
    __abs__ = _forward(Op.UNARY, "abs")
    __invert__ = _forward(Op.UNARY, "invert")


for _op in ARITHMETIC:
    _name = _op.rstrip("_")
    setattr(Ref, f"__{_name}__", _forward(Op.BINARY, _op))
    setattr(Ref, f"__r{_name}__", _reflected(_op))


def _as(kind, value):
    """The answer of a conversion must already have the type Python requires of it."""
    if kind is bool and isinstance(value, bool) or kind is not bool and type(value) is kind:
        return value
    raise TypeError(f"Dein Objekt hat statt {kind.__name__} ein Objekt vom Typ {type(value).__name__} geliefert.")
