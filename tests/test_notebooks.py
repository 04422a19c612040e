"""Notebook hygiene, nbgrader metadata, student versions, and every solution notebook run to the end."""

import ast
import builtins
import os
import re
import shutil
import subprocess
import symtable
import sys
from pathlib import Path

import nbformat
import pytest

from course import publish
from course.cells import is_answer_cell, is_autograded_test, nbgrader_meta
from course.solutions import execute_notebook

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = [
    "01_neuronen", "02_aktivierung", "03_netze", "04_fehlerfunktion",
    "05_training", "06_mnist", "07_kettenregel", "08_micrograd",
]  # fmt: skip
SOURCES = sorted((REPO / "source").glob("*/*.ipynb"))
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION.*?### END SOLUTION", re.S)


def ids(path):
    return path.parent.name


def test_all_assignments_present():
    assert [p.parent.name for p in SOURCES] == ASSIGNMENTS
    for path in SOURCES:
        assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "only the notebook in source/<a>/"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_source_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
            assert not re.search(r"^\s*[!%]", cell.source, re.M), f"no shell/magic installs: {cell.source[:60]}"
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_notebook_stores_what_the_kernel_fills_in(path):
    """JupyterLab marks a notebook modified when the kernel adds language_info on opening: store it."""
    info = nbformat.read(path, as_version=4).metadata.get("language_info", {})
    keys = {"codemirror_mode", "file_extension", "mimetype", "name", "nbconvert_exporter", "pygments_lexer", "version"}
    assert keys <= set(info), f"language_info lacks {sorted(keys - set(info))}"
    assert info["version"].startswith("3.11"), "the course's Python"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_nbgrader_metadata(path):
    nb = nbformat.read(path, as_version=4)
    grade_ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(grade_ids) == len(set(grade_ids)), f"duplicate grade_ids: {grade_ids}"
    seen_answers = set()
    tests = 0
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta:
            continue
        assert meta["schema_version"] == 3
        if is_answer_cell(cell):
            seen_answers.add(meta["grade_id"])
            assert SOLUTION.search(cell.source), f"{meta['grade_id']}: answer cell without solution block"
            if cell.cell_type == "markdown":
                assert meta["grade"] and meta.get("points", 0) > 0, f"{meta['grade_id']}: free text needs points"
        if is_autograded_test(cell):
            tests += 1
            task = meta["grade_id"].removeprefix("test_")
            assert meta["grade_id"].startswith("test_"), meta["grade_id"]
            assert meta["locked"], f"{meta['grade_id']} must be locked"
            assert meta.get("points", 0) > 0, f"{meta['grade_id']} needs points"
            assert task in seen_answers, f"{meta['grade_id']}: its answer cell {task!r} must come before it"
            assert HIDDEN.search(cell.source), f"{meta['grade_id']}: no hidden tests"
    assert tests > 0


def visible_part(source: str) -> str:
    return HIDDEN.sub("", source)


def grading_cells(path):
    """The autograded test cells of a source notebook as (grade_id, source)."""
    nb = nbformat.read(path, as_version=4)
    return [(nbgrader_meta(c)["grade_id"], c.source) for c in nb.cells if is_autograded_test(c)]


def is_check(node: ast.AST) -> bool:
    """A call of a check of the vocabulary (``pruefe_zahl(...)``, ``course.checks.pruefe_tensor(...)``)."""
    if not isinstance(node, ast.Call):
        return False
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    return name.startswith("pruefe_") and name != "pruefe_namen"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_every_assert_carries_a_message(path):
    """Visible and hidden asserts alike: the feedback shows the message, a bare assert shows only AssertionError."""
    for grade_id, source in grading_cells(path):
        visible = [
            node for node in ast.walk(ast.parse(visible_part(source))) if isinstance(node, ast.Assert) or is_check(node)
        ]  # fmt: skip
        assert visible, f"{grade_id}: no visible assert or check"
        silent = [
            ast.unparse(a.test)[:60] for a in ast.walk(ast.parse(source)) if isinstance(a, ast.Assert) and a.msg is None
        ]
        assert not silent, f"{grade_id}: asserts without a message: {silent}"


def message_texts(message: ast.expr) -> list[str]:
    """The literal text of an assertion message (the constant parts of strings and f-strings)."""
    return [n.value for n in ast.walk(message) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_assert_messages_are_plain_text(path):
    """Messages are shown as plain text, so LaTeX (`$b = 3$`) would appear raw."""
    for grade_id, source in grading_cells(path):
        latex = [
            text for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assert) and node.msg is not None
            for text in message_texts(node.msg) if "$" in text
        ]  # fmt: skip
        assert not latex, f"{grade_id}: LaTeX in assertion messages: {latex}"


def free_names(source: str) -> set[str]:
    """Names a cell reads without defining or importing them itself (builtins excluded)."""
    top = symtable.symtable(source, "<cell>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    free = set()

    def visit(table, outermost):
        for symbol in table.get_symbols():
            if not symbol.is_referenced():
                continue
            if outermost and not (symbol.is_assigned() or symbol.is_imported()):
                free.add(symbol.get_name())
            elif not outermost and symbol.is_global() and symbol.get_name() not in defined:
                free.add(symbol.get_name())
        for child in table.get_children():
            visit(child, False)

    visit(top, True)
    return free - set(dir(builtins))


def _in_globals(test: ast.expr) -> ast.expr | None:
    """``X`` for a test ``X in globals()``, else None."""
    if (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.In)
        and isinstance(test.comparators[0], ast.Call) and ast.unparse(test.comparators[0]) == "globals()"
    ):  # fmt: skip
        return test.left
    return None


def name_check(statement: ast.stmt) -> set[str] | None:
    """The names a German name check covers, or None if ``statement`` is none.

    A name check is ``assert "name" in globals(), "... `name` ..."``, a loop over literal names
    ``for _name in ("a", "b"): assert _name in globals(), f"... `{_name}` ..."``, or the vocabulary's
    ``pruefe_namen("a", "b")`` (literal names only).
    """
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
        literal = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if name == "pruefe_namen" and call.args and len(literal) == len(call.args):
            return set(literal)
        return None
    if isinstance(statement, ast.Assert) and statement.msg is not None:
        left = _in_globals(statement.test)
        if isinstance(left, ast.Constant) and isinstance(left.value, str):
            mentioned = any(f"`{left.value}`" in text for text in message_texts(statement.msg))
            return {left.value} if mentioned else None
    if (
        isinstance(statement, ast.For) and isinstance(statement.target, ast.Name) and not statement.orelse
        and isinstance(statement.iter, ast.Tuple | ast.List) and len(statement.body) == 1
    ):  # fmt: skip
        names = [e.value for e in statement.iter.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        check = statement.body[0]
        variable = statement.target.id
        if (
            len(names) == len(statement.iter.elts) and isinstance(check, ast.Assert)
            and isinstance(check.msg, ast.JoinedStr) and isinstance(_in_globals(check.test), ast.Name)
            and _in_globals(check.test).id == variable
            and f"`{{{variable}}}`" in ast.unparse(check.msg)
        ):  # fmt: skip
            return set(names)
    return None


def checked_names(source: str) -> set[str]:
    """The names checked at the top of a cell: among its imports and helper functions, before anything else."""
    checked = set()
    for statement in ast.parse(source).body:
        covered = name_check(statement)
        if covered is not None:
            checked |= covered
        elif isinstance(statement, ast.FunctionDef) and not statement.decorator_list:
            continue  # defining a helper reads no global name
        elif not isinstance(statement, ast.Import | ast.ImportFrom):
            break
    return checked


def test_name_check_detection():
    """The detection is real: checks at the top count, late, English or mismatched checks do not."""
    good = (
        "import torch\n"
        'assert "ausgabe" in globals(), "Die Variable `ausgabe` fehlt noch: Führe zuerst deine Lösungszelle aus."\n'
        "for _n in ('net', 'x_train'):\n"
        '    assert _n in globals(), f"`{_n}` fehlt noch: Führe zuerst die Zellen oben aus."\n'
        "_y = ausgabe + net(x_train) + torch.zeros(1) + [len(_z) for _z in x_train][0]\n"
        "def _f():\n    return ausgabe\n"
    )
    assert free_names(good) == {"ausgabe", "net", "x_train"}
    assert checked_names(good) == {"ausgabe", "net", "x_train"}
    late = "import torch\n_y = torch.zeros(1)\nassert 'ausgabe' in globals(), 'Die Variable `ausgabe` fehlt noch.'"
    assert checked_names(late) == set()
    helper = "def _komma(z):\n    return str(z)\n\n\nassert 'mse' in globals(), 'Die Funktion `mse` fehlt noch.'"
    assert checked_names(helper) == {"mse"}
    assert checked_names("assert 'ausgabe' in globals(), 'name not defined'") == set()
    assert checked_names("assert 'ausgabe' in globals(), 'Die Variable `y` fehlt noch.'") == set()
    assert checked_names("assert 'ausgabe' in globals()") == set()
    assert checked_names("from course.checks import pruefe_namen\npruefe_namen('net', 'x')") == {"net", "x"}
    assert checked_names("pruefe_namen(name)\npruefe_namen('x')") == set()
    assert free_names("import math\n_w = math.pi\nfor _i in range(3):\n    _w += _i") == set()


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_test_cells_check_their_names_in_german(path):
    """A test cell run before its task is solved says in German what is missing, not `NameError: name ...`."""
    for grade_id, source in grading_cells(path):
        unchecked = sorted(free_names(source) - checked_names(source))
        assert not unchecked, (
            f"{grade_id}: names read without a German name check at the top of the cell: {unchecked}; "
            'start the cell (after its imports) with `assert "name" in globals(), "Die Variable `name` fehlt ..."`'
        )


LEARNING_GOALS = "## Lernziele"
SUMMARY = "## Zusammenfassung"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_learning_goals_at_the_top_and_summary_at_the_end(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    intro = [c.source for c in nb.cells[:first_code] if c.cell_type == "markdown"]
    assert intro and intro[0].startswith("# "), "the notebook starts with a markdown cell `# <title>`"
    goals = [s.split(LEARNING_GOALS + "\n", 1)[1] for s in intro if re.search(f"^{LEARNING_GOALS}$", s, re.M)]
    assert goals, f"a `{LEARNING_GOALS}` section in a markdown cell before the first code cell"
    assert re.search(r"^- \S", goals[0].split("\n#")[0], re.M), f"`{LEARNING_GOALS}` needs a list (`- ...`)"
    last = nb.cells[-1]
    assert last.cell_type == "markdown", "the last cell is a markdown cell with the summary"
    parts = re.split(f"^{SUMMARY}$", last.source, flags=re.M)
    assert len(parts) == 2, f"the last cell has the heading `{SUMMARY}` (once)"
    assert not re.search(r"^#", parts[1], re.M), f"no other heading after `{SUMMARY}`: the summary ends the notebook"
    assert len(parts[1].strip()) > 40, f"`{SUMMARY}` needs some content"


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release") / "kurs"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source", root / "source")
    publish.release(root)
    return root / "release"


def test_release_is_up_to_date(fresh_release):
    committed = sorted(p.relative_to(REPO / "release") for p in (REPO / "release").rglob("*") if p.is_file())
    generated = sorted(p.relative_to(fresh_release) for p in fresh_release.rglob("*") if p.is_file())
    assert committed == generated, "release/ differs from source/: run `python -m course release`"
    stale = [str(p) for p in generated if (fresh_release / p).read_bytes() != (REPO / "release" / p).read_bytes()]
    assert not stale, f"release/ is out of date for {stale}: run `python -m course release`"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_release_hides_solutions_and_hidden_tests(path, fresh_release):
    source = nbformat.read(path, as_version=4)
    student = nbformat.read(fresh_release / path.parent.name / path.name, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    secret = []
    for cell in source.cells:
        for block in SOLUTION.findall(cell.source) + HIDDEN.findall(cell.source):
            secret += [line.strip() for line in block.splitlines()[1:-1] if len(line.strip()) > 12]
    student_lines = {line.strip() for line in text.splitlines()}
    given = public_lines(source)  # lines that also stand outside every block are given code, not a leak
    leaked = [line for line in secret if line in student_lines and line not in given]
    assert not leaked, f"solution or hidden test lines in the student version: {leaked}"


def public_lines(source) -> set[str]:
    """The stripped lines of a source notebook outside every solution and hidden-test block."""
    public = "\n".join(HIDDEN.sub("", SOLUTION.sub("", c.source)) for c in source.cells)
    return {line.strip() for line in public.splitlines()}


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_blank_student_version_shows_no_name_error(path, fresh_release, monkeypatch):
    """What a student sees before solving anything: every test cell fails in German, never with a NameError."""
    from nbclient import NotebookClient

    monkeypatch.setenv("COURSE_DATA_DIR", str(REPO / "data"))
    student = fresh_release / path.parent.name / path.name
    nb = nbformat.read(student, as_version=4)
    resources = {"metadata": {"path": str(student.parent)}}
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True, resources=resources).execute()
    name_errors = {
        nbgrader_meta(c)["grade_id"]: out.evalue for c in nb.cells if is_autograded_test(c)
        for out in c.outputs if out.output_type == "error" and out.ename == "NameError"
    }  # fmt: skip
    assert not name_errors, f"test cells of the blank student version end in a NameError: {name_errors}"


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_solution_notebook_runs_with_all_tests(path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(REPO / "data"))
    nb = execute_notebook(path)
    errors = [
        out for c in nb.cells if c.cell_type == "code" and "raises-exception" not in c.metadata.get("tags", [])
        for out in c.outputs if out.output_type == "error"
    ]  # fmt: skip
    assert not errors
    stderr_in_tests = [
        nbgrader_meta(c)["grade_id"] for c in nb.cells if is_autograded_test(c)
        for out in c.outputs if out.get("name") == "stderr"
    ]  # fmt: skip
    assert not stderr_in_tests, "nbgrader scores a test cell with stderr output 0"


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "course", "tests", "benchmarks", "source", "nbgrader_config.py"],
        cwd=REPO, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
