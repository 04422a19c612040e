"""Draw the computational graph of a micrograd-style ``Value`` with graphviz.

Works with any object that has ``data``, ``grad``, ``label``, ``_op`` and
``_prev`` (the inputs it was computed from), so the students' own ``Value``
class can be drawn at every stage of the notebook.
"""

from __future__ import annotations

from graphviz import Digraph


def trace(root):
    """Return ``(nodes, edges)`` of the graph that ends in ``root``.

    ``edges`` holds ``(input, output)`` pairs.  Iterative, so deep graphs do
    not hit Python's recursion limit.
    """
    nodes, edges, todo = set(), set(), [root]
    while todo:
        node = todo.pop()
        if node in nodes:
            continue
        nodes.add(node)
        for child in getattr(node, "_prev", ()):
            edges.add((child, node))
            todo.append(child)
    return nodes, edges


def _number(value) -> str:
    try:
        return f"{float(value):.4f}"
    except (TypeError, ValueError):
        return str(value)


def draw_dot(root, rankdir: str = "LR", fmt: str = "svg") -> Digraph:
    """Graph of ``root``: values as record nodes (label | data | grad), operations as ellipses.

    ``rankdir="LR"`` draws the inputs on the left and the result on the right.
    """
    dot = Digraph(format=fmt, graph_attr={"rankdir": rankdir})
    nodes, edges = trace(root)
    for node in sorted(nodes, key=id):
        uid = str(id(node))
        label = getattr(node, "label", "") or ""
        dot.node(
            uid,
            label=f"{{ {label} | data {_number(node.data)} | grad {_number(getattr(node, 'grad', 0.0))} }}",
            shape="record",
        )
        op = getattr(node, "_op", "")
        if op:
            dot.node(uid + op, label=op)
            dot.edge(uid + op, uid)
    for child, parent in sorted(edges, key=lambda e: (id(e[0]), id(e[1]))):
        dot.edge(str(id(child)), str(id(parent)) + getattr(parent, "_op", ""))
    return dot
