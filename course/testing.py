"""Helpers for test cells that behave the same in JupyterLab and in the trusted test kernel.

In JupyterLab a test cell runs in the student's kernel; during grading it runs in the trusted
kernel (:mod:`course.trusted`), where the student's objects are copies (plain data) or references.
Three things need a helper there:

- :func:`identity` -- ``id()`` of an object *in the student's kernel*: the same number for the
  same object, also for tensors that arrived as copies (``id()`` of a copy is a different number);
- :func:`call_with_inputs` -- a call that also returns its arguments as they are afterwards: the
  arguments a test passes are copies in the student's kernel, so a function that changes its input
  in place (``x.clamp_(min=0)``) is only seen through them;
- :func:`student_module` -- a module as the student's kernel has it, to build objects *there*
  (for example a model or a ``DataLoader`` handed to the student's ``train`` function, or to seed
  the student's random number generator).  Everything a test computes to compare with stays
  on the trusted side, with the test's own imports.

One helper only saves time: :func:`each` (with :func:`attribute` and :func:`method`) builds or reads
many of the student's objects in one request instead of one per object (08 reads thousands of
``Value`` nodes).  Its result is the same as the plain list comprehension it stands for.
"""

from __future__ import annotations

import importlib
import weakref

_functions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per connection: {(module, name): reference}


def _connection():
    from course.trusted import client

    return client.connection


def identity(obj) -> int:
    """``id(obj)`` in the student's kernel."""
    from course.trusted.proxies import Ref, key_of

    if isinstance(obj, Ref):
        return key_of(obj)
    return getattr(obj, "_course_identity", id(obj))  # a tensor copied from the student's kernel carries it


def student_function(module: str, name: str):
    """``getattr(student_module(module), name)``, looked up once per connection (a request saved per use).

    For functions and classes of modules (``builtins.list``, ``operator.attrgetter``,
    ``torch.set_grad_enabled``); outside grading the function itself.
    """
    connection = _connection()
    if connection is None:
        return getattr(importlib.import_module(module), name)
    return _cached(connection, module, name)


def _cached(connection, module: str, name: str):
    cache = _functions.setdefault(connection, {})
    if (module, name) not in cache:
        cache[module, name] = getattr(connection.module(module), name)
    return cache[module, name]


def student_module(name: str):
    """The module ``name`` of the student's kernel (here, outside grading: the module itself)."""
    connection = _connection()
    if connection is None:
        return importlib.import_module(name)
    return connection.module(name)


def call_with_inputs(function, *args, **kwargs):
    """``function(*args, **kwargs)``; returns ``(result, args, kwargs)``, the arguments as they are after the call."""
    from course.trusted.proxies import Ref, request
    from course.trusted.wire import Op

    if isinstance(function, Ref):
        result, args_after, kwargs_after = request(function, Op.CALL_INPUTS, function, list(args), kwargs)
        return result, tuple(args_after), kwargs_after
    return function(*args, **kwargs), args, kwargs


def each(function, *sequences) -> list:
    """``[function(*items) for items in zip(*sequences)]``.

    During grading, when ``function`` is one of the student's objects (a class such as ``Value``, a
    function, or :func:`attribute` / :func:`method`), the whole list is computed in the student's
    kernel with one request.  Any other function is applied here, item by item.
    """
    from course.trusted.proxies import Ref, connection_of

    if not isinstance(function, Ref):
        return list(map(function, *sequences))
    connection = connection_of(function)
    student_list, student_map = _cached(connection, "builtins", "list"), _cached(connection, "builtins", "map")
    return student_list(student_map(function, *sequences))


def each_with_inputs(function, *sequences) -> tuple[list, list[list]]:
    """:func:`each` that also returns the argument lists as they are after the calls.

    A function that changes its inputs in place (``x.clamp_(min=0)``) changes the student kernel's copies
    of the test's arguments; those come back here.  During grading the argument lists are built in the
    student's kernel as ``collections.deque`` objects (they stay there as references), mapped over, and
    read back: a few requests for the whole table instead of one per call.  Outside grading the
    arguments are the caller's own objects, changed in place.
    """
    from course.trusted.proxies import Ref, connection_of

    if not isinstance(function, Ref):
        return list(map(function, *sequences)), [list(s) for s in sequences]
    connection = connection_of(function)
    student_list, student_map = _cached(connection, "builtins", "list"), _cached(connection, "builtins", "map")
    deque = _cached(connection, "collections", "deque")
    queues = [deque(list(s)) for s in sequences]
    results = student_list(student_map(function, *queues))
    return results, [student_list(q) for q in queues]


def attribute(*names):
    """``operator.attrgetter(*names)`` of the student's kernel, for :func:`each`: ``each(attribute("grad"), nodes)``."""
    return student_function("operator", "attrgetter")(*names)


def method(name: str, *args, **kwargs):
    """``operator.methodcaller(name, ...)`` of the student's kernel, for :func:`each` and single calls."""
    return student_function("operator", "methodcaller")(name, *args, **kwargs)
