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
