"""Benchmark (prints figures, asserts nothing): grading all submissions from the Kursverwaltung vs. in a terminal.

    python benchmarks/kursverwaltung.py [--students N] [assignment]

A temporary copy of the course with N demo submissions of one assignment (the three demo students' answers in
turn) is graded twice, alternately (autograded/ removed before each run):
  a) ``python -m course grade A`` as a terminal runs it (a subprocess, wall time until it exits), and
  b) the Kursverwaltung's button: ``POST <server>/kurs/api/bewerten/A`` on a running Jupyter server with the
     extension ``course.lab``, polled every second as the page does, until it reports the end.
Both run the same command, so b) costs a) plus the polling delay (at most one second).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from formgrader import formgrader  # noqa: E402

from course.demo import demo_answers, write_submission  # noqa: E402
from course.publish import release  # noqa: E402


def fresh(root: Path) -> None:
    """Forget earlier autograded notebooks (the gradebook keeps the released assignment; grades are overwritten)."""
    shutil.rmtree(root / "autograded", ignore_errors=True)


def terminal(root: Path, assignment: str) -> float:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "course", "grade", assignment], cwd=root, env=env,
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"course grade: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.monotonic() - start


def page(fg, assignment: str) -> float:
    start = time.monotonic()
    response = fg.session.post(f"{fg.url}/kurs/api/bewerten/{assignment}", timeout=60)
    response.raise_for_status()
    while (status := fg.get("/kurs/api/status").json())["laeuft"]:
        time.sleep(1)
    if status["exitcode"]:
        raise SystemExit(f"Kursverwaltung: {status['meldungen']}")
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("assignment", nargs="?", default="01_neuronen")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "kurs"
        (root / "source").mkdir(parents=True)
        shutil.copy(REPO / "nbgrader_config.py", root)
        shutil.copytree(REPO / "source" / args.assignment, root / "source" / args.assignment)
        release(root, args.assignment)
        answers = list(demo_answers(root, args.assignment).values())
        for i in range(args.students):
            write_submission(root, args.assignment, f"s{i:03d}", answers[i % len(answers)])
        times = {"terminal": [], "kursverwaltung": []}
        with formgrader(root, Path(tmp) / "server.log") as fg:
            for _ in range(args.rounds):
                fresh(root)
                times["terminal"].append(terminal(root, args.assignment))
                fresh(root)
                times["kursverwaltung"].append(page(fg, args.assignment))
    print(f"{args.students} Abgaben von {args.assignment}, {os.cpu_count()} Kerne:")
    for way, values in times.items():
        print(f"  {way:15s} " + ", ".join(f"{v:.1f} s" for v in values))


if __name__ == "__main__":
    main()
