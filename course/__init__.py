"""Helpers for the course notebooks and the instructor pipeline.

Notebooks use :func:`data_dir`, :func:`data_file` and :func:`draw_dot`;
instructors use the command line ``python -m course`` (see :mod:`course.cli`).
The helpers are imported on first use, so ``python -m course.<module>`` (the
grading kernel's launcher among them) does not pay for NumPy and graphviz.
"""

from importlib import import_module

_HELPERS = {
    "data_dir": "course.data",
    "data_file": "course.data",
    "make_1d_dataset": "course.data",
    "draw_dot": "course.graph",
}

__all__ = sorted(_HELPERS)


def __getattr__(name: str):
    if name in _HELPERS:
        return getattr(import_module(_HELPERS[name]), name)
    raise AttributeError(f"module 'course' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_HELPERS])
