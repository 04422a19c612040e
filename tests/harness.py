"""Grade injected answers with the real nbgrader pipeline and compare the exact points.

An assignment's test module defines ``ASSIGNMENT`` and ``VARIANTS`` and imports
``test_points`` from here (pytest collects it there).  All variants of one module
are graded in one batch in a temporary copy of the course.
"""

from __future__ import annotations

import ast
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course import grading, publish
from course.cells import graded_tasks
from course.demo import demo_answers, write_submission
from course.layout import read_notebook, source_notebook, student_notebook
from course.scores import task_scores
from course.submissions import solution_answers

REPO = Path(__file__).resolve().parents[1]


def grading_meta(**fields) -> dict:
    """Cell metadata in nbgrader's schema: an ordinary cell, updated with ``fields``."""
    return {
        "nbgrader": {"grade": False, "locked": False, "schema_version": 3, "solution": False, "task": False, **fields}
    }


def answer_cell(grade_id: str, source: str):
    """An answer cell (code) whose ``source`` holds a solution block."""
    return new_code_cell(source, metadata=grading_meta(grade_id=grade_id, solution=True))


def grading_cell(task: str, points: float, visible: str, hidden: str):
    """The locked test cell ``test_<task>``: visible asserts, then the hidden block."""
    source = f"{visible}\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"
    return new_code_cell(source, metadata=grading_meta(grade=True, grade_id=f"test_{task}", locked=True, points=points))


def free_text_cell(grade_id: str, points: float, question: str, model_answer: str):
    """A manually graded markdown answer."""
    source = f"{question}\n\n### BEGIN SOLUTION\n{model_answer}\n### END SOLUTION"
    return new_markdown_cell(source, metadata=grading_meta(grade=True, grade_id=grade_id, solution=True, points=points))


def probe_notebook(*cells):
    """A small notebook in the course's format, for tests of the pipeline itself."""
    kernelspec = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return new_notebook(cells=[new_markdown_cell("# Probe"), *cells], metadata={"kernelspec": kernelspec})


def reference_answers(assignment: str) -> dict[str, str]:
    """The solution of every answer cell of ``source/<assignment>`` (``grade_id -> source``)."""
    return solution_answers(read_notebook(source_notebook(REPO, assignment)))


def changed(answers: dict[str, str], task: str, *replacements: tuple[str, str]) -> str:
    """``answers[task]`` with each ``old`` replaced by ``new``; ``old`` must occur, so a variant cannot go stale."""
    source = answers[task]
    for old, new in replacements:
        assert old in source, f"{task}: {old!r} not in the reference answer"
        source = source.replace(old, new)
    return source


@dataclass
class Variant:
    """A submission: ``answers`` by grade_id on top of ``base`` ("solution" or "blank").

    ``points`` gives the expected points of the tasks that differ from the base:
    every other task is expected at full points (base "solution") or 0 (base "blank").
    """

    answers: dict[str, str] = field(default_factory=dict)
    points: dict[str, float] = field(default_factory=dict)
    base: str = "solution"


def make_course(tmp: Path, assignment: str) -> Path:
    """A temporary course with ``assignment`` released and nothing else."""
    root = tmp / "kurs"
    (root / "source").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    shutil.copytree(REPO / "source" / assignment, root / "source" / assignment)
    publish.release(root, assignment)
    return root


def max_points(root: Path, assignment: str) -> dict[str, float]:
    return graded_tasks(read_notebook(source_notebook(root, assignment)))


def partly_solved(root: Path, assignment: str) -> Variant:
    """The demo's partly correct submission (every other task solved) with its expected points."""
    answers = demo_answers(root, assignment)["demo-teilweise"]
    return Variant(
        answers=answers, points={t: p for t, p in max_points(root, assignment).items() if t in answers}, base="blank"
    )


def grade_variants(tmp: Path, assignment: str, variants: dict[str, Variant]):
    """Grade every variant (plus the standard ones).

    Returns ``(scores, full, variants)``: ``student -> task -> points``, the maximum points per task,
    and all graded variants by name.
    """
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    root = make_course(tmp, assignment)
    solution = solution_answers(read_notebook(source_notebook(root, assignment)))
    full = max_points(root, assignment)
    graded_variants = all_variants(variants, root, assignment)
    for name, variant in graded_variants.items():
        answers = dict(solution) if variant.base == "solution" else {}
        answers.update(variant.answers)
        assert_parses(root, assignment, name, variant.answers)
        write_submission(root, assignment, name, answers)
    results = grading.grade(root, assignment, progress=False)
    failed = [r for r in results if not r.ok]
    assert not failed, f"autograde failed: {failed}"
    scores: dict[str, dict[str, float]] = {}
    for row in task_scores(root, assignment):
        if row["task"] in full:
            scores.setdefault(row["student"], {})[row["task"]] = row["score"]
    return scores, full, graded_variants


def assert_parses(root: Path, assignment: str, name: str, answers: dict[str, str]) -> None:
    """Every code answer of a variant is valid (IPython) Python: a typo must not pass as a "wrong answer"."""
    from IPython.core.inputtransformer2 import TransformerManager

    code_cells = {
        c.metadata.nbgrader.grade_id
        for c in read_notebook(student_notebook(root, assignment)).cells
        if c.cell_type == "code" and "nbgrader" in c.metadata
    }
    for grade_id, source in answers.items():
        if grade_id in code_cells:
            try:
                ast.parse(TransformerManager().transform_cell(source))
            except SyntaxError as exc:
                raise AssertionError(f"variant {name!r}, answer {grade_id!r} does not parse: {exc}") from None


def all_variants(variants: dict[str, Variant], root: Path | None = None, assignment: str = "") -> dict[str, Variant]:
    """``variants`` plus the solution, the blank student version and the partly solved one.

    Without ``root`` the partly solved variant is a placeholder (only its name is needed).
    """
    partly = partly_solved(root, assignment) if root else Variant(base="blank")
    return {"loesung": Variant(), "leer": Variant(base="blank"), "teilweise": partly, **variants}


def expected_points(variant: Variant, full: dict[str, float]) -> dict[str, float]:
    unknown = set(variant.points) - set(full)
    assert not unknown, f"unknown tasks in points: {unknown}"
    base = dict(full) if variant.base == "solution" else dict.fromkeys(full, 0.0)
    base.update({task: float(p) for task, p in variant.points.items()})
    return base


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory):
    module = request.module
    return grade_variants(tmp_path_factory.mktemp(module.ASSIGNMENT), module.ASSIGNMENT, module.VARIANTS)


def test_points(graded, variant_name):
    """Each variant gets exactly the expected points per task."""
    scores, full, variants = graded
    variant = variants[variant_name]
    assert scores[variant_name] == expected_points(variant, full), f"variant {variant_name!r}"
