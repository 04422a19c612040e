"""The `course` package: data location, the 1-D data set, graph drawing, command line."""

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import graphviz
import pytest
import torch
from harness import answer_cell, free_text_cell, grading_cell, probe_notebook

import course
from course import data
from course.graph import in_fixed_order

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("split", sorted(data.ONE_D_SPLITS))
def test_generator_reproduces_committed_dataset(split):
    committed = torch.load(REPO / "data" / f"1d_dataset_{split}.pt")
    generated = data.make_1d_dataset(split)
    assert set(committed) == {"x", "y"}
    n, _ = data.ONE_D_SPLITS[split]
    for key in ("x", "y"):
        assert committed[key].dtype == torch.float32
        assert committed[key].shape == (n, 1)
        assert torch.equal(committed[key], generated[key])


def test_dataset_is_a_noisy_smooth_function():
    d = data.make_1d_dataset("train")
    residual = d["y"] - torch.from_numpy(data.one_d_function(d["x"].double().numpy())).float()
    assert 0.08 < residual.std().item() < 0.12
    assert d["x"].min() >= -2 and d["x"].max() <= 2
    with pytest.raises(ValueError, match="unknown split"):
        data.make_1d_dataset("valid")


def test_data_dir_prefers_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "d"))
    assert course.data_dir() == tmp_path / "d"
    path = course.data_file("1d_dataset_test.pt")
    assert path.is_file(), "the 1-D data set is generated where it is missing"
    assert torch.equal(torch.load(path)["y"], data.make_1d_dataset("test")["y"])


def test_data_dir_finds_course_root_from_any_subfolder(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    (tmp_path / "data").mkdir()
    (tmp_path / "nbgrader_config.py").write_text("")
    deep = tmp_path / "autograded" / "anna" / "06_mnist"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert course.data_dir() == tmp_path / "data"


def test_data_dir_outside_a_course_is_one_folder_per_user(tmp_path, monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    release_only = tmp_path / "meine_abgaben" / "06_mnist"
    release_only.mkdir(parents=True)
    monkeypatch.chdir(release_only)
    assert course.data_dir() == tmp_path / "home" / "nn-kurs-daten"


class Node:
    """Minimal stand-in for a student's ``Value``."""

    def __init__(self, data, children=(), op="", label=""):
        self.data, self.grad, self._prev, self._op, self.label = data, 0.0, set(children), op, label


def test_draw_dot_records_operations_left_to_right():
    a, b = Node(2.0, label="a"), Node(-3.0, label="b")
    c = Node(-6.0, (a, b), "*", "c")
    d = Node(4.0, (c, a), "+", "d")
    dot = course.draw_dot(d, rankdir="LR")
    src = dot.source
    assert dot.graph_attr["rankdir"] == "LR"
    for n in (a, b, c, d):
        assert f"{{ {n.label} | data {n.data:.4f} | grad 0.0000 }}" in src
        assert "shape=record" in src
    assert src.count('label="*"') == 1 and src.count('label="+"') == 1
    # edges: every input points at the operation node of its output, the operation at its output
    assert f'{id(a)} -> "{id(c)}*"' in src and f'{id(b)} -> "{id(c)}*"' in src
    assert f'"{id(c)}*" -> {id(c)}' in src and f'{id(a)} -> "{id(d)}+"' in src
    assert src.count("->") == 6
    assert course.draw_dot(d).source == course.draw_dot(d).source, "drawing is deterministic"


def svg_size_px(dot) -> tuple[float, float, float]:
    """Width and height of the rendered SVG in browser pixels (4/3 px per pt) and graphviz's scale factor."""
    svg = dot.pipe(format="svg").decode()
    width, height = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups()
    scale = float(re.search(r'class="graph" transform="scale\(([\d.]+)', svg).group(1))
    return float(width) * 4 / 3, float(height) * 4 / 3, scale


def neuron_graph():
    """o = ReLU(x1*w1 + x2*w2 + b), the graph of 08 that used to be 2,461 px wide."""
    x1, x2, w1, w2, b = (Node(v, label=n) for v, n in ((2.0, "x1"), (-1.0, "x2"), (1.5, "w1"), (0.5, "w2"), (0.5, "b")))
    x1w1 = Node(3.0, (x1, w1), "*", "x1*w1")
    x2w2 = Node(-0.5, (x2, w2), "*", "x2*w2")
    summe = Node(2.5, (x1w1, x2w2), "+", "x1*w1 + x2*w2")
    n = Node(3.0, (summe, b), "+", "n")
    return Node(3.0, (n,), "ReLU", "o")


OUTPUT_AREA_PX = 968  # width of a notebook's output area in JupyterLab


def test_draw_dot_keeps_small_graphs_left_to_right():
    a, b = Node(2.0, label="a"), Node(-3.0, label="b")
    dot = course.draw_dot(Node(-6.0, (a, b), "*", "c"))
    assert dot.graph_attr["rankdir"] == "LR"
    width, _, scale = svg_size_px(dot)
    assert width <= OUTPUT_AREA_PX and scale == 1.0


def test_draw_dot_draws_wide_graphs_top_to_bottom_unscaled():
    wide = course.draw_dot(neuron_graph(), rankdir="LR")
    assert svg_size_px(course.draw_dot(neuron_graph(), rankdir="LR", max_width=100))[0] > 2 * OUTPUT_AREA_PX
    assert svg_size_px(wide)[0] <= OUTPUT_AREA_PX, "an explicit direction is scaled to fit"
    dot = course.draw_dot(neuron_graph())
    assert dot.graph_attr["rankdir"] == "TB"
    width, height, scale = svg_size_px(dot)
    assert width <= OUTPUT_AREA_PX and scale == 1.0, "the neuron fits without shrinking its text"
    assert height < 1200


@pytest.mark.parametrize("shape", ["chain", "broad"])
def test_draw_dot_fits_every_graph_into_the_output_area(shape):
    if shape == "chain":  # 40 additions one after another: too wide in both directions, so graphviz shrinks it
        node = Node(0.0, label="x0")
        for i in range(40):
            node = Node(float(i), (node, Node(1.0, label=f"c{i}")), "+", f"x{i + 1}")
    else:  # 60 inputs summed at once: narrow from left to right
        node = Node(60.0, [Node(1.0, label=f"x{i}") for i in range(60)], "+", "summe")
    dot = course.draw_dot(node)
    width, _, scale = svg_size_px(dot)
    assert width <= OUTPUT_AREA_PX
    assert dot.graph_attr["rankdir"] == {"chain": "TB", "broad": "LR"}[shape]
    assert (scale < 1.0) == (shape == "chain")


def test_draw_dot_draws_the_same_graph_the_same_way_every_time():
    """Sets of inputs iterate by memory address: the drawing must not depend on where the nodes were created."""

    def chain(constants):
        node = Node(0.0, label="x0")
        for i in range(40):
            node = Node(float(i), (node, constants[i]), "+", f"x{i + 1}")
        return node

    forwards = [Node(1.0, label=f"c{i}") for i in range(40)]
    backwards = [Node(1.0, label=f"c{i}") for i in reversed(range(40))][::-1]  # created the other way round
    drawings = []
    for constants in (forwards, backwards):
        root = chain(constants)
        names = {str(id(v)): v.label for v in in_fixed_order(root)}
        svg = course.draw_dot(root).pipe(format="svg").decode()
        drawings.append(re.sub(r"\d{6,}", lambda m, names=names: names.get(m.group(), m.group()), svg))
    assert drawings[0] == drawings[1]


def test_draw_dot_without_graphviz_executable(monkeypatch):
    """Without `dot` the layout cannot be measured: the drawing is left to right and carries the size limit."""

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    dot = course.draw_dot(neuron_graph())
    assert dot.graph_attr["rankdir"] == "LR" and dot.graph_attr["size"].startswith("9.5,")


def test_draw_dot_shows_no_negative_zero():
    zero = Node(-0.0, (Node(-1.0, label="a"), Node(0.0, label="b")), "*", "c")
    src = course.draw_dot(zero).source
    assert "data 0.0000" in src and "-0.0000" not in src


def test_draw_dot_renders_svg_with_graphviz():
    svg = course.draw_dot(Node(1.0, label="x")).pipe(format="svg").decode()
    assert "<svg" in svg and "data 1.0000" in svg


def test_draw_dot_handles_deep_graphs():
    node = Node(0.0, label="x0")
    for i in range(3000):
        node = Node(float(i), (node,), "+", f"x{i + 1}")
    nodes, edges = course.graph.trace(node)
    assert len(nodes) == 3001 and len(edges) == 3000


def run_cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "course", *args], cwd=cwd, capture_output=True, text=True)


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        h.update(str(p.relative_to(root)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def two_task_notebook():
    """A two-task notebook in the course's format (one autograded task, one free-text answer)."""
    return probe_notebook(
        answer_cell("doppelt", "def doppelt(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        grading_cell("doppelt", 2, "assert doppelt(2) == 4, 'doppelt(2) sollte 4 sein'", "assert doppelt(-3) == -6"),
        free_text_cell("warum", 1, "Warum?", "Darum."),
    )


@pytest.fixture
def small_course(tmp_path):
    import nbformat

    root = tmp_path / "kurs"
    (root / "source" / "01_probe").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root)
    nbformat.write(two_task_notebook(), root / "source" / "01_probe" / "probe.ipynb")
    return root


@pytest.mark.parametrize(
    "args, message",
    [
        (["release", "99_gibtsnicht"], "unbekanntes Assignment '99_gibtsnicht'"),
        (["grade", "99_gibtsnicht"], "unbekanntes Assignment"),
        (["check", "nope"], "unbekanntes Assignment"),
        (["grade", "01_probe"], "Ordner fehlt"),
    ],
)
def test_cli_bad_input_is_one_clear_line_and_changes_nothing(small_course, args, message):
    before = tree_digest(small_course)
    result = run_cli("--root", str(small_course), *args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert tree_digest(small_course) == before


def test_cli_corrupt_or_missing_notebook(small_course):
    nb = small_course / "source" / "01_probe" / "probe.ipynb"
    nb.write_text("{ kein JSON")
    before = tree_digest(small_course)
    result = run_cli("--root", str(small_course), "release")
    assert result.returncode == 2 and "Notebook nicht lesbar" in result.stderr
    assert tree_digest(small_course) == before
    nb.unlink()
    result = run_cli("--root", str(small_course), "release", "01_probe")
    assert result.returncode == 2 and "genau ein Notebook" in result.stderr


def test_cli_outside_a_course(tmp_path):
    result = run_cli("release", cwd=tmp_path)
    assert result.returncode == 2 and "kein Kurs gefunden" in result.stderr


def test_cli_pipeline_end_to_end(small_course):
    """release -> submissions -> grade -> feedback -> export -> scores, all through the command line."""
    from course.demo import write_submission

    root = small_course
    assert run_cli("--root", str(root), "release").returncode == 0
    student_nb = (root / "release" / "01_probe" / "probe.ipynb").read_text()
    assert "return 2 * x" not in student_nb and "doppelt(-3)" not in student_nb and "Darum" not in student_nb
    assert "# DEINE LÖSUNG HIER" in student_nb and "DEINE ANTWORT HIER" in student_nb
    write_submission(
        root, "01_probe", "anna", {"doppelt": "def doppelt(x):\n    return x + x", "warum": "Weil x + x = 2x."}
    )
    write_submission(root, "01_probe", "ben", {"doppelt": "def doppelt(x):\n    return x * x"})
    write_submission(root, "01_probe", "carla", {})
    graded = run_cli("--root", str(root), "grade", "-j", "2")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "3 von 3 Abgaben bewertet" in graded.stdout
    assert run_cli("--root", str(root), "feedback").returncode == 0
    html = (root / "feedback" / "anna" / "01_probe" / "probe.html").read_text()
    assert "doppelt" in html
    exported = run_cli("--root", str(root), "export", "--to", str(root / "noten.csv"))
    assert exported.returncode == 0
    assert "anna" in (root / "noten.csv").read_text()
    per_task = (root / "noten_aufgaben.csv").read_text().splitlines()
    assert "anna,01_probe,doppelt,2.0,2.0,False" in per_task
    assert "ben,01_probe,doppelt,0.0,2.0,False" in per_task
    assert "carla,01_probe,doppelt,0.0,2.0,False" in per_task
    assert "anna,01_probe,warum,0.0,1.0,True" in per_task, "an answered free text waits for manual grading"
    assert "ben,01_probe,warum,0.0,1.0,False" in per_task, "an unanswered free text gets 0 at once"
    table = run_cli("--root", str(root), "scores").stdout
    assert "01_probe/doppelt" in table and "2/2" in table and "manuell/1" in table


def test_the_wheel_holds_every_module_and_the_template(tmp_path):
    """A non-editable install gets the preprocessors and the feedback template, without setuptools warnings."""
    import zipfile

    source = tmp_path / "quelle"  # setuptools writes build/ next to pyproject.toml: build from a copy
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "course", source / "course", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    assert "absent from" not in build.stdout + build.stderr
    (wheel,) = tmp_path.glob("course-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(p.relative_to(REPO)) for p in (REPO / "course").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected <= names, sorted(expected - names)


# Every graded submission imports the test vocabulary in a kernel; nbgrader (with nbformat, jsonschema and
# jupyter_server, about three CPU seconds) belongs to the grading process only.
KERNEL_MODULES = (
    "course.checks",
    "course.aufgaben",
    "course.aufgaben_05",
    "course.aufgaben_06",
    "course.aufgaben_08",
    "course.trusted",
    "course.trusted.client",
    "course.trusted.kernel_side",
    "course.data",
    "course.graph",
)


def test_kernel_modules_do_not_import_the_grading_stack():
    code = (
        f"import sys\nfor m in {KERNEL_MODULES!r}: __import__(m)\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & "
        "{'nbgrader', 'nbformat', 'nbconvert', 'nbclient', 'jsonschema', 'jupyter_server', 'sqlalchemy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
