"""The instructors' page in JupyterLab ("Kursverwaltung"): a Jupyter server extension.

``<server>/kurs/`` shows every assignment with its number of submissions and three things an instructor
does after a deadline, in German:

* **Alle Abgaben bewerten**: runs ``python -m course grade <assignment>`` (the same pipeline as in a
  terminal: preflight, sandbox, one process per submission) in the background; the page shows its
  progress (``n von m``) and the summary;
* **Bericht öffnen**: writes ``reports/`` (``course report``) and shows ``bericht.html``;
* **Noten herunterladen**: ``course export`` as nbgrader's CSV or for Moodle's grade import.

Enabled only on the instructors' servers (``deploy/jupyter/lehrende/jupyter_server_config.py``); the
launcher card comes from ``jupyter-app-launcher`` (``deploy/jupyter-data/jupyter_app_launcher``).  The
course folder: ``$NNKURS_KURSORDNER``, else the folder with ``nbgrader_config.py`` at or above the
server's root.  Loading the extension also keeps nbgrader's DEBUG log out of the Formgrader's message
boxes (:func:`quiet_formgrader_log`) and makes the Formgrader read the gradebook afresh on every request
(:func:`fresh_formgrader_reads`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
from html import escape
from pathlib import Path

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from course.layout import CourseError, assignments, find_root

#: tqdm's progress line of `course grade` ("Bewertung:  40%|████  | 2/5 [...]").
_PROGRESS = re.compile(r"(\d+)/(\d+) \[")


def quiet_formgrader_log() -> None:
    """nbgrader's ``capture_log`` records at the server logger's level (DEBUG under traitlets' logging setup):
    the Formgrader's success boxes then held ~30 KB of DEBUG lines.  From here on it records INFO and up."""
    import nbgrader.apps.api as nbgrader_api
    from nbgrader import utils

    original = utils.capture_log
    if getattr(original, "_nn_kurs", False):
        return

    def capture_log(app, fmt="[%(levelname)s] %(message)s"):
        level = app.log.level
        if level < logging.INFO:
            app.log.setLevel(logging.INFO)
        try:
            return original(app, fmt)
        finally:
            app.log.setLevel(level)

    capture_log._nn_kurs = True
    utils.capture_log = nbgrader_api.capture_log = capture_log


def fresh_gradebook(settings: dict) -> None:
    """End the Formgrader's gradebook session before a request, so it reads what is in the database now.

    nbgrader's Formgrader keeps one ``Gradebook`` (one SQLAlchemy session) for the server's lifetime; a grade
    it loaded once is returned from the session's identity map with its old columns until that session
    commits.  After ``course grade`` or ``nbgrader autograde`` in a terminal it showed old points and
    "needs manual grading" states, for as long as the cached objects lived (a garbage collection decided)."""
    gradebook = settings.get("nbgrader_gradebook")
    if gradebook is not None:
        gradebook.db.rollback()  # nothing is pending between requests; expires every loaded object


def fresh_formgrader_reads() -> None:
    """Every Formgrader request starts with :func:`fresh_gradebook`."""
    from nbgrader.server_extensions.formgrader.base import BaseHandler

    original = BaseHandler.prepare
    if getattr(original, "_nn_kurs", False):
        return

    def prepare(self, *args, **kwargs):
        fresh_gradebook(self.settings)
        return original(self, *args, **kwargs)

    prepare._nn_kurs = True
    BaseHandler.prepare = prepare


class GradingJob:
    """One `course grade` at a time, in the background, with its progress."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.assignment: str | None = None
        self.log: Path | None = None

    def start(self, root: Path, assignment: str) -> None:
        with self.lock:
            if self.process is not None and self.process.poll() is None:
                raise CourseError(f"Es wird schon bewertet: {self.assignment}")
            fd, name = tempfile.mkstemp(prefix="nn-kurs-bewertung-", suffix=".log")
            bin_dir = str(Path(sys.executable).parent)  # nbgrader calls alembic
            env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
            command = [sys.executable, "-m", "course", "--root", str(root), "grade", assignment]
            self.process = subprocess.Popen(command, cwd=root, env=env, stdout=fd, stderr=subprocess.STDOUT)
            os.close(fd)
            self.assignment, self.log = assignment, Path(name)

    def status(self) -> dict:
        with self.lock:
            if self.process is None:
                return {"laeuft": False, "assignment": None}
            text = self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""
            code = self.process.poll()
        matches = _PROGRESS.findall(text)
        done, total = (int(matches[-1][0]), int(matches[-1][1])) if matches else (0, 0)
        lines = [line for line in re.split(r"[\r\n]+", text) if line.strip() and not _PROGRESS.search(line)]
        return {
            "laeuft": code is None,
            "assignment": self.assignment,
            "fertig": done,
            "gesamt": total,
            "exitcode": code,
            "meldungen": lines[-12:],
        }


JOB = GradingJob()


def course_folder(server_root: str) -> Path:
    folder = os.environ.get("NNKURS_KURSORDNER")
    root = find_root(Path(folder)) if folder else find_root(Path(server_root))
    if root is None:
        raise web.HTTPError(404, "Kein Kursordner (nbgrader_config.py) gefunden.")
    return root


def submission_counts(root: Path) -> dict[str, int]:
    submitted = root / "submitted"
    counts = {}
    for name in assignments(root):
        counts[name] = (
            sum(1 for p in submitted.iterdir() if (p / name).is_dir() and not p.is_symlink())
            if submitted.is_dir()
            else 0
        )
    return counts


class KursHandler(JupyterHandler):
    @property
    def root(self) -> Path:
        return course_folder(self.settings.get("server_root_dir", os.getcwd()))


class PageHandler(KursHandler):
    @web.authenticated
    def get(self):
        if not self.request.path.endswith("/"):  # the page's links are relative to .../kurs/
            self.redirect(self.request.path + "/")
            return
        rows = "\n".join(
            f'<tr><td>{escape(name)}</td><td>{count}</td><td><button data-assignment="{escape(name)}"'
            f' data-leer="{int(not count)}">Alle Abgaben bewerten</button></td></tr>'
            for name, count in submission_counts(self.root).items()
        )
        page = PAGE.replace("{{ROWS}}", rows).replace("{{XSRF}}", escape(self.xsrf_token.decode("ascii")))
        page = page.replace("{{ORDNER}}", escape(str(self.root)))
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(page)


class GradeHandler(KursHandler):
    @web.authenticated
    def post(self, assignment: str):
        if assignment not in assignments(self.root):
            raise web.HTTPError(404, f"unbekanntes Assignment {assignment!r}")
        try:
            JOB.start(self.root, assignment)
        except CourseError as exc:
            self.set_status(409)
            self.finish({"fehler": str(exc)})
            return
        self.set_status(202)
        self.finish(JOB.status())


class StatusHandler(KursHandler):
    @web.authenticated
    def get(self):
        self.finish(JOB.status())


class ReportHandler(KursHandler):
    @web.authenticated
    async def get(self):
        from course import report

        root = self.root
        paths = await asyncio.get_running_loop().run_in_executor(
            None, report.write_report, root, root / "reports", None
        )
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(paths[0].read_bytes())


class ExportHandler(KursHandler):
    @web.authenticated
    async def get(self):
        from course import moodle, scores

        kind = self.get_argument("format", "nbgrader")
        if kind not in {"nbgrader", "moodle"}:
            raise web.HTTPError(400, "format: nbgrader oder moodle")
        root = self.root
        with tempfile.TemporaryDirectory() as tmp:
            name = "noten_moodle.csv" if kind == "moodle" else "grades.csv"
            target = Path(tmp) / name
            export = moodle.export if kind == "moodle" else scores.export
            await asyncio.get_running_loop().run_in_executor(None, export, root, target)
            data = target.read_bytes()
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(data)


def german_formgrader_advice(settings: dict) -> bool:
    """Let the course's ``templates/formgrader/`` override nbgrader's Formgrader pages (they extend the originals
    as ``nbgrader/<name>``).  Returns whether the Formgrader's template environment was there to change."""
    from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

    env = settings.get("nbgrader_jinja2_env")
    if env is None:
        return False
    if not getattr(env.loader, "_nn_kurs", False):
        ours = FileSystemLoader(str(Path(__file__).parent / "templates" / "formgrader"))
        env.loader = ChoiceLoader([ours, PrefixLoader({"nbgrader": env.loader}), env.loader])
        env.loader._nn_kurs = True
    return True


def _jupyter_server_extension_points():
    return [{"module": "course.lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    quiet_formgrader_log()
    fresh_formgrader_reads()
    base = url_path_join(serverapp.web_app.settings["base_url"], "kurs")
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "/?"), PageHandler),
            (url_path_join(base, "api/bewerten/([^/]+)"), GradeHandler),
            (url_path_join(base, "api/status"), StatusHandler),
            (url_path_join(base, "bericht"), ReportHandler),
            (url_path_join(base, "export"), ExportHandler),
        ],
    )
    serverapp.log.info("Kursverwaltung unter %s/", base)
    if not german_formgrader_advice(serverapp.web_app.settings):  # nbgrader's extension loads after this one
        from tornado.ioloop import IOLoop

        IOLoop.current().add_callback(german_formgrader_advice, serverapp.web_app.settings)


PAGE = """<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8" />
<title>Kursverwaltung</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 60em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.7em; text-align: left; }
button, a.knopf { font-size: 1em; padding: 0.3em 0.8em; margin-right: 0.5em; }
progress { width: 20em; }
pre { background: #f4f4f4; padding: 0.5em; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Kursverwaltung</h1>
<p>Kursordner: <code>{{ORDNER}}</code></p>
<h2>Bewerten</h2>
<p>Bewertet alle Abgaben unter <code>submitted/</code> wie <code>python -m course grade</code> im Terminal:
zuerst die Musterlösung zur Probe, dann jede Abgabe in der Sandbox. Handbewertungen unveränderter Antworten
bleiben erhalten.</p>
<table><thead><tr><th>Assignment</th><th>Abgaben</th><th></th></tr></thead><tbody>
{{ROWS}}
</tbody></table>
<div id="fortschritt" hidden>
<p id="stand"></p>
<progress id="balken" max="1" value="0"></progress>
<pre id="meldungen"></pre>
</div>
<h2>Bericht und Noten</h2>
<p><a class="knopf" href="bericht" target="_blank" rel="noopener">Bericht öffnen</a>
<a class="knopf" href="export?format=nbgrader" download="grades.csv">Noten herunterladen (CSV, nbgrader)</a>
<a class="knopf" href="export?format=moodle" download="noten_moodle.csv">Noten für Moodle herunterladen</a></p>
<script>
const xsrf = "{{XSRF}}";
const stand = document.getElementById("stand"), balken = document.getElementById("balken");
const meldungen = document.getElementById("meldungen"), box = document.getElementById("fortschritt");
function knoepfe(an) {
  document.querySelectorAll("button[data-assignment]").forEach(b => { b.disabled = !an || b.dataset.leer === "1"; });
}
function zeige(s) {
  if (!s.assignment) return;
  box.hidden = false;
  balken.max = Math.max(s.gesamt, 1);
  balken.value = s.fertig;
  if (s.laeuft) {
    stand.textContent = s.gesamt ? `${s.assignment}: ${s.fertig} von ${s.gesamt} Abgaben bewertet …`
                                 : `${s.assignment}: Probelauf der Musterlösung …`;
  } else {
    stand.textContent = s.exitcode === 0 ? `${s.assignment}: fertig.` : `${s.assignment}: mit Fehlern beendet.`;
  }
  meldungen.textContent = s.meldungen.join("\\n");
}
async function frage() {
  // with the token: JupyterHub's server takes its login cookie on a script's GET only with it (no redirect)
  const s = await (await fetch("api/status", { headers: { "X-XSRFToken": xsrf } })).json();
  zeige(s);
  if (s.laeuft) { setTimeout(frage, 1000); } else { knoepfe(true); }
}
document.querySelectorAll("button[data-assignment]").forEach(b => b.addEventListener("click", async () => {
  knoepfe(false);
  const r = await fetch("api/bewerten/" + encodeURIComponent(b.dataset.assignment),
                        { method: "POST", headers: { "X-XSRFToken": xsrf } });
  const s = await r.json();
  if (r.status !== 202) { box.hidden = false; stand.textContent = s.fehler || "Fehler"; }
  frage();
}));
frage();
</script>
</body>
</html>
"""
