"""Benchmark (prints figures, asserts nothing): local grading against grading through a Dask LocalCluster.

    python benchmarks/cluster.py [-j N] [--copies K] [assignment ...]

The same submissions (the three demo students of each assignment, ``K`` copies of each) are graded in one
run, alternately
  a) with ``course grade -j N`` (a thread pool starts one worker subprocess per submission), and
  b) with ``course grade --cluster local:N`` (a Dask LocalCluster of N single-threaded worker processes,
     one task per submission, the same worker subprocess; the cluster's start-up is counted),
and prints submissions per minute for each, the cluster path's cost relative to local grading, and a
projection from the measured cost per submission: how many workers (one core each) grade one assignment
of 1,000 students within 15 minutes.  Runs in a temporary copy of the course; the gradebook is SQLite
there, or ``COURSE_DB_URL`` when set.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from course.demo import demo_answers, write_submission
from course.grading import grade as _grade
from course.publish import release


def grade(root: Path, jobs: int, cluster: str | None = None) -> list:
    """``course grade -j jobs`` (or ``--cluster``) without the pre-flight, which both ways share."""
    return _grade(root, jobs=jobs, progress=False, preflight=False, cluster=cluster)


REPO = Path(__file__).resolve().parents[1]
STUDENTS = 1000
DEADLINE_MIN = 15


def fresh_course(tmp: Path, names: list[str], copies: int) -> tuple[Path, int]:
    root = tmp / "kurs"
    (root / "source").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    for name in names:
        shutil.copytree(REPO / "source" / name, root / "source" / name)
    release(root)
    count = 0
    for name in names:
        for student, answers in demo_answers(root, name).items():
            for copy in range(copies):
                write_submission(root, name, f"{student}-{copy + 1}", answers)
                count += 1
    return root, count


def cpu_seconds() -> float:
    """CPU seconds of this process and of every finished process it started (grading workers, kernels, Dask)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_grade(root: Path, jobs: int, cluster: str | None) -> tuple[float, float, list]:
    """Wall and CPU seconds of one batch (the LocalCluster's start and stop included)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    results = grade(root, jobs, cluster)
    return time.perf_counter() - start, cpu_seconds() - cpu, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", default=["01_neuronen", "02_aktivierung"])
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="Worker (Standard: alle Kerne)")
    parser.add_argument("--copies", type=int, default=2, help="Kopien jeder Demo-Abgabe (Standard: 2)")
    parser.add_argument("--rounds", type=int, default=1, help="Durchgänge je Weg, abwechselnd (Standard: 1)")
    args = parser.parse_args()
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    os.environ.pop("COURSE_DASK_SCHEDULER", None)  # a) must grade locally

    print(f"Maschine: {os.cpu_count()} Kerne, Python {sys.version.split()[0]}; {args.jobs} Worker")
    with tempfile.TemporaryDirectory(prefix="nn-kurs-cluster-bench-") as tmp:
        root, count = fresh_course(Path(tmp), args.assignments, args.copies)
        print(f"{count} Abgaben ({', '.join(args.assignments)}, je {args.copies}x die drei Demo-Abgaben)")
        grade(root, args.jobs)  # warm-up: gradebook entries, caches
        times: dict[str, list[float]] = {"lokal": [], "cluster": []}
        cpu: dict[str, list[float]] = {"lokal": [], "cluster": []}
        for round_ in range(args.rounds):
            order = ["lokal", "cluster"] if round_ % 2 == 0 else ["cluster", "lokal"]
            for way in order:
                wall, used, results = timed_grade(root, args.jobs, None if way == "lokal" else f"local:{args.jobs}")
                failed = [r for r in results if not r.ok]
                times[way].append(wall)
                cpu[way].append(used)
                note = f", {len(failed)} fehlgeschlagen" if failed else ""
                print(
                    f"  {way:<8} {wall:6.1f} s  {count / wall * 60:5.1f} Abgaben/min"
                    f"  {used / count:5.2f} CPU-s pro Abgabe{note}"
                )

    local, remote = min(times["lokal"]), min(times["cluster"])
    cpu_local, cpu_remote = min(cpu["lokal"]) / count, min(cpu["cluster"]) / count
    print(f"\na) course grade -j {args.jobs}:             {count / local * 60:5.1f} Abgaben/min ({local:.1f} s)")
    print(f"b) course grade --cluster local:{args.jobs}: {count / remote * 60:5.1f} Abgaben/min ({remote:.1f} s)")
    print(f"Durchsatz des Clusterwegs: {local / remote * 100:.0f} % des lokalen (Start des LocalCluster mitgezählt)")
    print(
        f"Rechenzeit pro Abgabe: lokal {cpu_local:.2f} CPU-s, Cluster {cpu_remote:.2f} CPU-s"
        f" (+{(cpu_remote / cpu_local - 1) * 100:.0f} %; auf einem geteilten Rechner verlässlicher als die Wanduhr)"
    )

    # Worker-seconds per submission: the wall time of the cluster run times its workers, over the submissions.
    cost = remote * args.jobs / count
    workers = math.ceil(STUDENTS * cost / (DEADLINE_MIN * 60))
    by_cpu = math.ceil(STUDENTS * cpu_remote / (DEADLINE_MIN * 60))
    print(
        f"\nProjektion: gemessen {cost:.1f} Worker-Sekunden pro Abgabe ({args.jobs} Worker x {remote:.1f} s"
        f" / {count} Abgaben).\n{STUDENTS} Studierende, ein Assignment in {DEADLINE_MIN} Minuten:"
        f" {STUDENTS} x {cost:.1f} s / {DEADLINE_MIN * 60} s = {workers} Worker (je ein Kern wie hier);"
        f" nach der Rechenzeit ({cpu_remote:.2f} CPU-s pro Abgabe) mindestens {by_cpu} Kerne."
        " Gradebook und Dateisystem nicht gerechnet."
    )


if __name__ == "__main__":
    main()
