"""Test cells in the trusted kernel see the student's names, and only where they do not shadow the test's.

Before each test cell runs, the names it mentions (as a variable, or as a string such as in
``"net" in globals()``) are looked up in the student's kernel and put into the trusted kernel's
namespace: plain data as a copy, everything else as a :class:`~course.trusted.client.Ref`.  Never
looked up: builtins (a student's ``abs = ...`` cannot replace the test's ``abs``), dunder names,
modules (test cells import what they use, from the trusted installation) and every name a test
cell has bound itself (helpers of earlier test cells stay the test's own).  Names taken over from
the student are removed again before the next cell, so nothing stale survives.
"""

from __future__ import annotations

import ast
import builtins

from course.trusted.client import Connection, NoAnswer

FAILED = "__course_channel_failed__"


class StudentNames(ast.NodeTransformer):
    """An IPython AST transformer of the trusted kernel (it only reads the cell and fills the namespace)."""

    def __init__(self, shell, connection: Connection):
        super().__init__()
        self.shell = shell
        self.connection = connection
        self.injected: dict[str, object] = {}
        self.own = set(shell.user_ns)  # IPython's names and whatever the set-up bound

    def wanted(self, tree: ast.AST) -> list[str]:
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
                names.add(node.value)
        return sorted(n for n in names if not n.startswith("__") and not hasattr(builtins, n) and n not in self.own)

    def visit_Module(self, tree: ast.Module) -> ast.Module:
        ns = self.shell.user_ns
        for name, value in self.injected.items():
            if name in ns and ns[name] is value:
                del ns[name]
        self.injected = {}
        try:
            found = self.connection.names(self.wanted(tree))
        except Exception as exc:  # no answer, or a malformed one: this test cannot run
            message = str(exc) if isinstance(exc, NoAnswer) else f"Deine Abgabe hat ungültig geantwortet ({exc})."
            ns[FAILED] = NoAnswer(message)
            tree.body = [ast.Raise(exc=ast.Name(FAILED, ast.Load()), cause=None)]
            return ast.fix_missing_locations(tree)
        ns.update(found)
        self.injected = found
        return tree

    def remember_own(self, _result=None) -> None:
        """After a cell: every name it bound (not one taken over from the student) is the test's own."""
        ns = self.shell.user_ns
        self.own |= {n for n, v in ns.items() if n not in self.injected or self.injected[n] is not v}
        self.own.discard(FAILED)


def install(shell, connection: Connection) -> StudentNames:
    names = StudentNames(shell, connection)
    shell.ast_transformers.append(names)
    shell.events.register("post_run_cell", names.remember_own)
    return names
