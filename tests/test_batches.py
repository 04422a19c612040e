"""Batches: a worker over its budget is killed with everything it started; any ``-j`` grades every submission."""

import os
import shutil
import time
from pathlib import Path

import pytest
from test_robust_grading import FULL, A, probe_course

from course import grading, publish, sandbox
from course.scores import task_scores

SLEEPS = "import time\ntime.sleep(600)\na = 1"
#: The sleeping cell stands for a long computation: not ended early as a cell that only waits.
LONG_CELLS = "c.Execute.timeout = 500\nc.SafeExecute.idle_timeout = 0"


def kernel_processes(marker: str) -> list[str]:
    """Command lines of the processes that belong to a grading kernel (launcher, bwrap, kernel)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")
def test_a_worker_over_its_budget_is_killed_with_its_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    root = probe_course(tmp_path, {"schlaeft": ({"eins": SLEEPS}, None)}, LONG_CELLS)
    grading.prepare_gradebook(root, [(A, "schlaeft")])
    start = time.perf_counter()
    result = grading.grade_one(root, A, "schlaeft", budget=20)
    assert time.perf_counter() - start < 60
    assert not result.ok and "Zeitbudget der Abgabe überschritten" in result.message
    assert result.kind == grading.FailureKind.BUDGET
    assert getattr(grading._workers, "worker", None) is None, "a killed worker is not used again"
    time.sleep(2)
    assert kernel_processes(str(tmp_path / "tmp")) == [], "the kernel died with its worker"
    assert list((tmp_path / "tmp").iterdir()) == [], "its runtime folder is gone"


LEAVES_TRACES = (
    "import os\nopen('/tmp/spur', 'w').write('x')\nopen('spur.txt', 'w').write('x')\nos.environ['SPUR'] = '1'\na = 1"
)
#: Full points for ``zwei`` only in a kernel where the traces exist (the control: they were written).
TRACES = "os.path.exists('/tmp/spur') and os.path.exists('spur.txt')"
SEES_TRACES = f"import os\ndef zwei(x):\n    return 2 * x if {TRACES} else 0"
#: Full points for ``eins`` only in a kernel where none of them exists.
ANY_TRACE = "os.path.exists('/tmp/spur') or os.path.exists('spur.txt') or 'SPUR' in os.environ"
FINDS_NONE = f"import os\na = 0 if {ANY_TRACE} else 1"


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")
def test_one_worker_grades_one_submission_after_another_and_nothing_carries_over(tmp_path):
    cases = {"a_spuren": ({"eins": LEAVES_TRACES, "zwei": SEES_TRACES}, None), "b_sucht": ({"eins": FINDS_NONE}, None)}
    root = probe_course(tmp_path, cases)
    grading.prepare_gradebook(root, [(A, s) for s in cases])
    first = grading.grade_one(root, A, "a_spuren")
    worker = grading._workers.worker
    second = grading._workers.worker is worker and grading.grade_one(root, A, "b_sucht")
    assert first.ok and second and second.ok, (first, second)
    assert grading._workers.worker is worker and worker.alive, "the same worker graded both"
    grading._forget(worker)
    scores = {(r["student"], r["task"]): r["score"] for r in task_scores(root, A) if r["task"] in FULL}
    assert scores == {(s, t): FULL[t] for s in cases for t in FULL}


def test_any_number_of_parallel_jobs_grades_every_submission(tmp_path):
    """More workers than submissions, the same students in two assignments at once: nothing is lost."""
    students = {name: ({"zwei": "def zwei(x):\n    return x + 2"}, None) for name in ("anna", "ben", "carla")}
    root = probe_course(tmp_path, students)
    second = "02_robust"
    shutil.copytree(root / "source" / A, root / "source" / second)
    publish.release(root, second)
    for student in students:
        shutil.copytree(root / "submitted" / student / A, root / "submitted" / student / second)
    results = grading.grade(root, jobs=8, progress=False)
    assert [(r.assignment, r.student, r.ok) for r in results] == [
        (a, s, True) for a in (A, second) for s in sorted(students)
    ], results
    for name in (A, second):
        scores = {(r["student"], r["task"]): r["score"] for r in task_scores(root, name) if r["task"] in FULL}
        assert scores == {(s, t): (0.0 if t == "zwei" else FULL[t]) for s in students for t in FULL}


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")
def test_a_grader_that_dies_takes_its_worker_and_kernel_along(tmp_path):
    """A Dask worker (any process calling grade_one) killed mid-submission leaves no grading process behind."""
    import signal
    import subprocess
    import sys

    root = probe_course(tmp_path, {"schlaeft": ({"eins": SLEEPS}, None)}, LONG_CELLS)
    grading.prepare_gradebook(root, [(A, "schlaeft")])
    marker = tmp_path / "tmp"
    marker.mkdir()
    code = "from pathlib import Path\nfrom course import grading\n"
    code += f"grading.grade_one(Path({str(root)!r}), {A!r}, 'schlaeft')"
    parent = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(marker)})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("ipykernel" in c for c in kernel_processes(str(marker))):
        time.sleep(0.5)
    assert any("ipykernel" in c for c in kernel_processes(str(marker))), "the kernel started"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    time.sleep(3)
    assert kernel_processes(str(marker)) == [], "launcher, bwrap and kernel died with the grader"
    assert kernel_processes(f"course.worker {root}") == [], "the worker died with the grader"


@pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")
def test_a_worker_killed_mid_batch_costs_only_its_submission(tmp_path):
    """The worker is killed (as by the OOM killer) while it grades the first submission: that one is reported with
    the reason, a new worker grades the next one fully."""
    import signal
    import threading

    cases = {"a_schlaeft": ({"eins": SLEEPS}, None), "b_anna": ({}, None)}
    root = probe_course(tmp_path, cases, LONG_CELLS)
    killed = []

    def kill_the_worker_once_its_kernel_runs() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for worker in list(grading._all_workers):
                if any(worker.scratch.glob("nn-kurs-kernel-*")):
                    time.sleep(3)  # the kernel runs the sleeping cell
                    os.kill(worker.proc.pid, signal.SIGKILL)
                    killed.append(worker.proc.pid)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_worker_once_its_kernel_runs, daemon=True)
    killer.start()
    results = {r.student: r for r in grading.grade(root, A, jobs=1, progress=False, preflight=False)}
    killer.join()
    assert killed, "the worker was killed"
    lost = results["a_schlaeft"]
    assert not lost.ok and lost.kind == grading.FailureKind.WORKER_LOST
    assert lost.message.startswith("Bewertungsprozess endete mit Code -9"), lost.message
    assert results["b_anna"].ok, results["b_anna"].message
    scores = {r["task"]: r["score"] for r in task_scores(root, A) if r["student"] == "b_anna" and r["task"] in FULL}
    assert scores == FULL
    assert grading._all_workers == {}, "the batch's workers are gone"
