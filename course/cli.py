"""Command line of the instructor pipeline: ``python -m course <verb>`` or ``course <verb>``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from course import database, demo, grading, moodle, publish, report, scores, solutions
from course.database import mask_password
from course.layout import CourseError, course_root, coursedir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="Werkzeuge für den Kurs (auf Basis von nbgrader).")
    parser.add_argument(
        "--root", type=Path, default=None, help="Kursordner (Standard: der Ordner mit nbgrader_config.py)"
    )
    verbs = parser.add_subparsers(dest="verb", required=True)

    def verb(name: str, help_text: str, assignment: bool = True):
        sub = verbs.add_parser(name, help=help_text)
        if assignment:
            sub.add_argument("assignment", nargs="?", help="nur dieses Assignment (Standard: alle)")
        return sub

    verb("release", "Studierendenversionen aus source/ nach release/ erzeugen")
    demo = verb("demo", "Hauptlauf: release, drei Demo-Abgaben, bewerten, Feedback, Export, Tabelle", assignment=False)
    demo.add_argument("-j", "--jobs", type=int, default=None, help="parallele Bewertungen (Standard: alle Kerne)")
    grade = verb("grade", "alle Abgaben unter submitted/ automatisch bewerten")
    grade.add_argument("-j", "--jobs", type=int, default=None, help="parallele Bewertungen (Standard: alle Kerne)")
    grade.add_argument(
        "--cluster",
        default=None,
        metavar="ADRESSE",
        help="auf einem Dask-Cluster bewerten: tcp://host:8786 oder local[:N] (Standard: $COURSE_DASK_SCHEDULER)",
    )
    verb("feedback", "Feedback-HTML für alle bewerteten Abgaben erzeugen")
    export = verb("export", "Noten als CSV exportieren", assignment=False)
    export.add_argument(
        "--to", type=Path, default=None, help="Ziel-CSV (Standard: grades.csv, mit --format moodle noten_moodle.csv)"
    )
    export.add_argument(
        "--format",
        choices=("nbgrader", "moodle"),
        default="nbgrader",
        help="nbgrader: nbgraders CSV und eine Zeile pro Aufgabe; moodle: für Moodles Bewertungsimport",
    )
    verb("check", "alle Lösungsnotebooks ausführen (sichtbare und versteckte Tests)")
    verb("scores", "Punkte pro Studierendem und Aufgabe aus dem Gradebook zeigen")
    report_verb = verb("report", "Bericht für Lehrende: Punkte, Verteilungen, häufigste Fehlermeldungen")
    report_verb.add_argument("--to", type=Path, default=Path("reports"), help="Zielordner (Standard: reports/)")
    return parser


def run(args: argparse.Namespace) -> int:
    root = course_root(args.root)
    if args.verb != "check":  # every other verb reads or writes the gradebook: one clear line if it cannot
        problem = database.check(coursedir(root).db_url)
        if problem:
            raise CourseError(problem)
    if args.verb == "release":
        print("erzeugt:", ", ".join(publish.release(root, args.assignment)))
    elif args.verb == "demo":
        print(demo.demo(root, jobs=args.jobs))
    elif args.verb == "grade":
        results = grading.grade(root, args.assignment, jobs=args.jobs, cluster=args.cluster)
        failed = [r for r in results if not r.ok]
        print(f"{len(results) - len(failed)} von {len(results)} Abgaben bewertet.")
        for r in failed:
            print(f"FEHLER {r.assignment}/{r.student}: {mask_password(r.message)}")
        return 1 if failed else 0
    elif args.verb == "feedback":
        print("Feedback erzeugt für:", ", ".join(publish.feedback(root, args.assignment)) or "nichts")
    elif args.verb == "export":
        to = args.to or Path("noten_moodle.csv" if args.format == "moodle" else "grades.csv")
        target = to if to.is_absolute() else Path.cwd() / to
        if args.format == "moodle":
            provisional = moodle.export(root, target)
            print(f"exportiert: {target}")
            if provisional:
                print(f"Achtung: Handbewertung ausstehend bei {', '.join(provisional)}; diese Punkte sind vorläufig.")
        else:
            per_task = scores.export(root, target)
            print(f"exportiert: {target}, {per_task}")
    elif args.verb == "check":
        for name, seconds in solutions.check(root, args.assignment):
            print(f"{name}: ok ({seconds:.1f} s)")
    elif args.verb == "scores":
        print(scores.score_table(scores.task_scores(root, args.assignment)))
    elif args.verb == "report":
        target = args.to if args.to.is_absolute() else Path.cwd() / args.to
        for path in report.write_report(root, target, args.assignment):
            print(f"geschrieben: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except CourseError as exc:
        print(f"Fehler: {mask_password(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
