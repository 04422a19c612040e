"""The authoring guide's worked example works: built from CONTRIBUTING.md's blocks, graded three ways.

The task, answer and test cells and the variants are taken verbatim from the blocks marked
``<!-- guide: ... -->`` in CONTRIBUTING.md, so the guide cannot drift from what runs.  A right answer gets the
point and a wrong one none through ``python -m course grade``'s grading
(``course.grading.grade``), ``nbgrader autograde`` and the Formgrader's autograde API.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from formgrader import formgrader
from harness import REPO, Variant, answer_cell, grading_meta, probe_notebook
from nbformat.v4 import new_code_cell, new_markdown_cell

from course import grading, publish
from course.checks import pruefe_funktion
from course.demo import write_submission
from course.layout import read_notebook, source_notebook
from course.scores import task_scores
from course.submissions import solution_answers

A = "09_beispiel"
WAYS = ("course", "nbgrader", "formgrader")


def guide_blocks() -> dict[str, str]:
    """``name -> code`` of the fenced blocks after ``<!-- guide: name -->`` in CONTRIBUTING.md."""
    text = (REPO / "CONTRIBUTING.md").read_text()
    blocks = dict(re.findall(r"<!-- guide: (\w+) -->\n```\w*\n(.*?)\n```", text, re.S))
    assert set(blocks) == {"task", "answer", "test", "variants"}, sorted(blocks)
    return blocks


def guide_notebook():
    blocks = guide_blocks()
    test = new_code_cell(
        blocks["test"], metadata=grading_meta(grade=True, grade_id="test_verdoppeln", locked=True, points=1)
    )
    return probe_notebook(new_markdown_cell(blocks["task"]), answer_cell("verdoppeln", blocks["answer"]), test)


def guide_variants() -> dict[str, Variant]:
    """The guide's first right and first wrong answer (grading costs a kernel pair per submission and way)."""
    namespace = {"Variant": Variant}
    exec(guide_blocks()["variants"], namespace)  # noqa: S102 - the guide's own example
    variants = namespace["VARIANTS"]
    right = next(n for n, v in variants.items() if not v.points)
    wrong = next(n for n, v in variants.items() if v.points)
    return {right: variants[right], wrong: variants[wrong]}


def expected() -> dict[str, float]:
    return {
        name: float(v.points.get("verdoppeln", 1 if v.base == "solution" else 0))
        for name, v in guide_variants().items()
    }


def build_course(tmp: Path) -> Path:
    root = tmp / "kurs"
    (root / "source" / A).mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    import nbformat

    nbformat.write(guide_notebook(), root / "source" / A / "beispiel.ipynb")
    publish.release(root, A)
    solution = solution_answers(read_notebook(source_notebook(root, A)))
    for name, variant in guide_variants().items():
        answers = dict(solution) if variant.base == "solution" else {}
        answers.update(variant.answers)
        write_submission(root, A, name, answers)
    return root


def points(root: Path) -> dict[str, float]:
    found = dict.fromkeys(guide_variants(), 0.0)
    found.update({row["student"]: row["score"] for row in task_scores(root, A) if row["task"] == "verdoppeln"})
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    roots = {way: build_course(tmp_path_factory.mktemp(way)) for way in WAYS}
    grading.grade(roots["course"], A, progress=False)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    subprocess.run([str(nbgrader), "autograde", A], cwd=roots["nbgrader"], capture_output=True, timeout=600)
    with formgrader(roots["formgrader"], roots["formgrader"].parent / "server.log") as fg:
        for student in guide_variants():
            fg.autograde(A, student)
    return {way: points(root) for way, root in roots.items()}


@pytest.mark.parametrize("way", WAYS)
def test_the_guides_example_grades_right_and_wrong_answers(graded, way):
    assert graded[way] == expected()
    assert sorted(expected().values()) == [0.0, 1.0]  # a right answer and a wrong one


def test_the_message_the_guide_quotes():
    text = (REPO / "CONTRIBUTING.md").read_text()
    with pytest.raises(AssertionError) as info:
        pruefe_funktion(
            "verdoppeln", lambda x: x + 2, [torch.tensor([1.0, -2.0, 0.5])], referenz=lambda x: 2 * x,
            ergebnis="tensor", unveraendert=True, tipp="Multipliziere `x` mit 2.",
        )  # fmt: skip
    assert f'"{info.value}"' in " ".join(text.split()), str(info.value)
