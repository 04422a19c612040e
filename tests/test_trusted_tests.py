"""Graded test cells run in a trusted kernel: attacks from the student's kernel, each with a control.

One small course with three tasks whose tests use what real tests use (``torch.allclose``, ``abs``,
``isinstance`` against ``torch.nn.Linear``, ``==``) and whose hidden part holds a marker.  Every
attack is one submission, graded twice with ``course grade``: as configured (test cells in the
trusted kernel) and, as the control, with ``c.SafeExecute.trusted_tests = False`` (test cells in
the student's kernel, as nbgrader and Otter-Grader run them).  The control shows the attack works
there; the exact points show it gains nothing here and costs only its own points.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from harness import answer_cell, grading_cell, probe_notebook
from nbformat.v4 import new_code_cell
from test_robust_grading import A, probe_course

from course import grading, publish
from course.cells import is_autograded_test
from course.scores import task_scores

FULL = {"vier": 2.0, "schicht": 2.0, "wert": 1.0, "zahl": 1.0}
NONE = dict.fromkeys(FULL, 0.0)
MARKER = "GEHEIM-7431"


def attack_notebook():
    return probe_notebook(
        answer_cell("vier", "def vier(x):\n    ### BEGIN SOLUTION\n    return 4 * x\n    ### END SOLUTION"),
        grading_cell(
            "vier",
            2,
            "import torch\n\n"
            "assert torch.allclose(vier(torch.ones(3)), torch.full((3,), 4.0)), 'vier(x) soll 4 · x sein.'",
            f"_geheim = {MARKER!r}\nassert abs(vier(2.5) - 10.0) < 1e-9, 'vier(2,5) soll 10 sein.'",
        ),
        answer_cell("schicht", "import torch\n\n### BEGIN SOLUTION\nschicht = torch.nn.Linear(3, 2)\n### END SOLUTION"),
        grading_cell(
            "schicht",
            2,
            "import torch\n\nassert isinstance(schicht, torch.nn.Linear), '`schicht` soll ein torch.nn.Linear sein.'\n"
            "assert (schicht.in_features, schicht.out_features) == (3, 2), "
            "'Die Schicht soll 3 Eingaben und 2 Neuronen haben.'",
            "_x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))\n"
            "with torch.no_grad():\n    _y = schicht(_x)\n"
            "assert torch.allclose(_y, _x @ schicht.weight.T + schicht.bias, atol=1e-6), 'Die Schicht rechnet falsch.'",
        ),
        answer_cell("wert", "### BEGIN SOLUTION\nwert = 0.5\n### END SOLUTION"),
        grading_cell("wert", 1, "assert abs(wert - 0.5) < 1e-9, '`wert` soll 0,5 sein.'", "assert wert == 0.5"),
        # a number checked with an ABC, against the course's data; the hidden line warns for a too large answer
        answer_cell("zahl", "### BEGIN SOLUTION\nzahl = 0.25\n### END SOLUTION"),
        grading_cell(
            "zahl",
            1,
            "import numbers\nimport numpy as np\nimport course\n\n"
            "assert isinstance(zahl, numbers.Real), '`zahl` soll eine Zahl sein.'\n"
            "_soll = float((course.data_dir() / 'zahl.txt').read_text())\n"
            "assert abs(zahl - _soll) < 1e-9, '`zahl` soll die Zahl aus zahl.txt sein.'",
            f"_abstand = np.sqrt(np.float64(_soll) - float(zahl))  # {MARKER}\n"
            "assert float(zahl) == _soll, '`zahl` soll genau die Zahl aus zahl.txt sein.'",
        ),
    )


BLANK = {
    "vier": "def vier(x):\n    raise NotImplementedError()",
    "schicht": "schicht = None",
    "wert": "wert = None",
    "zahl": "zahl = None",
}
WRONG = {
    "vier": "def vier(x):\n    return 3 * x",
    "schicht": "import torch\nschicht = torch.nn.Linear(3, 2)\nschicht.forward = lambda x: x[..., :2] * 0",
    "wert": "wert = 0.25",
    "zahl": "zahl = 0.5",
}
# An extra cell at the top of the unchanged (blank) student version: later test cells become `pass`.
CLEANUP_HOOK = """get_ipython().input_transformers_cleanup.append(
    lambda lines: ["pass\\n"] if any("assert" in line for line in lines) else lines
)"""
CLASS_HOOK = """_shell_class = type(get_ipython())
_original = _shell_class.run_cell_async
async def _run_cell_async(self, raw_cell, *args, **kwargs):
    if "assert" in raw_cell:
        raw_cell, kwargs["transformed_cell"] = "pass", "pass\\n"
    return await _original(self, raw_cell, *args, **kwargs)
_shell_class.run_cell_async = _run_cell_async"""
KERNEL_HOOK = """_kernel = get_ipython().kernel
_original = _kernel.do_execute
async def _do_execute(code, *args, **kwargs):
    return await _original("pass" if "assert" in code else code, *args, **kwargs)
_kernel.do_execute = _do_execute"""
SILENT_ERRORS = """get_ipython().showtraceback = lambda *args, **kwargs: None
def _vergessen(result):
    result.error_in_exec = None
get_ipython().events.register("post_run_cell", _vergessen)"""
PATCHED_LIBRARIES = """import builtins, math, torch
torch.allclose = lambda *args, **kwargs: True
builtins.abs = lambda x: 0
math.isclose = lambda *args, **kwargs: True"""
LYING_FLOAT = """class Alles(float):
    __eq__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __lt__ = lambda self, other: True
    __sub__ = lambda self, other: Alles(0)
    __abs__ = lambda self: Alles(0)
    __hash__ = float.__hash__"""
LYING_OBJECT = """import torch
class Ja:
    __eq__ = lambda self, other: True
    __lt__ = lambda self, other: True
    __sub__ = lambda self, other: self
    __abs__ = lambda self: self
    __bool__ = lambda self: True
    __class__ = property(lambda self: torch.nn.Linear)
    in_features, out_features = 3, 2"""
# a class that names itself numbers.Real (and is registered there, so the control's isinstance agrees)
CLAIMS_REAL = """import numbers
class Real:
    __sub__ = lambda self, other: 0.0
    __rsub__ = lambda self, other: 0.0
    __abs__ = lambda self: 0.0
    __float__ = lambda self: 0.25
Real.__module__ = "numbers"
numbers.Real.register(Real)
zahl = Real()"""
# a class that names itself torch.Tensor: C code that believes __class__ would read the proxy as a tensor
CLAIMS_TENSOR = """class Tensor:
    pass
Tensor.__module__ = "torch"
def vier(x):
    return Tensor()"""
# protocol attributes with a pointer chosen by the student
POINTER = """class Zeiger:
    __array_interface__ = {"data": (8, False), "shape": (3,), "typestr": "<f4", "version": 3}
    __cuda_array_interface__ = __array_interface__
def vier(x):
    return Zeiger()"""
# every answer of the student's end in 5000 frames of 1 kB (more frames than one message may have)
MANY_FRAMES = """import course.trusted.kernel_side as _seite
_antwort = _seite.answer
_seite.answer = lambda objects, data, buffers: (_antwort(objects, data, buffers)[0], [b"x" * 1000] * 5000)"""
READ_HIDDEN = """import sys, inspect
get_ipython().events.register("post_run_cell", lambda result: print(result.info.raw_cell))
def vier(x):
    if isinstance(x, float):
        raise ValueError(inspect.getsource(sys._getframe(1)))
    return 4 * x"""


def with_top_cell(source):
    def tamper(nb):
        nb.cells.insert(1, new_code_cell(source))
        return nb

    return tamper


# student -> (answers, tamper, points with trusted tests, points of the control or None: no control needed)
CASES = {
    "loesung": ({}, None, FULL, FULL),
    "leer": (BLANK, None, NONE, NONE),
    "falsch": (WRONG, None, NONE, NONE),
    # hooks that make every later test pass
    "hook_cleanup": (BLANK, with_top_cell(CLEANUP_HOOK), NONE, FULL),
    "hook_klasse": (BLANK, with_top_cell(CLASS_HOOK), NONE, FULL),
    "hook_kernel": (BLANK, with_top_cell(KERNEL_HOOK), NONE, FULL),
    "fehler_verschwiegen": (BLANK, with_top_cell(SILENT_ERRORS), NONE, FULL),
    # monkeypatched libraries and builtins
    "bibliotheken_gepatcht": (WRONG, with_top_cell(PATCHED_LIBRARIES), NONE, {**FULL, "wert": 0.0, "zahl": 0.0}),
    # lying objects
    "luegende_zahl": (
        {
            "vier": LYING_FLOAT + "\ndef vier(x):\n    return Alles(0) if isinstance(x, float) else 4 * x",
            "wert": LYING_FLOAT + "\nwert = Alles(9)",
        },
        None,
        {**FULL, "vier": 0.0, "wert": 0.0},
        FULL,
    ),  # fmt: skip
    "luegendes_objekt": (
        {
            "vier": LYING_OBJECT + "\ndef vier(x):\n    return Ja() if isinstance(x, float) else 4 * x",
            "schicht": LYING_OBJECT + "\nschicht = Ja()",
            "wert": LYING_OBJECT + "\nwert = Ja()",
        },
        None,
        {**FULL, "vier": 0.0, "schicht": 0.0, "wert": 0.0},
        {**FULL, "schicht": 0.0},
    ),  # fmt: skip
    # reading the hidden test code (In/_ih, a post_run_cell hook, the caller's frame)
    "liest_versteckt": (
        {"vier": READ_HIDDEN, "wert": "print(_ih)\nprint(dict(globals()))\nwert = 0.5"},
        None,
        {**FULL, "vier": 0.0},
        {**FULL, "vier": 0.0},
    ),  # fmt: skip
    # hangs, floods and crashes while a test uses the student's code
    "endlos_im_test": (
        {"vier": "def vier(x):\n    while isinstance(x, float):\n        pass\n    return 4 * x"},
        None,
        {**FULL, "vier": 0.0},
        None,
    ),  # fmt: skip
    "unterbrechung_ignoriert": (
        {
            "vier": "def vier(x):\n    while isinstance(x, float):\n        try:\n            while True:\n"
            "                pass\n        except KeyboardInterrupt:\n            pass\n    return 4 * x"
        },
        None,
        NONE,
        None,
    ),  # fmt: skip
    "flut_im_test": (
        {
            "vier": "import sys\ndef vier(x):\n    for _ in range(200):\n        print('x' * 50_000)\n"
            "        print('y' * 50_000, file=sys.stderr)\n    return 4 * x"
        },
        None,
        FULL,
        None,
    ),  # fmt: skip
    "riesige_antwort": (
        {"vier": "def vier(x):\n    return [0.5] * 3_000_000 if isinstance(x, float) else 4 * x"},
        None,
        {**FULL, "vier": 0.0},
        None,
    ),  # fmt: skip
    "absturz_im_test": (
        {"vier": "import os\ndef vier(x):\n    if isinstance(x, float):\n        os._exit(1)\n    return 4 * x"},
        None,
        NONE,
        None,
    ),  # fmt: skip
    # what the trusted side must not believe: class claims, protocol attributes, sizes, the submission's files
    "behauptet_zahl": ({"zahl": CLAIMS_REAL}, None, {**FULL, "zahl": 0.0}, FULL),
    "behauptet_tensor": ({"vier": CLAIMS_TENSOR}, None, {**FULL, "vier": 0.0}, {**FULL, "vier": 0.0}),
    "zeiger": ({"vier": POINTER}, None, {**FULL, "vier": 0.0}, {**FULL, "vier": 0.0}),
    "viele_rahmen": ({}, with_top_cell(MANY_FRAMES), NONE, FULL),
    "eigene_daten": ({"zahl": "zahl = 9.0"}, "forged_config", {**FULL, "zahl": 0.0}, {**FULL, "zahl": 0.0}),
    # passes the visible test, then the hidden line warns (a warning quotes its line) before the hidden assert
    # fails: checked by test_hidden_code_never_reaches_the_student
    "warnung": ({"zahl": "zahl = 0.2500000005"}, None, {**FULL, "zahl": 0.0}, {**FULL, "zahl": 0.0}),
}
# Requests time out (20 s, then a 5 s ping) well before their test cell does (60 s), also on a busy machine.
CONFIG = "c.Execute.timeout = 60\nc.SafeExecute.submission_timeout = 300\nc.SafeExecute.request_timeout = 20"
# The other order: the test cell's own timeout (15 s) ends a request that has 60 s.
CELL_FIRST = "c.Execute.timeout = 15\nc.SafeExecute.submission_timeout = 300\nc.SafeExecute.request_timeout = 60"


def make_course(tmp: Path, config: str, students: list[str]) -> Path:
    root = probe_course(tmp, {s: CASES[s] for s in students}, config, notebook=attack_notebook())
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "zahl.txt").write_text("0.25")
    return root


def grade(root: Path):
    results = {r.student: r for r in grading.grade(root, A, jobs=2, progress=False)}
    scores: dict = {}
    for row in task_scores(root, A):
        scores.setdefault(row["student"], {})[row["task"]] = row["score"]
    return results, scores


@pytest.fixture(scope="module")
def protected(tmp_path_factory):
    root = make_course(tmp_path_factory.mktemp("geschuetzt"), CONFIG, list(CASES))
    return (root, *grade(root))


@pytest.fixture(scope="module")
def control(tmp_path_factory):
    students = [s for s, case in CASES.items() if case[3] is not None]
    control_config = "c.SafeExecute.trusted_tests = False\nc.SafeExecute.only_errors_and_pass_lines = False"
    root = make_course(tmp_path_factory.mktemp("kontrolle"), f"{CONFIG}\n{control_config}", students)
    return (root, *grade(root))


@pytest.mark.parametrize("student", list(CASES))
def test_attack_gains_nothing(protected, student):
    _, results, scores = protected
    assert results[student].ok, results[student].message
    assert scores[student] == CASES[student][2]


@pytest.mark.parametrize("student", [s for s, case in CASES.items() if case[3] is not None])
def test_control_without_trusted_kernel(control, student):
    _, results, scores = control
    assert results[student].ok, results[student].message
    assert scores[student] == CASES[student][3]


def outputs_text(root: Path, student: str, test_cells: bool = True) -> str:
    """The outputs of the autograded notebook (only those of the student's own cells if not ``test_cells``)."""
    nb = nbformat.read(root / "autograded" / student / A / "probe.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and (test_cells or not is_autograded_test(c))]
    return "\n".join(str(o) for c in cells for o in c.outputs)


def feedback_text(root: Path, student: str) -> str:
    return "\n".join(p.read_text() for p in (root / "feedback" / student / A).glob("*.html"))


def test_hidden_code_never_reaches_the_student(protected, control):
    """Neither the student's cells (which the student sees in the feedback) nor the feedback show hidden code."""
    root, control_root = protected[0], control[0]
    publish.feedback(root, A)
    publish.feedback(control_root, A)
    assert MARKER in outputs_text(control_root, "liest_versteckt", test_cells=False), "control: the attack reads it"
    assert MARKER in feedback_text(control_root, "liest_versteckt"), "control: and shows it in the feedback"
    assert MARKER in feedback_text(control_root, "warnung"), "control: a warning quotes the hidden line"
    for student in CASES:
        assert MARKER not in outputs_text(root, student, test_cells=False), student
        assert MARKER not in feedback_text(root, student), student
    assert "vier(2,5) soll 10 sein" in feedback_text(root, "luegende_zahl"), "the hidden test's message is shown"


def test_failing_tests_explain_in_german(protected):
    root = protected[0]
    assert "nicht innerhalb von 20 s geantwortet" in outputs_text(root, "endlos_im_test")
    stuck = outputs_text(root, "unterbrechung_ignoriert")  # later cells: the kernel no longer answers
    assert "nicht innerhalb von 20 s" in stuck and "KernelHängt" in stuck and "Nicht ausgeführt" in stuck
    assert "KernelAbgestürzt" not in stuck
    assert "wird im Test nicht ausgewertet" in outputs_text(root, "luegendes_objekt")


def test_floods_during_a_test_stay_out_of_the_notebook(protected):
    root = protected[0]
    size = (root / "autograded" / "flut_im_test" / A / "probe.ipynb").stat().st_size
    assert size < 200_000, size
    assert not re.search("x{1000}", outputs_text(root, "flut_im_test"))


@pytest.fixture(scope="module")
def cell_first(tmp_path_factory):
    root = make_course(
        tmp_path_factory.mktemp("zelle_zuerst"), CELL_FIRST, ["endlos_im_test", "unterbrechung_ignoriert"]
    )
    return (root, *grade(root))


def test_test_cell_timeout_before_the_request_deadline(cell_first):
    """The test cell's timeout interrupts the trusted kernel mid-request: only that test fails, with a German
    message; the student's kernel is interrupted, too, and later cells are graded as usual."""
    root, results, scores = cell_first
    assert all(r.ok for r in results.values()), {s: r.message for s, r in results.items()}
    assert scores["endlos_im_test"] == {**FULL, "vier": 0.0}
    loop = outputs_text(root, "endlos_im_test")
    assert "Zeitüberschreitung" in loop
    assert not any(e in loop for e in ("KernelAbgestürzt", "KernelHängt", "TestAbgebrochen", "NichtAusgeführt"))
    assert scores["unterbrechung_ignoriert"] == NONE  # stuck for good: the next cell ends the submission
    stuck = outputs_text(root, "unterbrechung_ignoriert")
    assert "Zeitüberschreitung" in stuck and "KernelHängt" in stuck and "KernelAbgestürzt" not in stuck


def test_the_submissions_files_configure_nothing(protected):
    """A submitted nbgrader_config.py and data/ never reach the autograded folder nor the kernels' data; the
    config file is never executed."""
    root = protected[0]
    graded = root / "autograded" / "eigene_daten" / A
    assert sorted(p.name for p in graded.iterdir()) == ["probe.ipynb"]
    assert (root / "submitted" / "eigene_daten" / A / "nbgrader_config.py").exists()  # submitted/ stays as it was
    assert not list(root.rglob("KONFIG_AUSGEFUEHRT"))
    from course.layout import find_root

    assert find_root(root / "submitted" / "eigene_daten" / A) == root  # a command started there loads the course's


def test_the_trusted_kernel_survives_forged_classes_and_pointers(protected):
    root = protected[0]
    for student in ("behauptet_tensor", "zeiger"):
        text = outputs_text(root, student)
        assert "TestAbgestürzt" not in text and "TestAbgebrochen" not in text, student
        assert not re.search(r"0x[0-9a-f]{8,}", text), student  # no address of the trusted process


def test_test_cells_show_no_warnings_streams_or_values(protected):
    root = protected[0]
    nb = nbformat.read(root / "autograded" / "warnung" / A / "probe.ipynb", as_version=4)
    for cell in nb.cells:
        if is_autograded_test(cell):
            assert all(o.output_type == "error" or o.get("name") == "stdout" for o in cell.outputs), cell.outputs
            assert not any(o.output_type == "execute_result" for o in cell.outputs)


# The categories of attacks on what the trusted side believes, through the other two grading paths as well.
EVERY_WAY = ["loesung", "behauptet_zahl", "zeiger", "viele_rahmen", "eigene_daten", "warnung"]


@pytest.fixture(scope="module")
def other_ways(tmp_path_factory):
    import subprocess
    import sys

    from formgrader import formgrader

    scores = {}
    for way in ("nbgrader", "formgrader"):
        root = make_course(tmp_path_factory.mktemp(way), CONFIG, EVERY_WAY)
        if way == "nbgrader":
            nbgrader = Path(sys.executable).parent / "nbgrader"
            subprocess.run([str(nbgrader), "autograde", A], cwd=root, capture_output=True, timeout=900)
        else:
            with formgrader(root, root.parent / "server.log") as fg:
                for student in EVERY_WAY:
                    fg.autograde(A, student)
        found: dict = {}
        for row in task_scores(root, A):
            found.setdefault(row["student"], {})[row["task"]] = row["score"]
        scores[way] = (root, found)
    return scores


@pytest.mark.parametrize("way", ["nbgrader", "formgrader"])
def test_attacks_on_the_channel_gain_nothing_every_way(other_ways, way):
    root, scores = other_ways[way]
    assert {s: scores[s] for s in EVERY_WAY} == {s: CASES[s][2] for s in EVERY_WAY}
    assert sorted(p.name for p in (root / "autograded" / "eigene_daten" / A).iterdir()) == ["probe.ipynb"]
    assert not list(root.rglob("KONFIG_AUSGEFUEHRT"))
    publish.feedback(root, A)
    assert MARKER not in feedback_text(root, "warnung") and "RuntimeWarning" not in outputs_text(root, "warnung")
