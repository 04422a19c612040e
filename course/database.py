"""The gradebook's database: SQLite by default, PostgreSQL through ``COURSE_DB_URL``.

Three jobs, each in one place:

* :func:`mask_password` keeps the password of a database URL out of every message, log line and
  feedback: everything that may carry an error of the database (or the URL itself) passes through it.
* :func:`check` connects once before work starts and turns a wrong URL, a missing driver or an
  unreachable server into one clear, password-free sentence.
* :func:`prepare` creates the students of a batch in the gradebook before parallel workers start:
  nbgrader's ``update_or_create_student`` is find-then-insert, so two workers grading two assignments
  of a new student at once collide on PostgreSQL (``UniqueViolation``; SQLite serialises them).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, unquote, urlsplit

DB_URL_ENV = "COURSE_DB_URL"
MASK = "***"

# scheme://user:password@host... (SQLAlchemy's URLs, with or without a driver: postgresql+psycopg://)
# (greedy up to the last "@" of the word: an unencoded "@" in the password is masked too)
# ("//" optional: a mistyped "postgresql:/user:password@host" must not show its password either)
_URL_WITH_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*:/{0,2}[^\s:/@'\"]*:)(?P<password>[^\s'\"]+)@")
# libpq key/value strings and dict reprs: password=secret, 'password': 'secret', PGPASSWORD=secret
_KEY_VALUE_PASSWORD = re.compile(
    r"(?P<head>\b(?:PG)?password\b['\"]?\s*[=:]\s*['\"]?)(?P<password>[^\s'\",;)}]+)", re.IGNORECASE
)
# a literal password shorter than this is only masked inside URLs and key/value pairs, not wherever it occurs
_MIN_LITERAL = 4


def _env_passwords() -> list[str]:
    """The password of ``COURSE_DB_URL`` as written in the URL and decoded (``%40`` -> ``@``)."""
    url = os.environ.get(DB_URL_ENV, "")
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if not password and "@" in url:  # urlsplit gives up on mistyped URLs: between the last ":" and the last "@"
        before_at = url.rsplit("@", 1)[0]
        password = before_at.rsplit(":", 1)[1].lstrip("/") if before_at.count(":") >= 2 else None
    if not password:
        return []
    return sorted({password, unquote(password), quote(unquote(password), safe="")}, key=len, reverse=True)


def mask_password(text: object) -> str:
    """``text`` with every password of a database URL replaced by ``***``.

    Masks ``scheme://user:PASSWORD@host`` in any URL, ``password=…`` pairs (libpq, dict reprs) and every
    occurrence of the password of ``COURSE_DB_URL`` itself (as written and decoded), wherever it stands
    in the text (a driver's message, a traceback, a repr).  Anything else stays as it is, so
    ``mask_password(url)`` is the URL to show a person.
    """
    text = "" if text is None else str(text)
    text = _URL_WITH_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", text)
    text = _KEY_VALUE_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}", text)
    for password in _env_passwords():
        if len(password) >= _MIN_LITERAL:
            text = text.replace(password, MASK)
    return text


def is_postgres(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] in {"postgresql", "postgres"}


def check(url: str) -> str | None:
    """Connect to the gradebook's database once; ``None`` if that works, else one German sentence (no password).

    A missing driver names the package to install (PostgreSQL: ``psycopg[binary]``, psycopg 3, which
    SQLAlchemy 2 uses for ``postgresql://``).
    """
    from sqlalchemy import create_engine, text

    shown = mask_password(url)
    try:
        engine = create_engine(url)
    except ModuleNotFoundError as exc:
        hint = " (pip install 'psycopg[binary]')" if is_postgres(url) else ""
        return f"Treiber für das Gradebook fehlt: {exc.name}{hint} – {shown}"
    except Exception as exc:  # ArgumentError for a malformed URL; its message repeats the URL
        return mask_password(f"Gradebook-Adresse ungültig ({exc.__class__.__name__}): {shown}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        reason = getattr(exc, "orig", None) or exc
        first = (str(reason).strip().splitlines() or [exc.__class__.__name__])[0]
        return mask_password(f"Gradebook nicht erreichbar: {shown}: {first}")
    finally:
        engine.dispose()
    return None


def prepare(url: str, students, course_id: str = "nn-kurs") -> None:
    """Create the ``students`` (ids) that are not yet in the gradebook, one after another.

    Run once in the process that dispatches the workers, before any of them starts, so the workers
    only ever find their student.  Creates the gradebook's tables if it is new.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(url, course_id) as gb:
        for student in dict.fromkeys(students):
            try:
                gb.find_student(student)
            except MissingEntry:
                gb.add_student(student)


#: Errors of a busy or briefly unavailable database after which grading the submission again is right.
TRANSIENT = (
    "database is locked",  # SQLite: another writer
    "could not serialize access",  # PostgreSQL: serialization failure
    "deadlock detected",
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "too many clients already",
    "connection refused",
)


def is_transient(message: str) -> bool:
    """True if ``message`` (nbgrader's error or log) reports a busy or briefly unavailable database."""
    lowered = str(message).lower()
    return any(marker in lowered for marker in TRANSIENT)
