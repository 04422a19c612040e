"""Benchmark (prints figures, asserts nothing): solution notebooks and autograding.

    python benchmarks/run.py [assignment ...]

1. seconds to execute each solution notebook (as `course check` does), and a bare kernel start;
2. the three demo submissions of every notebook (solution, blank, partly solved) graded
   a) with plain `nbgrader autograde`, one process per assignment, submissions one after another,
   b) with the course's grading one at a time (`course grade -j 1`: own process, sandbox, guard),
   c) with the course's parallel grading on all cores (`course grade`);
   per notebook and in total, as submissions per minute, and the per-submission overhead of (b)
   compared with a bare kernel start plus the notebook's own compute.
Runs in a temporary copy of the course, so the working tree and its gradebook stay untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course import demo, grading, publish
from course.layout import assignments, source_notebook
from course.solutions import execute_notebook

REPO = Path(__file__).resolve().parents[1]


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def fresh_course(
    tmp: Path, names: list[str], config: Path = REPO / "nbgrader_config.py", source: Path = REPO / "source"
) -> Path:
    """A copy of the course (notebooks from ``source``) with ``names`` released and their demo submissions written."""
    root = tmp / "kurs"
    (root / "source").mkdir(parents=True)
    shutil.copy(config, root / "nbgrader_config.py")
    for name in names:
        shutil.copytree(source / name, root / "source" / name)
    publish.release(root)
    for name in names:
        for student, answers in demo.demo_answers(root, name).items():
            demo.write_submission(root, name, student, answers)
    return root


def bare_kernel_start() -> float:
    """Seconds to start a python3 kernel, wait until it answers, and shut it down."""
    from jupyter_client.manager import start_new_kernel

    start = time.perf_counter()
    km, kc = start_new_kernel(kernel_name="python3")
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    return time.perf_counter() - start


def plain_nbgrader(root: Path, name: str) -> None:
    cmd = [sys.executable, "-m", "nbgrader", "autograde", name, "--force", "--create", "--log-level=ERROR"]
    subprocess.run(cmd, cwd=root, check=False, capture_output=True)


def main(names: list[str]) -> None:
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    names = names or assignments(REPO)
    per_sub = len(demo.DEMO_STUDENTS)
    count = len(names) * per_sub
    print(f"Maschine: {os.cpu_count()} Kerne, Python {sys.version.split()[0]}")

    print("\n1. Lösungsnotebooks ausführen")
    compute = {}
    for name in names:
        compute[name] = timed(execute_notebook, source_notebook(REPO, name))
        print(f"   {name:<20} {compute[name]:6.1f} s")
    print(f"   {'Summe':<20} {sum(compute.values()):6.1f} s")
    kernel = min(bare_kernel_start() for _ in range(3))
    print(f"   nackter Kernelstart (Start, Antwort, Ende): {kernel:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        root = fresh_course(Path(tmp), names)
        print(f"\n2. {count} Demo-Abgaben bewerten ({per_sub} pro Notebook)")
        print(f"   {'Notebook':<20} {'nbgrader':>9} {'course -j1':>11} {'pro Abgabe':>11} {'Kernel+Notebook':>16}")
        plain, single = {}, {}
        for name in names:
            plain[name] = timed(plain_nbgrader, root, name)
            single[name] = timed(grading.grade, root, name, jobs=1, progress=False, preflight=False)
            floor = kernel + compute[name]
            print(f"   {name:<20} {plain[name]:8.1f}s {single[name]:10.1f}s {single[name] / per_sub:10.1f}s "
                  f"{floor:9.1f}s (x{single[name] / per_sub / floor:.2f})")  # fmt: skip
        jobs = os.cpu_count() or 1
        parallel = timed(grading.grade, root, jobs=jobs, progress=False, preflight=False)
        total_plain, total_single = sum(plain.values()), sum(single.values())
        rate = lambda seconds: f"{seconds:6.1f} s  {count * 60 / seconds:5.1f} Abgaben/min"  # noqa: E731
        print(f"\n   nbgrader autograde, nacheinander: {rate(total_plain)}")
        print(f"   course grade -j 1:                {rate(total_single)}")
        print(f"   course grade -j {jobs} (parallel):     {rate(parallel)}"
              f"  (Faktor {total_plain / parallel:.2f} gegenüber nbgrader)")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
