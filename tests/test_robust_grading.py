"""Real, messy and hostile submissions through the real nbgrader pipeline.

A small course with three autograded tasks and one free-text answer; every case
below is a student of one batch, and every student's exact points are asserted,
so a bad submission is shown to cost only its own points and never the others'.
"""

import json
import os
from pathlib import Path

import nbformat
import pytest
from harness import answer_cell, free_text_cell, grading_cell, probe_notebook
from nbformat.v4 import new_code_cell

from course import grading, publish
from course.api import nbgrader_api
from course.cells import nbgrader_meta
from course.layout import read_notebook, source_notebook, student_notebook
from course.scores import task_scores
from course.submissions import fill_answers, solution_answers

REPO = Path(__file__).resolve().parents[1]
A = "01_robust"
FULL = {"eins": 1.0, "zwei": 2.0, "drei": 1.0}


def robust_notebook():
    return probe_notebook(
        answer_cell("eins", "### BEGIN SOLUTION\na = 1\n### END SOLUTION"),
        grading_cell("eins", 1, "assert a == 1, 'a sollte 1 sein'", "assert type(a) is int"),
        answer_cell("zwei", "def zwei(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        grading_cell("zwei", 2, "assert zwei(2) == 4, 'zwei(2) sollte 4 sein'", "assert zwei(5) == 10, 'versteckt'"),
        answer_cell("drei", "### BEGIN SOLUTION\nc = 3\n### END SOLUTION"),
        grading_cell("drei", 1, "assert c == 3, 'c sollte 3 sein'", "assert c - 3 == 0"),
        free_text_cell("warum", 1, "Warum?", "Darum."),
    )


NO_ASSERTS = """import ast
class OhneAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(OhneAsserts())
"""
SKIP_CELLS = """ip = get_ipython()
_original = ip.run_cell
ip.run_cell = lambda raw_cell, *args, **kwargs: _original("pass", *args, **kwargs)
ip.run_cell_async = lambda raw_cell, *args, **kwargs: ip.__class__.run_cell_async(ip, "pass", *args, **kwargs)
"""
REPLY_FLOOD = """import asyncio
kernel = get_ipython().kernel
async def flood(stream, ident, parent):
    while True:
        fake = {"header": {"msg_id": "fremd", "msg_type": "execute_request"}}
        kernel.session.send(stream, "execute_reply", {"status": "ok", "execution_count": 1}, fake, ident=ident)
        await asyncio.sleep(0.01)
kernel.shell_handlers["execute_request"] = flood
"""
#: ipykernel's own output thread uses isinstance: the kernel stops sending (it waits, forever, for its flushes)
BREAKS_MESSAGING = "import builtins\nbuiltins.isinstance = lambda *args: True\ndef zwei(x):\n    return 2 * x"
DISPLAY_UPDATES = """from IPython.display import display
handle = display("start", display_id=True)
for i in range(300):
    handle.update("x" * 200_000)
"""
XSS_OUTPUT = """from IPython.display import HTML, Javascript, SVG, display
display(HTML("<script>alert('xss-ausgabe')</script><img src=x onerror=\\"alert('xss-bild')\\">"))
display(Javascript("alert('xss-js')"))
"""
XSS_MARKDOWN = "<script>alert('xss-freitext')</script> <img src=x onerror=alert('xss-md')> [hier](javascript:alert(1))"
HELPER = "def hilfe(x):\n    return x * 2"  # a student's own extra cell
WRONG_ZWEI = "def zwei(x):\n    return x + 2"  # passes the visible test, fails the hidden one


def answers(**changes):
    return changes


def edit_test_cell(nb, grade_id, fn):
    """Apply ``fn(cells, index)`` to the test cell ``test_<grade_id>`` of a notebook."""
    index = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == f"test_{grade_id}")
    fn(nb.cells, index)
    return nb


# student -> (answers, how to tamper with the notebook, expected points or None for "not graded")
CASES = {
    "loesung": ({}, None, FULL),
    "endlosschleife": ({"zwei": "while True:\n    pass"}, None, {**FULL, "zwei": 0}),
    "os_exit": ({"zwei": "import os\nos._exit(1)"}, None, {**FULL, "zwei": 0, "drei": 0}),
    "segfault": ({"zwei": "import ctypes\nctypes.string_at(0)"}, None, {**FULL, "zwei": 0, "drei": 0}),
    # a kernel that only waits is interrupted after `idle_timeout`; one whose messaging the cell broke ends there
    "schlaeft": (
        {"zwei": "import time\ntime.sleep(10**6)\n" + "def zwei(x):\n    return 2 * x"},
        None,
        {**FULL, "zwei": 0},
    ),
    "isinstance_ersetzt": ({"zwei": BREAKS_MESSAGING}, None, {**FULL, "zwei": 0, "drei": 0}),
    "speicher_30gb": ({"zwei": "x = bytearray(30 * 1024**3)"}, None, {**FULL, "zwei": 0}),
    "sys_exit": ({"zwei": "import sys\nsys.exit()"}, None, {**FULL, "zwei": 0}),
    "systemexit": ({"zwei": "raise SystemExit(3)"}, None, {**FULL, "zwei": 0}),
    "keyboardinterrupt": ({"zwei": "raise KeyboardInterrupt"}, None, {**FULL, "zwei": 0}),
    "ausgabeflut": ({"eins": "for i in range(10**8):\n    print(i)\na = 1"}, None, {**FULL, "eins": 0}),
    "riesenbild": (
        {"eins": "a = 1\nfrom IPython.display import display\ndisplay({'image/png': 'iVBO' * 20_000_000}, raw=True)"},
        None,
        FULL,
    ),
    # a kernel that answers every later cell with unrelated replies: bounded by the deadlines, costs only itself
    # (its later cells never run; `a = 1` did, and the test of `eins` runs in the trusted kernel)
    "antwortflut": ({"eins": "a = 1\n" + REPLY_FLOOD}, None, {**FULL, "zwei": 0, "drei": 0}),
    "riesenfehler": ({"eins": "a = 1\nraise ValueError('x' * 20_000_000)"}, None, FULL),
    "anzeige_updates": ({"eins": DISPLAY_UPDATES + "a = 1"}, None, FULL),
    "xss": ({"eins": XSS_OUTPUT + "a = 1", "warum": XSS_MARKDOWN}, None, FULL),
    "test_assert_true": (
        {"zwei": WRONG_ZWEI},
        lambda nb: edit_test_cell(nb, "zwei", lambda cells, i: setattr(cells[i], "source", "assert True")),
        {**FULL, "zwei": 0},
    ),
    "test_geloescht": (
        {"zwei": WRONG_ZWEI},
        lambda nb: edit_test_cell(nb, "zwei", lambda cells, i: cells.pop(i)),
        {**FULL, "zwei": 0},
    ),  # fmt: skip
    "test_ans_ende_verschoben": (
        {"zwei": WRONG_ZWEI},
        lambda nb: edit_test_cell(nb, "zwei", lambda cells, i: cells.append(cells.pop(i))),
        {**FULL, "zwei": 0},
    ),
    "test_nach_oben_verschoben": (
        {},
        lambda nb: edit_test_cell(nb, "zwei", lambda cells, i: cells.insert(0, cells.pop(i))),
        FULL,
    ),
    "eigene_zelle": (
        {"zwei": "def zwei(x):\n    return hilfe(x)"},
        lambda nb: edit_test_cell(
            nb, "zwei", lambda cells, i: cells.insert(i - 1, new_code_cell("def hilfe(x):\n    return x * 2"))
        ),
        FULL,
    ),
    "mehr_punkte": (
        {},
        lambda nb: edit_test_cell(nb, "zwei", lambda cells, i: cells[i].metadata.nbgrader.update(points=100)),
        FULL,
    ),
    "test_als_antwort": (
        {"zwei": WRONG_ZWEI},
        lambda nb: edit_test_cell(
            nb,
            "zwei",
            lambda cells, i: (
                cells[i].metadata.nbgrader.update(solution=True, grade=False, locked=False),
                setattr(cells[i], "source", "assert True"),
            ),
        ),
        {**FULL, "zwei": 0},
    ),  # fmt: skip
    "extra_ordner": ({}, "extra_folder", FULL),
    # answer cells that change how the later test cells run: the original tests still grade
    "ast_transformer": ({"eins": NO_ASSERTS + "a = 1", "zwei": WRONG_ZWEI}, None, {**FULL, "zwei": 0}),
    # IPython itself replaced: the student's later cells do not run, the tests (in the trusted kernel) still do
    "run_cell_ersetzt": ({"eins": SKIP_CELLS + "a = 1", "zwei": WRONG_ZWEI}, None, {**FULL, "zwei": 0, "drei": 0}),
    "ast_transformer_falsch": ({"eins": NO_ASSERTS + "a = 2"}, None, {**FULL, "eins": 0}),
}
BROKEN = {
    "kaputtes_json": "invalid_json",
    "leere_datei": "empty_file",
    "notebook_fehlt": "missing_notebook",
    "falscher_name": "wrong_name",
    "link_auf_loesung": "symlink_source",
    "link_auf_gradebook": "symlink_gradebook",
    "fifo": "fifo",
}


#: A configuration file in a submission: if anything loads it, it leaves a file beside itself.
FORGED_CONFIG = """import pathlib
pathlib.Path(__file__).with_name("KONFIG_AUSGEFUEHRT").write_text("x")
c = get_config()
c.Execute.timeout = 1
"""


def write_case(root: Path, student: str, base_answers: dict, answers_: dict, tamper) -> None:
    folder = root / "submitted" / student / A
    folder.mkdir(parents=True, exist_ok=True)
    student_nb = read_notebook(student_notebook(root, A))
    nb = fill_answers(student_nb, {**base_answers, **answers_})
    if callable(tamper):
        nb = tamper(nb)
    target = folder / "probe.ipynb"
    if tamper == "invalid_json":
        target.write_text('{"cells": [ kein JSON')
    elif tamper == "empty_file":
        target.write_text("")
    elif tamper == "wrong_name":
        nbformat.write(nb, folder / "probe (1).ipynb")
    elif tamper == "missing_notebook":
        (folder / "notizen.txt").write_text("vergessen")
    else:
        nbformat.write(nb, target)
    if tamper == "symlink_source":
        (folder / "daten.txt").symlink_to(root / "source" / A / "probe.ipynb")
    elif tamper == "symlink_gradebook":
        (folder / "extra").mkdir()
        (folder / "extra" / "noten.db").symlink_to(root / "gradebook.db")
    elif tamper == "fifo":
        os.mkfifo(folder / "rohr")
    if tamper == "extra_folder":
        (folder / "extra").mkdir()
        (folder / "extra" / "daten.txt").write_text("x")
    if tamper == "forged_config":  # files that would configure the grader, if it looked for them there
        (folder / "nbgrader_config.py").write_text(FORGED_CONFIG)
        (folder / "data").mkdir()
        (folder / "data" / "zahl.txt").write_text("9")
        (folder / "data" / "1d_dataset_train.pt").write_bytes(b"kein echter Datensatz")


def probe_course(tmp: Path, cases: dict, extra_config: str = "c.Execute.timeout = 20", notebook=None) -> Path:
    """The probe course (or ``notebook`` as its assignment) released, with one submission per
    ``student -> (answers, tamper, ...)`` of ``cases``."""
    root = tmp / "kurs"
    (root / "source" / A).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text() + f"\n{extra_config}\n")
    nbformat.write(notebook or robust_notebook(), root / "source" / A / "probe.ipynb")
    publish.release(root, A)
    solution = solution_answers(read_notebook(source_notebook(root, A)))
    for student, (answers_, tamper, *_) in cases.items():
        write_case(root, student, solution, answers_, tamper)
    return root


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    cases = {**CASES, **{student: ({}, tamper) for student, tamper in BROKEN.items()}}
    config = "c.Execute.timeout = 10\nc.SafeExecute.submission_timeout = 60\nc.SafeExecute.idle_timeout = 4"
    return probe_course(tmp_path_factory.mktemp("robust"), cases, config)


@pytest.fixture(scope="module")
def graded(course_root):
    results = {r.student: r for r in grading.grade(course_root, A, jobs=2, progress=False)}
    print("\n".join(f"{r.student:<26} {r.seconds:5.1f} s {r.message}" for r in results.values()))
    scores = {}
    for row in task_scores(course_root, A):
        scores.setdefault(row["student"], {})[row["task"]] = row
    return results, scores


@pytest.mark.parametrize("student", list(CASES))
def test_bad_submission_costs_only_its_own_points(graded, student):
    results, scores = graded
    assert results[student].ok, results[student].message
    got = {task: row["score"] for task, row in scores[student].items() if task in FULL}
    assert got == CASES[student][2]
    assert {task: row["max_score"] for task, row in scores[student].items() if task in FULL} == FULL


@pytest.mark.parametrize("student", ["os_exit", "segfault"])
def test_dead_kernel_is_explained_in_the_autograded_notebook(course_root, graded, student):
    nb = nbformat.read(course_root / "autograded" / student / A / "probe.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert any("Kernel ist in dieser Zelle abgestürzt" in e.evalue for e in errors)
    assert any("Nicht ausgeführt" in e.evalue for e in errors)


def cell_errors(root: Path, student: str) -> list:
    nb = nbformat.read(root / "autograded" / student / A / "probe.ipynb", as_version=4)
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


def test_a_waiting_kernel_is_interrupted_before_its_timeout(course_root, graded):
    """A cell that only waits ends after ``idle_timeout`` (4 s) with its own message, not at ``timeout`` (10 s); a
    busy loop is not waiting and runs to its timeout; a kernel that cannot even be interrupted ends the notebook."""
    sleeping = [e.evalue for e in cell_errors(course_root, "schlaeft")]
    assert any("4 s lang nur gewartet" in e for e in sleeping), sleeping
    assert not any("KeyboardInterrupt" in e or "Nicht ausgeführt" in e for e in sleeping)  # later cells ran
    busy = [e.evalue for e in cell_errors(course_root, "endlosschleife")]
    assert busy and not any("gewartet" in e for e in busy), busy
    broken = {e.ename: e.evalue for e in cell_errors(course_root, "isinstance_ersetzt")}
    assert "nur gewartet" in broken.get("KernelHängt", "") and "NichtAusgeführt" in broken, broken


def test_a_cells_cpu_budget_ends_endless_loops_whatever_the_load(tmp_path):
    """``cpu_timeout`` counts CPU seconds of the kernel's processes, not wall-clock time: an endless loop ends
    after 2 s of CPU, long before its wall-clock timeout (300 s), with its own message; a sleep is ended by
    ``idle_timeout``; the interrupts come from the grader, so later cells run as usual."""
    from nbformat.v4 import new_notebook

    from course.preprocessors.safe_execute import SafeExecute

    nb = new_notebook(
        cells=[
            new_code_cell("while True:\n    pass"),
            new_code_cell("import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'while True: pass'])"),
            new_code_cell("import time\ntime.sleep(10**6)"),
            new_code_cell("x = 41\nx + 1"),
        ]
    )
    execute = SafeExecute(timeout=300, idle_timeout=3, cpu_timeout={"cpu": 2, "*": 0}, trusted_tests=False)
    execute.preprocess(nb, {"metadata": {"path": str(tmp_path)}, "nbgrader": {"assignment": "cpu"}})
    errors = [[o.evalue for o in c.outputs if o.output_type == "error"] for c in nb.cells]
    assert "mehr als 2 s Rechenzeit" in " ".join(errors[0]), errors
    assert "mehr als 2 s Rechenzeit" in " ".join(errors[1]), errors  # the child process's CPU counts, too
    assert "3 s lang nur gewartet" in " ".join(errors[2]), errors
    assert not errors[3] and nb.cells[3].outputs[0]["data"]["text/plain"] == "42"


def test_output_floods_are_capped(course_root, graded):
    for student in ("ausgabeflut", "riesenbild", "riesenfehler", "anzeige_updates"):
        size = (course_root / "autograded" / student / A / "probe.ipynb").stat().st_size
        assert size < 1_000_000, f"{student}: autograded notebook has {size} bytes"
    text = (course_root / "autograded" / "ausgabeflut" / A / "probe.ipynb").read_text()
    assert "Output truncated" in text  # nbgrader's LimitOutput after our SafeExecute cap


@pytest.mark.parametrize("student", list(BROKEN))
def test_broken_files_get_a_clear_message_and_no_points(graded, student):
    results, scores = graded
    result = results[student]
    assert not result.ok
    assert result.message == BROKEN_MESSAGES[student]
    assert not any(row["score"] for row in scores.get(student, {}).values())


REJECTED = (
    "Abgabe abgelehnt: nur gewöhnliche Dateien sind erlaubt, nicht bewertet wegen {} "
    "(symbolischer Link, FIFO oder Gerätedatei)"
)
BROKEN_MESSAGES = {
    "kaputtes_json": "probe.ipynb ist kein gültiges Notebook (JSONDecodeError)",
    "leere_datei": "probe.ipynb ist eine leere Datei",
    "notebook_fehlt": "Notebook probe.ipynb fehlt in der Abgabe (gefunden: keine Notebooks)",
    "falscher_name": "Notebook probe.ipynb fehlt in der Abgabe (gefunden: probe (1).ipynb)",
    "link_auf_loesung": REJECTED.format("daten.txt"),
    "link_auf_gradebook": REJECTED.format("extra/noten.db"),
    "fifo": REJECTED.format("rohr"),
}


def test_originals_are_kept(course_root, graded):
    """Grading never changes what the students handed in."""
    folder = course_root / "submitted" / "test_assert_true" / A
    nb = nbformat.read(folder / "probe.ipynb", as_version=4)
    assert any(c.source == "assert True" for c in nb.cells)
    assert (course_root / "submitted" / "kaputtes_json" / A / "probe.ipynb").read_text().startswith('{"cells": [ kein')


def test_regrading_is_idempotent_and_keeps_manual_grades(course_root, graded):
    from nbgrader.api import Gradebook

    db_url = nbgrader_api(course_root).coursedir.db_url
    with Gradebook(db_url) as gb:
        grade = gb.find_grade("warum", "probe", A, "loesung")
        grade.manual_score = 1.0
        gb.db.commit()
    before = json.dumps(task_scores(course_root, A), sort_keys=True)
    again = grading.grade(course_root, A, jobs=2, progress=False)
    assert {r.student for r in again if r.ok} >= set(CASES)
    after = json.dumps(task_scores(course_root, A), sort_keys=True)
    assert after == before
    with Gradebook(db_url) as gb:
        assert gb.find_grade("warum", "probe", A, "loesung").manual_score == 1.0


def test_sources_and_release_untouched(course_root, graded):
    """Grading hostile submissions changes neither the instructor version nor the student version."""

    def content(nb):
        return [(c.cell_type, c.source, c.metadata) for c in nb.cells]

    source = nbformat.read(course_root / "source" / A / "probe.ipynb", as_version=4)
    assert content(source) == content(robust_notebook())
    released = read_notebook(student_notebook(course_root, A))
    assert all("BEGIN SOLUTION" not in c.source for c in released.cells)


def test_feedback_names_failed_checks_without_hidden_code(course_root, graded):
    publish.feedback(course_root, A)
    html = (course_root / "feedback" / "test_assert_true" / A / "probe.html").read_text()
    assert "Ein versteckter Test ist fehlgeschlagen." in html
    assert "AssertionError: versteckt" in html
    assert "zwei(5) == 10" not in html and "HIDDEN TESTS" not in html
    assert '<html lang="de">' in html and "Punkte: 0 / 2" in html and "Testzelle" in html and "Score" not in html
    html = (course_root / "feedback" / "os_exit" / A / "probe.html").read_text()
    assert "Kernel ist in dieser Zelle abgestürzt" in html
    visible = (course_root / "feedback" / "speicher_30gb" / A / "probe.html").read_text()
    assert "Ein sichtbarer Test ist fehlgeschlagen." in visible


def test_student_html_never_runs_in_feedback_or_autograded_notebook(course_root, graded):
    """Outputs keep only inert formats; the student's markdown shows raw HTML as text."""
    publish.feedback(course_root, A)
    nb = nbformat.read(course_root / "autograded" / "xss" / A / "probe.ipynb", as_version=4)
    mimes = {m for c in nb.cells if c.cell_type == "code" for o in c.outputs for m in o.get("data", {})}
    assert mimes <= {"text/plain", "image/png", "image/jpeg", "image/gif", "image/svg+xml"}
    html = (course_root / "feedback" / "xss" / A / "probe.html").read_text()
    for marker in ("<script>alert(", "<img src=x onerror", 'href="javascript:'):
        assert marker not in html, marker
    assert "&lt;script&gt;alert('xss-freitext')&lt;/script&gt;" in html, "the free-text answer is shown as text"


def test_xss_control_plain_nbconvert_would_run_it(course_root, graded):
    """Control: the same submission rendered by nbconvert without the course's sanitizing carries the script."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(course_root / "submitted" / "xss" / A / "probe.ipynb", as_version=4)
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    assert "<script>alert('xss-freitext')</script>" in html


def test_a_hostile_kernel_costs_only_its_own_time(graded):
    """Every wait has a deadline: the flooding kernel is done within its budget (60 s and a margin)."""
    results, _ = graded
    assert results["antwortflut"].seconds < 60 + 60
