"""Draw the computational graph of a micrograd-style ``Value`` with graphviz.

Works with any object that has ``data``, ``grad``, ``label``, ``_op`` and
``_prev`` (the inputs it was computed from), so the students' own ``Value``
class can be drawn at every stage of the notebook.

Drawings fit the output area of a notebook (about 968 px, i.e. 10 inches): a
graph that is too wide from left to right is drawn from top to bottom, and
whatever is still too wide is scaled down by graphviz (``size``).
"""

from __future__ import annotations

from graphviz import CalledProcessError, Digraph, ExecutableNotFound

#: Widest drawing in inches (graphviz renders 72 pt per inch, a browser 4/3 px per pt: 9.5 in = 912 px).
MAX_WIDTH_IN = 9.5
#: Height limit in inches; high enough that only the width ever limits the drawing.
MAX_HEIGHT_IN = 100.0


def trace(root):
    """Return ``(nodes, edges)`` of the graph that ends in ``root``.

    ``edges`` holds ``(input, output)`` pairs.  Iterative (:func:`in_fixed_order`), so deep graphs do
    not hit Python's recursion limit.
    """
    nodes = in_fixed_order(root)
    return set(nodes), {(child, node) for node in nodes for child in _inputs(node)}


def _number(value) -> str:
    try:
        return f"{float(value) + 0.0:.4f}"  # + 0.0 turns -0.0 into 0.0
    except (TypeError, ValueError):
        return str(value)


def _build(root, rankdir: str, fmt: str, max_width: float) -> Digraph:
    """The graph of ``root`` in direction ``rankdir``, scaled down to at most ``max_width`` inches."""
    graph_attr = {"rankdir": rankdir, "size": f"{max_width:g},{MAX_HEIGHT_IN:g}"}
    if rankdir in ("TB", "BT"):
        graph_attr["ranksep"] = "0.3"  # the value boxes are stacked (three lines): less space between ranks
    dot = Digraph(format=fmt, graph_attr=graph_attr)
    nodes = in_fixed_order(root)
    for node in nodes:
        uid = str(id(node))
        label = getattr(node, "label", "") or ""
        # A record's fields lie side by side from left to right and one above the other from top to bottom.
        dot.node(
            uid,
            label=f"{{ {label} | data {_number(node.data)} | grad {_number(getattr(node, 'grad', 0.0))} }}",
            shape="record",
        )
        op = getattr(node, "_op", "")
        if op:
            dot.node(uid + op, label=op)
            dot.edge(uid + op, uid)
    for parent in nodes:
        for child in _inputs(parent):
            dot.edge(str(id(child)), str(id(parent)) + getattr(parent, "_op", ""))
    return dot


def _inputs(node) -> list:
    """The inputs of ``node`` sorted by what they show (a set of inputs iterates by memory address)."""
    return sorted(getattr(node, "_prev", ()), key=lambda v: (str(getattr(v, "label", "") or ""), _number(v.data)))


def in_fixed_order(root) -> list:
    """The nodes of the graph that ends in ``root``, inputs before results, in the same order every run.

    graphviz lays out nodes in the order they are declared; ordered by memory address, the same graph
    was drawn differently from run to run.
    """
    order, seen, todo = [], set(), [root]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        todo.extend(reversed(_inputs(node)))
    return order[::-1]


def natural_size(dot: Digraph) -> tuple[float, float]:
    """Width and height in inches of the unscaled layout (graphviz's ``plain`` output)."""
    unscaled = dot.copy()
    unscaled.graph_attr.pop("size", None)
    header = unscaled.pipe(format="plain").decode().split("\n", 1)[0].split()
    return float(header[2]), float(header[3])


def draw_dot(root, rankdir: str | None = None, fmt: str = "svg", max_width: float = MAX_WIDTH_IN) -> Digraph:
    """Graph of ``root``: values as record nodes (label | data | grad), operations as ellipses.

    Without ``rankdir`` the inputs are drawn on the left and the result on the right (``"LR"``) when that
    fits into ``max_width`` inches, else from top to bottom (``"TB"``) if that is narrower (a long chain of
    operations is). Either way graphviz scales a drawing that is still wider than ``max_width`` down to fit.
    """
    if rankdir is not None:
        return _build(root, rankdir, fmt, max_width)
    wide = _build(root, "LR", fmt, max_width)
    try:
        width, _ = natural_size(wide)
    except (ExecutableNotFound, CalledProcessError, OSError, ValueError, IndexError):
        return wide  # no graphviz executable to measure with: graphviz scales the drawing when it renders
    if width <= max_width:
        return wide
    tall = _build(root, "TB", fmt, max_width)
    try:
        tall_width, _ = natural_size(tall)
    except (ExecutableNotFound, CalledProcessError, OSError, ValueError, IndexError):
        return tall
    return tall if tall_width < width else wide  # the one graphviz has to shrink less
