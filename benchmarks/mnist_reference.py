"""Reference numbers of notebook 06_mnist: test accuracy and seconds of training of the solution.

Runs the code cells of ``source/06_mnist/mnist.ipynb`` (solutions included) in order, exactly as the
notebook does, on the MNIST in ``course.data_dir()`` (``$COURSE_DATA_DIR`` if set: the offline CI subset
in tests and CI, the full MNIST for a user who downloaded it). Test cells and plots are skipped. The two
training cells are timed:

* ``net``: the given cell ``loss_hist = train(net, train_loader, ...)`` (784-128-10, batch size 16),
  then ``accuracy = evaluate(net, test_loader)``;
* ``better_net``: the answer cell ``accuracy_per_epoch`` (784-256-128-10, batch size 64), which also
  measures the test accuracy after every epoch (a small part of its time).

Usage::

    python benchmarks/mnist_reference.py               # as a student runs it in JupyterLab
    python benchmarks/mnist_reference.py --autograde   # as nbgrader runs it (fewer epochs)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "source" / "06_mnist" / "mnist.ipynb"


def code_cells(path: Path):
    """``(kind, source)`` of every code cell that is not a test and draws nothing."""
    import nbformat

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            continue  # test cell
        if "plt." in cell.source:
            continue  # plots
        if meta.get("grade_id") == "accuracy_per_epoch":
            kind = "better_net"
        elif "loss_hist = train(net, train_loader" in cell.source:
            kind = "net"
        else:
            kind = ""
        yield kind, cell.source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--autograde", action="store_true", help="set NBGRADER_EXECUTION like nbgrader does")
    args = parser.parse_args(argv)
    if args.autograde:
        os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the benchmark's output
    os.environ.setdefault("MPLBACKEND", "Agg")

    namespace: dict = {"__name__": "__mnist_reference__"}
    seconds: dict[str, float] = {}
    epochs: dict[str, int] = {}
    for kind, source in code_cells(NOTEBOOK):
        start = time.perf_counter()
        exec(compile(source, f"<{NOTEBOOK.name}>", "exec"), namespace)  # noqa: S102  (our own notebook)
        if kind:
            seconds[kind] = time.perf_counter() - start
            epochs[kind] = namespace["n_epoch"]

    import torch

    from course import data_dir

    print()
    n_train, n_test = len(namespace["mnist_train"]), len(namespace["mnist_test"])
    print(f"Daten: {data_dir()} ({n_train} Trainings-, {n_test} Testbilder)")
    print(
        f"Gerät: {namespace['device']}, Threads: {torch.get_num_threads()}, CPU-Kerne: {os.cpu_count()}, "
        f"Last: {' '.join(f'{x:.1f}' for x in os.getloadavg())}, NBGRADER_EXECUTION: {args.autograde}"
    )
    print(
        f"net:        {epochs['net']} Epoche(n), Genauigkeit {float(namespace['accuracy']):.2%}, "
        f"Training {seconds['net']:.1f} s"
    )
    acc_hist = ", ".join(f"{float(a):.2%}" for a in namespace["acc_hist"])
    print(
        f"better_net: {epochs['better_net']} Epoche(n), Genauigkeit {float(namespace['acc_hist'][-1]):.2%} "
        f"(je Epoche: {acc_hist}), Training mit Messung je Epoche {seconds['better_net']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
