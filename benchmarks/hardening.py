"""Benchmark (prints figures, asserts nothing): what a change of the grading path costs per submission.

    python benchmarks/hardening.py [--baseline COMMIT] [assignment ...]

Grades the three demo submissions of every assignment with ``course grade -j 1`` in one run (in the order
old, new, new, old, averaged per side, so a change of the machine's load during the run favours neither) and on the
same kind of submissions (the demo's: solution, partly solved, blank): with the course package, ``nbgrader_config.py``
and notebooks of COMMIT (default: the last
commit before the hardened path; ``--baseline e3a35dd`` is the hardened path before the trusted test kernel)
and with the current ones.  Both are timed the same way (the grading call
alone, in a fresh process per assignment); the current path's pre-flight check (the reference solution run
once per assignment before anyone is graded) is printed separately, since it is paid once per batch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from run import fresh_course  # noqa: E402  (benchmarks/run.py)

BASELINE = "6354c80"  # "Feedback template scoped to GenerateFeedback": the grading path before the hardening

GRADE_OLD = """
import json, sys, time
from pathlib import Path
from course import pipeline
root, name = Path(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
results = pipeline.grade(root, name, jobs=1, progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "ok": all(r.ok for r in results)}))
"""
GRADE_NEW = """
import inspect, json, sys, time
from pathlib import Path
from course import grading, solutions
root, name = Path(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
# the pre-flight runs every time (a remembered one would cost nothing on the second run of the same course)
fresh = {"cache": False} if "cache" in inspect.signature(solutions.preflight).parameters else {}
solutions.preflight(root, name, **fresh)
preflight = time.perf_counter() - start
start = time.perf_counter()
results = grading.grade(root, name, jobs=1, progress=False, preflight=False)
print(json.dumps({"seconds": time.perf_counter() - start, "preflight": preflight, "ok": all(r.ok for r in results)}))
"""


def extract(commit: str, target: Path) -> None:
    """``course/``, ``source/`` and ``nbgrader_config.py`` of ``commit`` into ``target``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "course", "source", "nbgrader_config.py"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def run(code: str, package_root: Path, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(package_root), "OMP_NUM_THREADS": str(os.cpu_count() or 1)}
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, cwd=package_root)
    if out.returncode != 0:
        raise SystemExit(f"Bewertung mit {package_root} fehlgeschlagen:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("assignments", nargs="*")
    args = parser.parse_args()
    from course.demo import DEMO_STUDENTS
    from course.layout import assignments

    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    names = args.assignments or assignments(REPO)
    n = len(DEMO_STUDENTS)
    print(f"Maschine: {os.cpu_count()} Kerne; Vergleich mit {args.baseline}; {n} Abgaben pro Notebook")
    print(f"   {'Notebook':<20} {'vorher':>8} {'jetzt':>8} {'Faktor':>7} {'Vorabprüfung':>13}   (Sekunden pro Abgabe)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        extract(args.baseline, tmp / "alt")
        old_root = fresh_course(tmp / "vorher", names, tmp / "alt" / "nbgrader_config.py", tmp / "alt" / "source")
        new_root = fresh_course(tmp / "jetzt", names)
        old_total = new_total = preflight_total = 0.0
        for name in names:
            # old, new, new, old: a machine that gets busier or quieter during the run biases neither side
            grade_old = GRADE_NEW if (tmp / "alt" / "course" / "grading.py").exists() else GRADE_OLD
            first_old, first_new = (
                run(grade_old, tmp / "alt", str(old_root), name),
                run(GRADE_NEW, REPO, str(new_root), name),
            )
            second_new, second_old = (
                run(GRADE_NEW, REPO, str(new_root), name),
                run(grade_old, tmp / "alt", str(old_root), name),
            )
            old = {
                "seconds": (first_old["seconds"] + second_old["seconds"]) / 2,
                "ok": first_old["ok"] and second_old["ok"],
            }
            new = {
                "seconds": (first_new["seconds"] + second_new["seconds"]) / 2,
                "preflight": (first_new["preflight"] + second_new["preflight"]) / 2,
                "ok": first_new["ok"] and second_new["ok"],
            }
            old_total, new_total = old_total + old["seconds"], new_total + new["seconds"]
            preflight_total += new["preflight"]
            ok = "" if old["ok"] and new["ok"] else "  (nicht alle Abgaben bewertet!)"
            print(
                f"   {name:<20} {old['seconds'] / n:7.1f}s {new['seconds'] / n:7.1f}s "
                f"{new['seconds'] / old['seconds']:6.2f}x {new['preflight']:12.1f}s{ok}"
            )
        count = n * len(names)
        print(
            f"   {'Summe':<20} {old_total / count:7.1f}s {new_total / count:7.1f}s {new_total / old_total:6.2f}x "
            f"{preflight_total:12.1f}s"
        )
        with_preflight = (new_total + preflight_total) / old_total
        print(f"   mit Vorabprüfung (einmal pro Assignment und Lauf): {with_preflight:.2f}x")


if __name__ == "__main__":
    main()
