"""Notebook hygiene, nbgrader metadata, student versions, and every solution notebook run to the end."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course import pipeline
from course.submissions import is_answer_cell, is_autograded_test, nbgrader_meta

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


@pytest.mark.parametrize("path", SOURCES, ids=ids)
def test_visible_asserts_carry_messages(path):
    nb = nbformat.read(path, as_version=4)
    for cell in filter(is_autograded_test, nb.cells):
        tree = ast.parse(visible_part(cell.source))
        asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert asserts, f"{nbgrader_meta(cell)['grade_id']}: no visible assert"
        silent = [ast.unparse(a.test)[:60] for a in asserts if a.msg is None]
        assert not silent, f"{nbgrader_meta(cell)['grade_id']}: asserts without a message: {silent}"


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release") / "kurs"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source", root / "source")
    pipeline.release(root)
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
def test_solution_notebook_runs_with_all_tests(path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(REPO / "data"))
    nb = pipeline.execute_notebook(path)
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
