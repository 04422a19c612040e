"""The gradebook on a real PostgreSQL server: the whole instructor pipeline, compared with SQLite.

One module-scoped run per database: release, eight submissions graded by eight parallel workers (new
students, so the workers would race to create them), manual grades, feedback, export and the report.
The PostgreSQL run must give exactly what the SQLite run gives, with one grade per test cell, no database
error in the server's log, and the password of ``COURSE_DB_URL`` nowhere (files, messages, CLI output).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO, make_course
from pgserver import postgres  # noqa: F401  (fixture)

from course import database, demo, grading, publish, report, scores
from course.layout import coursedir

ASSIGNMENTS = ("01_neuronen", "02_aktivierung")
EXTRA = ("extra-1", "extra-2")  # two more students of 01, so eight submissions keep eight workers busy
MANUAL = {"demo-loesung": (1.5, "Gut begründet."), "demo-teilweise": (0.5, "Nur die Hälfte.")}
# A submission that tries to put the gradebook's password into its own feedback.  It raises instead of
# printing: an error also comes with the execute reply, while a print's stream message can arrive after the
# cell has ended when eight graders (sixteen kernels) share two cores, and then misses the feedback.
SPY = "import os\nraise RuntimeError(f\"DB: {os.environ.get('COURSE_DB_URL')}\")\n"


def set_db(url: str | None) -> None:
    if url is None:
        os.environ.pop(database.DB_URL_ENV, None)
    else:
        os.environ[database.DB_URL_ENV] = url


def run_pipeline(tmp: Path, url: str | None) -> dict:
    """The instructor's pipeline on a fresh course with gradebook ``url`` (None: SQLite); what it produced."""
    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    before = os.environ.get(database.DB_URL_ENV)
    set_db(url)
    try:
        root = make_course(tmp, ASSIGNMENTS[0])
        shutil.copytree(REPO / "source" / ASSIGNMENTS[1], root / "source" / ASSIGNMENTS[1])
        assert publish.release(root) == list(ASSIGNMENTS)
        for name in ASSIGNMENTS:
            for student, answers in demo.demo_answers(root, name).items():
                if student == "demo-leer":
                    answers = {"neuron_ausgabe": SPY} if name == ASSIGNMENTS[0] else answers
                demo.write_submission(root, name, student, answers)
        partly = demo.demo_answers(root, ASSIGNMENTS[0])["demo-teilweise"]
        for student in EXTRA:
            demo.write_submission(root, ASSIGNMENTS[0], student, partly)

        results = grading.grade(root, jobs=8, progress=False, preflight=False)

        from nbgrader.api import Gradebook

        with Gradebook(coursedir(root).db_url) as gb:
            for student, (score, comment) in MANUAL.items():
                grade = gb.find_grade("relu_ableitung", "relu", ASSIGNMENTS[1], student)
                grade.manual_score = score
                gb.find_comment("relu_ableitung", "relu", ASSIGNMENTS[1], student).manual_comment = comment
            gb.db.commit()
        # manual grades must survive regrading
        regraded = grading.grade(root, ASSIGNMENTS[1], jobs=8, progress=False, preflight=False)

        publish.feedback(root)
        per_task = scores.export(root, root / "grades.csv")
        written = report.write_report(root, root / "reports")
        return {
            "root": root,
            "results": [(r.assignment, r.student, r.ok, r.message) for r in results + regraded],
            "scores": scores.task_scores(root),
            "grades_csv": read_csv(root / "grades.csv"),
            "per_task_csv": read_csv(per_task),
            "report_scores": read_csv(next(p for p in written if p.name == "punkte.csv")),
            "feedback": sorted(str(p.relative_to(root / "feedback")) for p in (root / "feedback").rglob("*.html")),
            "manual": manual_grades(root),
        }
    finally:
        set_db(before)


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rows = [{k: v for k, v in row.items() if k != "timestamp"} for row in rows]
    return sorted(rows, key=lambda row: list(row.values()))  # nbgrader exports in the database's order


def manual_grades(root: Path) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(coursedir(root).db_url) as gb:
        return {
            student: (
                gb.find_grade("relu_ableitung", "relu", ASSIGNMENTS[1], student).manual_score,
                gb.find_comment("relu_ableitung", "relu", ASSIGNMENTS[1], student).manual_comment,
            )
            for student in MANUAL
        }


@pytest.fixture(scope="module")
def runs(postgres, tmp_path_factory):  # noqa: F811
    url = postgres.new_database()
    return {
        "sqlite": run_pipeline(tmp_path_factory.mktemp("sqlite"), None),
        "postgres": run_pipeline(tmp_path_factory.mktemp("postgres"), url),
        "url": url,
    }


def test_every_submission_graded_without_database_errors(runs, postgres):  # noqa: F811
    results = runs["postgres"]["results"]
    assert len(results) == 8 + 3
    assert all(ok for _, _, ok, _ in results), results
    errors = [line for line in postgres.log().splitlines() if "ERROR:" in line or "FATAL:" in line]
    assert not errors, errors  # no unique violations, deadlocks or serialization failures while 8 workers write


def test_same_results_as_sqlite(runs):
    sqlite, pg = runs["sqlite"], runs["postgres"]
    for key in ("results", "scores", "grades_csv", "per_task_csv", "report_scores", "feedback", "manual"):
        assert pg[key] == sqlite[key], key
    assert len(pg["scores"]) == 5 * 3 + 3 * 3  # 01: 5 students x 3 tasks, 02: 3 students x 3 tasks
    assert {s: v for s, v in pg["manual"].items()} == MANUAL  # manual grades survive regrading


def test_one_grade_per_cell(runs):
    import psycopg

    with psycopg.connect(runs["url"]) as conn:
        duplicates = conn.execute(
            "SELECT notebook_id, cell_id, count(*) FROM grade GROUP BY notebook_id, cell_id HAVING count(*) > 1"
        ).fetchall()
        (grades,) = conn.execute("SELECT count(*) FROM grade").fetchone()
        (submissions,) = conn.execute("SELECT count(*) FROM submitted_assignment").fetchone()
    assert duplicates == []
    assert submissions == 8
    assert grades == 5 * 3 + 3 * 3


def test_password_appears_nowhere(runs, postgres):  # noqa: F811
    root = runs["postgres"]["root"]
    spy_feedback = (root / "feedback" / "demo-leer" / ASSIGNMENTS[0]).glob("*.html")
    assert "DB: None" in "".join(p.read_text(encoding="utf-8") for p in spy_feedback)  # the spy ran, saw nothing
    leaks = [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and postgres.password.encode() in path.read_bytes()
    ]
    assert leaks == []
    assert postgres.password not in repr(runs["postgres"]["results"])


def cli(root: Path, url: str, *verb: str) -> subprocess.CompletedProcess:
    env = {**os.environ, database.DB_URL_ENV: url}
    return subprocess.run(
        [sys.executable, "-m", "course", "--root", str(root), *verb], capture_output=True, text=True, env=env
    )


def WRONG_PASSWORD(url: str, password: str) -> str:  # noqa: N802  (a constant of the parametrization)
    return url.replace(password, password + "-falsch")


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(WRONG_PASSWORD, id="falsches-passwort"),
        pytest.param(lambda url, pw: url.replace("127.0.0.1:", "127.0.0.1:x"), id="kaputter-port"),
        pytest.param(lambda url, pw: url.replace("postgresql://", "postgresq://"), id="falsches-schema"),
        pytest.param(lambda url, pw: url.replace("postgresql://", "postgresql:/"), id="ein-schraegstrich"),
    ],
)
def test_cli_errors_never_show_the_password(runs, postgres, broken):  # noqa: F811
    url = broken(runs["url"], postgres.password)
    root = runs["postgres"]["root"]
    verbs = [["grade", ASSIGNMENTS[0]]]
    if broken is WRONG_PASSWORD:  # every verb checks the gradebook first, through the same code
        verbs += [["scores"], ["export", "--to", str(root / "x.csv")], ["release"]]
    for verb in verbs:
        proc = cli(root, url, *verb)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 2, (verb, output[-2000:])
        assert postgres.password not in output, verb
        assert output.strip().startswith("Fehler: Gradebook"), (verb, output[-2000:])
        assert database.MASK in output or "postgresq://" in output, output  # the URL is shown, masked


def test_mask_password():
    url = "postgresql+psycopg://kurs:G3h%40im!x@db.example.org:5432/nn_kurs"
    assert database.mask_password(url) == "postgresql+psycopg://kurs:***@db.example.org:5432/nn_kurs"
    assert database.mask_password("host=db password=G3h@im!x user=kurs") == "host=db password=*** user=kurs"
    assert database.mask_password("{'password': 'G3h@im!x'}") == "{'password': '***'}"
    assert database.mask_password("postgresql://kurs:G3h@im!x@db/k") == "postgresql://kurs:***@db/k"
    assert database.mask_password("sqlite:////kurs/gradebook.db") == "sqlite:////kurs/gradebook.db"
    os.environ[database.DB_URL_ENV], before = url, os.environ.get(database.DB_URL_ENV)
    try:  # the configured password is masked wherever it stands, as written and decoded
        assert database.mask_password("Fehler G3h%40im!x und G3h@im!x") == "Fehler *** und ***"
    finally:
        set_db(before)


def test_check_names_the_problem_without_the_password(postgres):  # noqa: F811
    url = postgres.new_database()
    assert database.check(url) is None
    message = database.check(url.replace(postgres.password, "Falsch-" + postgres.password))
    assert message.startswith("Gradebook nicht erreichbar: postgresql://nbgrader:***@127.0.0.1")
    assert "password authentication failed" in message and postgres.password not in message
