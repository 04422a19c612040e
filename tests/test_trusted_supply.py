"""Trusted kernels started ahead (:class:`course.trusted.kernel.TrustedKernelSupply`): each is handed out once,
only to a notebook with its settings, and none is left running when the grading process ends."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from harness import make_course, max_points

from course import demo, grading, sandbox
from course.scores import task_scores

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")

IMPORTS = "import torch\nfrom course.checks import pruefe_namen"
PR_SET_CHILD_SUBREAPER = 36
PROBE = "import sys\nprint(sorted(m for m in ('torch', 'course.checks') if m in sys.modules), 'torch' in dir(), werte)"


def environment_of(course: Path):
    from traitlets.config import Config

    from course.grading_environment import GradingEnvironment

    config = Config()
    config.CourseDirectory.root = str(course)
    return config, GradingEnvironment(config=config)


async def printed(kc, code: str) -> str:
    msg_id = kc.execute(code)
    while True:
        msg = await kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in ("stream", "error"):
            return msg["content"].get("text") or msg["content"].get("evalue")


@contextlib.asynccontextmanager
async def running_student_kernel(km, werte: str):
    """Start the student's kernel ``km`` with its end of the channel and ``werte`` bound; yields its client."""
    from course.trusted.kernel import STUDENT_SIDE, require_ok, run_silently

    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        require_ok(await run_silently(kc, f"{STUDENT_SIDE}\nwerte = {werte}"), "Kernel der Abgabe")
        yield kc
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        await km.cleanup_resources()


def test_a_kernel_started_ahead_serves_one_notebook_once(tmp_path, monkeypatch):
    """The kernel started ahead answers at once with the tests' modules loaded (no name bound), reaches the next
    student's kernel through the relay folder it was started with, and is never handed out twice."""
    from course.sandbox import sockets_folder
    from course.sandbox_kernel import SandboxKernelManager
    from course.trusted.kernel import TrustedKernel, TrustedKernelSupply

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    config, environment = environment_of(tmp_path)

    async def run() -> tuple:
        supply = TrustedKernelSupply()
        await supply.prepare(environment, True, IMPORTS)
        km = SandboxKernelManager(config=config)
        started = await supply.take(environment, km, IMPORTS)
        again = await supply.take(environment, km, IMPORTS)
        assert started is not None and again is None
        assert sockets_folder(km.runtime).parent == started.student_sockets
        trusted = TrustedKernel(environment, 60, 20)
        async with running_student_kernel(km, "[1, 2, 3]"):
            try:
                await trusted.launch(sockets_folder(km.runtime), started)
                assert trusted.km is started  # not replaced by a fresh one
                await trusted.connect(km.get_connection_info())
                return await printed(trusted.kc, PROBE), supply.handed_out, supply.discarded
            finally:
                await trusted.stop()

    found, handed_out, discarded = asyncio.run(run())
    assert found.strip() == "['course.checks', 'torch'] False [1, 2, 3]"
    assert (handed_out, discarded) == (1, 0)


def test_other_settings_get_a_fresh_kernel(tmp_path, monkeypatch):
    """Another course (data folder), other limits, other tests' modules or no sandbox: the kernel started ahead is
    stopped (its process and folders gone) and the notebook gets none; a dead one is never handed out either.  For
    the last submission of a worker none is started."""
    from course.sandbox_kernel import SandboxKernelManager
    from course.trusted.kernel import TrustedKernelSupply

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    for name in ("a", "b"):
        (tmp_path / name / "data").mkdir(parents=True)
    config, environment = environment_of(tmp_path / "a")
    _, other_course = environment_of(tmp_path / "b")
    _, more_memory = environment_of(tmp_path / "a")
    more_memory.trusted_memory_gb += 1

    async def offered(supply, prepared_with, taken_with, imports: str = IMPORTS, plain: bool = False):
        await supply.prepare(prepared_with, True, IMPORTS)
        started = supply._next
        km = SandboxKernelManager(config=config)
        if plain:
            km.runtime = None  # a student's kernel without the sandbox
        try:
            got = await supply.take(taken_with, km, imports)
        finally:
            km.runtime = km.runtime or None
            km._remove_runtime()
        gone = not await started.km.is_alive() and not started.km.runtime.exists()
        return got, gone and not started.student_sockets.exists()

    async def died(supply):
        await supply.prepare(environment, True, IMPORTS)
        await supply._next.km.provisioner.kill()  # e.g. killed for memory while the previous notebook ran
        await supply._next.km.provisioner.wait()
        km = SandboxKernelManager(config=config)
        try:
            return await supply.take(environment, km, IMPORTS)
        finally:
            km._remove_runtime()

    async def run() -> tuple:
        supply = TrustedKernelSupply()
        outcomes = [
            await offered(supply, environment, other_course),
            await offered(supply, environment, more_memory),
            await offered(supply, environment, environment, imports="import numpy"),
            await offered(supply, environment, environment, plain=True),
        ]
        dead = await died(supply)
        supply.ahead = False  # the grading process sends no further submission: nothing is started
        await supply.prepare(environment, True, IMPORTS)
        return outcomes, dead, supply

    outcomes, dead, supply = asyncio.run(run())
    assert outcomes == [(None, True)] * 4
    assert dead is None and supply._next is None
    assert (supply.handed_out, supply.discarded) == (0, 5)


def descendants() -> dict[int, str]:
    """The living processes below this one (``pid -> command line``); zombies do not count."""
    parents, states = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        states[int(stat.parent.name)], parents[int(stat.parent.name)] = fields[0], int(fields[1])
    found, todo = {}, [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid in [pid for pid, p in parents.items() if p == parent]:
            todo.append(pid)
            if states[pid] != "Z":
                with contextlib.suppress(OSError):
                    found[pid] = (Path("/proc", str(pid), "cmdline").read_bytes().replace(b"\0", b" ")).decode()
    return found


@contextlib.contextmanager
def adopting_orphans():
    """Processes orphaned below this one stay below it (a child subreaper), so a kernel left behind is found."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available")
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def left_after(before: dict[int, str], seconds: float = 10) -> list[str]:
    """Processes below this one that were not there ``before``, once they had ``seconds`` to end."""
    deadline = time.monotonic() + seconds
    while (left := [c for pid, c in descendants().items() if pid not in before]) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_grading_with_kernels_started_ahead_gives_the_demo_points_and_leaves_nothing_running(
    tmp_path_factory, monkeypatch
):
    """``course grade`` (one worker, three demo submissions one after another): the trusted kernels of the second
    and third are started ahead; the points are those of the demo answers, and when the worker has ended no kernel
    of it is left (the one started for a fourth submission is stopped), also when the worker is killed."""
    assignment = "01_neuronen"
    root = make_course(tmp_path_factory.mktemp("kurs"), assignment)
    answers = demo.demo_answers(root, assignment)
    for student, submission in answers.items():
        demo.write_submission(root, assignment, student, submission)
    scratch = Path(tempfile.mkdtemp(prefix="nnb-", dir="/tmp"))  # the workers' folders
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    try:
        with adopting_orphans():
            before = descendants()
            results = grading.grade(root, assignment, jobs=1, progress=False, preflight=False)
            grading.close_workers()
            left = left_after(before)
            remaining = list(scratch.iterdir())
            # a worker killed (past its budget) while its next trusted kernel waits: that one ends with it
            worker = grading.Worker(root, 1)
            killed = worker.grade(assignment, "demo-leer", budget=300)
            worker.close(kill=True)
            left_after_kill = left_after(before)
    finally:
        monkeypatch.undo()
        shutil.rmtree(scratch, ignore_errors=True)
    assert all(r.ok for r in results) and killed.ok, [r.message for r in [*results, killed]]
    assert left == [] and remaining == [] and left_after_kill == []
    scores = {(row["student"], row["task"]): row["score"] for row in task_scores(root, assignment)}
    solved = {student: set(given) for student, given in answers.items()}  # the solution, nothing, every other task
    full = max_points(root, assignment)
    expected = {(s, t): points * (t in solved[s]) for s in answers for t, points in full.items()}
    assert {key: scores[key] for key in expected} == expected


A_TESTS = """
import sys, torch, course.checks
geheim = werte                      # a name the test cell binds, holding the student's data
course.checks.MERKER = werte        # state a helper keeps at module level
torch.set_grad_enabled(False)
raise ValueError(werte)             # sys.last_value holds it
"""
B_PROBE = """
import sys, torch, course.checks
print('geheim' in dir(), len(In) <= 2, dict(Out), hasattr(sys, 'last_value'), torch.is_grad_enabled(),
      hasattr(course.checks, 'MERKER'), werte)
"""


def test_a_kept_kernel_serves_the_next_notebook_as_a_fresh_one(tmp_path, monkeypatch):
    """After its notebook the kernel handed out is reset and kept: the next student's notebook gets the same
    process, which reaches the new student's kernel and shows nothing of the last notebook (names, module state,
    history, exception, autograd mode, connection).  A kernel is kept at most ``max_notebooks`` times, never after
    the process's last notebook, and never when it was replaced mid-notebook; its folders go with it."""
    from course.sandbox import sockets_folder
    from course.sandbox_kernel import SandboxKernelManager
    from course.trusted.kernel import TrustedKernel, TrustedKernelSupply

    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    config, environment = environment_of(tmp_path)

    async def notebook(supply, werte: str, cells: str, replace_it: bool = False):
        """One notebook as SafeExecute grades it: take, start the student's kernel, connect, run, finish."""
        km = SandboxKernelManager(config=config)
        started = await supply.take(environment, km, IMPORTS)
        trusted = TrustedKernel(environment, 60, 20)
        async with running_student_kernel(km, werte):
            try:
                await trusted.launch(sockets_folder(km.runtime), started)
                await trusted.connect(km.get_connection_info())
                await supply.prepare(environment, True, IMPORTS)
                out = await printed(trusted.kc, cells)
                if replace_it:
                    await trusted.replace(km.get_connection_info())
                pid = trusted.km.provisioner.process.pid
                return started, out, pid
            finally:
                await supply.finish(trusted)

    async def run():
        supply = TrustedKernelSupply(max_notebooks=3)
        await supply.prepare(environment, True, IMPORTS)
        first, out_a, pid_a = await notebook(supply, "[1, 2, 3]", A_TESTS)
        folder = first.student_sockets
        second, out_b, pid_b = await notebook(supply, "[4]", B_PROBE)
        third, _, _ = await notebook(supply, "[5]", A_TESTS)  # its third notebook: stopped afterwards
        gone = not await third.is_alive() and not folder.exists() and supply._next is None
        # a fresh one is started ahead by the next notebook; replaced mid-notebook, it is not kept
        fourth, _, _ = await notebook(supply, "[6]", B_PROBE)
        replaced, _, _ = await notebook(supply, "[7]", B_PROBE, replace_it=True)
        replaced_gone = not await replaced.is_alive() and supply._next is None
        # the last notebook of the process: nothing kept
        await supply.prepare(environment, True, IMPORTS)
        supply.ahead = False
        last, _, _ = await notebook(supply, "[8]", B_PROBE)
        last_gone = not await last.is_alive() and supply._next is None
        await supply.close()
        return (out_a, out_b, pid_a == pid_b, second is first, gone, fourth, replaced_gone, last_gone, supply)

    out_a, out_b, same_process, same_kernel, gone, fourth, replaced_gone, last_gone, supply = asyncio.run(run())
    assert "[1, 2, 3]" in out_a  # the first notebook's test cell saw its student's data
    assert out_b.split() == "False True {} False True False [4]".split()
    assert (same_process, same_kernel, gone, replaced_gone, last_gone) == (True,) * 5
    assert fourth is None  # nothing was ready for the notebook after a retired kernel: it started its own
    assert supply.reused == 2
