"""While a submission is graded, its code cannot reach solutions, other students, the gradebook or the net.

Each attack sets ``a = 1`` (the right answer of task "eins") only if it succeeds.
Graded in the sandbox, every attack must score 0; graded with the sandbox
switched off (``COURSE_SANDBOX=off``) the same code scores 1, which shows that
the attacks are real and the test can fail.
"""

import socket
import threading

import nbformat
import pytest
from test_robust_grading import A, robust_notebook, write_case

from course import pipeline, sandbox
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


def grade_attacks(tmp_path_factory, listener, mode, monkeypatch):
    root = tmp_path_factory.mktemp(f"isolation-{mode}") / "kurs"
    (root / "source" / A).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(_repo_config() + "\nc.Execute.timeout = 20\n")
    nbformat.write(robust_notebook(), root / "source" / A / "probe.ipynb")
    pipeline.release(root, A)
    solution = solution_answers(pipeline.read_notebook(pipeline.source_notebook(root, A)))
    write_case(root, "opfer", solution, {}, None)
    pipeline.grade(root, A, jobs=1, progress=False)  # creates the gradebook entries the attacks aim at
    for student, code in attacks(root, listener).items():
        write_case(root, student, solution, {"eins": code}, None)
    monkeypatch.setenv("COURSE_SANDBOX", mode)
    monkeypatch.setenv("TMPDIR", str(_empty_dir(root.parent / "tmp")))  # where the workers keep kernelspecs
    results = {r.student: r for r in pipeline.grade(root, A, jobs=2, progress=False)}
    scores = {(r["student"], r["task"]): r["score"] for r in pipeline.task_scores(root, A)}
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
]  # fmt: skip


@pytest.mark.parametrize("student", STUDENTS)
def test_attack_fails_in_the_sandbox(sandboxed, student):
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
    root, results, scores = unprotected
    assert results[student].ok, results[student].message
    assert scores[(student, "eins")] >= 1  # > 1 where "aendert_gradebook" already raised every manual score
    if student == "schreibt_nach_aussen":
        assert (root / "gehackt.txt").exists()


def test_nothing_written_and_gradebook_untouched(sandboxed):
    root, results, scores = sandboxed
    assert not (root / "gehackt.txt").exists()
    assert all(score <= 2 for score in scores.values())
    from nbgrader.api import Gradebook

    with Gradebook(pipeline.nbgrader_api(root).coursedir.db_url) as gb:
        manual = [g.manual_score for s in gb.find_assignment(A).submissions for n in s.notebooks for g in n.grades]
    assert all(m is None for m in manual)


def test_workers_leave_no_temporary_files(sandboxed):
    root, results, scores = sandboxed
    assert list((root.parent / "tmp").iterdir()) == []
