"""The instructors' page "Kursverwaltung" (course.lab) on a real Jupyter server: grade all, report, export."""

import csv
import io
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from formgrader import formgrader
from harness import answer_cell, grading_cell, probe_notebook

from course import publish
from course.demo import write_submission

REPO = Path(__file__).resolve().parents[1]
A, NB = "01_seite", "seite"
ANSWERS = {
    "anna": {"doppelt": "def doppelt(x):\n    return x + x"},  # right: 2 points
    "ben": {"doppelt": "def doppelt(x):\n    return 2 * x + 1"},  # wrong: 0
    "carla": {},  # nothing: 0
}


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("seite") / "kurs"
    (root / "source" / A).mkdir(parents=True)
    (root / "source" / "02_leer").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    nb = probe_notebook(
        answer_cell("doppelt", "def doppelt(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        grading_cell("doppelt", 2, "assert doppelt(2) == 4", "assert doppelt(-3) == -6"),
    )
    nbformat.write(nb, root / "source" / A / f"{NB}.ipynb")
    nbformat.write(nb, root / "source" / "02_leer" / f"{NB}.ipynb")
    publish.release(root)
    for student, answers in ANSWERS.items():
        write_submission(root, A, student, answers)
    return root


def test_grade_all_report_and_export_from_the_page(course_root, tmp_path):
    with formgrader(course_root, tmp_path / "server.log") as fg:
        redirect = fg.get("/kurs", allow_redirects=False)
        assert redirect.status_code in (301, 302) and redirect.headers["Location"].endswith("/kurs/")
        page = fg.get("/kurs/")
        assert page.status_code == 200 and '<html lang="de">' in page.text
        assert f'<tr><td>{A}</td><td>3</td><td><button data-assignment="{A}" data-leer="0">' in page.text
        assert '<tr><td>02_leer</td><td>0</td><td><button data-assignment="02_leer" data-leer="1">' in page.text

        start = time.monotonic()
        started = fg.session.post(f"{fg.url}/kurs/api/bewerten/{A}", timeout=30)
        assert started.status_code == 202, started.text
        again = fg.session.post(f"{fg.url}/kurs/api/bewerten/{A}", timeout=30)
        assert again.status_code == 409 and "schon bewertet" in again.json()["fehler"]
        seen = []
        while True:
            status = fg.get("/kurs/api/status").json()
            seen.append((status["fertig"], status["gesamt"]))
            if not status["laeuft"]:
                break
            assert time.monotonic() - start < 300, status
            time.sleep(0.5)
        assert status["exitcode"] == 0 and (status["fertig"], status["gesamt"]) == (3, 3), status
        assert "3 von 3 Abgaben bewertet." in status["meldungen"], status
        assert fg.session.post(f"{fg.url}/kurs/api/bewerten/99_nix", timeout=30).status_code == 404

        # the same gradebook as every other path: the Formgrader shows the points
        scores = {s["student"]: s["score"] for s in fg.notebook_submissions(A, NB)}
        assert scores == {"anna": 2.0, "ben": 0.0, "carla": 0.0}

        report = fg.get("/kurs/bericht")
        assert report.status_code == 200 and "Bericht für Lehrende" in report.text
        assert "<tr><td>anna</td>" in report.text and (course_root / "reports" / "bericht.html").is_file()

        moodle = fg.get("/kurs/export", params={"format": "moodle"})
        assert moodle.headers["Content-Disposition"] == 'attachment; filename="noten_moodle.csv"'
        rows = list(csv.DictReader(io.StringIO(moodle.content.decode("utf-8"))))
        assert [(r["Anmeldename"], r[A]) for r in rows] == [("anna", "2"), ("ben", "0"), ("carla", "0")]
        plain = fg.get("/kurs/export", params={"format": "nbgrader"})
        assert plain.text.startswith("assignment,duedate,timestamp,student_id")
        assert fg.get("/kurs/export", params={"format": "xls"}).status_code == 400

        # the Formgrader's advice for grading all submissions: the course's page and command, no classic terminal
        advice = fg.get(f"/formgrader/manage_submissions/{A}")
        assert advice.status_code == 200 and f'python -m course grade "{A}"' in advice.text
        assert "/kurs/" in advice.text and "/terminals/1" not in advice.text
        assert "Manage Submissions" in advice.text  # the rest of nbgrader's page stays


def test_launcher_card_and_menu_in_jupyterlab(course_root, tmp_path):
    """JupyterLab configured like an instructor's hub server: the card "Kursverwaltung" opens the page in a tab,
    the menu "Kurs" has it too; no error in the browser console. Screenshots: test-artifacts/kursverwaltung/."""
    import os
    import subprocess
    import sys

    import requests
    from formgrader import free_port
    from playwright.sync_api import sync_playwright

    artifacts = REPO / "test-artifacts" / "kursverwaltung"
    artifacts.mkdir(parents=True, exist_ok=True)
    deploy = REPO / "deploy"
    port, prefix = free_port(), "/user/lehrende/"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "JUPYTER_CONFIG_PATH": f"{deploy / 'jupyter' / 'lehrende'}:{deploy / 'jupyter' / 'alle'}",
        "JUPYTER_PATH": str(deploy / "jupyter-data"),
        "NNKURS_LAB_SETTINGS": str(deploy / "jupyter" / "lab-settings"),
        "NNKURS_KURSORDNER": str(course_root),
        "NNKURS_COURSE_DIR": str(course_root),
        "JUPYTERHUB_SERVICE_PREFIX": prefix,
    }
    token = "kurs-test-token"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
        f"--ServerApp.base_url={prefix}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}{prefix}"
    errors = []
    with (tmp_path / "lab.log").open("w") as log:
        proc = subprocess.Popen(command, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            try:
                if requests.get(f"{url}api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (tmp_path / "lab.log").read_text()[-3000:]
            time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="de-DE")
                page.set_default_timeout(90_000)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"{url}lab?token={token}")
                card = page.locator(".jp-LauncherCard", has_text="Kursverwaltung")
                card.wait_for()
                assert page.locator(".jp-Launcher-sectionTitle", has_text="Kurs").count() >= 1
                page.screenshot(path=str(artifacts / "01_launcher.png"))
                card.click()
                frame = page.frame_locator("iframe[src$='/kurs/']")
                frame.locator("h1", has_text="Kursverwaltung").wait_for()
                frame.locator(f"button[data-assignment='{A}']").wait_for()
                page.screenshot(path=str(artifacts / "02_seite.png"))
                page.locator(".lm-MenuBar-itemLabel", has_text="Kurs").click()
                assert page.locator(".lm-Menu-itemLabel", has_text="Kursverwaltung").count() == 1
                assert page.locator(".lm-Menu-itemLabel", has_text="Bericht öffnen").count() == 1
                page.screenshot(path=str(artifacts / "03_menue.png"))
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert not errors, errors
