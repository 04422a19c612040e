"""Benchmark (prints figures, asserts nothing): solution notebooks and autograding of the demo submissions.

    python benchmarks/run.py [assignment ...]

1. seconds to execute each solution notebook (as `course check` does);
2. seconds to autograde the three demo submissions of each notebook, one at a time (per notebook and
   per submission), and the whole batch with the course's parallel grading (all cores).
Runs in a temporary copy of the course, so the working tree and its gradebook stay untouched.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from course import pipeline

REPO = Path(__file__).resolve().parents[1]


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def fresh_course(tmp: Path, names: list[str]) -> Path:
    root = tmp / "kurs"
    (root / "source").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    for name in names:
        shutil.copytree(REPO / "source" / name, root / "source" / name)
    pipeline.release(root)
    for name in names:
        for student, answers in pipeline.demo_answers(root, name).items():
            pipeline.write_submission(root, name, student, answers)
    return root


def main(names: list[str]) -> None:
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    names = names or pipeline.assignments(REPO)
    print(f"Maschine: {os.cpu_count()} Kerne, Python {sys.version.split()[0]}")
    print("\n1. Lösungsnotebooks ausführen")
    total = 0.0
    for name in names:
        seconds = timed(pipeline.execute_notebook, pipeline.source_notebook(REPO, name))
        total += seconds
        print(f"   {name:<20} {seconds:6.1f} s")
    print(f"   {'Summe':<20} {total:6.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        root = fresh_course(Path(tmp), names)
        n = len(pipeline.DEMO_STUDENTS)
        print(f"\n2. Demo-Abgaben bewerten ({n} pro Notebook), nacheinander")
        total = 0.0
        for name in names:
            seconds = timed(pipeline.grade, root, name, jobs=1, progress=False)
            total += seconds
            print(f"   {name:<20} {seconds:6.1f} s  ({seconds / n:5.1f} s pro Abgabe)")
        print(f"   {'Summe':<20} {total:6.1f} s  ({len(names) * n * 60 / total:5.1f} Abgaben pro Minute)")
        jobs = os.cpu_count() or 1
        seconds = timed(pipeline.grade, root, jobs=jobs, progress=False)
        print(f"\n3. Alle {len(names) * n} Abgaben parallel ({jobs} Prozesse): {seconds:.1f} s "
              f"({len(names) * n * 60 / seconds:.1f} Abgaben pro Minute, Faktor {total / seconds:.2f})")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
