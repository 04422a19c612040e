"""A synthetic course: N submissions of one assignment with KNOWN expected points, and scale runs.

    python benchmarks/synthetic.py ASSIGNMENT N [-j J] [--cluster local:J] [--seed S] [--keep DIR]

Every submission is built from the solution notebook in ``source/`` and the released student version:

==============  ==================================================================  ==========================
kind            answers                                                             expected points
==============  ==================================================================  ==========================
``loesung``     the solution of every task                                          full
``leer``        the unchanged student version (stubs)                               0
``teilweise``   a random subset of tasks solved (dependency-free tasks only)        full for the solved ones
``variante``    a right or wrong variant from ``tests/test_<A>.py`` (``VARIANTS``)  as the test module says
``absturz``     the solution, but task k's answer kills the kernel (``os._exit``)   full before k, 0 from k on
``haengt``      the solution, but the last task's answer loops forever               0 for the last task
``feindselig``  the solution, but the last task patches ``torch.allclose``,         0 for the last task
                ``isinstance`` and ``builtins`` and then answers wrongly
``abgelehnt``   the solution and a symbolic link in the submission folder            not graded, with reason
==============  ==================================================================  ==========================

The first submissions cycle through all kinds (so a small N covers each), the rest are drawn with fixed
weights from a seeded random generator.  :func:`check` compares the gradebook with the plan: wrong points,
lost submissions (planned, but neither graded nor reported) and submissions graded although they should
have been rejected.

As a script it builds a temporary course, grades it with ``course grade -j J`` (or on a Dask cluster) under
the course's own configuration and prints throughput, CPU per submission, peak memory, gradebook size and
the projection to 1,000 students in 15 minutes from what it measured.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))  # the test modules' VARIANTS are the pool of right and wrong answers

from course import publish  # noqa: E402
from course.cells import graded_tasks  # noqa: E402
from course.demo import write_submission  # noqa: E402
from course.layout import read_notebook, source_notebook  # noqa: E402
from course.submissions import solution_answers  # noqa: E402

KINDS = ("loesung", "leer", "teilweise", "variante", "absturz", "haengt", "feindselig", "abgelehnt")
WEIGHTS = {
    "loesung": 30,
    "leer": 10,
    "teilweise": 15,
    "variante": 30,
    "absturz": 5,
    "haengt": 3,
    "feindselig": 5,
    "abgelehnt": 2,
}
#: Configuration a synthetic course adds to the course's own: a hanging cell costs a minute, not two.  Timeouts are
#: wall-clock: on an overloaded machine (load 18 on 2 cores) 15 s per cell turned right answers into 0 points.
FAST_TIMEOUTS = "c.Execute.timeout = 60\nc.SafeExecute.request_timeout = 30\nc.SafeExecute.submission_timeout = 600"
REJECTED = "Abgabe abgelehnt"

HANG = "while True:\n    pass\n"
CRASH = "import os\nos._exit(1)\n"
HOSTILE = """import builtins
import torch
torch.allclose = lambda *args, **kwargs: True
torch.equal = lambda *args, **kwargs: True
_original_isinstance = builtins.isinstance
builtins.isinstance = lambda *args: True
builtins.abs = lambda x: 0
"""

#: Tasks whose test needs nothing from an earlier task's answer (``teilweise`` only mixes these).
INDEPENDENT = {
    "01_neuronen": ("neuron_ausgabe", "layer_erzeugen", "batch_korrigieren"),
}


@dataclass
class Planned:
    """One synthetic submission: what it is and what grading must give it."""

    student: str
    kind: str
    answers: dict[str, str]
    expected: dict[str, float] | None  # None: must be rejected (not graded, with a reason)
    detail: str = ""
    tamper: str = ""


@dataclass
class Outcome:
    """:func:`check`'s verdict over a whole batch."""

    graded: int = 0
    rejected: int = 0
    wrong: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    unexpected_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.lost or self.unexpected_failures)


def _variants(assignment: str) -> dict:
    """``name -> harness.Variant`` of the assignment's test module (empty if it has none)."""
    try:
        module = importlib.import_module(f"test_{assignment}")
    except ImportError:
        return {}
    return dict(getattr(module, "VARIANTS", {}))


def _wrong_for(variants: dict, task: str) -> str | None:
    """A wrong answer of ``task`` from a test variant that expects 0 points for it."""
    for variant in variants.values():
        if variant.base == "solution" and variant.points.get(task) == 0 and task in variant.answers:
            return variant.answers[task]
    return None


class Pool:
    """Everything needed to plan submissions of one assignment of the course at ``root``."""

    def __init__(self, root: Path, assignment: str):
        self.root, self.assignment = root, assignment
        source = read_notebook(source_notebook(root, assignment))
        self.full = graded_tasks(source)
        self.solution = solution_answers(source)
        self.tasks = list(self.full)
        self.variants = _variants(assignment)
        self.last = self.tasks[-1]
        self.independent = [t for t in INDEPENDENT.get(assignment, ()) if t in self.full]

    def plan(self, student: str, kind: str, rng: random.Random) -> Planned:
        full, solution, last = self.full, dict(self.solution), self.last
        if kind == "loesung":
            return Planned(student, kind, solution, dict(full))
        if kind == "leer":
            return Planned(student, kind, {}, dict.fromkeys(full, 0.0))
        if kind == "teilweise":
            chosen = [t for t in self.independent if rng.random() < 0.5] or self.independent[:1]
            if not chosen:  # tasks depend on each other: "every task but the last" is always safe
                chosen = self.tasks[:-1]
            answers = {t: solution[t] for t in chosen}
            return Planned(
                student,
                kind,
                answers,
                {t: (p if t in chosen else 0.0) for t, p in full.items()},
                detail="+".join(chosen),
            )
        if kind == "variante" and self.variants:
            name = rng.choice(sorted(self.variants))
            variant = self.variants[name]
            answers = dict(solution) if variant.base == "solution" else {}
            answers.update(variant.answers)
            expected = dict(full) if variant.base == "solution" else dict.fromkeys(full, 0.0)
            expected.update({t: float(p) for t, p in variant.points.items()})
            return Planned(student, kind, answers, expected, detail=name)
        if kind == "variante":  # no test module: fall back to the solution
            return Planned(student, kind, solution, dict(full), detail="loesung")
        if kind == "absturz":
            k = rng.randrange(len(self.tasks))
            task = self.tasks[k]
            answers = {**solution, task: CRASH + solution[task]}
            expected = {t: (p if i < k else 0.0) for i, (t, p) in enumerate(full.items())}
            return Planned(student, kind, answers, expected, detail=task)
        if kind == "haengt":
            answers = {**solution, last: HANG + solution[last]}
            return Planned(student, kind, answers, {**full, last: 0.0}, detail=last)
        if kind == "feindselig":
            wrong = _wrong_for(self.variants, last)
            if wrong is None:
                wrong = "raise ValueError('falsch')"
            answers = {**solution, last: HOSTILE + wrong}
            return Planned(student, kind, answers, {**full, last: 0.0}, detail=last)
        if kind == "abgelehnt":
            return Planned(student, kind, solution, None, tamper="symlink")
        raise ValueError(f"unknown kind {kind!r}")


def plan(root: Path, assignment: str, n: int, seed: int = 0, prefix: str = "syn") -> list[Planned]:
    """``n`` planned submissions: first one of each kind, then drawn with :data:`WEIGHTS`."""
    pool, rng = Pool(root, assignment), random.Random(seed)
    kinds = list(KINDS)[:n] + rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=max(0, n - len(KINDS)))
    width = len(str(n))
    return [pool.plan(f"{prefix}-{i + 1:0{width}d}-{kind}", kind, rng) for i, kind in enumerate(kinds)]


def write(root: Path, assignment: str, planned: list[Planned]) -> None:
    """Write every planned submission to ``submitted/<student>/<assignment>/``."""
    for p in planned:
        path = write_submission(root, assignment, p.student, p.answers)
        if p.tamper == "symlink":
            (path.parent / "gradebook.db").symlink_to(root / "gradebook.db")


def course(tmp: Path, assignment: str, extra_config: str = FAST_TIMEOUTS) -> Path:
    """A temporary course with only ``assignment``, released, and ``extra_config`` appended to the config."""
    root = tmp / "kurs"
    (root / "source").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text() + f"\n{extra_config}\n")
    shutil.copytree(REPO / "source" / assignment, root / "source" / assignment)
    publish.release(root, assignment)
    return root


def scores(root: Path, assignment: str) -> dict[str, dict[str, float]]:
    """``student -> task -> points`` from the gradebook (autograded tasks)."""
    from course.scores import task_scores

    found: dict[str, dict[str, float]] = {}
    for row in task_scores(root, assignment):
        found.setdefault(row["student"], {})[row["task"]] = row["score"]
    return found


def check(root: Path, assignment: str, planned: list[Planned], results) -> Outcome:
    """Compare ``results`` (GradeResults of the batch) and the gradebook with the plan."""
    by_student = {r.student: r for r in results}
    got = scores(root, assignment)
    out = Outcome()
    for p in planned:
        result = by_student.get(p.student)
        if result is None:
            out.lost.append(p.student)
        elif p.expected is None:
            if result.ok or REJECTED not in result.message:
                out.unexpected_failures.append(f"{p.student}: should be rejected, got ok={result.ok} {result.message}")
            elif p.student in got:
                out.unexpected_failures.append(f"{p.student}: rejected, but in the gradebook")
            else:
                out.rejected += 1
        elif not result.ok:
            out.unexpected_failures.append(f"{p.student}: {result.message}")
        else:
            points = {t: s for t, s in got.get(p.student, {}).items() if t in p.expected}
            if points != p.expected:
                out.wrong.append(f"{p.student} ({p.detail}): expected {p.expected}, got {points}")
            else:
                out.graded += 1
    return out


# ------------------------------------------------------------------------------------------------ scale run


def cpu_seconds() -> float:
    """CPU seconds of this process and of all finished processes it started (workers, kernels)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuSampler:
    """CPU seconds and peak memory of every process of a batch, sampled twice a second.

    ``getrusage`` misses the grading kernels (started through the sandbox, not reaped by this process), so this
    samples this process's descendants and every process whose command line names the temporary course or one
    of its workers' folders, keeping the last CPU time and the largest resident size seen per process.
    """

    def __init__(self, marks: list[str]):
        import threading

        self.marks, self.cpu, self.rss = marks, {}, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _ours(self):
        import psutil

        me = psutil.Process()
        procs = {p.pid: p for p in me.children(recursive=True)}
        scratch = [str(Path(p.environ().get("TMPDIR", "-"))) for p in procs.values() if _safe_environ(p)]
        for p in psutil.process_iter(["cmdline"]):
            line = " ".join(p.info["cmdline"] or [])
            if any(m in line for m in self.marks) or any(s in line for s in scratch if "nn-kurs-bewertung-" in s):
                procs.setdefault(p.pid, p)
        return procs.values()

    def _run(self):
        import psutil

        while not self.stop.wait(0.5):
            for p in self._ours():
                try:
                    t = p.cpu_times()
                    self.cpu[(p.pid, p.create_time())] = t.user + t.system
                    self.rss[p.pid] = max(self.rss.get(p.pid, 0), p.memory_info().rss)
                except psutil.Error:
                    continue

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.cpu.values())

    @property
    def peak_mb(self) -> float:
        return max(self.rss.values(), default=0) / 2**20


def _safe_environ(p) -> bool:
    try:
        return "TMPDIR" in p.environ()
    except Exception:
        return False


def peak_memory_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of the largest finished child."""
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    )


def gradebook_bytes(root: Path) -> int | None:
    path = root / "gradebook.db"
    return path.stat().st_size if path.exists() and not os.environ.get("COURSE_DB_URL") else None


def run(assignment: str, n: int, jobs: int, cluster: str | None, seed: int, keep: Path | None) -> int:
    from course.grading import grade

    os.environ.setdefault("COURSE_DATA_DIR", str(REPO / "data"))
    tmp = Path(tempfile.mkdtemp(prefix="nn-kurs-synthetisch-", dir=keep))
    try:
        root = course(tmp, assignment)
        planned = plan(root, assignment, n, seed)
        write(root, assignment, planned)
        counts = {k: sum(p.kind == k for p in planned) for k in KINDS}
        print(f"{assignment}: {n} Abgaben ({', '.join(f'{k} {c}' for k, c in counts.items() if c)})")
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        with CpuSampler([str(root)]) as sampler:
            results = grade(root, assignment, jobs=jobs, progress=False, cluster=cluster)
        wall, reaped = time.perf_counter() - t0, cpu_seconds() - cpu0
        cpu = max(sampler.seconds, reaped)
        outcome = check(root, assignment, planned, results)
        own, child = peak_memory_mb()
        size = gradebook_bytes(root)
        per_sub = cpu / n
        way = f"Dask {cluster}" if cluster else f"-j {jobs}"
        print(f"Weg: {way}; Wand: {wall:.0f} s; Durchsatz: {n / wall * 60:.1f} Abgaben/min")
        print(f"CPU: {cpu:.0f} s, {per_sub:.1f} s pro Abgabe (inkl. Vorabprüfung und Start)")
        peak = max(child, sampler.peak_mb)
        print(f"Spitzenspeicher: Hauptprozess {own:.0f} MB, größter Prozess der Bewertung {peak:.0f} MB")
        print(f"(CPU gezählt: {sampler.seconds:.0f} s abgetastet, {reaped:.0f} s über getrusage)")
        if size is not None:
            print(f"Gradebook: {size / 1e6:.2f} MB, {size / n / 1e3:.1f} kB pro Abgabe")
        print(
            f"Ergebnis: {outcome.graded} richtig bewertet, {outcome.rejected} richtig abgelehnt, "
            f"{len(outcome.wrong)} falsche Punkte, {len(outcome.lost)} verloren, "
            f"{len(outcome.unexpected_failures)} unerwartet nicht bewertet"
        )
        for line in outcome.wrong + outcome.lost + outcome.unexpected_failures:
            print("  ", line)
        workers = math.ceil(1000 * per_sub / (15 * 60))
        print(
            f"Projektion: 1.000 Abgaben in 15 min brauchen {1000 * per_sub / 3600:.1f} CPU-Stunden, "
            f"also mindestens {workers} Kerne (je ein Worker, ohne Wartezeiten); mit -j {jobs} auf diesem Rechner "
            f"dauern 1.000 Abgaben etwa {1000 / n * wall / 60:.0f} min"
        )
        return 0 if outcome.ok else 1
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment")
    parser.add_argument("n", type=int)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--cluster", default=None, help="z. B. local:2 (Dask LocalCluster)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="Ordner für den temporären Kurs (bleibt stehen)")
    args = parser.parse_args(argv)
    return run(args.assignment, args.n, args.jobs, args.cluster, args.seed, args.keep)


if __name__ == "__main__":
    sys.exit(main())
