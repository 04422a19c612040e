"""While a submission is graded, its code cannot reach solutions, other students, the gradebook, the net,
the grader's processes and secrets, nor exhaust the machine.

Each attack sets ``a = 1`` (the right answer of task "eins") only if it succeeds.
Graded in the sandbox, every attack must score 0; graded with the sandbox
switched off (``COURSE_SANDBOX=off``) the same code scores 1, which shows that
the attacks are real and the test can fail.
"""

import os
import socket
import threading

import nbformat
import pytest
from test_robust_grading import A, robust_notebook, write_case

from course import grading, publish, sandbox
from course.api import nbgrader_api
from course.layout import read_notebook, source_notebook
from course.scores import task_scores
from course.submissions import solution_answers

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works(), reason="bubblewrap is not available")


def attacks(root, port):
    """student -> code of the answer cell "eins"; `a = 1` marks a successful attack."""

    def attempt(body):
        return f"a = 0\ntry:\n{body}\n    a = 1\nexcept Exception as exc:\n    print(type(exc).__name__, exc)"

    return {
        "liest_loesung": attempt(f"    open({str(root / 'source' / A / 'probe.ipynb')!r}).read()"),
        "liest_mitstudent": attempt(f"    open({str(root / 'submitted' / 'opfer' / A / 'probe.ipynb')!r}).read()"),
        "liest_gradebook": attempt(f"    open({str(root / 'gradebook.db')!r}, 'rb').read(16)"),
        "liest_eigene_tests": attempt(
            "    import glob, os\n"
            "    found = [p for p in glob.glob('*.ipynb') if 'HIDDEN' in open(p).read()]\n"
            f"    found += [p for p in glob.glob({str(root / 'autograded' / '*' / A / '*.ipynb')!r})]\n"
            "    assert found"
        ),
        "schreibt_nach_aussen": attempt(f"    open({str(root / 'gehackt.txt')!r}, 'w').write('x')"),
        "aendert_gradebook": attempt(
            "    import sqlite3\n"
            f"    db = sqlite3.connect({str(root / 'gradebook.db')!r})\n"
            "    db.execute('update grade set manual_score = 100')\n"
            "    db.commit()"
        ),
        "netzwerk": attempt(
            f"    import socket\n    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()"
        ),
        # the host's filesystem through /proc/<pid>/root of any process it can see (bubblewrap's, the grader's)
        "proc_wurzel": attempt(
            "    import os\n"
            "    found = []\n"
            "    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
            "        try:\n"
            f"            found.append(open(f'/proc/{{pid}}/root{root / 'source' / A / 'probe.ipynb'}').read())\n"
            "        except OSError:\n"
            "            pass\n"
            "    assert any('HIDDEN' in text for text in found)"
        ),
        # secrets of the grader's environment, its own or through /proc/<pid>/environ
        "geheimnis": attempt(
            "    import os\n"
            "    texts = [str(os.environ)]\n"
            "    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
            "        try:\n"
            "            texts.append(open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
            "        except OSError:\n"
            "            pass\n"
            f"    assert any({SECRET!r} in text for text in texts)"
        ),
        # root rights in the kernel (the grader runs as root here, as in CI and many containers)
        "als_root": attempt("    import os\n    assert os.geteuid() == 0 or os.getuid() == 0"),
        # more processes than allowed
        "prozesse": attempt(
            "    import subprocess\n"
            "    children = [subprocess.Popen(['sleep', '3']) for _ in range(300)]\n"
            "    [child.wait() for child in children]"
        ),
        # a /tmp that would fill the machine's memory (tmpfs), and a file larger than allowed
        "tmp_fuellen": attempt("    with open('/tmp/gross', 'wb') as f:\n        f.write(b'x' * 120_000_000)"),
        "grosse_datei": attempt(
            "    import os\n"
            "    try:\n"
            "        with open('gross.bin', 'wb') as f:\n"
            "            f.write(b'x' * 120_000_000)\n"
            "    finally:\n"
            "        if os.path.exists('gross.bin'):\n"
            "            os.remove('gross.bin')"
        ),
        # memory spread over child processes, each below the per-process limit (needs the memory cgroup)
        "kind_speicher": attempt(
            "    import subprocess, sys\n"
            "    eat = 'import time; x = b\"x\" * 700_000_000; time.sleep(2)'\n"
            "    children = [subprocess.Popen([sys.executable, '-c', eat]) for _ in range(3)]\n"
            "    assert all(child.wait() == 0 for child in children)"
        ),
        # the working folder and the sockets' folder are the host's disk unless they are size-limited tmpfs
        "arbeitsordner_fuellen": attempt(
            "    import os\n"
            "    try:\n"
            "        for i in range(3):\n"
            "            with open(f'voll{i}.bin', 'wb') as f:\n"
            "                f.write(b'x' * 45_000_000)\n"
            "    finally:\n"
            "        for i in range(3):\n"
            "            if os.path.exists(f'voll{i}.bin'):\n"
            "                os.remove(f'voll{i}.bin')"
        ),
        "socketordner_fuellen": attempt(
            "    import os, sys\n"
            "    folder = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])\n"
            "    target = os.path.join(folder, 'voll.bin')\n"
            "    try:\n"
            "        with open(target, 'wb') as f:\n"
            "            f.write(b'x' * 5_000_000)\n"
            "    finally:\n"
            "        if os.path.exists(target):\n"
            "            os.remove(target)"
        ),
        # a user namespace of its own would mount a tmpfs beyond every limit
        "namensraum": attempt(
            "    import subprocess\n"
            "    subprocess.run(['unshare', '-Urm', 'sh', '-c', 'mount -t tmpfs none /mnt'], check=True, timeout=20)"
        ),
        # CPU time (a child that computes longer than allowed)
        "rechenzeit": attempt(
            "    import subprocess, sys\n"
            "    burn = 'import time\\nt = time.process_time()\\nwhile time.process_time() - t < 14: pass'\n"
            "    assert subprocess.run([sys.executable, '-c', burn]).returncode == 0"
        ),
    }


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the grader's loopback that the student code tries to reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()


SECRET = "geheim-4711-db-passwort"
# A process that outlives its kernel and kills the kernels of the submissions graded after it
# (here only those of one victim, so the unprotected control cannot hurt anything else).
DAEMON_SCRIPT = r"""
import os, signal, time
end = time.time() + 150
while time.time() < end:
    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
        try:
            if 'daemon_opfer' in os.readlink(f'/proc/{pid}/cwd') and pid != str(os.getpid()):
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.1)
"""
DAEMON = (
    "import subprocess, sys\n"
    f"subprocess.Popen([sys.executable, '-c', {DAEMON_SCRIPT!r}], start_new_session=True,\n"
    "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "a = 1"
)
LIMITS = {
    "COURSE_GRADING_TMP_MB": "100",
    "COURSE_GRADING_FILE_MB": "50",
    "COURSE_GRADING_PROCESSES": "200",
    "COURSE_GRADING_MEMORY_GB": "1.5",
    "COURSE_GRADING_CPU_SECONDS": "8",
}


def grade_attacks(tmp_path_factory, listener, mode, monkeypatch):
    root = tmp_path_factory.mktemp(f"isolation-{mode}") / "kurs"
    (root / "source" / A).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(_repo_config() + "\nc.Execute.timeout = 90\n")
    nbformat.write(robust_notebook(), root / "source" / A / "probe.ipynb")
    publish.release(root, A)
    solution = solution_answers(read_notebook(source_notebook(root, A)))
    write_case(root, "opfer", solution, {}, None)
    grading.grade(root, A, jobs=1, progress=False)  # creates the gradebook entries the attacks aim at
    for student, code in attacks(root, listener).items():
        write_case(root, student, solution, {"eins": code}, None)
    write_case(root, "daemon", solution, {"eins": DAEMON}, None)
    write_case(root, "daemon_opfer", solution, {"zwei": "import time\ntime.sleep(8)\n" + solution["zwei"]}, None)
    monkeypatch.setenv("COURSE_SANDBOX", mode)
    monkeypatch.setenv("COURSE_TEST_SECRET", SECRET)
    for name, value in LIMITS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TMPDIR", str(_empty_dir(root.parent / "tmp")))  # where the kernels keep their sockets
    results = {r.student: r for r in grading.grade(root, A, jobs=2, progress=False)}
    scores = {(r["student"], r["task"]): r["score"] for r in task_scores(root, A)}
    return root, results, scores


def _empty_dir(path):
    path.mkdir()
    return path


def _repo_config():
    from harness import REPO

    return (REPO / "nbgrader_config.py").read_text()


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory, listener):
    with pytest.MonkeyPatch.context() as mp:
        yield grade_attacks(tmp_path_factory, listener, "on", mp)


@pytest.fixture(scope="module")
def unprotected(tmp_path_factory, listener):
    with pytest.MonkeyPatch.context() as mp:
        yield grade_attacks(tmp_path_factory, listener, "off", mp)


STUDENTS = [
    "liest_loesung", "liest_mitstudent", "liest_gradebook", "liest_eigene_tests",
    "schreibt_nach_aussen", "aendert_gradebook", "netzwerk",
    "proc_wurzel", "geheimnis", "als_root", "prozesse", "tmp_fuellen", "grosse_datei", "kind_speicher", "rechenzeit",
    "arbeitsordner_fuellen", "socketordner_fuellen", "namensraum",
]  # fmt: skip
HAS_MEMORY_CGROUP = "memory" in sandbox._cgroup_parents()


@pytest.mark.parametrize("student", STUDENTS)
def test_attack_fails_in_the_sandbox(sandboxed, student):
    if student == "kind_speicher" and not HAS_MEMORY_CGROUP:
        pytest.skip("no writable memory cgroup on this machine: memory is limited per process only")
    root, results, scores = sandboxed
    assert results[student].ok, results[student].message
    if student == "schreibt_nach_aussen":  # inside, the write lands in the sandbox's throw-away /tmp at most
        assert not (root / "gehackt.txt").exists()
    else:
        assert scores[(student, "eins")] == 0, f"{student}: the attack succeeded inside the sandbox"
    assert scores[(student, "zwei")] == 2 and scores[(student, "drei")] == 1, "the rest is graded normally"


@pytest.mark.parametrize("student", STUDENTS)
def test_attack_works_without_the_sandbox(unprotected, student):
    """Control: the same code does break out when the sandbox is switched off."""
    if student == "als_root" and os.geteuid() != 0:
        pytest.skip("the grader is not root here")
    root, results, scores = unprotected
    assert results[student].ok, results[student].message
    assert scores[(student, "eins")] >= 1  # > 1 where "aendert_gradebook" already raised every manual score
    if student == "schreibt_nach_aussen":
        assert (root / "gehackt.txt").exists()


def test_a_detached_process_dies_with_its_kernel(sandboxed):
    """The daemon of one submission cannot kill the kernel of a submission graded after it."""
    root, results, scores = sandboxed
    assert results["daemon"].ok and results["daemon_opfer"].ok
    assert [scores[("daemon_opfer", t)] for t in ("eins", "zwei", "drei")] == [1, 2, 1]


def test_a_detached_process_kills_other_kernels_without_the_sandbox(unprotected):
    """Control: without the sandbox the daemon survives its kernel and costs the victim points."""
    root, results, scores = unprotected
    assert sum(scores[("daemon_opfer", t)] for t in ("eins", "zwei", "drei")) < 4


def test_nothing_written_and_gradebook_untouched(sandboxed):
    root, results, scores = sandboxed
    assert not (root / "gehackt.txt").exists()
    assert all(score <= 2 for score in scores.values())
    from nbgrader.api import Gradebook

    with Gradebook(nbgrader_api(root).coursedir.db_url) as gb:
        manual = [g.manual_score for s in gb.find_assignment(A).submissions for n in s.notebooks for g in n.grades]
    assert all(m is None for m in manual)


def test_workers_leave_no_temporary_files(sandboxed):
    root, results, scores = sandboxed
    assert list((root.parent / "tmp").iterdir()) == []


def test_the_sandbox_has_a_cpu_quota(tmp_path):
    """All processes of a sandbox together get at most ``cpus`` cores (where a cpu cgroup is writable)."""
    import json
    import subprocess
    import sys

    if "cpu" not in sandbox._cgroup_parents():
        pytest.skip("no writable cpu cgroup here")
    import uuid

    name = f"nn-kurs-test-{uuid.uuid4().hex[:8]}"
    code = (
        "import json, sys; from pathlib import Path; from course import sandbox\n"
        f"groups = sandbox.enter_cgroups(sandbox.Limits(cpus=0.5), {name!r})\n"
        "cpu = [g for g in groups if 'cpu' in g and 'cpuset' not in g]\n"
        "quota = [(Path(g) / 'cpu.cfs_quota_us').read_text().strip() if (Path(g) / 'cpu.cfs_quota_us').exists() "
        "else (Path(g) / 'cpu.max').read_text().split()[0] for g in cpu]\n"
        "print(json.dumps([groups, quota]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    groups, quota = json.loads(done.stdout)
    record = tmp_path / "cgroups.json"
    record.write_text(json.dumps(groups))
    sandbox.remove_cgroups(record)
    assert quota == ["50000"]
