"""Graded test cells run in a trusted kernel that never runs student code.

During autograding (:class:`course.preprocessors.SafeExecute`) every notebook gets two kernels:

- the student's kernel, in the sandbox, runs the student's cells and the given cells, and answers
  requests over a Jupyter comm (:mod:`course.trusted.kernel_side`);
- the trusted kernel (:mod:`course.trusted.kernel`) runs the graded test cells, visible and hidden
  parts.  Before each test cell the names it uses are fetched from the student's kernel
  (:mod:`course.trusted.names`): plain data is copied, everything else becomes a reference whose
  operations are forwarded.

The modules read in one direction: :mod:`~course.trusted.wire` (what crosses: envelopes, operations,
reference nodes, error kinds, the value codec; both ends import it) -> :mod:`~course.trusted.transport`
(a Jupyter comm, or an in-process pair for tests) -> :mod:`~course.trusted.proxies` (references to the
student's objects) -> :mod:`~course.trusted.client` (the connection: requests, deadlines, releases) ->
:mod:`~course.trusted.names` and :mod:`~course.trusted.kernel` (the trusted kernel's life cycle).  The
student's end is :mod:`~course.trusted.kernel_side`, which imports only the wire.

Hidden test code never enters the student's kernel; the test cells' outputs (and so the feedback)
come from the trusted kernel.  Outside grading, in JupyterLab, test cells run in the student's
kernel as plain Python; :mod:`course.testing` has the two helpers that behave the same in both.
"""

from __future__ import annotations

import json
import sys


def setup(info_json: str, deadline: float, first: bool = True) -> None:
    """Run in the trusted kernel: connect to the student's kernel and let test cells see its names.

    The ``first`` connection must get an answer (else the grading environment is broken); a later one,
    after the trusted kernel was replaced mid-notebook, may find the student's kernel stuck: then every
    request fails at once with a German message.
    """
    import warnings

    from IPython import get_ipython

    from course.trusted import client, names

    # a warning quotes the line of test code that raised it (hidden tests included): none is shown, and the
    # outputs of test cells keep only errors and pass lines anyway (SafeExecute)
    warnings.simplefilter("ignore")

    connection = client.attach(json.loads(info_json), deadline=deadline)
    # the first answers can get lost while the subscription is still connecting: ask again
    if not any(connection.ping(0.5) for _ in range(120)):  # up to a minute on a loaded machine
        if first:
            raise RuntimeError("Der Kernel der Abgabe antwortet nicht auf den Test-Kanal.")
        connection.broken = client.STUCK
    names.install(get_ipython(), connection)


def reset() -> None:
    """Run in a trusted kernel between two notebooks (:class:`course.trusted.kernel.TrustedKernelSupply`): forget
    the last one, so that the next notebook finds the kernel as a fresh one with its modules imported.

    The kernel ran only the course's test cells; gone are the connection to the last student's kernel, the names
    its test cells bound or took over from the student, what the course's modules kept
    (:func:`_restore_course_modules`), IPython's history, output cache and last exception, the generators' states
    (reseeded as a fresh process seeds them) and torch's autograd mode and default type."""
    import gc
    import random

    from IPython import get_ipython

    from course.trusted import client, names

    shell = get_ipython()
    for transformer in [t for t in shell.ast_transformers if isinstance(t, names.StudentNames)]:
        shell.ast_transformers.remove(transformer)
        shell.events.unregister("post_run_cell", transformer.remember_own)
    if client.connection is not None:
        client.connection.close()
        client.connection = None
    shell.reset(new_session=True)
    shell.last_execution_result = None
    _restore_course_modules()
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    random.seed()  # fresh, unpredictable seeds, as a new process has them
    if (numpy := sys.modules.get("numpy")) is not None:
        numpy.random.seed()
    if (torch := sys.modules.get("torch")) is not None:
        torch.seed()
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
    gc.collect()


def preload(modules: list[str]) -> None:
    """Run when a trusted kernel started ahead starts (:class:`course.trusted.kernel.TrustedKernelSupply`): import
    the modules its test cells will import (torch takes seconds), binding no name; one that fails is left to the
    test cells, which import it again."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    _PRELOADED.update({name: dict(vars(module)) for name, module in _course_modules()})


#: The course's modules as :func:`preload` left them (name -> a copy of the module's namespace): :func:`reset`
#: restores them, so that what a test helper kept at module level (e.g. the student's classes it was given) does
#: not survive into the next notebook.
_PRELOADED: dict[str, dict] = {}


def _course_modules() -> list[tuple[str, object]]:
    return [(n, m) for n, m in list(sys.modules.items()) if (n == "course" or n.startswith("course.")) and m]


def _restore_course_modules() -> None:
    """Every course module back to its state after :func:`preload`; one imported since is imported afresh."""
    for name, module in _course_modules():
        saved = _PRELOADED.get(name)
        if saved is None:
            del sys.modules[name]
        else:
            namespace = vars(module)
            namespace.clear()
            namespace.update(saved)
