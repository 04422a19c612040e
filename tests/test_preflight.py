"""A grading environment that cannot run the reference solution stops before it grades anyone.

The broken environment here: grading kernels limited to 50 MB of address space, in
which Python cannot even start (the same symptom as a sandbox that cannot reach the
virtual environment).  Control: the same course grades normally with the default limits.
"""

import subprocess
import sys

import pytest
from harness import REPO
from test_robust_grading import A, probe_course

from course import grading, sandbox, solutions
from course.layout import CourseError, read_notebook, source_notebook
from course.scores import task_scores
from course.submissions import solution_answers

pytestmark = pytest.mark.skipif(not sandbox.bwrap_works(), reason="the limits belong to the sandbox")


@pytest.fixture
def course(tmp_path):
    return probe_course(tmp_path, {"anna": ({}, None), "ben": ({}, None)})


def test_a_broken_environment_grades_nobody(course, monkeypatch):
    monkeypatch.setenv("COURSE_GRADING_MEMORY_GB", "0.05")
    with pytest.raises(CourseError, match="niemand wurde bewertet"):
        grading.grade(course, A, jobs=2, progress=False)
    assert task_scores(course, A) == []
    cli = subprocess.run(
        [sys.executable, "-m", "course", "--root", str(course), "grade", A], capture_output=True, text=True
    )
    assert cli.returncode == 2 and "niemand wurde bewertet" in cli.stderr and "bewertet." not in cli.stdout


def test_without_the_preflight_a_dead_kernel_is_a_failure_not_a_zero(course, monkeypatch):
    """Even when the pre-flight is skipped, a kernel that cannot start fails the submission loudly."""
    monkeypatch.setenv("COURSE_GRADING_MEMORY_GB", "0.05")
    results = grading.grade(course, A, jobs=2, progress=False, preflight=False)
    assert [r.ok for r in results] == [False, False]
    assert all("Bewertungs-Kernel ließ sich nicht starten" in r.message for r in results), results


def test_control_the_same_course_grades_normally(course):
    results = grading.grade(course, A, jobs=2, progress=False)
    assert all(r.ok for r in results)
    assert sum(row["score"] or 0 for row in task_scores(course, A)) == 2 * 4


@pytest.mark.parametrize("name", ["04_fehlerfunktion", "06_mnist"])
def test_without_course_data_dir_the_kernels_use_the_course_s_data(name, tmp_path, monkeypatch):
    """Outside the tests nobody sets COURSE_DATA_DIR: pre-flight and grading find <course>/data themselves,
    the student's kernel and the trusted one (06's test cells load MNIST for their expected values)."""
    import shutil

    from harness import make_course

    from course.demo import write_submission

    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    root = make_course(tmp_path, name)
    (root / "data").mkdir()
    if name == "06_mnist":  # the MNIST subset, linked as `make install` links it
        (root / "data" / "MNIST").mkdir()
        (root / "data" / "MNIST" / "raw").symlink_to((REPO / "data" / "MNIST" / "raw").resolve())
    else:
        for split in ("train", "test"):
            shutil.copy(REPO / "data" / f"1d_dataset_{split}.pt", root / "data")
    write_submission(root, name, "anna", solution_answers(read_notebook(source_notebook(root, name))))
    (result,) = grading.grade(root, name, progress=False)
    assert result.ok, result.message
    rows = [r for r in task_scores(root, name) if not r["needs_manual_grade"]]
    assert rows and all(r["score"] == r["max_score"] for r in rows)


def test_a_passed_preflight_is_not_repeated_until_something_changes(course, monkeypatch):
    """The reference solution runs once; again only when its fingerprint changes (here: a lower memory limit,
    under which it fails and nothing is remembered)."""
    runs = []
    real = solutions.grade_notebook
    monkeypatch.setattr(solutions, "grade_notebook", lambda *args, **kwargs: runs.append(1) or real(*args, **kwargs))
    before = solutions.preflight_fingerprint(course, A)
    solutions.preflight(course, A)
    assert solutions.preflight_fingerprint(course, A) == before, "a pre-flight leaves nothing that changes it"
    solutions.preflight(course, A)
    assert len(runs) == 1
    monkeypatch.setenv("COURSE_GRADING_MEMORY_GB", "0.05")
    with pytest.raises(CourseError, match="niemand wurde bewertet"):
        solutions.preflight(course, A)
    with pytest.raises(CourseError, match="niemand wurde bewertet"):
        solutions.preflight(course, A)
    assert len(runs) == 3
    monkeypatch.delenv("COURSE_GRADING_MEMORY_GB")
    solutions.preflight(course, A, cache=False)
    assert len(runs) == 4


def test_the_preflight_fingerprint_covers_notebook_config_and_data(course, monkeypatch, tmp_path):
    data = tmp_path / "daten"
    data.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    seen = {solutions.preflight_fingerprint(course, A)}
    vendored = tmp_path / "_vendor" / "zipp-3.0.dist-info"  # a folder imports append to sys.path at run time
    vendored.mkdir(parents=True)
    (vendored / "METADATA").write_text("Name: zipp\nVersion: 3.0\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(vendored.parent)])
    assert solutions.preflight_fingerprint(course, A) in seen
    (data / "neu.pt").write_bytes(b"x")
    seen.add(solutions.preflight_fingerprint(course, A))
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.Execute.timeout = 30\n")
    seen.add(solutions.preflight_fingerprint(course, A))
    notebook = source_notebook(course, A)
    notebook.write_text(notebook.read_text().replace("a = 1", "a = 1  # geändert"))
    seen.add(solutions.preflight_fingerprint(course, A))
    assert len(seen) == 4
    assert solutions.preflight_fingerprint(course, A) in seen, "the same inputs, the same fingerprint"
