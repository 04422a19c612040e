"""Save the autograder's scores without reopening hand grades of unchanged answers.

nbgrader's ``SaveAutoGrades`` sets ``needs_manual_grade`` on every grade that has a manual score,
so each re-grade (after fixing a test, say) reopened every hand grade: the Formgrader said
"needs manual grading", the report said "offen", and the instructor had to confirm every grade
again.  :class:`SaveGrades` replaces it (``c.Autograde.autograde_preprocessors``) and decides per
grade by the answer it was given for:

* the answer is unchanged since the last grading: a hand grade stays as it is (score, open or not);
* the answer changed (a re-submission): a hand grade is reopened (``needs_manual_grade``), its
  score stays visible as the old value and the comment's automatic part carries a German note
  (:data:`CHANGED_NOTE`) that the Formgrader shows in the comment box;
* no hand grade: as nbgrader (open only when there is no automatic score).

"The answer" of a free-text or answer cell is its own source; that of a graded test cell is every
answer cell of the notebook up to it (the code the test can see).  Fingerprints of the last graded
answers live in the gradebook's database, table :data:`TABLE`, next to nbgrader's tables (SQLite
and PostgreSQL alike).  Unanswered cells get the German comment :data:`NO_ANSWER` instead of
nbgrader's English "No response.".
"""

from __future__ import annotations

import hashlib

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from sqlalchemy import Column, MetaData, String, Table, and_, exc, select

TABLE = "course_graded_answer"
NO_ANSWER = "Keine Antwort abgegeben."
#: Start of the note on a reopened hand grade (the feedback for students leaves such notes out).
CHANGED_MARK = "Antwort seit der Handbewertung geändert"
CHANGED_NOTE = CHANGED_MARK + " (bisher {points} von {maximum} Punkten): bitte neu bewerten."

_metadata = MetaData()
answers_table = Table(
    TABLE,
    _metadata,
    Column("student", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("grade_id", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
)


def german_number(x: float) -> str:
    return f"{x:g}".replace(".", ",")


def fingerprint(sources: list[str]) -> str:
    """A hash of answer sources; whitespace at the ends of lines and of the text does not count."""
    text = "\n\x00\n".join("\n".join(line.rstrip() for line in s.strip().splitlines()) for s in sources)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ensure_table(engine) -> None:
    """Create the fingerprint table once; parallel grading processes may race to do it."""
    try:
        _metadata.create_all(engine, checkfirst=True)
    except exc.SQLAlchemyError:
        _metadata.create_all(engine, checkfirst=True)  # another process created it in between


def is_changed_note(comment: str | None) -> bool:
    return bool(comment) and comment.startswith(CHANGED_MARK)


class SaveGrades(NbGraderPreprocessor):
    """Save automatic scores and comments; keep hand grades of unchanged answers (see module docstring)."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
        self.student_id, self.db_url = info["student"], info["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            ensure_table(self.gradebook.engine)
            self._old = self._stored_fingerprints()
            self._new: dict[str, str] = {}
            self._answers: list[str] = []  # answer cells so far, for the fingerprint of a test cell
            self._last_answer: str | None = None  # grade id of the last answer cell (the note of a test cell)
            self._comments: list[tuple[str, bool]] = []  # (grade id, unanswered) of answer cells
            self._notes: dict[str, str] = {}  # grade id of an answer cell -> note on a reopened hand grade
            self._still_open: set[str] = set()  # answer cells with a reopened hand grade not graded again yet
            nb, resources = super().preprocess(nb, resources)
            self._save_comments()
            self._store_fingerprints()
        return nb, resources

    # ------------------------------------------------------------------ fingerprints

    def _key(self):
        t = answers_table.c
        return and_(t.student == self.student_id, t.assignment == self.assignment_id, t.notebook == self.notebook_id)

    def _stored_fingerprints(self) -> dict[str, str]:
        rows = self.gradebook.db.execute(
            select(answers_table.c.grade_id, answers_table.c.fingerprint).where(self._key())
        )
        return dict(rows.all())

    def _store_fingerprints(self) -> None:
        db = self.gradebook.db
        db.execute(answers_table.delete().where(self._key()))
        if self._new:
            db.execute(
                answers_table.insert(),
                [
                    {
                        "student": self.student_id,
                        "assignment": self.assignment_id,
                        "notebook": self.notebook_id,
                        "grade_id": grade_id,
                        "fingerprint": value,
                    }
                    for grade_id, value in self._new.items()
                ],
            )
        db.commit()

    # ------------------------------------------------------------------ cells

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if utils.is_solution(cell):
            self._answers.append(cell.source)
            self._last_answer = grade_id
        own = utils.is_solution(cell) or utils.is_task(cell)
        if utils.is_grade(cell):
            self._new[grade_id] = fingerprint([cell.source] if own else self._answers)
            changed = grade_id in self._old and self._old[grade_id] != self._new[grade_id]
            self._save_score(cell, grade_id, changed, grade_id if own else self._last_answer)
        if own:
            unanswered = cell.metadata.nbgrader.get("checksum") == utils.compute_checksum(cell) and not utils.is_task(
                cell
            )
            self._comments.append((grade_id, unanswered))
        return cell, resources

    def _save_score(self, cell: NotebookNode, grade_id: str, changed: bool, note_on: str | None) -> None:
        grade = self.gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id, self.student_id)
        auto_score, _ = utils.determine_grade(cell, self.log)
        grade.auto_score = auto_score
        if grade.manual_score is None:
            grade.needs_manual_grade = auto_score is None
        elif changed:
            grade.needs_manual_grade = True
            note = CHANGED_NOTE.format(points=german_number(grade.manual_score), maximum=german_number(grade.max_score))
            self._notes.setdefault(note_on, note)
            self.log.info("%s/%s/%s: %s", self.student_id, self.assignment_id, grade_id, note)
        # else: the hand grade was given for this very answer; it stays, open or not
        if note_on is not None and grade.manual_score is not None and grade.needs_manual_grade:
            self._still_open.add(note_on)
        self.gradebook.db.commit()

    def _save_comments(self) -> None:
        """Automatic comments, after all grades (a test cell's note goes to the answer cell above it)."""
        for grade_id, unanswered in self._comments:
            comment = self.gradebook.find_comment(grade_id, self.notebook_id, self.assignment_id, self.student_id)
            if grade_id in self._notes:
                comment.auto_comment = self._notes[grade_id]
            elif is_changed_note(comment.auto_comment) and grade_id in self._still_open:
                pass  # reopened earlier, not graded again yet: the note stays
            else:
                comment.auto_comment = NO_ANSWER if unanswered else None
        self.gradebook.db.commit()
