"""Helpers for the course notebooks and the instructor pipeline.

Notebooks use :func:`data_dir`, :func:`data_file` and :func:`draw_dot`;
instructors use the command line ``python -m course`` (see :mod:`course.cli`).
"""

from course.data import data_dir, data_file, make_1d_dataset
from course.graph import draw_dot

__all__ = ["data_dir", "data_file", "draw_dot", "make_1d_dataset"]
