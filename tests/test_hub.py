"""The course on JupyterHub, end to end in a real browser (deploy/, `make hub`).

A fresh hub (its own state folder and ports) with the demo accounts: the student `anna` logs in, fetches
01_neuronen, types a correct and a wrong answer, runs the tests, validates and submits; `ben` submits a
free-text answer of 02_aktivierung from the command line; the instructor `lehrende` collects and autogrades
both in the Formgrader (the course's nbgrader_config.py, so the same pipeline as `nbgrader autograde`),
grades ben's free text by hand and releases feedback; anna fetches and reads her German feedback. The test
also proves that anna reaches neither the Formgrader nor the other users' files, and fails on any error in
the browser console. Screenshots and timings: test-artifacts/hub/.

Needs root (real unix accounts), Debian's chromium and the proxy from `make install`.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
ARTIFACTS = REPO / "test-artifacts" / "hub"
CHROMIUM = "/usr/bin/chromium"
HOST = "nn-kurs.localhost"
ASSIGNMENTS = "01_neuronen 02_aktivierung"
FREE_TEXT = "Die Ableitung von ReLU ist 0 für negative Eingaben und 1 für positive; bei 0 ist sie nicht definiert."
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # *.localhost is loopback in Chromium anyway; say so, so no resolver is ever asked
    f"--host-resolver-rules=MAP {HOST} 127.0.0.1, MAP *.{HOST} 127.0.0.1",
]

sys.path.insert(0, str(DEPLOY))
import kurs_hub  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="legt echte Benutzerkonten an: nur als root (CI, make hub)"),
]


# ------------------------------------------------------------------------------------------------ helpers


def _free_port_block() -> int:
    """A port p with p, p+1, p+2 free on 127.0.0.1 (proxy, proxy API, hub)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        ok = True
        for p in (base + 1, base + 2):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return base
    raise RuntimeError("keine drei freien Ports")


class Steps:
    """Screenshots with running numbers and the wall time of each step."""

    def __init__(self) -> None:
        self.n = 0
        self.times: dict[str, float] = {}
        self.t0 = time.monotonic()

    def shot(self, page, name: str) -> None:
        self.n += 1
        page.screenshot(path=str(ARTIFACTS / f"{self.n:02d}_{name}.png"))

    def mark(self, name: str, since: float) -> float:
        self.times[name] = round(time.monotonic() - since, 1)
        return self.times[name]


class Console:
    """Every console error and uncaught exception of the pages under test.

    One message is JupyterLab's and harmless: it writes a markdown cell's HTML with `src="attachment:NAME"` and
    swaps in the attachment's data a moment later, but Chromium has already tried to load the raw URL and logs
    that it cannot. The test checks instead that the figure is shown (`_figure_shown`)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    @staticmethod
    def _benign(m) -> bool:
        url = m.location.get("url") or ""
        return m.text == "Failed to load resource: net::ERR_UNKNOWN_URL_SCHEME" and url.startswith("attachment:")

    def watch(self, page, who: str) -> None:
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"{who}: {m.text} ({m.location.get('url')})")
                if m.type == "error" and not self._benign(m)
                else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"{who}: {e}"))


@pytest.fixture(scope="module")
def hub():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} fehlt: `make install` installiert Debians chromium")
    if not (DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.fail("configurable-http-proxy fehlt: `make install` installiert ihn nach deploy/node_modules")
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    state = Path(tempfile.mkdtemp(prefix="nn-kurs-hub-"))
    state.chmod(0o755)
    port = _free_port_block()
    settings = {
        "NNKURS_HUB_DIR": str(state),
        "NNKURS_HUB_PORT": str(port),
        "NNKURS_HUB_HOST": HOST,
        "NNKURS_HUB_ASSIGNMENTS": ASSIGNMENTS,
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    t = time.monotonic()
    setup = subprocess.run(
        [sys.executable, str(DEPLOY / "kurs_hub.py"), "setup", "--frisch"], env=env, capture_output=True, text=True
    )
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    setup_time = time.monotonic() - t
    log = open(ARTIFACTS / "hub.log", "w")
    hub_cmd = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(DEPLOY / "jupyterhub_config.py")]
    proc = subprocess.Popen(hub_cmd, cwd=state, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/hub/api/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (ARTIFACTS / "hub.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "Hub startet nicht: " + (ARTIFACTS / "hub.log").read_text()[-3000:]
            time.sleep(0.5)
        yield {"url": f"http://{HOST}:{port}", "port": port, "state": state, "setup_time": setup_time}
    finally:
        # The idle culler takes ~30 s to give up on SIGINT: end it (the hub's own child) first.
        import psutil

        for child in psutil.Process(proc.pid).children():
            if "jupyterhub_idle_culler" in " ".join(child.cmdline()):
                child.terminate()
        proc.send_signal(signal.SIGTERM)  # the hub stops every user's server (cleanup_servers)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(state, ignore_errors=True)


def _ben_submits_free_text() -> None:
    """ben fetches 02_aktivierung, writes the free-text answer and submits, on the command line."""
    home = kurs_hub.home("ben")
    nbgrader = str(kurs_hub.user_bin() / "nbgrader")
    kurs_hub._as_user("ben", [nbgrader, "fetch_assignment", "02_aktivierung"], cwd=home)
    path = home / "02_aktivierung" / "relu.ipynb"
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "relu_ableitung"]
    cell.source = FREE_TEXT
    nbformat.write(nb, path)
    kurs_hub._as_user("ben", [nbgrader, "submit", "02_aktivierung"], cwd=home)


def _row(frame, text: str):
    """The table row (Formgrader) with a cell that reads exactly `text`."""
    return frame.locator("tr").filter(has=frame.locator("td", has_text=re.compile(rf"^\s*{re.escape(text)}\s*$")))


def _close_modal(frame) -> None:
    frame.locator(".modal.in .modal-footer button, .modal.show .modal-footer button").first.click()
    frame.locator(".modal.in, .modal.show").first.wait_for(state="hidden")
    frame.locator(".modal-backdrop").first.wait_for(state="detached")


def _formgrader_action(frame, row_text: str, column: str, expect: str, timeout: float = 240_000) -> str:
    """Click a Formgrader action in the row of an assignment or student; return the text of its success box."""
    _row(frame, row_text).locator(f"td.{column} a").first.click()
    modal = frame.locator("#success-modal, #error-modal").first
    modal.wait_for(timeout=timeout)
    text = modal.inner_text()
    assert frame.locator("#success-modal").count() == 1, text
    assert expect in text, text
    return text


# ------------------------------------------------------------------------------------------------- the test


def test_kurs_auf_dem_hub(hub):
    from playwright.sync_api import sync_playwright

    url = hub["url"]
    port = hub["port"]
    steps = Steps()
    console = Console()
    t_test = time.monotonic()
    # ben submits on the command line while anna works in the browser
    ben = concurrent.futures.ThreadPoolExecutor(1).submit(_ben_submits_free_text)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            _run(browser, url, port, hub["state"], steps, console, ben)
        finally:
            browser.close()
            steps.times["gesamt_browser_und_abgaben"] = round(time.monotonic() - t_test, 1)
            steps.times["setup_make_hub"] = round(hub["setup_time"], 1)
            (ARTIFACTS / "zeiten.json").write_text(json.dumps(steps.times, indent=2, ensure_ascii=False) + "\n")
            (ARTIFACTS / "konsole.txt").write_text("\n".join(console.errors) + "\n")
    print(json.dumps(steps.times, indent=2, ensure_ascii=False))
    assert not console.errors, "Fehler in der Browser-Konsole:\n" + "\n".join(console.errors)


def _login(browser, url: str, user: str, steps: Steps, console: Console, wait: bool = True):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="de-DE")
    context.set_default_timeout(60_000)
    page = context.new_page()
    console.watch(page, user)
    page.goto(f"{url}/hub/login")
    assert "Anmelden" in page.inner_text("body")
    steps.shot(page, f"{user}_anmeldung")
    page.fill("#username_input", user)
    page.fill("#password_input", kurs_hub.DEMO_PASSWORD)
    page.click("#login_submit")
    if wait:
        _wait_for_lab(page, user)
    return context, page


def _wait_for_lab(page, user: str) -> None:
    page.wait_for_url(f"**://{user}.{HOST}:*/user/{user}/lab**", timeout=180_000)
    page.locator(".jp-LabShell").wait_for(timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Datei").wait_for()  # German JupyterLab


def _figure_shown(page, alt: str) -> None:
    """The image of a markdown cell (alt text starting with `alt`) is loaded from its attachment and has pixels."""
    page.wait_for_function(
        """alt => [...document.querySelectorAll("img")].some(i => (i.alt || "").startsWith(alt)
            && i.src.startsWith("data:image/png") && i.complete && i.naturalWidth > 0)""",
        arg=alt,
        timeout=60_000,
    )


def _open_nbgrader_menu_item(page, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(f".lm-Menu-itemLabel:text-is('{item}')").click()


def _run(browser, url, port, state, steps: Steps, console: Console, ben) -> None:
    # ----------------------------------------------------------------------- student: login to submission
    t_student = time.monotonic()
    anna_ctx, anna = _login(browser, url, "anna", steps, console)
    steps.mark("anna_anmeldung_bis_jupyterlab", t_student)
    anna.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    menu = anna.locator(".lm-Menu-content").first.inner_text()
    steps.shot(anna, "anna_nbgrader_menue")
    assert "Assignment List" in menu
    assert "Formgrader" not in menu and "Course List" not in menu, menu
    anna.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    assert anna.locator("text=Create Assignment").count() == 0
    released = anna.locator("#released_assignments_list .list_item", has_text="01_neuronen")
    released.locator("button", has_text="Fetch").click()
    anna.locator("#fetched_assignments_list a", has_text="01_neuronen").wait_for()
    steps.shot(anna, "anna_aufgabe_geholt")
    anna.locator("#fetched_assignments_list a", has_text="01_neuronen").click()
    anna.locator("#nbgrader-nn-kurs-01_neuronen a", has_text="neuronen").click()
    nb = anna.locator(".jp-NotebookPanel:visible")
    cells = nb.locator(".jp-Notebook .jp-Cell")
    released_nb = nbformat.read(REPO / "release" / "01_neuronen" / "neuronen.ipynb", as_version=4)
    cells.nth(len(released_nb.cells) - 1).wait_for()
    _figure_shown(anna, "Ein Neuron mit drei Eingaben")  # the cell attachment, as a PNG JupyterLab can show

    def type_answer(index: int, code: str) -> None:
        cell = cells.nth(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".cm-content").click()
        anna.keyboard.press("Control+a")
        anna.keyboard.type(code)

    # the answer cells, at their places in the released notebook: neuron_ausgabe (correct), layer_erzeugen (wrong)
    place = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(released_nb.cells)}
    i_neuron, i_layer = place["neuron_ausgabe"], place["layer_erzeugen"]
    assert "DEINE LÖSUNG HIER" in cells.nth(i_neuron).inner_text() + cells.nth(i_layer).inner_text()
    type_answer(i_neuron, "ausgabe = 1 * 3 + 2 * 2 + 3")
    type_answer(i_layer, "layer = torch.nn.Linear(3, 1)\nx = torch.rand(3)\ny = layer(x)\n")
    steps.shot(anna, "anna_antworten_getippt")
    anna.locator(".lm-MenuBar-itemLabel", has_text="Ausführen").click()
    anna.locator(".lm-Menu-itemLabel:text-is('Alle Zellen ausführen')").click()
    # "run all" stops at the first failing test cell: the wrong layer
    failed = cells.nth(i_layer + 1).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    failed.wait_for(timeout=180_000)
    cells.nth(i_layer + 1).scroll_into_view_if_needed()
    message = failed.inner_text()
    assert "Die Linear-Schichten von `layer` haben die falschen Formen" in message, message
    assert "erwartet (3, 10), bekommen (3, 1)" in message, message
    passed = cells.nth(i_neuron + 1).locator(".jp-OutputArea-output")  # correct answer: the test passes, says so
    assert passed.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert all(o.strip().startswith("✔") for o in passed.all_inner_texts()), passed.all_inner_texts()
    assert "[" in cells.nth(i_neuron + 1).locator(".jp-InputPrompt").inner_text()
    steps.shot(anna, "anna_tests_ausgefuehrt")
    # the instructor logs in meanwhile: her server starts while anna validates and submits
    _, teacher = _login(browser, url, "lehrende", steps, console, wait=False)

    anna.keyboard.press("Control+s")
    anna.locator(".jp-mod-dirty").first.wait_for(state="detached", timeout=30_000)
    nb.locator("[title='Validate Assignment']").first.click()
    dialog = anna.locator(".jp-Dialog")
    dialog.wait_for(timeout=180_000)
    dialog.locator("text=erwartet (3, 10), bekommen (3, 1)").first.wait_for()
    steps.shot(anna, "anna_validiert")
    dialog.locator(".jp-Dialog-footer button").last.click()
    dialog.wait_for(state="detached")

    anna.locator(".lm-TabBar-tab", has_text="Assignments").click()
    anna.locator("#fetched_assignments_list .list_item", has_text="01_neuronen").locator(
        "button", has_text="Submit"
    ).first.click()
    anna.locator("#submitted_assignments_list .list_item", has_text="01_neuronen").wait_for(timeout=60_000)
    student_time = steps.mark("anna_anmeldung_bis_abgabe", t_student)
    steps.shot(anna, "anna_abgegeben")

    # ----------------------------------------------------------------------- instructor: collect, grade, release
    t_instr = time.monotonic()
    _wait_for_lab(teacher, "lehrende")

    # what the student cannot reach, with the instructor's server running
    _student_barriers(anna_ctx, anna, url, port, state, steps)
    ben.result()
    _instructor(teacher, port, steps)
    _kursverwaltung(teacher, port, steps)
    steps.mark("lehrende_gesamt", t_instr)

    # ----------------------------------------------------------------------- student reads German feedback
    t = time.monotonic()
    anna.locator(".lm-TabBar-tab", has_text="Assignments").click()
    anna.locator("#submitted_assignments_list .list_item", has_text="01_neuronen").locator(
        "button", has_text="Fetch Feedback"
    ).first.click()
    feedback_link = anna.locator("#submitted_assignments_list a", has_text="view feedback")
    feedback_link.first.wait_for(timeout=60_000)
    steps.shot(anna, "anna_feedback_geholt")
    feedback_link.first.click()  # shows the feedback folder in the file browser
    anna.locator(".jp-BreadCrumbs", has_text="feedback").wait_for()
    anna.locator(".jp-DirListing-item", has_text="neuronen.html").click(button="right")
    anna.locator(".lm-Menu").first.wait_for()
    steps.shot(anna, "anna_feedback_oeffnen")
    with anna_ctx.expect_page() as new_tab:
        anna.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^In neuem (Browser-)?Tab öffnen$")).first.click()
    feedback = new_tab.value
    console.watch(feedback, "anna-feedback")
    feedback.wait_for_load_state("networkidle")
    text = feedback.inner_text("body")
    assert "neuronen (Punkte: 1 / 4)" in text, text[:2000]
    assert "erwartet (3, 10), bekommen (3, 1)" in text, text[:3000]
    assert "Testzelle" in text
    assert feedback.evaluate("typeof MathJax") == "object"  # from anna's own server, not from a CDN
    steps.shot(feedback, "anna_feedback_gelesen")
    steps.mark("anna_feedback", t)

    # the manual grade reached the gradebook
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{kurs_hub.course_dir() / 'gradebook.db'}") as gb:
        grade = gb.find_grade("relu_ableitung", "relu", "02_aktivierung", "ben")
        assert grade.manual_score == 2, grade.to_dict()
        assert gb.find_comment("relu_ableitung", "relu", "02_aktivierung", "ben").manual_comment.startswith("Richtig")

    assert student_time < 120, f"anna brauchte {student_time} s von der Anmeldung bis zur Abgabe"


def _instructor(teacher, port: int, steps: Steps) -> None:
    """Formgrader: collect, autograde, grade ben's free text by hand, generate and release feedback."""
    _open_nbgrader_menu_item(teacher, "Formgrader")
    teacher.locator("iframe").first.wait_for()
    deadline = time.monotonic() + 60
    while not [f for f in teacher.frames if "/formgrader/" in f.url]:
        assert time.monotonic() < deadline, [f.url for f in teacher.frames]
        teacher.wait_for_timeout(200)  # (time.sleep would not let Playwright see the frame navigate)
    (frame,) = [f for f in teacher.frames if "/formgrader/" in f.url]
    manage_url = f"http://lehrende.{HOST}:{port}/user/lehrende/formgrader/manage_assignments"
    frame.locator("td.collect a").first.wait_for(timeout=60_000)
    steps.shot(teacher, "lehrende_formgrader")
    for a in ("01_neuronen", "02_aktivierung"):
        _formgrader_action(frame, a, "collect", "Successfully collected")
        _close_modal(frame)
    _row(frame, "01_neuronen").locator("td.num-submissions a").click()
    _row(frame, "anna").locator("td.autograde a").wait_for()
    t = time.monotonic()
    _formgrader_action(frame, "anna", "autograde", "Successfully autograded")
    _close_modal(frame)
    steps.mark("autograde_anna_01", t)
    score = _row(frame, "anna").locator("td.score").inner_text()
    # neuron_ausgabe right, layer_erzeugen wrong, batch_korrigieren empty
    assert score.strip() == "1 / 4", (score, _test_outputs(kurs_hub.course_dir(), "anna", "01_neuronen"))
    steps.shot(teacher, "lehrende_autograde_01")

    frame.goto(manage_url)
    _row(frame, "02_aktivierung").locator("td.num-submissions a").click()
    t = time.monotonic()
    _formgrader_action(frame, "ben", "autograde", "Successfully autograded")
    _close_modal(frame)
    steps.mark("autograde_ben_02", t)

    frame.locator("a", has_text="Manual Grading").first.click()
    frame.locator("a[href$='/formgrader/gradebook/02_aktivierung']").click()
    frame.locator("a[href$='/formgrader/gradebook/02_aktivierung/relu']").click()
    # the page fills its fields from the gradebook once grades and comments are loaded: wait for that
    with (
        teacher.expect_response(lambda r: "/formgrader/api/grades?" in r.url, timeout=60_000),
        teacher.expect_response(lambda r: "/formgrader/api/comments?" in r.url, timeout=60_000),
    ):
        frame.locator("a", has_text="Submission #1").first.click()
    score_input = frame.locator("input#relu_ableitung")
    score_input.wait_for(timeout=60_000)
    teacher.wait_for_timeout(500)
    assert "Ableitung von ReLU" in frame.locator("body").inner_text()

    def saved(kind):  # the Formgrader saves a field when it loses the focus
        return teacher.expect_response(lambda r: f"/formgrader/api/{kind}/" in r.url and r.request.method == "PUT")

    # typed into the fields; leaving a field fires "change", on which the Formgrader saves it (fired here
    # directly: focus changes inside the frame of a headless browser are not reliable)
    with saved("grade") as grade:
        score_input.fill("2")
        assert score_input.input_value() == "2"
        score_input.dispatch_event("change")
    assert grade.value.ok and grade.value.json()["manual_score"] == 2, grade.value.text()
    comment = frame.locator("textarea#relu_ableitung-comment")
    with saved("comment") as response:
        comment.fill("Richtig, und gut begründet.")
        comment.dispatch_event("change")
    assert response.value.ok
    steps.shot(teacher, "lehrende_freitext_bewertet")

    frame.goto(manage_url)
    _row(frame, "01_neuronen").locator("td.generate-feedback a").wait_for(timeout=60_000)
    _formgrader_action(frame, "01_neuronen", "generate-feedback", "Successfully generated feedback")
    _close_modal(frame)
    _formgrader_action(frame, "01_neuronen", "release-feedback", "Successfully released feedback")
    _close_modal(frame)
    steps.shot(teacher, "lehrende_feedback_freigegeben")


def _test_outputs(course: Path, student: str, assignment: str) -> dict:
    """The outputs of the graded test cells of an autograded notebook (for the message of a failed check)."""
    outputs = {}
    for path in sorted((course / "autograded" / student / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if grade_id.startswith("test_"):
                outputs[grade_id] = [o.get("text") or o.get("evalue") for o in cell.get("outputs", [])]
    return outputs


def _kursverwaltung(teacher, port: int, steps: Steps) -> None:
    """Terminal: `python -m course report`; launcher card "Kursverwaltung": grade all of 01 and 02 again (ben's hand
    grade stays); Formgrader, gradebook, report and Moodle export show the same points."""
    from nbgrader.api import Gradebook

    course = kurs_hub.course_dir()
    base = f"http://lehrende.{HOST}:{port}/user/lehrende"
    # a terminal (login shell) finds the course's tools and starts in the course folder
    t = time.monotonic()
    _open_launcher(teacher)
    teacher.locator(".jp-LauncherCard", has_text="Terminal").first.click()
    terminal = teacher.locator(".jp-Terminal:visible")
    terminal.wait_for(timeout=60_000)
    teacher.wait_for_timeout(1500)  # the shell's prompt
    terminal.click()
    teacher.keyboard.type("python -m course report > bericht.log 2>&1; echo fertig >> bericht.log\n")
    log = course / "bericht.log"
    deadline = time.monotonic() + 180
    while not (log.exists() and "fertig" in log.read_text()):
        assert time.monotonic() < deadline, log.read_text() if log.exists() else "kein bericht.log im Kursordner"
        time.sleep(1)
    assert f"geschrieben: {course / 'reports' / 'bericht.html'}" in log.read_text(), log.read_text()
    steps.shot(teacher, "lehrende_terminal_bericht")
    steps.mark("terminal_course_report", t)

    # the launcher card opens the page; grade all of 01 (anna) and 02 (ben, graded by hand before) from there
    _open_launcher(teacher)  # the terminal took the place of the first one
    card = teacher.locator(".jp-LauncherCard", has_text="Kursverwaltung")
    card.wait_for()
    steps.shot(teacher, "lehrende_starter_kursverwaltung")
    card.click()
    page = teacher.frame_locator("iframe[src$='/kurs/']")
    for assignment in ("01_neuronen", "02_aktivierung"):
        t = time.monotonic()
        page.locator(f"button[data-assignment='{assignment}']").click()
        page.locator("#stand", has_text=f"{assignment}: fertig.").wait_for(timeout=300_000)
        steps.mark(f"kursverwaltung_bewerten_{assignment}", t)
        steps.shot(teacher, f"lehrende_kursverwaltung_{assignment}")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade("relu_ableitung", "relu", "02_aktivierung", "ben")
        assert (grade.manual_score, grade.needs_manual_grade) == (2, False), grade.to_dict()
        submissions = (("01_neuronen", "anna"), ("02_aktivierung", "ben"))
        points = {(a, s): gb.find_submission(a, s).score for a, s in submissions}
    assert points[("01_neuronen", "anna")] == 1, points
    # the same points in the Formgrader's API, the report and the Moodle export
    api = HubGet(teacher.context, port)
    for (assignment, student), score in points.items():
        notebook = "neuronen" if assignment == "01_neuronen" else "relu"
        rows = json.loads(api.get(f"{base}/formgrader/api/submitted_notebooks/{assignment}/{notebook}"))
        assert [(r["student"], r["score"], r["needs_manual_grade"]) for r in rows] == [(student, score, False)], rows
    report = api.get(f"{base}/kurs/bericht")
    assert "<tr><td>ben</td>" in report and "Bericht für Lehrende" in report
    moodle = api.get(f"{base}/kurs/export?format=moodle")
    header, *lines = moodle.splitlines()
    rows = {line.split(",")[0]: dict(zip(header.split(","), line.split(","), strict=True)) for line in lines}
    assert float(rows["anna"]["01_neuronen"]) == points[("01_neuronen", "anna")], moodle
    assert float(rows["ben"]["02_aktivierung"]) == points[("02_aktivierung", "ben")], moodle
    # the menu "Kurs"
    teacher.locator(".lm-MenuBar-itemLabel", has_text="Kurs").click()
    assert teacher.locator(".lm-Menu-itemLabel", has_text="Kursverwaltung").count() == 1
    steps.shot(teacher, "lehrende_menue_kurs")
    teacher.keyboard.press("Escape")


class HubGet:
    """GET with the cookies of a browser context, from the test's process (Playwright's own `context.request` asks
    the system's resolver, which knows no `*.nn-kurs.localhost`): to the proxy on 127.0.0.1 with the page's host."""

    def __init__(self, context, port: int) -> None:
        self.context, self.port = context, port

    def get(self, url: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in self.context.cookies(url))
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{parts.path}" + (f"?{parts.query}" if parts.query else ""),
            headers={"Host": parts.netloc, "Cookie": cookies},
        )
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=120) as response:  # 302: not logged in
            assert response.status == 200, (url, response.status)
            return response.read().decode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _open_launcher(page) -> None:
    """Show JupyterLab's launcher ("Starter"): its tab if one is open, else a new one (the tab bar's "+"; a card
    opened from a launcher takes that launcher's place)."""
    tab = page.locator(".lm-DockPanel .lm-TabBar-tab", has_text="Starter")
    if tab.count():
        tab.first.click()
    else:
        page.locator(".lm-DockPanel .lm-TabBar-addButton:not(.lm-mod-hidden)").first.click()
    page.locator(".jp-Launcher:visible").first.wait_for()


def _student_barriers(ctx, anna, url, port, state: Path, steps: Steps) -> None:
    """anna cannot open the Formgrader, the instructor's server, other users' folders, source/ or the gradebook."""
    probe = ctx.new_page()  # not watched: the refusals below are logged as console errors on purpose
    anna_base = f"http://anna.{HOST}:{port}/user/anna"
    teacher_base = f"http://lehrende.{HOST}:{port}/user/lehrende"
    r = probe.goto(f"{anna_base}/formgrader/manage_assignments")
    assert r.status == 404, r.status
    assert "404: Nicht gefunden" in probe.content(), probe.content()[:2000]  # her server's page, in German
    r = probe.goto(f"{teacher_base}/formgrader/manage_assignments")
    assert r.status == 403, (r.status, probe.url)
    assert "Manage Assignments" not in probe.content()
    assert "Kein Zugriff" in probe.content(), probe.content()[:2000]
    steps.shot(probe, "anna_kein_formgrader")
    r = probe.goto(f"http://{HOST}:{port}/hub/admin")
    assert r.status == 403 and "Deinem Konto fehlen die Rechte" in probe.content(), (r.status, probe.content()[:2000])
    for path, german in (("home", "Meinen Server"), ("token", "Neues API-Token anfordern")):
        r = probe.goto(f"http://{HOST}:{port}/hub/{path}")
        text = probe.inner_text("body")
        assert r.status == 200 and german in text and "Abmelden" in text and "Logout" not in text, text[:2000]
        steps.shot(probe, f"anna_hub_{path}")
    for path in ("api/contents/nn-kurs/source", "api/contents/nn-kurs/gradebook.db", "files/nn-kurs/gradebook.db"):
        r = probe.goto(f"{teacher_base}/{path}")
        assert r.status == 403, (path, r.status, probe.url)
        body = probe.content()
        assert "SQLite" not in body and "BEGIN SOLUTION" not in body
    probe.close()

    # code in anna's own kernel (her server runs as her unix account)
    secret_paths = [
        kurs_hub.home("ben"),
        kurs_hub.home("lehrende"),
        kurs_hub.course_dir() / "source" / "01_neuronen" / "neuronen.ipynb",
        kurs_hub.course_dir() / "gradebook.db",
        kurs_hub.exchange_dir() / "nn-kurs" / "inbound",
        state / "hub" / "jupyterhub.sqlite",
        REPO / "source" / "01_neuronen" / "neuronen.ipynb",
        REPO / "tests" / "harness.py",
    ]
    code = (
        "import os\n"
        f"for p in {[str(p) for p in secret_paths]!r}:\n"
        "    try:\n"
        "        os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(16)\n"
        "        print('LESBAR', p)\n"
        "    except PermissionError:\n"
        "        print('verweigert', p)\n"
        # the memory limit of anna's server (cgroup v1 or v2), as her kernel sees it
        "g = [l.split(':', 2) for l in open('/proc/self/cgroup').read().splitlines()]\n"
        "v1 = [p for _, c, p in g if 'memory' in c.split(',')]\n"
        "f = f'/sys/fs/cgroup/memory{v1[0]}/memory.limit_in_bytes' if v1 else f'/sys/fs/cgroup{g[0][2]}/memory.max'\n"
        "print('SPEICHER', open(f).read().strip() if os.path.exists(f) else '?')\n"
    )
    anna.locator(".lm-TabBar-tab", has_text="neuronen.ipynb").click()
    nb = anna.locator(".jp-NotebookPanel:visible")
    cells = nb.locator(".jp-Notebook .jp-Cell")
    last = cells.nth(cells.count() - 1)
    last.scroll_into_view_if_needed()
    last.click()
    anna.keyboard.press("Escape")
    anna.keyboard.press("b")
    new_cell = cells.nth(cells.count() - 1)
    new_cell.locator(".cm-content").click()
    anna.keyboard.type(f"exec({code!r})")  # one line: the editor indents typed line breaks itself
    anna.keyboard.press("Shift+Enter")
    output = new_cell.locator(".jp-OutputArea-output")
    output.first.wait_for(timeout=60_000)
    deadline = time.monotonic() + 30
    while "SPEICHER" not in output.inner_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    text = output.inner_text()
    steps.shot(anna, "anna_kein_zugriff")
    assert "LESBAR" not in text, text
    assert text.count("verweigert") == len(secret_paths), text
    if "Keine cgroups" not in (ARTIFACTS / "hub.log").read_text():  # the spawner enforced the limit
        assert f"SPEICHER {kurs_hub._parse_bytes(kurs_hub.MEM_LIMIT)}" in text, text
