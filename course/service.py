"""Grading on submit: a JupyterHub service that grades new submissions and gives feedback within minutes.

    python -m course.service [--root KURS] [--exchange ORDNER] [--intervall 5] [-j 1] [--cluster ADRESSE] [--einmal]

Each pass (:meth:`Service.step`) looks at nbgrader's exchange (``<exchange>/<course_id>/inbound``), takes the
newest submission of every student and assignment whose mode is not ``aus``, collects it into
``submitted/`` (atomically: a half-copied folder is never graded), grades it through the course's own
pipeline (:func:`course.grading.grade_one`: one worker process per submission with sandbox and budget, or
the Dask cluster) and releases feedback into the exchange, where nbgrader's *Fetch Feedback* finds it.

The instructor chooses per assignment in ``bewertung_bei_abgabe.json`` in the course folder, e.g.
``{"01_neuronen": "voll", "06_mnist": "sichtbar"}`` (missing: ``aus``, today's behaviour):

* ``aus``: nothing happens; the instructor collects and grades as before;
* ``sichtbar``: graded completely (the gradebook holds all points), but the student sees only the points
  and messages of the visible tests, per task;
* ``voll``: the autograded feedback (nbgrader's, with this course's German template).

Tasks graded by hand show as pending.  What the service did lives in ``.bewertung/abgaben.json`` in the course
folder, one entry per submission (keyed by student, assignment and nbgrader's timestamp):
``wird bewertet``, ``bewertet``, ``nicht bewertet`` (with the reason) or ``ersetzt`` (a newer submission of
the same student came first).  A submission whose entry is final is never graded again; one interrupted by
a restart of the service is graded when the service is back; failures that are not the submission's fault
(gradebook unreachable, disk full) are tried again, up to :data:`MAX_ATTEMPTS` times.  The service never
writes a hand grade (nbgrader's autograde leaves ``manual_score`` alone) and only one service runs per
course folder (a lock file).

Run by JupyterHub (``deploy/jupyterhub_config.py``), it also serves ``/services/bewertung/``: every
student sees the status of their own submissions ("wird bewertet", "bewertet") and their feedback.
"""

from __future__ import annotations

import argparse
import fcntl
import html
import json
import logging
import os
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from course.database import is_transient, mask_password
from course.layout import CourseError, course_root, coursedir, notebook_name

log = logging.getLogger("course.service")

MODES = ("aus", "sichtbar", "voll")
SETTINGS_FILE = "bewertung_bei_abgabe.json"
STATE_DIR = ".bewertung"
JOURNAL = "abgaben.json"

PENDING, DONE, FAILED, SUPERSEDED = "wird bewertet", "bewertet", "nicht bewertet", "ersetzt"
FINAL = {DONE, FAILED, SUPERSEDED}
#: Tries for a submission whose grading failed for a reason outside it (gradebook, disk).
MAX_ATTEMPTS = 3
_OUTSIDE = ("No space left", "Read-only file system", "Bewertungsprozess endete")
#: GradeResult kinds (course.grading.FailureKind) that are not the submission's fault.
_OUTSIDE_KINDS = ("umgebung", "gradebook", "abgestürzt")


def is_retryable(message: str, kind: str = "") -> bool:
    """A failure that is not the submission's fault (gradebook, disk, a lost worker): worth another try later.

    A submission that ran past its budget is not tried again: it would most likely do it again.
    """
    return kind in _OUTSIDE_KINDS or is_transient(message) or any(marker in message for marker in _OUTSIDE)


@dataclass
class Entry:
    """One submission as the service sees it."""

    student: str
    assignment: str
    timestamp: str  # nbgrader's timestamp of the submission (its key, with student and assignment)
    inbound: str = ""  # folder name in the exchange's inbound
    status: str = PENDING
    reason: str = ""
    attempts: int = 0
    mode: str = "voll"
    points: float | None = None
    max_points: float | None = None
    pending_points: float = 0.0  # points of tasks still to be graded by hand
    tasks: list = field(default_factory=list)  # per task: name, points, max, state, message
    feedback: str = ""  # file name under .bewertung/feedback/
    graded_at: str = ""
    graded: bool = False  # the grading itself succeeded (points and feedback may still be missing)

    @property
    def key(self) -> str:
        return key(self.student, self.assignment, self.timestamp)


def key(student: str, assignment: str, timestamp: str) -> str:
    return f"{student}+{assignment}+{timestamp}"


def _parse_time(timestamp: str) -> datetime:
    from nbgrader.utils import parse_utc

    return parse_utc(timestamp)


def parse_inbound(name: str) -> tuple[str, str, str] | None:
    """``(student, assignment, timestamp)`` of an inbound folder ``student+assignment+timestamp[+random]``."""
    parts = name.rsplit("+", 3)
    if len(parts) == 4:
        student, assignment, timestamp, _ = parts
    else:
        parts = name.rsplit("+", 2)
        if len(parts) != 3:
            return None
        student, assignment, timestamp = parts
    try:
        _parse_time(timestamp)
    except (ValueError, OverflowError, TypeError):
        return None
    return student, assignment, timestamp


class Journal:
    """The service's record of every submission, written atomically (a crash leaves the old or the new file)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / JOURNAL
        self.entries: dict[str, Entry] = {}
        if self.path.exists():
            for k, value in json.loads(self.path.read_text(encoding="utf-8")).items():
                self.entries[k] = Entry(**value)

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump({k: asdict(e) for k, e in self.entries.items()}, f, ensure_ascii=False, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def put(self, entry: Entry) -> None:
        self.entries[entry.key] = entry
        self.save()

    def of_student(self, student: str) -> list[Entry]:
        return sorted(
            (e for e in self.entries.values() if e.student == student),
            key=lambda e: (e.assignment, _parse_time(e.timestamp)),
            reverse=True,
        )


def load_modes(root: Path) -> dict[str, str]:
    """``assignment -> mode`` from ``bewertung_bei_abgabe.json``; unknown modes are an error, missing is ``aus``."""
    path = root / SETTINGS_FILE
    if not path.exists():
        return {}
    try:
        modes = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CourseError(f"{SETTINGS_FILE} ist kein gültiges JSON: {exc}") from None
    wrong = {a: m for a, m in modes.items() if m not in MODES}
    if wrong:
        raise CourseError(f"{SETTINGS_FILE}: unbekannte Modi {wrong}; erlaubt: {', '.join(MODES)}")
    return modes


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


class Service:
    """Grading on submit for the course at ``root`` with nbgrader's exchange at ``exchange``."""

    def __init__(self, root: Path, exchange: Path, jobs: int = 1, cluster: str | None = None, check_owner: bool = True):
        self.root, self.exchange, self.jobs, self.cluster = root, exchange, jobs, cluster
        self.check_owner = check_owner
        self.course_id = coursedir(root).course_id
        self.state = root / STATE_DIR
        self.state.mkdir(exist_ok=True)
        self.state.chmod(0o700)
        self._lock = (self.state / "lock").open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CourseError(f"Der Bewertungsdienst läuft schon für {root}") from None
        self.journal = Journal(self.state)
        self.prechecked: set[str] = set()
        self.mutex = threading.Lock()  # the web page reads the journal while a pass writes it

    def close(self) -> None:
        self._lock.close()

    # ---------------------------------------------------------------------------------------- one pass

    def inbound(self) -> Path:
        return self.exchange / self.course_id / "inbound"

    def scan(self, modes: dict[str, str]) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """``(student, assignment) -> [(timestamp, folder name)]`` oldest first, for assignments not ``aus``."""
        found: dict[tuple[str, str], list[tuple[str, str]]] = {}
        folder = self.inbound()
        if not folder.is_dir():
            return found
        for path in folder.iterdir():
            parsed = parse_inbound(path.name)
            if parsed is None or modes.get(parsed[1], "aus") == "aus":
                continue
            student, assignment, timestamp = parsed
            found.setdefault((student, assignment), []).append((timestamp, path.name))
        for records in found.values():
            records.sort(key=lambda r: _parse_time(r[0]))
        return found

    def step(self) -> list[Entry]:
        """One pass: find, collect, grade and release what is new.  Returns the entries it finished."""
        modes = load_modes(self.root)
        todo: list[Entry] = []
        released: list[Entry] = []
        with self.mutex:
            for (student, assignment), records in sorted(self.scan(modes).items()):
                *older, (timestamp, name) = records
                for old_ts, old_name in older:
                    self._supersede(student, assignment, old_ts, old_name, timestamp)
                entry = self.journal.entries.get(key(student, assignment, timestamp))
                if entry is not None and (entry.status in FINAL or entry.attempts >= MAX_ATTEMPTS):
                    continue
                entry = entry or Entry(student, assignment, timestamp, name)
                entry.mode = modes[assignment]
                if entry.graded:  # graded before; only points and feedback are missing
                    released.append(entry)
                    continue
                if not self._collect(entry):
                    continue
                entry.status, entry.reason = PENDING, ""
                self.journal.put(entry)
                todo.append(entry)
        finished = []
        for entry in released:
            with self.mutex:
                if self._release(entry):
                    finished.append(entry)
        for entry, result in self._grade(todo) if todo else ():
            with self.mutex:
                if self._finish(entry, result):
                    finished.append(entry)
        return finished

    def _supersede(self, student: str, assignment: str, timestamp: str, name: str, newer: str) -> None:
        entry = self.journal.entries.get(key(student, assignment, timestamp))
        if entry is not None and entry.status in FINAL:
            return
        entry = entry or Entry(student, assignment, timestamp, name)
        entry.status, entry.reason = SUPERSEDED, f"durch die neuere Abgabe vom {newer} ersetzt"
        self.journal.put(entry)

    def _collect(self, entry: Entry) -> bool:
        """Copy the submission from the exchange to ``submitted/`` unless it is there already.

        The copy keeps links as links (the pre-check rejects them; nbgrader's collect would follow them),
        lands in a temporary folder first and replaces the old submission by a rename.  Returns False
        (and records why) if the submission is not to be graded.
        """
        source = self.inbound() / entry.inbound
        if self.check_owner:
            import pwd

            try:
                owner = pwd.getpwuid(source.lstat().st_uid).pw_name
            except (KeyError, OSError):
                owner = None
            if owner != entry.student:
                entry.status = FAILED
                entry.reason = f"Abgabe gehört nicht {entry.student} (Eigentümer: {owner or 'unbekannt'})"
                self.journal.put(entry)
                return False
        target = self.root / "submitted" / entry.student / entry.assignment
        existing = read_text(target / "timestamp.txt") if target.is_dir() else None
        if existing == entry.timestamp:
            return True  # collected before a restart
        if existing is not None:
            try:
                newer = _parse_time(existing) > _parse_time(entry.timestamp)
            except (ValueError, OverflowError, TypeError):
                newer = False
            if newer:
                entry.status, entry.reason = SUPERSEDED, f"in submitted/ liegt schon eine neuere Abgabe ({existing})"
                self.journal.put(entry)
                return False
        target.parent.mkdir(parents=True, exist_ok=True)
        fresh = target.parent / f".{entry.assignment}.neu"
        shutil.rmtree(fresh, ignore_errors=True)
        try:
            shutil.copytree(source, fresh, symlinks=True)
        except OSError as exc:
            shutil.rmtree(fresh, ignore_errors=True)
            entry.status, entry.reason = FAILED, f"Abgabe nicht lesbar: {exc.__class__.__name__}: {exc}"
            self.journal.put(entry)
            return False
        if not (fresh / "timestamp.txt").exists():
            (fresh / "timestamp.txt").write_text(entry.timestamp)
        old = target.parent / f".{entry.assignment}.alt"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.rename(target, old)
        os.rename(fresh, target)
        shutil.rmtree(old, ignore_errors=True)
        return True

    def _grade(self, todo: list[Entry]):
        """Grade ``todo`` with the course's pipeline; yields ``(entry, GradeResult)`` as they finish."""
        from course import cluster as dask_cluster
        from course import grading
        from course.solutions import preflight

        pairs = [(e.assignment, e.student) for e in todo]
        by_pair = {(e.assignment, e.student): e for e in todo}
        try:
            grading.prepare_gradebook(self.root, pairs)
            for assignment in sorted({a for a, _ in pairs} - self.prechecked):
                preflight(self.root, assignment)
                self.prechecked.add(assignment)
        except CourseError as exc:  # the grading environment, not the submissions: they wait for the next pass
            message = mask_password(str(exc))
            log.error("Bewertung nicht möglich, nächster Versuch im nächsten Durchlauf: %s", message)
            for entry in todo:
                entry.reason = f"wartet: {message}"
                self.journal.put(entry)
            return
        address = dask_cluster.scheduler_address(self.cluster)
        if address:
            try:
                done = dask_cluster.grade_on_cluster(
                    pairs, partial(grading.grade_one, self.root), address, workers=self.jobs, root=self.root
                )
                for result in done:
                    yield by_pair[(result.assignment, result.student)], result
            except dask_cluster.ClusterError as exc:
                for entry in todo:
                    yield entry, grading.GradeResult(entry.assignment, entry.student, False, str(exc))
            return
        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        budget = grading.worker_budget(self.root)
        try:
            with ThreadPoolExecutor(max_workers=self.jobs) as pool:
                futures = {pool.submit(grading.grade_one, self.root, a, s, threads, budget): (a, s) for a, s in pairs}
                for future in as_completed(futures):
                    yield by_pair[futures[future]], future.result()
        finally:
            grading.close_workers()  # the pool's threads are gone: their worker processes end too

    def _finish(self, entry: Entry, result) -> bool:
        """Record a grading result; True when the entry is final."""
        entry.attempts += 1
        if not result.ok:
            entry.reason = mask_password(result.message) or "ohne Meldung"
            retry = is_retryable(entry.reason, getattr(result, "kind", "")) and entry.attempts < MAX_ATTEMPTS
            entry.status = PENDING if retry else FAILED
            self.journal.put(entry)
            log.warning("nicht bewertet: %s: %s%s", entry.key, entry.reason, " (neuer Versuch)" if retry else "")
            return not retry
        entry.graded = True
        self.journal.put(entry)
        return self._release(entry)

    def _release(self, entry: Entry) -> bool:
        """Points and feedback of a graded entry; True when done.  A failure here never grades again."""
        try:
            self._points(entry)
            self._feedback(entry)
        except Exception as exc:
            entry.reason = f"bewertet, Rückmeldung folgt: {exc.__class__.__name__}: {mask_password(exc)}"
            self.journal.put(entry)
            log.exception("Punkte oder Feedback für %s", entry.key)
            return False
        entry.status, entry.reason = DONE, ""
        entry.graded_at = datetime.now().astimezone().isoformat(timespec="seconds")
        self.journal.put(entry)
        log.info("bewertet: %s: %s von %s Punkten", entry.key, entry.points, entry.max_points)
        return True

    # ------------------------------------------------------------------------------- points and feedback

    def _points(self, entry: Entry) -> None:
        """Points per task from the gradebook; in mode ``sichtbar`` those of the visible tests instead."""
        from nbgrader.api import Gradebook

        from course.cells import task_name

        cd = coursedir(self.root)
        tasks = []
        with Gradebook(cd.db_url, cd.course_id) as gb:
            submission = gb.find_submission(entry.assignment, entry.student)
            for nb in submission.notebooks:
                for g in nb.grades:
                    manual_open = g.needs_manual_grade and g.manual_score is None and g.auto_score is None
                    state = "offen" if manual_open else "von Hand" if g.manual_score is not None else "bewertet"
                    tasks.append(
                        {
                            "task": task_name(g.name),
                            "cell": g.name,
                            "points": g.score,
                            "max": g.max_score,
                            "state": state,
                            "message": "",
                        }
                    )
        if entry.mode == "sichtbar":
            visible = visible_results(self.root, entry.assignment, entry.student)
            for t in tasks:
                if t["cell"] in visible and t["state"] == "bewertet":  # a hand grade stands as it is
                    passed, message = visible[t["cell"]]
                    t["points"] = t["max"] if passed else 0.0
                    t["message"] = message
        entry.tasks = tasks
        entry.points = sum(t["points"] or 0.0 for t in tasks if t["state"] != "offen")
        entry.max_points = sum(t["max"] for t in tasks)
        entry.pending_points = sum(t["max"] for t in tasks if t["state"] == "offen")

    def _feedback(self, entry: Entry) -> None:
        """Write the student's feedback and release it into the exchange for nbgrader's *Fetch Feedback*."""
        name = notebook_name(self.root, entry.assignment)
        if entry.mode == "voll":
            from course.api import check_result, nbgrader_api

            api = nbgrader_api(self.root)
            check_result(api.generate_feedback(entry.assignment, entry.student), "Feedback")
            page = (self.root / "feedback" / entry.student / entry.assignment / name).with_suffix(".html")
            content = page.read_text(encoding="utf-8")
        else:
            content = visible_page(entry)
        folder = self.state / "feedback"
        folder.mkdir(exist_ok=True)
        entry.feedback = f"{entry.key.replace('/', '_').replace(' ', '_')}.html"
        _write_atomically(folder / entry.feedback, content)
        secret = read_text(self.root / "submitted" / entry.student / entry.assignment / "submission_secret.txt")
        if secret:
            from nbgrader.utils import notebook_hash

            outbound = self.exchange / self.course_id / "feedback"
            outbound.mkdir(mode=0o711, exist_ok=True)
            checksum = notebook_hash(secret=secret, notebook_id=Path(name).stem)
            _write_atomically(outbound / f"{checksum}.html", content, mode=0o644)

    def run(self, interval: float = 5.0, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.step()
            except CourseError as exc:
                log.error("%s", mask_password(exc))
            except Exception:
                log.exception("Durchlauf des Bewertungsdienstes")
            stop.wait(interval)


def _write_atomically(path: Path, content: str, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.chmod(mode)
    os.replace(tmp, path)


def visible_results(root: Path, assignment: str, student: str) -> dict[str, tuple[bool, str]]:
    """``test cell -> (visible checks passed, message)`` from the autograded notebook.

    A failure counts against the visible tests unless its line lies in the hidden block, so a student
    learns nothing about the hidden tests in this mode.
    """
    import nbformat

    from course.cells import grade_id, hidden_lines, is_autograded_test
    from course.preprocessors.summarize_test_errors import failing_line

    path = root / "autograded" / student / assignment / notebook_name(root, assignment)
    nb = nbformat.read(path, as_version=4)
    results = {}
    for cell in nb.cells:
        if not is_autograded_test(cell):
            continue
        hidden = hidden_lines(cell.source)
        passed, message = True, ""
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                line = failing_line(output.get("traceback", []))
                if line is not None and line in hidden:
                    continue
                passed = False
                message = f"{output.get('ename', 'Fehler')}: {output.get('evalue') or '(ohne Meldung)'}"
        results[grade_id(cell)] = (passed, message)
    return results


def _points_text(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:g}".replace(".", ",")


def visible_page(entry: Entry) -> str:
    """The student's feedback in mode ``sichtbar``: per task the points and messages of the visible tests."""
    rows = []
    for t in entry.tasks:
        if t["state"] == "offen":
            result = "wird von Hand bewertet"
        else:
            result = f"{_points_text(t['points'])} von {_points_text(t['max'])}"
        rows.append(
            f"<tr><td>{html.escape(t['task'])}</td><td>{result}</td>"
            f"<td>{html.escape(t['message']) or 'sichtbare Tests bestanden'}</td></tr>"
        )
    return PAGE.format(
        title=html.escape(f"Rückmeldung zu {entry.assignment}"),
        body=(
            f"<p>Abgabe vom {html.escape(entry.timestamp)}. Gezählt sind nur die sichtbaren Tests: "
            f"{_points_text(entry.points)} von {_points_text(entry.max_points)} Punkten. Die versteckten Tests "
            "bewerten die Lehrenden später; sie können Punkte kosten.</p>"
            "<table><tr><th>Aufgabe</th><th>Punkte</th><th>Meldung</th></tr>" + "".join(rows) + "</table>"
        ),
    )


def status_page(entries: list[Entry], prefix: str) -> str:
    """The student's overview: every submission with its status, newest first."""
    if not entries:
        body = "<p>Noch keine Abgabe, die automatisch bewertet wird.</p>"
    else:
        rows = []
        for e in entries:
            status = e.status
            if e.status == DONE:
                status = f"bewertet: {_points_text(e.points)} von {_points_text(e.max_points)} Punkten"
                if e.mode == "sichtbar":
                    status += " (nur sichtbare Tests)"
                if e.pending_points:
                    status += f", {_points_text(e.pending_points)} Punkte werden noch von Hand bewertet"
                if e.feedback:
                    status += f' – <a href="{prefix}feedback/{html.escape(e.feedback)}">Rückmeldung</a>'
            elif e.status == FAILED:
                status = f"nicht bewertet: {html.escape(e.reason)}"
            elif e.status == SUPERSEDED:
                status = "ersetzt durch eine neuere Abgabe"
            else:
                status = PENDING
            rows.append(
                f"<tr><td>{html.escape(e.assignment)}</td><td>{html.escape(e.timestamp)}</td><td>{status}</td></tr>"
            )
        body = "<table><tr><th>Assignment</th><th>Abgabe</th><th>Stand</th></tr>" + "".join(rows) + "</table>"
    return PAGE.format(title="Bewertung deiner Abgaben", body=body + '<p><a href="">aktualisieren</a></p>')


PAGE = """<!DOCTYPE html>
<html lang="de"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}
td,th{{padding:.3em 1em;text-align:left;border-bottom:1px solid #ccc}}</style>
</head><body><h1>{title}</h1>{body}</body></html>
"""


# ---------------------------------------------------------------------------------------------- web


def make_app(service: Service, prefix: str):
    """Tornado application: the logged-in student's status page and feedback, behind JupyterHub's OAuth."""
    from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
    from tornado import web

    class Base(HubOAuthenticated, web.RequestHandler):
        def user_name(self) -> str:
            return self.get_current_user()["name"]

    class Status(Base):
        @web.authenticated
        def get(self):
            with service.mutex:
                entries = service.journal.of_student(self.user_name())
            self.set_header("Cache-Control", "no-store")
            self.write(status_page(entries, prefix))

    class Feedback(Base):
        @web.authenticated
        def get(self, name: str):
            with service.mutex:
                own = {e.feedback for e in service.journal.of_student(self.user_name()) if e.feedback}
            if name not in own:
                raise web.HTTPError(404)
            self.set_header(
                "Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
            )
            self.write((service.state / "feedback" / name).read_text(encoding="utf-8"))

    return web.Application(
        [
            (prefix, Status),
            (prefix + r"feedback/([^/]+)", Feedback),
            (prefix + "oauth_callback", HubOAuthCallbackHandler),
        ],
        cookie_secret=os.urandom(32),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.service", description="Bewertung bei Abgabe")
    parser.add_argument(
        "--root", type=Path, default=None, help="Kursordner (Standard: der Ordner mit nbgrader_config.py)"
    )
    parser.add_argument("--exchange", type=Path, default=None, help="nbgraders Exchange (Standard: $NNKURS_EXCHANGE)")
    parser.add_argument("--intervall", type=float, default=5.0, help="Sekunden zwischen zwei Durchläufen")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="gleichzeitige Bewertungen")
    parser.add_argument("--cluster", default=None, help="Dask-Cluster wie bei `course grade`")
    parser.add_argument("--einmal", action="store_true", help="nur ein Durchlauf")
    parser.add_argument(
        "--ohne-eigentuemer-pruefung",
        action="store_true",
        help="nicht prüfen, dass die Abgabe dem Benutzer gehört, dessen Namen sie trägt",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bewertung %(levelname)s %(message)s")
    try:
        root = course_root(args.root)
        exchange = args.exchange or Path(os.environ.get("NNKURS_EXCHANGE") or "/srv/nbgrader/exchange")
        service = Service(root, exchange, args.jobs, args.cluster, check_owner=not args.ohne_eigentuemer_pruefung)
    except CourseError as exc:
        print(f"Fehler: {mask_password(exc)}", file=sys.stderr)
        return 2
    if args.einmal:
        for entry in service.step():
            print(f"{entry.key}: {entry.status} {entry.reason}".rstrip())
        return 0
    stop = threading.Event()
    url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        service.run(args.intervall, stop)
        return 0
    from urllib.parse import urlparse

    from tornado.ioloop import IOLoop

    worker = threading.Thread(target=service.run, args=(args.intervall, stop), daemon=True)
    worker.start()
    app = make_app(service, os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/bewertung/"))
    parsed = urlparse(url)
    app.listen(parsed.port or 80, parsed.hostname or "127.0.0.1")
    try:
        IOLoop.current().start()
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
