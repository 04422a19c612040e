"""The synthetic course (benchmarks/synthetic.py) in small: one submission of every kind of 01_neuronen through
``python -m course grade -j 2``, each with exactly its known points, none lost.

The scale runs (1,000 x 01, 200 x 06, Dask) are ``benchmarks/synthetic.py``; this is the same generator and
the same check on 8 submissions.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import synthetic  # noqa: E402

from course.grading import GradeResult  # noqa: E402

ASSIGNMENT = "01_neuronen"
#: Shorter cell timeouts than the course's: the hanging submission costs 30 s, not 120 s (wall-clock: 15 s was
#: too short for right answers on a machine at load 18).
CONFIG = "c.Execute.timeout = 30\nc.SafeExecute.request_timeout = 20\nc.SafeExecute.submission_timeout = 300"


def cli_results(root: Path, assignment: str, output: str, students: list[str]) -> list[GradeResult]:
    """GradeResults as ``course grade`` reports them: every listed student is graded unless a FEHLER line names it."""
    failed = dict(re.findall(rf"^FEHLER {re.escape(assignment)}/(\S+): (.*)$", output, re.M))
    summary = re.search(r"^(\d+) von (\d+) Abgaben bewertet\.$", output, re.M)
    assert summary, output
    graded = [GradeResult(assignment, s, s not in failed, failed.get(s, "")) for s in students]
    assert int(summary.group(2)) == len(students) and int(summary.group(1)) == len(students) - len(failed)
    return graded


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    root = synthetic.course(tmp_path_factory.mktemp("synthetisch"), ASSIGNMENT, CONFIG)
    planned = synthetic.plan(root, ASSIGNMENT, len(synthetic.KINDS), seed=21)
    synthetic.write(root, ASSIGNMENT, planned)
    proc = subprocess.run(
        [sys.executable, "-m", "course", "--root", str(root), "grade", ASSIGNMENT, "-j", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    results = cli_results(root, ASSIGNMENT, proc.stdout, [p.student for p in planned])
    return root, planned, results, proc


def test_plan_covers_every_kind_with_points_that_can_fail(tmp_path):
    root = synthetic.course(tmp_path, ASSIGNMENT, CONFIG)
    planned = synthetic.plan(root, ASSIGNMENT, 40, seed=1)
    assert {p.kind for p in planned} == set(synthetic.KINDS)
    full = synthetic.Pool(root, ASSIGNMENT).full
    for p in planned:
        if p.kind in {"leer", "absturz", "haengt", "feindselig"}:
            assert p.expected is not None and p.expected != full, p  # a wrong grader could not pass these
    assert any(p.expected and p.expected != full for p in planned if p.kind == "variante")
    assert synthetic.plan(root, ASSIGNMENT, 40, seed=1) == planned  # reproducible


def test_every_submission_gets_exactly_its_points(batch):
    root, planned, results, proc = batch
    outcome = synthetic.check(root, ASSIGNMENT, planned, results)
    assert outcome.ok, (outcome, proc.stdout[-3000:], proc.stderr[-3000:])
    assert outcome.graded == len(planned) - 1 and outcome.rejected == 1
    assert proc.returncode == 1  # the rejected one is a failure of the batch, with its reason


def test_check_catches_wrong_and_lost(batch):
    """The checker itself can fail: a planned submission missing from the results, and wrong expectations."""
    root, planned, results, _ = batch
    lost = synthetic.check(root, ASSIGNMENT, planned, results[1:])
    assert lost.lost == [planned[0].student]
    solution = next(p for p in planned if p.kind == "loesung")
    wrong = [synthetic.Planned(**{**vars(solution), "expected": dict.fromkeys(solution.expected, 0.0)})]
    assert synthetic.check(root, ASSIGNMENT, wrong, results).wrong
