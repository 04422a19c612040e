"""Instructor report after grading: points, distributions and the most frequent failing messages.

``write_report`` writes three files into one folder:

- ``bericht.html``: one self-contained page (figures embedded as base64 PNG) per assignment with the
  points per student and task, a histogram of the total points, the share of students with full
  points per task and the most frequent error messages of the graded test cells;
- ``punkte.csv``: one row per student, assignment and task (score empty while a manual grade is pending,
  the old points of a hand grade reopened after a changed answer: they count in the Formgrader too);
- ``fehlermeldungen.csv``: every distinct error message of a graded test cell with the number of students.

Points come from the gradebook (``course.scores.task_scores``), messages from the autograded notebooks
``autograded/<student>/<assignment>/*.ipynb``.
"""

from __future__ import annotations

import base64
import io
import math
from collections import Counter, defaultdict
from datetime import datetime
from html import escape
from pathlib import Path

from course.cells import grade_id, is_autograded_test, nbgrader_meta, task_name
from course.layout import read_notebook, selected, source_notebook
from course.scores import BONUS_ASSIGNMENTS, TASK_SCORE_FIELDS, assignment_maxima, task_scores, write_csv

TOP_MESSAGES = 5
MESSAGE_FIELDS = ["assignment", "task", "message", "count"]


# --------------------------------------------------------------------------- data


def task_order(root: Path, assignment: str) -> list[str]:
    """The graded tasks of ``assignment`` in notebook order (names as in ``course.scores.task_scores``)."""
    nb = read_notebook(source_notebook(root, assignment))
    graded = [c for c in nb.cells if nbgrader_meta(c).get("grade") or nbgrader_meta(c).get("task")]
    return [task_name(grade_id(c)) for c in graded]


def error_message(output) -> str:
    """``"AssertionError: text"`` for an error output, only the name when there is no text."""
    value = " ".join(str(output.get("evalue", "")).split())
    return f"{output.get('ename', 'Fehler')}: {value}" if value else str(output.get("ename", "Fehler"))


def notebook_failures(path: Path) -> dict[str, set[str]]:
    """``task -> messages`` of the graded test cells of one autograded notebook that raised an error."""
    failures: dict[str, set[str]] = defaultdict(set)
    for cell in read_notebook(path).cells:
        if not is_autograded_test(cell):
            continue
        task = task_name(grade_id(cell))
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                failures[task].add(error_message(output))
    return failures


def failure_counts(root: Path, assignments: list[str]) -> list[dict]:
    """Distinct error messages per assignment and task with the number of students who got each one.

    Sorted by assignment, task, most frequent first, then by message.
    """
    rows = []
    autograded = root / "autograded"
    for name in assignments:
        counts: dict[str, Counter] = defaultdict(Counter)
        for folder in sorted(autograded.glob(f"*/{name}")) if autograded.is_dir() else []:
            per_student: dict[str, set[str]] = defaultdict(set)
            for path in sorted(folder.glob("*.ipynb")):
                for task, messages in notebook_failures(path).items():
                    per_student[task] |= messages
            for task, messages in per_student.items():
                counts[task].update(messages)
        for task in sorted(counts):
            for message, count in sorted(counts[task].items(), key=lambda item: (-item[1], item[0])):
                rows.append({"assignment": name, "task": task, "message": message, "count": count})
    return rows


def totals(rows: list[dict]) -> dict[str, tuple[float, bool]]:
    """``student -> (points graded so far, whether a manual grade is still pending)`` for one assignment."""
    result: dict[str, tuple[float, bool]] = {}
    for r in rows:  # the gradebook's score of a pending grade: 0, or a reopened hand grade's old points
        points, pending = result.get(r["student"], (0.0, False))
        result[r["student"]] = (points + (r["score"] or 0.0), pending or bool(r["needs_manual_grade"]))
    return result


def full_points(rows: list[dict], task: str) -> tuple[int, int, int]:
    """``(students with full points, students graded, students waiting for a manual grade)`` of a task."""
    mine = [r for r in rows if r["task"] == task]
    graded = [r for r in mine if not r["needs_manual_grade"]]
    full = sum(1 for r in graded if (r["score"] or 0.0) >= r["max_score"])
    return full, len(graded), len(mine) - len(graded)


# --------------------------------------------------------------------------- figures


def number(x: float) -> str:
    """A number the German way: ``1,5``, ``2``."""
    return f"{x:g}".replace(".", ",")


def percent(share: float) -> str:
    return f"{number(round(100 * share, 1))} %"


def png_base64(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram_png(assignment: str, student_totals: dict[str, tuple[float, bool]], maximum: float) -> str:
    """Histogram of the total points; students with a pending manual grade stacked on top in their own colour."""
    from matplotlib.figure import Figure

    done = [points for points, pending in student_totals.values() if not pending]
    pending = [points for points, pending in student_totals.values() if pending]
    groups = [(done, "#3b75af", "vollständig bewertet"), (pending, "#f0a030", "Handbewertung ausstehend (vorläufig)")]
    groups = [g for g in groups if g[0]]
    if maximum <= 40:
        bins = [k - 0.5 for k in range(math.ceil(maximum) + 2)]
    else:
        bins = [maximum * k / 20 for k in range(21)]
    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(
        [g[0] for g in groups],
        bins=bins,
        stacked=True,
        color=[g[1] for g in groups],
        label=[g[2] for g in groups],
        edgecolor="white",
    )
    ax.set_title(f"{assignment}: Verteilung der Gesamtpunkte")
    ax.set_xlabel(f"Gesamtpunkte (von {number(maximum)})")
    ax.set_ylabel("Anzahl Studierende")
    ax.yaxis.get_major_locator().set_params(integer=True)
    if maximum <= 40:
        ax.set_xticks(range(math.ceil(maximum) + 1))
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return png_base64(fig)


def full_points_png(assignment: str, tasks: list[str], rows: list[dict]) -> str:
    """Horizontal bars: share of students with full points per task; tasks still waiting are labelled."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 0.9 + 0.45 * len(tasks)), layout="constrained")
    ax = fig.add_subplot()
    positions = list(range(len(tasks)))[::-1]
    for y, task in zip(positions, tasks, strict=True):
        full, graded, waiting = full_points(rows, task)
        if graded:
            share = full / graded
            ax.barh(y, 100 * share, color="#3b75af")
            label = f"{percent(share)} ({full}/{graded})" + (f", {waiting} offen" if waiting else "")
        else:
            share, label = 0.0, "Handbewertung ausstehend"
        inside = share > 0.6  # long bars carry their label inside, in white
        x, align, colour = (100 * share - 1, "right", "white") if inside else (100 * share + 1, "left", "#222")
        ax.text(x, y, label, va="center", ha=align, color=colour, fontsize=9)
    ax.set_yticks(positions, tasks)
    ax.set_xlim(0, 100)
    ax.set_xlabel("Anteil mit voller Punktzahl (%)")
    ax.set_title(f"{assignment}: volle Punktzahl pro Aufgabe")
    return png_base64(fig)


# --------------------------------------------------------------------------- HTML

STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th.aufgabe { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; font-weight: normal; }
.breit { overflow-x: auto; }
td.voll { background: #e3f1e3; }
td.offen { background: #fdf0d8; font-style: italic; }
code { background: #f4f4f4; padding: 0 0.2em; white-space: pre-wrap; }
img { max-width: 100%; }
"""


def image(b64: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{b64}" alt="{escape(alt)}" />'


def cell_html(r: dict | None) -> str:
    if r is None:
        return "<td>–</td>"
    if r["needs_manual_grade"] and r.get("by_hand"):  # reopened after a changed answer: old points still count
        return f'<td class="offen">offen, bisher {number(r["score"] or 0.0)}/{number(r["max_score"])}</td>'
    if r["needs_manual_grade"]:
        return f'<td class="offen">offen (max. {number(r["max_score"])})</td>'
    css = ' class="voll"' if (r["score"] or 0.0) >= r["max_score"] else ""
    return f"<td{css}>{number(r['score'] or 0.0)}/{number(r['max_score'])}</td>"


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def task_header(task: str) -> str:
    """A task's column head, written upwards (narrow columns: 08 has twelve tasks), may break after ``_``."""
    return f'<th class="aufgabe">{escape(task).replace("_", "_<wbr />")}</th>'


def points_table(tasks: list[str], rows: list[dict], maximum: float) -> str:
    cell = {(r["student"], r["task"]): r for r in rows}
    student_totals = totals(rows)
    head = "".join(task_header(t) for t in tasks)
    lines = [f'<div class="breit"><table><thead><tr><th>Studierende</th>{head}<th>Summe</th></tr></thead><tbody>']
    for student in sorted(student_totals):
        points, pending = student_totals[student]
        total = f"{number(points)}/{number(maximum)}" + (" (vorläufig)" if pending else "")
        cells = "".join(cell_html(cell.get((student, t))) for t in tasks)
        lines.append(f"<tr><td>{escape(student)}</td>{cells}<td>{total}</td></tr>")
    lines.append("</tbody></table></div>")
    return "\n".join(lines)


def full_points_table(tasks: list[str], rows: list[dict]) -> str:
    lines = [
        "<table><thead><tr><th>Aufgabe</th><th>volle Punktzahl</th><th>bewertet</th><th>Anteil</th>"
        "<th>Handbewertung ausstehend</th></tr></thead><tbody>"
    ]
    for task in tasks:
        full, graded, waiting = full_points(rows, task)
        share = percent(full / graded) if graded else "–"
        lines.append(
            f"<tr><td>{escape(task)}</td><td>{full}</td><td>{graded}</td><td>{share}</td><td>{waiting}</td></tr>"
        )
    lines.append("</tbody></table>")
    return "\n".join(lines)


def messages_html(tasks: list[str], messages: list[dict], top: int = TOP_MESSAGES) -> str:
    """Per autograded task the ``top`` most frequent messages, most frequent first."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for m in messages:
        by_task[m["task"]].append(m)
    parts = []
    for task in [t for t in tasks if t in by_task] + sorted(set(by_task) - set(tasks)):
        shown = by_task[task][:top]
        items = "".join(f"<li><strong>{m['count']} × </strong><code>{escape(m['message'])}</code></li>" for m in shown)
        more = len(by_task[task]) - len(shown)
        rest = f"<p>… und {more} weitere Meldungen (siehe fehlermeldungen.csv).</p>" if more > 0 else ""
        parts.append(f"<h4>{escape(task)}</h4>\n<ol>{items}</ol>{rest}")
    return "\n".join(parts) or "<p>Keine Testzelle ist gescheitert.</p>"


def assignment_section(name: str, tasks: list[str], rows: list[dict], messages: list[dict]) -> str:
    maximum = sum({r["task"]: r["max_score"] for r in rows}.values())
    student_totals = totals(rows)
    waiting = sum(1 for _, pending in student_totals.values() if pending)
    mean = sum(points for points, _ in student_totals.values()) / len(student_totals)
    summary = (
        f"{plural(len(student_totals), 'Abgabe', 'Abgaben')}, durchschnittlich {number(round(mean, 2))} von "
        f"{number(maximum)} {'Bonuspunkten' if name in BONUS_ASSIGNMENTS else 'Punkten'}."
    )
    if waiting:
        summary += f" Bei {plural(waiting, 'Abgabe', 'Abgaben')} steht noch eine Handbewertung aus; "
        summary += "ihre Summe ist vorläufig." if waiting == 1 else "ihre Summen sind vorläufig."
    if name in BONUS_ASSIGNMENTS:
        summary += " Bonus-Assignment: Seine Punkte zählen zusätzlich zur vollen Punktzahl der übrigen Assignments."
    title = f"{escape(name)} (Bonus)" if name in BONUS_ASSIGNMENTS else escape(name)
    return "\n".join(
        [
            f'<section id="{escape(name)}">',
            f"<h2>{title}</h2>",
            f"<p>{summary}</p>",
            "<h3>Punkte pro Studierendem und Aufgabe</h3>",
            points_table(tasks, rows, maximum),
            "<h3>Verteilung der Gesamtpunkte</h3>",
            image(histogram_png(name, student_totals, maximum), f"Verteilung der Gesamtpunkte – {name}"),
            "<h3>Anteil mit voller Punktzahl pro Aufgabe</h3>",
            image(full_points_png(name, tasks, rows), f"Anteil mit voller Punktzahl – {name}"),
            full_points_table(tasks, rows),
            f"<h3>Häufigste Fehlermeldungen (höchstens {TOP_MESSAGES} pro Aufgabe)</h3>",
            "<p>Gezählt wird, wie viele Studierende die Meldung in der Testzelle der Aufgabe bekommen haben.</p>",
            messages_html(tasks, messages),
            "</section>",
        ]
    )


def overview_html(rows: list[dict], maxima: dict[str, float]) -> str:
    """All assignments per student: points of the mandatory ones (full marks) and the bonus points on top."""
    full = sum(m for a, m in maxima.items() if a not in BONUS_ASSIGNMENTS)
    bonus = sum(m for a, m in maxima.items() if a in BONUS_ASSIGNMENTS)
    students = sorted({r["student"] for r in rows})
    if not students:
        return ""
    lines = [
        '<section id="gesamt">',
        "<h2>Alle Assignments</h2>",
        f"<p>Volle Punktzahl: {number(full)} Punkte"
        + (
            f", dazu bis zu {number(bonus)} Bonuspunkte ({', '.join(a for a in maxima if a in BONUS_ASSIGNMENTS)})."
            if bonus
            else "."
        )
        + "</p>",
        '<div class="breit"><table><thead><tr><th>Studierende</th><th>Punkte</th><th>Bonuspunkte</th>'
        "<th>zusammen</th></tr></thead><tbody>",
    ]
    for student in students:
        mine = [r for r in rows if r["student"] == student]
        points = sum(r["score"] or 0.0 for r in mine if r["assignment"] not in BONUS_ASSIGNMENTS)
        extra = sum(r["score"] or 0.0 for r in mine if r["assignment"] in BONUS_ASSIGNMENTS)
        pending = " (vorläufig)" if any(r["needs_manual_grade"] for r in mine) else ""
        lines.append(
            f"<tr><td>{escape(student)}</td><td>{number(points)}/{number(full)}</td>"
            f"<td>{number(extra)}/{number(bonus)}</td><td>{number(points + extra)}{pending}</td></tr>"
        )
    lines += ["</tbody></table></div>", "</section>"]
    return "\n".join(lines)


def report_html(sections: list[str]) -> str:
    stamp = datetime.now().strftime("%d.%m.%Y %H:%M")
    body = "\n".join(sections) or "<p>Noch keine bewerteten Abgaben im Gradebook.</p>"
    return f"""<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8" />
<title>Bericht für Lehrende</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Bericht für Lehrende</h1>
<p>Stand: {stamp}. Punkte aus dem Gradebook, Fehlermeldungen aus den bewerteten Notebooks
(<code>autograded/</code>). Freitextaufgaben, die noch von Hand bewertet werden müssen, stehen als
„offen“ da und zählen nicht als 0.</p>
{body}
</body>
</html>
"""


# --------------------------------------------------------------------------- files


def score_csv_rows(rows: list[dict]) -> list[dict]:
    """The rows of ``punkte.csv``: numbers as ``2`` or ``1.5``, the score empty while a manual grade is pending."""
    return [
        {
            **r,
            "score": "" if r["needs_manual_grade"] and not r.get("by_hand") else f"{r['score'] or 0.0:g}",
            "max_score": f"{r['max_score']:g}",
        }
        for r in rows
    ]


def write_report(root: Path, to: Path, assignment: str | None = None) -> list[Path]:
    """Write ``bericht.html``, ``punkte.csv`` and ``fehlermeldungen.csv`` into ``to``; return their paths."""
    names = selected(root, assignment)
    rows = task_scores(root, assignment)
    messages = failure_counts(root, names)
    sections = []
    for name in names:
        mine = [r for r in rows if r["assignment"] == name]
        if not mine:
            continue
        order = task_order(root, name)
        tasks = [t for t in order if any(r["task"] == t for r in mine)]
        tasks += sorted({r["task"] for r in mine} - set(tasks))
        sections.append(assignment_section(name, tasks, mine, [m for m in messages if m["assignment"] == name]))
    if assignment is None and len(sections) > 1:
        sections.insert(0, overview_html(rows, assignment_maxima(root, names)))
    to.mkdir(parents=True, exist_ok=True)
    html_path, scores_path, messages_path = to / "bericht.html", to / "punkte.csv", to / "fehlermeldungen.csv"
    html_path.write_text(report_html(sections), encoding="utf-8")
    write_csv(scores_path, TASK_SCORE_FIELDS, score_csv_rows(rows))
    write_csv(messages_path, MESSAGE_FIELDS, messages)
    return [html_path, scores_path, messages_path]
