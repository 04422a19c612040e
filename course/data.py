"""Where the course's data lives, and the deterministic 1-D regression data set.

Every notebook calls :func:`data_dir` (or :func:`data_file`) instead of a
relative path, so the same notebook runs unchanged in ``source/``,
``release/``, ``autograded/<student>/`` and in a student's own JupyterLab
that holds nothing but the release folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: Environment variable that overrides every other rule (tests, CI, JupyterHub).
DATA_DIR_ENV = "COURSE_DATA_DIR"

#: Split name -> (number of points, seed).  Changing these changes the committed files.
ONE_D_SPLITS = {"train": (4000, 2024), "test": (1000, 2025)}


def data_dir() -> Path:
    """Return the course's data folder, creating it if needed.

    1. ``$COURSE_DATA_DIR`` if set;
    2. ``<course root>/data`` of the first folder above the working directory
       that holds ``nbgrader_config.py`` (the instructor's checkout, the
       autograder's ``autograded/<student>/<assignment>/`` folders);
    3. otherwise ``~/nn-kurs-daten`` (a student who only has the release folder):
       one copy per user, never one per assignment.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        path = _course_root_data() or Path.home() / "nn-kurs-daten"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _course_root_data() -> Path | None:
    from course.layout import find_root

    root = find_root()
    return root / "data" if root is not None and (root / "data").is_dir() else None


def one_d_function(x: np.ndarray) -> np.ndarray:
    """The smooth target function behind the 1-D data set."""
    return np.sin(3.0 * x) + 0.5 * x**2 - 0.5


def make_1d_dataset(split: str) -> dict:
    """Generate a split of the 1-D data set: ``{"x": (N, 1), "y": (N, 1)}`` float32.

    Computed in float64 with NumPy's PCG64 generator and rounded to float32 at
    the end, so the result is bit-for-bit the same on every machine.
    """
    import torch

    if split not in ONE_D_SPLITS:
        raise ValueError(f"unknown split {split!r}, expected one of {sorted(ONE_D_SPLITS)}")
    n, seed = ONE_D_SPLITS[split]
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 2.0, size=n))
    y = one_d_function(x) + rng.normal(0.0, 0.1, size=n)
    as_column = lambda a: torch.from_numpy(a.astype(np.float32)).reshape(-1, 1)  # noqa: E731
    return {"x": as_column(x), "y": as_column(y)}


def write_1d_dataset(folder: Path) -> list[Path]:
    """Write ``1d_dataset_train.pt`` and ``1d_dataset_test.pt`` into ``folder``."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in ONE_D_SPLITS:
        path = folder / f"1d_dataset_{split}.pt"
        torch.save(make_1d_dataset(split), path)
        paths.append(path)
    return paths


def data_file(name: str) -> Path:
    """Path of a file in :func:`data_dir`; the 1-D data set is generated if missing."""
    path = data_dir() / name
    if not path.exists() and name in {f"1d_dataset_{s}.pt" for s in ONE_D_SPLITS}:
        write_1d_dataset(path.parent)
    return path
