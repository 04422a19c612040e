"""Fast unit tests of the course's grading pieces (milliseconds each, no kernel)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import answer_cell, assert_parses, grading_cell, probe_notebook
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_code_cell, new_output

from course import cells, sandbox
from course.grading import FailureKind, Worker, precheck
from course.kernel_activity import ProcessTreeWatch
from course.layout import CourseError
from course.preprocessors.check_submitted_files import SubmissionRejected, check_folder, special_files
from course.preprocessors.safe_execute import cap_outputs, size
from course.preprocessors.sanitize_student_html import inert_markdown, inert_output
from course.worker import classify


def test_idle_watch_tells_waiting_from_working():
    """A process tree that only sleeps is waiting; one that computes, or whose child computes while it waits for
    the child (a DataLoader's workers, a subprocess), is working; a process that is gone is not judged."""
    spin = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"
    started = {
        "schlaeft": [sys.executable, "-c", "import time; time.sleep(30)"],
        "rechnet": [sys.executable, "-c", spin],
        "kind_rechnet": [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}])",
        ],
        "beendet": [sys.executable, "-c", "pass"],
    }
    processes = {name: subprocess.Popen(argv) for name, argv in started.items()}
    try:
        watches = {name: ProcessTreeWatch(p.pid) for name, p in processes.items()}
        processes["beendet"].wait()
        idle = {}
        for _ in range(4):  # the first look may still see the start-up of the interpreters
            time.sleep(0.5)
            idle = {name: watch.idle_seconds() for name, watch in watches.items()}
        assert idle["schlaeft"] >= 0.9, idle
        assert idle["rechnet"] == idle["kind_rechnet"] == idle["beendet"] == 0.0, idle
        used = {name: watch.cpu_seconds() for name, watch in watches.items()}
        assert used["rechnet"] >= 1.0 and used["kind_rechnet"] >= 1.0 and used["schlaeft"] < 0.2, used
    finally:
        for process in processes.values():
            process.kill()
            process.wait()


def test_special_files_finds_links_fifos_and_linked_folders(tmp_path):
    (tmp_path / "ok.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ok.txt").write_text("x")
    (tmp_path / "link").symlink_to("/etc/passwd")
    (tmp_path / "dirlink").symlink_to("/etc")
    os.mkfifo(tmp_path / "sub" / "rohr")
    assert special_files(tmp_path) == ["dirlink", "link", "sub/rohr"]
    with pytest.raises(SubmissionRejected, match="Abgabe abgelehnt: nur gewöhnliche Dateien.*dirlink, link, sub/rohr"):
        check_folder(tmp_path, 10**9)


def test_plain_submissions_pass_and_big_ones_are_rejected(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    check_folder(tmp_path, 10**6)
    (tmp_path / "gross.bin").write_bytes(b"x" * 2_000_000)
    with pytest.raises(SubmissionRejected, match="2 MB, erlaubt sind 1 MB"):
        check_folder(tmp_path, 1_000_000)


def test_a_linked_submission_folder_is_rejected(tmp_path):
    (tmp_path / "echt").mkdir()
    (tmp_path / "abgabe").symlink_to(tmp_path / "echt")
    with pytest.raises(SubmissionRejected, match="kein gewöhnlicher Ordner"):
        check_folder(tmp_path / "abgabe", 10**9)


def test_precheck_reports_missing_and_broken_notebooks(tmp_path):
    root = tmp_path
    (root / "source" / "01_a").mkdir(parents=True)
    (root / "source" / "01_a" / "a.ipynb").write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    folder = root / "submitted" / "s" / "01_a"
    folder.mkdir(parents=True)
    with pytest.raises(CourseError, match=r"Notebook a.ipynb fehlt in der Abgabe \(gefunden: keine Notebooks\)"):
        precheck(root, "01_a", "s")
    (folder / "a.ipynb").write_text("")
    with pytest.raises(CourseError, match="leere Datei"):
        precheck(root, "01_a", "s")
    (folder / "a.ipynb").write_text("{kaputt")
    with pytest.raises(CourseError, match="kein gültiges Notebook"):
        precheck(root, "01_a", "s")


def test_inert_outputs_keep_text_and_images_only():
    out = new_output(
        "display_data",
        data={"text/html": "<script>x</script>", "application/javascript": "x", "image/png": "iVBO", "text/plain": "t"},
    )
    inert_output(out)
    assert set(out["data"]) == {"image/png", "text/plain"}
    only_html = new_output("display_data", data={"text/html": "<b>x</b>"})
    inert_output(only_html)
    assert list(only_html["data"]) == ["text/plain"]


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[klick](javascript:alert(1))",
        "[klick](JaVa\tScRiPt:alert(1))",
        "<svg onload=alert(1)>",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x]( <javascript:alert(1)>)",
        "[x]\n\n[x]: javascript:alert(1)",
    ],
)
def test_inert_markdown_has_no_tags_and_no_script_links(markdown):
    safe = inert_markdown(markdown)
    assert "<" not in safe and "javascript:" not in safe.lower().replace("\t", "") and "data:" not in safe


def test_inert_markdown_keeps_the_text():
    assert inert_markdown("Weil **w·x + b** affin ist & > 0") == "Weil **w·x + b** affin ist &amp; > 0"
    prose = "Die Trainingsdata: 800 Punkte; javascript: nie gebraucht; [Doku](https://pytorch.org)"
    assert inert_markdown(prose) == prose


def test_output_cap_keeps_errors_short_and_drops_the_rest():
    outputs = [
        new_output("stream", name="stdout", text="x" * 600),
        new_output("stream", name="stdout", text="y" * 600),
        NotebookNode(output_type="error", ename="ValueError", evalue="e" * 100_000, traceback=["t" * 100_000] * 50),
    ]
    kept = cap_outputs(outputs, 1000)
    assert [o["output_type"] for o in kept] == ["stream", "stream", "stream", "error"]
    assert "Ausgabe gekürzt" in kept[0]["text"] and kept[1]["text"] == "x" * 600
    assert kept[2]["text"] and set(kept[2]["text"]) == {"y"} and size(kept[1:3]) <= 1000  # the start stays
    assert size(kept) < 60_000


def test_one_huge_stream_message_keeps_its_start():
    """A kernel under load flushes megabytes of print output in one message: cut it, do not drop it."""
    from nbformat.v4 import new_code_cell

    from course.preprocessors.safe_execute import SafeExecute

    execute = SafeExecute(max_output_chars=1000)
    execute._output_chars, execute._notebook_chars, execute._truncated = {}, 0, set()
    execute.clear_before_next_output = False
    cell = new_code_cell("for i in range(10**8): print(i)")
    for text in ("0\n1\n" * 200_000, "mehr\n" * 10):
        message = {"msg_type": "stream", "header": {"msg_type": "stream"}, "parent_header": {}, "metadata": {}}
        execute.process_message({**message, "content": {"name": "stdout", "text": text}}, cell, 0)
    assert len(cell.outputs) == 1 and cell.outputs[0]["text"].startswith("0\n1\n0\n1")
    assert "mehr" not in cell.outputs[0]["text"] and 0 in execute._truncated
    kept = cap_outputs(cell.outputs, 1000, 0 in execute._truncated)
    assert "Ausgabe gekürzt" in kept[0]["text"] and size(kept[1]) <= 1000


def test_failures_are_classified_by_their_type_not_their_text():
    import sqlalchemy.exc

    from course.preprocessors.safe_execute import KernelStartError

    rejected = SubmissionRejected("Abgabe abgelehnt: wegen link")
    assert classify(rejected) == (FailureKind.REJECTED, "Abgabe abgelehnt: wegen link")
    assert classify(KernelStartError("kaputt")) == (FailureKind.ENVIRONMENT, "kaputt")
    assert classify(CourseError("Studierendenversion fehlt: x")) == (FailureKind.COURSE, "Studierendenversion fehlt: x")
    locked = sqlalchemy.exc.OperationalError("UPDATE grade", {}, Exception("database is locked"))
    kind, message = classify(locked)
    assert kind == FailureKind.GRADEBOOK and "database is locked" in message
    # the same words in an error of another type decide nothing
    assert classify(ValueError("Abgabe abgelehnt: erfunden")) == (
        FailureKind.ERROR,
        "ValueError: Abgabe abgelehnt: erfunden",
    )
    assert classify(RuntimeError()) == (FailureKind.ERROR, "RuntimeError")


def test_a_worker_that_dies_costs_its_submission_with_a_typed_reason(tmp_path, monkeypatch):
    """The parent reads results as data on the worker's connection; a worker that ends without one (here: one that
    exits at start) is reported as lost, with the last line it wrote, and is not reused."""
    original = subprocess.Popen
    dies = "import sys; print('kaputt beim Start', file=sys.stderr); sys.exit(3)"
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kwargs: original([sys.executable, "-c", dies], **kwargs))
    worker = Worker(tmp_path, 1)
    result = worker.grade("01_a", "s", budget=30)
    assert not result.ok and result.kind == FailureKind.WORKER_LOST
    assert result.message == "Bewertungsprozess endete mit Code 3: kaputt beim Start"
    assert not worker.alive and not worker.scratch.exists()


def test_limits_come_from_the_config_and_the_environment_overrides(monkeypatch, tmp_path):
    from traitlets.config import Config

    from course.grading_environment import GradingEnvironment

    config = Config()
    config.GradingEnvironment.processes = 64
    config.GradingEnvironment.cpus = 0.5
    config.CourseDirectory.root = str(tmp_path)
    monkeypatch.setenv("COURSE_GRADING_MEMORY_GB", "2")
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    environment = GradingEnvironment(config=config)
    limits = environment.limits()
    assert limits.memory_gb == 2 and limits.processes == 64 and limits.cpus == 0.5
    assert limits.tmp_mb == sandbox.Limits.tmp_mb
    assert environment.data() == (tmp_path / "data").resolve()  # the configured course, never the graded folder
    import resource

    assert limits.rlimits()[resource.RLIMIT_AS] == 2 * 1024**3


def test_the_kernel_command_drops_root_and_passes_no_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DB_URL", "postgresql://nbgrader:geheim@db/kurs")
    (tmp_path / "ipc").mkdir()
    (tmp_path / sandbox.SOCKETS_FILE).write_text(str(tmp_path / "ipc"))
    from course.grading_environment import GradingEnvironment

    env = GradingEnvironment().kernel_env()
    command = sandbox.bwrap_command(
        tmp_path, tmp_path / "k.json", Path("/tmp/arbeit"), 612345, sandbox.Limits(), data=tmp_path, env=env
    )
    assert "geheim" not in " ".join(command) and "COURSE_DB_URL" not in command
    assert "--clearenv" in command and "--unshare-pid" in command and "--die-with-parent" in command
    if os.geteuid() == 0:
        assert "--reuid=612345" in command and "--cap-drop" in command
    else:
        assert "--unshare-user" in command


def test_data_behind_a_chain_of_links_is_readable_in_the_sandbox(tmp_path, monkeypatch):
    """data/MNIST/raw -> <x>/shared/... where <x>/shared is itself a link (a checkout beside a linked ../shared)."""
    real = tmp_path / "echt" / "data" / "MNIST" / "raw"
    real.mkdir(parents=True)
    (real / "bilder.txt").write_text("MNIST")
    (tmp_path / "shared").symlink_to(tmp_path / "echt")
    data = tmp_path / "kurs" / "data"
    (data / "MNIST").mkdir(parents=True)
    (data / "MNIST" / "raw").symlink_to(tmp_path / "shared" / "data" / "MNIST" / "raw")
    runtime = tmp_path / "laufzeit"
    (runtime / "ipc").mkdir(parents=True)
    (runtime / sandbox.SOCKETS_FILE).write_text(str(runtime / "ipc"))
    limits = sandbox.Limits()
    command = sandbox.bwrap_command(runtime, runtime / "k.json", Path("/tmp/arbeit"), 612345, limits, data=data)
    code = f"print(open({str(data / 'MNIST' / 'raw' / 'bilder.txt')!r}).read())"
    command = [*command[: command.index("ipykernel_launcher") - 1], "-c", code]  # python -c instead of a kernel
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "MNIST", done.stderr


def test_cell_conventions():
    assert cells.task_name("test_relu") == "relu" and cells.task_name("warum") == "warum"
    source = "assert a\n### BEGIN HIDDEN TESTS\nassert b\n### END HIDDEN TESTS"
    assert list(cells.hidden_lines(source)) == [2, 3, 4]
    nb = probe_notebook(answer_cell("a", "a = 1"), grading_cell("a", 2, "assert a", "assert a == 1"))
    assert cells.graded_tasks(nb) == {"a": 2.0}
    assert cells.is_autograded_test(nb.cells[2]) and not cells.is_autograded_test(nb.cells[1])
    assert not cells.is_autograded_test(new_code_cell("x"))


def test_a_variant_that_does_not_parse_fails_the_suite(tmp_path, monkeypatch):
    import harness

    root = harness.make_course(tmp_path, "02_aktivierung")
    with pytest.raises(AssertionError, match="does not parse"):
        assert_parses(root, "02_aktivierung", "tippfehler", {"my_single_relu": "def my_single_relu(x)\n    return x"})
    assert_parses(root, "02_aktivierung", "gut", {"my_single_relu": "def my_single_relu(x):\n    return max(x, 0)"})


def test_packages_outside_the_venv_are_visible_but_never_a_checkout(tmp_path, monkeypatch):
    extra = tmp_path / "lib" / "site-packages"
    extra.mkdir(parents=True)
    checkout = tmp_path / "kurs"
    (checkout / "source").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(extra), str(checkout)])
    found = sandbox.other_site_packages(Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve())
    assert extra in found and checkout not in found
