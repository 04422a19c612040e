"""Checks of the tasks of 08_micrograd, built from :mod:`course.checks`.

Each task has ``pruefe_<task>(...)`` (the visible part of its test cell) and ``pruefe_<task>_genauer(...)`` (the
hidden part: more cases, random graphs against PyTorch).  They receive the student's objects (the class
``Value``, the nodes of the neuron, ``build_topo``, ``MLP`` ...), which :func:`_abgabe` binds as this module's
globals for the helpers below; during grading these are references into the student's kernel.  Many small
requests are batched with :func:`course.testing.each` (one request for a whole list of nodes).
"""

from __future__ import annotations

import functools
import math
import random

import torch

from course.checks import _als_meldung, _channel_errors, bestanden
from course.testing import attribute, each, identity, method, student_module

_xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
_ys = [1.0, -1.0, -1.0, 1.0]
_zuletzt: dict = {}  # what a visible check built and its hidden part checks further
# The student's objects under test, bound by _abgabe() before every check.
Value = differenzenquotient = build_topo = trainingsschritt = None


def _aufgabe(name: str):
    """A check of task ``name``: an error of the student's code (a stub's ``NotImplementedError``, a division by 0)
    fails with a German message that names the task, never as a bare traceback."""

    def deko(pruefe):
        @functools.wraps(pruefe)
        def mit_meldung(*args, **kwargs):
            __tracebackhide__ = True
            try:
                return pruefe(*args, **kwargs)
            except (AssertionError, *_channel_errors()):
                raise
            except Exception as exc:
                raise _als_meldung(exc, "ein Aufruf deines Codes", name) from None

        return mit_meldung

    return deko


def _abgabe(**objekte) -> None:
    """Bind the student's objects under test (and the channel's helpers) for the helpers of this module."""
    global _setattr, _lies_grad, _lies_prev, _lies_data, _relu, _rueckwaerts
    global _functools, _builtins, _collections, _zufall, _isinstance, _lies_neurons, _lies_wb
    globals().update(objekte)
    # each(f, liste) is [f(x) for x in liste]; during grading the student's kernel computes it in one request.
    _setattr = student_module("builtins").setattr
    _lies_grad, _lies_prev, _lies_data = attribute("grad"), attribute("_prev"), attribute("data")
    _relu, _rueckwaerts = method("relu"), method("_backward")
    _functools, _builtins = student_module("functools"), student_module("builtins")
    _collections = student_module("collections")
    _zufall = student_module("random")  # the random number generator the student's classes use
    _isinstance = _builtins.isinstance
    _lies_neurons, _lies_wb = attribute("neurons"), attribute("w", "b")


def _de(z):
    """Eine Zahl mit Dezimalkomma für die Meldungen."""
    return f"{float(z):.6g}".replace(".", ",")


def _funktion(quelltext):
    """Dieselbe Funktion zweimal: eine für deinen Code (in deinem Kernel) und eine zum Nachrechnen im Test."""
    return student_module("builtins").eval(quelltext, {}), eval(quelltext, {})


def _pruefe_quotient(g, g_test, x, h, text):
    """Vergleicht differenzenquotient(g, x, h) mit dem Vorwärts- und dem zentralen Differenzenquotienten."""
    ist = differenzenquotient(g, x, h)
    assert ist is not None, "`differenzenquotient` gibt nichts zurück: Fehlt das `return`?"
    ist = float(ist)
    vorwaerts = (g_test(x + h) - g_test(x)) / h
    zentral = (g_test(x + h) - g_test(x - h)) / (2 * h)
    assert any(math.isclose(ist, q, rel_tol=1e-7, abs_tol=1e-9) for q in (vorwaerts, zentral)), (
        f"{text}: differenzenquotient(g, {_de(x)}, {_de(h)}) liefert {_de(ist)}, erwartet wird "
        f"(g(x + h) - g(x)) / h = {_de(vorwaerts)}. Rechne mit der übergebenen Funktion und dem übergebenen h, "
        "nicht mit einer Ableitungsformel oder einem festen h."
    )


def _f_test(x):
    """f von oben, zum Nachrechnen."""
    return 3 * x**2 - 4 * x + 5


def _t(x):
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


def _nah(a, b):
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)


def _relu_grads(xs, gs):
    """Gradienten der Eingaben xs, wenn die ReLUs die Gradienten gs bekommen (jede mit eigenen Knoten)."""
    ns = each(Value, xs)
    os = each(_relu, ns)
    each(_setattr, os, ["grad"] * len(os), gs)
    each(_rueckwaerts, os)
    return each(_lies_grad, ns)


def _relu_grad(x, g):
    """Gradient der Eingabe x, wenn die ReLU den Gradienten g bekommt."""
    return _relu_grads([x], [g])[0]


def _graph(root, knoten=()):
    """Die Eingaben (`_prev`) jedes Knotens im Graphen von root; `knoten` werden gleich mitgelesen."""
    eingaben, neu = {}, list(dict.fromkeys([root, *knoten]))
    while neu:
        for v, prev in zip(neu, each(_lies_prev, neu), strict=True):
            eingaben[v] = list(prev)
        neu = list(dict.fromkeys(k for prev in eingaben.values() for k in prev if k not in eingaben))
    graph, todo = {}, [root]
    while todo:
        v = todo.pop()
        if v not in graph:
            graph[v] = eingaben[v]
            todo.extend(graph[v])
    return graph


def _pruefe_topo(root, text, knoten=()):
    eingaben = _graph(root, knoten)
    alle = set(eingaben)
    topo = build_topo(root)
    assert topo is not None, f"{text}: `build_topo` gibt nichts zurück: Fehlt `return topo`?"
    topo = list(topo)
    assert len(topo) == len(set(topo)), f"{text}: Jeder Knoten darf nur einmal vorkommen (merke dir besuchte)."
    assert set(topo) == alle, f"{text}: Die Liste muss alle {len(alle)} Knoten enthalten, sie hat {len(topo)}."
    position = {v: i for i, v in enumerate(topo)}
    for v in topo:
        for child in eingaben[v]:
            assert position[child] < position[v], (
                f"{text}: Ein Knoten steht vor einer seiner Eingaben. "
                "Hänge ihn erst an, nachdem du seine Eingaben besucht hast."
            )


def _zufallsbaum(rng, V, n_blaetter):
    """Zufälliger Ausdrucksbaum (jeder Knoten einmal verwendet) mit +, * und relu.

    Gibt (Blätter, Tensoren der Blätter, Wurzel, Tensor der Wurzel) zurück.
    """
    blaetter = [rng.uniform(-2, 2) for _ in range(n_blaetter)]
    knoten = each(V, blaetter)
    tensoren = [_t(x) for x in blaetter]
    pool = list(zip(knoten, tensoren, strict=True))
    while len(pool) > 1 or rng.random() < 0.3:
        if len(pool) > 1 and rng.random() < 0.75:
            (v1, t1) = pool.pop(rng.randrange(len(pool)))
            (v2, t2) = pool.pop(rng.randrange(len(pool)))
            if rng.random() < 0.5:
                pool.append((v1 + v2, t1 + t2))
            else:
                pool.append((v1 * v2, t1 * t2))
        else:
            (v1, t1) = pool.pop(rng.randrange(len(pool)))
            pool.append((_relu(v1), torch.relu(t1)))
    return knoten, tensoren, pool[0][0], pool[0][1]


def _vergleiche(blaetter, tensoren, troot, text):
    """Vergleicht die Gradienten der Blätter mit PyTorch."""
    troot.backward()
    for nr, (grad, t) in enumerate(zip(each(_lies_grad, blaetter), tensoren, strict=True), start=1):
        erwartet = 0.0 if t.grad is None else t.grad.item()
        assert _nah(grad, erwartet), (
            f"{text}: Die Eingabe Nr. {nr} hat den Gradienten {_de(grad)}, PyTorch rechnet {_de(erwartet)}."
        )


def _pruefe_reihenfolge(rng, text):
    """`backward()` muss jedes `_backward` genau einmal aufrufen, jeden Knoten vor seinen Eingaben."""
    knoten = each(Value, [rng.uniform(-1.5, 1.5) for _ in range(3)])
    for _ in range(10):
        i = len(knoten) - 1 if rng.random() < 0.5 else rng.randrange(len(knoten))
        j = rng.randrange(len(knoten))
        art = rng.choice(["+", "*", "relu"])
        if art == "+":
            knoten.append(knoten[i] + knoten[j])
        elif art == "*":
            knoten.append(knoten[i] * knoten[j])
        else:
            knoten.append(_relu(knoten[i]))
    wurzel = knoten[-1]
    nummer = {v: nr for nr, v in enumerate(knoten)}
    eingaben = _graph(wurzel, knoten)
    berechnet = {nummer[v] for v in eingaben if eingaben[v]}
    protokoll = _collections.deque()  # in deinem Kernel (eine Liste käme als Kopie zum Test)
    anhaengen = protokoll.append
    berechnete_knoten = [v for v in eingaben if eingaben[v]]
    each(
        _setattr,
        berechnete_knoten,
        ["_backward"] * len(berechnete_knoten),
        each(_functools.partial, [anhaengen] * len(berechnete_knoten), [nummer[v] for v in berechnete_knoten]),
    )
    wurzel.backward()
    aufrufe = _builtins.list(protokoll)
    assert _nah(wurzel.grad, 1.0), f"{text}: `backward()` muss den Gradienten der Wurzel auf 1 setzen."
    assert len(aufrufe) == len(set(aufrufe)), (
        f"{text}: `backward()` ruft `_backward` für einen Knoten mehrmals auf. Jeder Knoten ist genau einmal an "
        "der Reihe, auch wenn er mehrfach verwendet wird: Merke dir beim Sortieren die besuchten Knoten."
    )
    assert set(aufrufe) == berechnet, (
        f"{text}: `backward()` ruft `_backward` nicht genau für die {len(berechnet)} berechneten Knoten des "
        f"Graphen auf, sondern für {len(set(aufrufe))}."
    )
    position = {nr: k for k, nr in enumerate(aufrufe)}
    for v, vorgaenger in eingaben.items():
        for kind in vorgaenger:
            if eingaben[kind]:
                assert position[nummer[v]] < position[nummer[kind]], (
                    f"{text}: `backward()` ruft `_backward` eines Knotens auf, bevor alle Knoten, die ihn "
                    "verwenden, ihren Gradienten an ihn weitergereicht haben. Gehe die topologische Reihenfolge "
                    "rückwärts durch (Wurzel zuerst)."
                )


def _zufallsgraph(rng, V, n_blaetter, n_ops):
    """Zufälliger Graph (Knoten dürfen mehrfach vorkommen) mit +, * und relu.

    Gibt (Blätter, Tensoren der Blätter, Wurzel, Tensor der Wurzel, alle Knoten) zurück.
    """
    blaetter = [rng.uniform(-1.5, 1.5) for _ in range(n_blaetter)]
    knoten = each(V, blaetter)
    tensoren = [_t(x) for x in blaetter]
    for _ in range(n_ops):
        i = len(knoten) - 1 if rng.random() < 0.5 else rng.randrange(len(knoten))
        j = rng.randrange(len(knoten))
        art = rng.choice(["+", "*", "relu"])
        if art == "+":
            knoten.append(knoten[i] + knoten[j])
            tensoren.append(tensoren[i] + tensoren[j])
        elif art == "*":
            knoten.append(knoten[i] * knoten[j])
            tensoren.append(tensoren[i] * tensoren[j])
        else:
            knoten.append(_relu(knoten[i]))
            tensoren.append(torch.relu(tensoren[i]))
    return knoten[:n_blaetter], tensoren[:n_blaetter], knoten[-1], tensoren[-1], knoten


def _ref_backward(root, knoten=()):
    """Rückwärtsdurchlauf der Tests, unabhängig von deinem `backward` und `build_topo`."""
    eingaben = _graph(root, knoten)
    topo, visited = [], set()

    def visit(v):
        if v not in visited:
            visited.add(v)
            for child in eingaben[v]:
                visit(child)
            topo.append(v)

    visit(root)
    root.grad = 1.0
    each(_rueckwaerts, topo[::-1])


def _wert(y):
    if isinstance(y, (list, tuple)) and len(y) == 1:
        y = y[0]
    return y


def _neuronen(m):
    """(w, b) jedes Neurons, Schicht für Schicht, gelesen aus der Struktur des Modells."""
    schichten = each(_lies_neurons, m.layers)
    wb = iter(each(_lies_wb, [nr for neuronen in schichten for nr in neuronen]))
    return [[next(wb) for _ in neuronen] for neuronen in schichten]


def _gewichte(m):
    """Gewichte und Bias-Werte jeder Schicht als float64-Tensoren, gelesen aus der Struktur des Modells."""
    schichten = [[(list(w), b) for w, b in schicht] for schicht in _neuronen(m)]
    werte = iter(each(_lies_data, [p for schicht in schichten for w, b in schicht for p in [*w, b]]))
    gew = [[([next(werte) for _ in w], next(werte)) for w, _ in schicht] for schicht in schichten]
    return [
        (
            torch.tensor([w for w, _ in schicht], dtype=torch.float64),
            torch.tensor([b for _, b in schicht], dtype=torch.float64),
        )
        for schicht in gew
    ]


def _vorwaerts(gew, x):
    h = torch.tensor(x, dtype=torch.float64)
    for W, bb in gew:
        h = torch.tanh(W @ h + bb)
    return h.squeeze()


def _ref_gradient(gew, xs, ys):
    """Summe der quadratischen Fehler und ihr Gradient, berechnet mit PyTorch."""
    gew = [(W.clone().requires_grad_(True), bb.clone().requires_grad_(True)) for W, bb in gew]
    verlust = sum((_vorwaerts(gew, x) - y) ** 2 for x, y in zip(xs, ys, strict=True))
    verlust.backward()
    return verlust.item(), [(W.grad, bb.grad) for W, bb in gew]


def _abstand(gew1, gew2):
    return max(
        max((W1 - W2).abs().max().item(), (b1 - b2).abs().max().item())
        for (W1, b1), (W2, b2) in zip(gew1, gew2, strict=True)
    )


def _pruefe_schritt(m, xs, ys, lernrate, text):
    """Zwei Trainingsschritte gegen PyTorch; der Verlust darf die Summe oder der Mittelwert der Fehler sein."""
    faktor = None
    for nr in (1, 2):
        vorher = _gewichte(m)
        verlust_ref, grad_ref = _ref_gradient(vorher, xs, ys)
        ergebnis = trainingsschritt(m, xs, ys, lernrate)
        assert ergebnis is not None, f"{text}: `trainingsschritt` muss den Verlust zurückgeben."
        verlust = float(getattr(ergebnis, "data", ergebnis))
        if faktor is None:
            kandidaten = [
                f for f in (1.0, 1.0 / len(xs)) if math.isclose(verlust, f * verlust_ref, rel_tol=1e-7, abs_tol=1e-9)
            ]
            assert kandidaten, (
                f"{text}: Der zurückgegebene Verlust {_de(verlust)} ist nicht die Summe der quadratischen Fehler "
                f"vor dem Update ({_de(verlust_ref)})."
            )
            faktor = kandidaten[0]
        erwartet = [
            (W - lernrate * faktor * gW, bb - lernrate * faktor * gb)
            for (W, bb), (gW, gb) in zip(vorher, grad_ref, strict=True)
        ]
        if nr == 1:
            assert _abstand(_gewichte(m), erwartet) < 1e-8, (
                f"{text}: Nach einem Schritt stimmen die Parameter nicht mit `p.data - lernrate * p.grad` überein."
            )
        else:
            assert _abstand(_gewichte(m), erwartet) < 1e-8, (
                f"{text}: Der erste Schritt stimmt, der zweite nicht. Setzt du vor `verlust.backward()` alle "
                "Gradienten auf 0 zurück? Sonst stecken im Gradienten noch die Beiträge des vorigen Schritts."
            )


@_aufgabe("differenzenquotient")
def pruefe_differenzenquotient(differenzenquotient, f, dx) -> None:
    """Task ``differenzenquotient`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(differenzenquotient=differenzenquotient, f=f, dx=dx)
    assert abs(float(dx) - 14) < 1e-3, (
        f"dx = {_de(dx)}, erwartet wird ungefähr 14. Teilst du die Differenz f(x + h) - f(x) durch h?"
    )
    _pruefe_quotient(f, _f_test, 3.0, 0.0001, "Für f an der Stelle 3 mit h = 0,0001")
    _kubisch, _kubisch_test = _funktion("lambda t: t**3 - 2 * t")
    _pruefe_quotient(_kubisch, _kubisch_test, 1.0, 0.5, "Für g(t) = t³ - 2t an der Stelle 1 mit h = 0,5")
    bestanden("`differenzenquotient` rechnet wie verlangt, `dx` ist etwa 14.")


@_aufgabe("differenzenquotient")
def pruefe_differenzenquotient_genauer(differenzenquotient, f, dx) -> None:
    """Task ``differenzenquotient``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(differenzenquotient=differenzenquotient, f=f, dx=dx)
    _kubisch, _kubisch_test = _funktion("lambda t: t**3 - 2 * t")
    _pruefe_quotient(f, _f_test, 3.0, 0.5, "Für f an der Stelle 3 mit h = 0,5")
    _pruefe_quotient(f, _f_test, -2, 0.25, "Für f an der Stelle -2 mit h = 0,25")
    _pruefe_quotient(_kubisch, _kubisch_test, -1.5, 0.1, "Für g(t) = t³ - 2t an der Stelle -1,5 mit h = 0,1")
    _knick, _knick_test = _funktion("lambda t: abs(t) * t - 3 * t")
    _bruch, _bruch_test = _funktion("lambda t: 1 / (1 + t * t)")
    _pruefe_quotient(_knick, _knick_test, 0.3, 0.01, "Für g(t) = |t|·t - 3t an der Stelle 0,3 mit h = 0,01")
    _pruefe_quotient(_bruch, _bruch_test, 0.7, 0.2, "Für g(t) = 1 / (1 + t²) an der Stelle 0,7 mit h = 0,2")
    _pruefe_quotient(_bruch, _bruch_test, 2, 1e-3, "Für g(t) = 1 / (1 + t²) an der Stelle 2 mit h = 0,001")
    assert math.isfinite(float(dx)), f"dx = {_de(dx)} ist keine endliche Zahl."
    assert (
        min(
            abs(float(dx) - (_f_test(3.0 + 0.0001) - _f_test(3.0)) / 0.0001),
            abs(float(dx) - (_f_test(3.0 + 0.0001) - _f_test(3.0 - 0.0001)) / 0.0002),
        )
        < 1e-6
    ), f"dx = {_de(dx)} ist nicht der Differenzenquotient von f an der Stelle 3 mit h = 0,0001."


@_aufgabe("neuron_knoten")
def pruefe_neuron_knoten(Value, x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o) -> None:
    """Task ``neuron_knoten`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(Value=Value, x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)
    _namen = ["x1", "x2", "w1", "w2", "b", "x1w1", "x2w2", "x1w1x2w2", "n", "o"]
    for _name in _namen:
        assert isinstance(globals()[_name], Value), f"`{_name}` ist kein `Value`-Objekt."
    for _name in ["x1", "x2", "w1", "w2", "b"]:
        assert not globals()[_name]._prev, f"`{_name}` soll eine Eingabe ohne Vorgänger sein: `Value(zahl, label=...)`."
    assert x1w1._op == "*" and x1w1._prev == {x1, w1}, "`x1w1` muss das Produkt `x1 * w1` sein."
    assert x2w2._op == "*" and x2w2._prev == {x2, w2}, "`x2w2` muss das Produkt `x2 * w2` sein."
    assert x1w1x2w2._op == "+" and x1w1x2w2._prev == {x1w1, x2w2}, (
        "`x1w1x2w2` muss die Summe `x1w1 + x2w2` der beiden Zwischenergebnisse sein."
    )
    assert n._op == "+" and n._prev == {x1w1x2w2, b}, "`n` muss die Summe `x1w1x2w2 + b` sein (Bias nicht vergessen)."
    assert o._op == "ReLU" and o._prev == {n}, "`o` muss `n.relu()` sein."
    _erwartet = max(0.0, x1.data * w1.data + x2.data * w2.data + b.data)
    assert math.isclose(o.data, _erwartet, abs_tol=1e-9), (
        f"o.data = {_de(o.data)}, erwartet wird ReLU(x1·w1 + x2·w2 + b) = {_de(_erwartet)}."
    )
    _labels = [globals()[_name].label for _name in _namen]
    assert all(isinstance(_l, str) and _l.strip() for _l in _labels), (
        f"Jeder der zehn Knoten braucht ein `label`, z. B. `x1w1.label = 'x1*w1'`. Bisher: {_labels}"
    )
    assert len(set(_labels)) == 10, f"Gib jedem Knoten ein eigenes `label`, bisher: {_labels}"
    bestanden("Das Neuron besteht aus den zehn verlangten Knoten.")


@_aufgabe("neuron_knoten")
def pruefe_neuron_knoten_genauer(Value, x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2, n, o) -> None:
    """Task ``neuron_knoten``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(Value=Value, x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)
    _namen = ["x1", "x2", "w1", "w2", "b", "x1w1", "x2w2", "x1w1x2w2", "n", "o"]
    for _name in ["x1", "x2", "w1", "w2", "b"]:
        assert isinstance(globals()[_name].data, (int, float)) and math.isfinite(globals()[_name].data), (
            f"`{_name}.data` soll eine gewöhnliche endliche Zahl sein (int oder float)."
        )
    assert math.isclose(x1w1.data, x1.data * w1.data, abs_tol=1e-9), "`x1w1.data` ist nicht x1.data · w1.data."
    assert math.isclose(x2w2.data, x2.data * w2.data, abs_tol=1e-9), "`x2w2.data` ist nicht x2.data · w2.data."
    assert math.isclose(n.data, x1w1x2w2.data + b.data, abs_tol=1e-9), "`n.data` ist nicht x1w1x2w2.data + b.data."
    _alle, _todo = set(), [o]
    while _todo:
        _v = _todo.pop()
        if _v not in _alle:
            _alle.add(_v)
            _todo.extend(_v._prev)
    assert _alle == {globals()[_name] for _name in _namen}, (
        f"Der Graph von `o` soll genau die zehn Knoten enthalten, er hat {len(_alle)}: "
        "Rechne mit den Zwischenergebnissen weiter, statt Produkte oder Summen noch einmal zu bilden."
    )


@_aufgabe("backward_add")
def pruefe_backward_add(Value) -> None:
    """Task ``backward_add`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _a, _b = Value(2.0, label="a"), Value(-3.0, label="b")
    _c = _a + _b
    assert _c.data == -1.0 and _c._prev == {_a, _b}, "Die Vorwärtsrechnung von `__add__` stimmt nicht mehr."
    _c.grad = 1.0
    _c._backward()
    assert _a.grad == 1.0 and _b.grad == 1.0, (
        f"Für c = a + b mit c.grad = 1 erwartet: a.grad = b.grad = 1, erhalten: {_de(_a.grad)} und {_de(_b.grad)}."
    )
    _a, _b = Value(4.0), Value(5.0)
    _c = _a + _b
    _c.grad = -2.5
    _c._backward()
    assert _nah(_a.grad, -2.5) and _nah(_b.grad, -2.5), (
        f"Mit c.grad = -2,5 erwartet: a.grad = b.grad = -2,5, erhalten: {_de(_a.grad)} und {_de(_b.grad)}. "
        "Verwendest du `out.grad`?"
    )
    bestanden("`_backward` der Addition reicht den Gradienten richtig weiter.")


@_aufgabe("backward_add")
def pruefe_backward_add_genauer(Value) -> None:
    """Task ``backward_add``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _rng = random.Random(1)
    _faelle = [(_rng.uniform(-5, 5), _rng.uniform(-5, 5), _rng.uniform(-3, 3)) for _ in range(20)]
    _as, _bs = each(Value, [_f[0] for _f in _faelle]), each(Value, [_f[1] for _f in _faelle])
    _cs = [_a + _b for _a, _b in zip(_as, _bs, strict=True)]
    each(_setattr, _cs, ["grad"] * 20, [_f[2] for _f in _faelle])
    each(_rueckwaerts, _cs)
    for (_x, _y, _g), _ga, _gb, _dc in zip(
        _faelle, each(_lies_grad, _as), each(_lies_grad, _bs), each(_lies_data, _cs), strict=True
    ):
        _tx, _ty = _t(_x), _t(_y)
        (_tx + _ty).backward(torch.tensor(_g, dtype=torch.float64))
        assert _nah(_ga, _tx.grad.item()) and _nah(_gb, _ty.grad.item()), (
            f"Für a = {_de(_x)}, b = {_de(_y)} und out.grad = {_de(_g)} erwartet: a.grad = b.grad = {_de(_g)}, "
            f"erhalten: {_de(_ga)} und {_de(_gb)}."
        )
        assert _nah(_dc, _x + _y), "Die Vorwärtsrechnung von `__add__` stimmt nicht mehr."
    _a, _b, _c = Value(1.0), Value(2.0), Value(3.0)
    _s = _a + _b
    _u = _s + _c
    _u.grad = 3.0
    _u._backward()
    _s._backward()
    _a._backward()
    assert [_a.grad, _b.grad, _c.grad, _s.grad] == [3.0, 3.0, 3.0, 3.0], (
        "Bei u = (a + b) + c mit u.grad = 3 sollen a, b, c und a + b alle den Gradienten 3 bekommen."
    )


@_aufgabe("backward_mul")
def pruefe_backward_mul(Value) -> None:
    """Task ``backward_mul`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _a, _b = Value(-2.0), Value(5.0)
    _c = _a * _b
    assert _c.data == -10.0 and _c._prev == {_a, _b}, "Die Vorwärtsrechnung von `__mul__` stimmt nicht mehr."
    _c.grad = 3.0
    _c._backward()
    assert _nah(_b.grad, -6.0), (
        f"b.grad = {_de(_b.grad)}, erwartet a.data · out.grad = -2 · 3 = -6: "
        "Jeder Faktor bekommt den Wert des anderen Faktors mal out.grad."
    )
    assert _nah(_a.grad, 15.0), f"a.grad = {_de(_a.grad)}, erwartet b.data · out.grad = 5 · 3 = 15."
    bestanden("`_backward` der Multiplikation reicht den Gradienten richtig weiter.")


@_aufgabe("backward_mul")
def pruefe_backward_mul_genauer(Value) -> None:
    """Task ``backward_mul``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _rng = random.Random(2)
    _faelle = [(_rng.uniform(-5, 5), _rng.uniform(-5, 5), _rng.uniform(-3, 3)) for _ in range(20)]
    _as, _bs = each(Value, [_f[0] for _f in _faelle]), each(Value, [_f[1] for _f in _faelle])
    _cs = [_a * _b for _a, _b in zip(_as, _bs, strict=True)]
    each(_setattr, _cs, ["grad"] * 20, [_f[2] for _f in _faelle])
    each(_rueckwaerts, _cs)
    for (_x, _y, _g), _ga, _gb in zip(_faelle, each(_lies_grad, _as), each(_lies_grad, _bs), strict=True):
        _tx, _ty = _t(_x), _t(_y)
        (_tx * _ty).backward(torch.tensor(_g, dtype=torch.float64))
        assert _nah(_ga, _tx.grad.item()) and _nah(_gb, _ty.grad.item()), (
            f"Für a = {_de(_x)}, b = {_de(_y)} und out.grad = {_de(_g)} erwartet: a.grad = {_de(_tx.grad.item())} "
            f"und b.grad = {_de(_ty.grad.item())}, erhalten: {_de(_ga)} und {_de(_gb)}."
        )
    _a, _b = Value(0.0), Value(4.0)
    _c = _a * _b
    _c.grad = 2.5
    _c._backward()
    assert _nah(_a.grad, 10.0) and _nah(_b.grad, 0.0), (
        f"Für a = 0, b = 4 und out.grad = 2,5 erwartet: a.grad = 10 und b.grad = 0, erhalten: {_de(_a.grad)} und "
        f"{_de(_b.grad)}. Nimm den Wert des anderen Faktors mal out.grad (nicht out.data geteilt durch den Faktor)."
    )
    _a, _b, _c = Value(2.0), Value(-3.0), Value(10.0)
    _e = _a * _b
    _d = _e + _c
    _d.grad = -2.0
    _d._backward()
    _e._backward()
    assert [_a.grad, _b.grad, _c.grad] == [6.0, -4.0, -2.0], (
        f"Für d = a·b + c mit a = 2, b = -3 und d.grad = -2 erwartet: a.grad = 6, b.grad = -4, c.grad = -2, "
        f"erhalten: {_de(_a.grad)}, {_de(_b.grad)}, {_de(_c.grad)}."
    )


@_aufgabe("backward_relu")
def pruefe_backward_relu(Value) -> None:
    """Task ``backward_relu`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _n = Value(2.0)
    _o = _n.relu()
    assert _o.data == 2.0 and _o._prev == {_n}, "Die Vorwärtsrechnung von `relu` stimmt nicht mehr."
    assert _nah(_relu_grad(2.0, 5.0), 5.0), (
        f"Für n = 2 > 0 reicht ReLU den Gradienten durch: erwartet n.grad = 5, erhalten {_de(_relu_grad(2.0, 5.0))}."
    )
    assert _nah(_relu_grad(-3.0, 5.0), 0.0), (
        f"Für n = -3 < 0 ist ReLU konstant: erwartet n.grad = 0, erhalten {_de(_relu_grad(-3.0, 5.0))}."
    )
    assert _nah(_relu_grad(0.0, 5.0), 0.0), (
        f"Für n = 0 ist die Ableitung laut Aufgabe 0 (wie in PyTorch): erwartet n.grad = 0, "
        f"erhalten {_de(_relu_grad(0.0, 5.0))}. Reiche den Gradienten nur für n > 0 durch."
    )
    bestanden("`_backward` der ReLU reicht den Gradienten richtig weiter.")


@_aufgabe("backward_relu")
def pruefe_backward_relu_genauer(Value) -> None:
    """Task ``backward_relu``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _rng = random.Random(3)
    _faelle = [(_rng.uniform(-5, 5), _rng.uniform(-3, 3)) for _ in range(30)]
    for (_x, _g), _ist in zip(_faelle, _relu_grads([_f[0] for _f in _faelle], [_f[1] for _f in _faelle]), strict=True):
        _tx = _t(_x)
        torch.relu(_tx).backward(torch.tensor(_g, dtype=torch.float64))
        assert _nah(_ist, _tx.grad.item()), (
            f"Für n = {_de(_x)} und out.grad = {_de(_g)} erwartet: n.grad = {_de(_tx.grad.item())}, "
            f"erhalten {_de(_ist)}."
        )
    assert _nah(_relu_grad(0.5, -2.0), -2.0), "Für n = 0,5 und out.grad = -2 erwartet: n.grad = -2."
    _faelle = [(_null, _g) for _null in (0, 0.0, -0.0) for _g in (1.0, -2.5)]
    for (_null, _g), _ist in zip(
        _faelle, _relu_grads([_f[0] for _f in _faelle], [_f[1] for _f in _faelle]), strict=True
    ):
        assert _nah(_ist, 0.0), (
            f"Für n = 0 und out.grad = {_de(_g)} erwartet: n.grad = 0 (an der Stelle 0 ist die Ableitung 0), "
            f"erhalten {_de(_ist)}."
        )
    assert _nah(_relu_grad(1e-12, 4.0), 4.0), "Für ein winziges n > 0 reicht ReLU den Gradienten durch."
    assert _nah(_relu_grad(-1e-12, 4.0), 0.0), "Für ein winziges n < 0 ist die Ableitung 0."


@_aufgabe("manuelles_backward")
def pruefe_manuelles_backward(o, n, x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2) -> None:
    """Task ``manuelles_backward`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(o=o, n=n, x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2)
    assert o.grad == 1, f"o.grad = {_de(o.grad)}: Die Ableitung von o nach o ist 1, setze `o.grad = 1`."
    _fehlt = [k for k in ("o", "n", "x1*w1 + x2*w2", "x1*w1", "x2*w2") if k not in list(getattr(o, "aufrufe", []))]
    assert not _fehlt, (
        f"Bei den Knoten {', '.join(_fehlt)} hast du `_backward()` nicht aufgerufen. Setze die Gradienten nicht von "
        "Hand, sondern lass jeden Knoten sie mit seinem `_backward()` weiterreichen, vom Ergebnis zu den Eingaben."
    )
    _r = 1.0 if n.data > 0 else 0.0
    _erwartet = {"x1": _r * w1.data, "w1": _r * x1.data, "x2": _r * w2.data, "w2": _r * x2.data, "b": _r}
    for _name, _wert in _erwartet.items():
        _ist = globals()[_name].grad
        assert _nah(_ist, _wert), (
            f"{_name}.grad = {_de(_ist)}, erwartet {_de(_wert)}. Rufe `_backward` vom Ergebnis zu den Eingaben auf: "
            "Ein Knoten darf seinen Gradienten erst weiterreichen, wenn sein eigener fertig ist."
        )
    bestanden("Die Gradienten des Neurons stimmen.")


@_aufgabe("manuelles_backward")
def pruefe_manuelles_backward_genauer(o, n, x1, x2, w1, w2, b, x1w1, x2w2, x1w1x2w2) -> None:
    """Task ``manuelles_backward``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(o=o, n=n, x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2)
    _tl = {_name: _t(globals()[_name].data) for _name in ["x1", "x2", "w1", "w2", "b"]}
    _tx1w1 = _tl["x1"] * _tl["w1"]
    _tx2w2 = _tl["x2"] * _tl["w2"]
    _ts = _tx1w1 + _tx2w2
    _tn = _ts + _tl["b"]
    for _tz in (_tx1w1, _tx2w2, _ts, _tn):
        _tz.retain_grad()
    torch.relu(_tn).backward()
    for _name, _tz in _tl.items():
        assert _nah(globals()[_name].grad, _tz.grad.item()), (
            f"{_name}.grad = {_de(globals()[_name].grad)}, PyTorch rechnet {_de(_tz.grad.item())}."
        )
    for _v, _tz in ((x1w1, _tx1w1), (x2w2, _tx2w2), (x1w1x2w2, _ts), (n, _tn)):
        assert _nah(_v.grad, _tz.grad.item()), (
            f"Der Zwischenknoten {_v.label} hat den Gradienten {_de(_v.grad)}, PyTorch rechnet {_de(_tz.grad.item())}."
        )


@_aufgabe("topo_sort")
def pruefe_topo_sort(build_topo, Value) -> None:
    """Task ``topo_sort`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(build_topo=build_topo, Value=Value)
    _a, _b = Value(2.0, label="a"), Value(-3.0, label="b")
    _c = _a * _b
    _d = _c + _a
    _e = (_d * _c).relu()
    _pruefe_topo(_e, "Graph relu((a·b + a) · (a·b))")
    assert build_topo(_e)[-1] is _e, "Der letzte Knoten muss die Wurzel `root` selbst sein."
    bestanden("`build_topo` sortiert die Knoten topologisch.")


@_aufgabe("topo_sort")
def pruefe_topo_sort_genauer(build_topo, Value) -> None:
    """Task ``topo_sort``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(build_topo=build_topo, Value=Value)
    _einzeln = Value(1.0)
    assert list(build_topo(_einzeln)) == [_einzeln], "Ein einzelner Wert ohne Eingaben ergibt die Liste [root]."
    _rng = random.Random(4)
    for _ in range(15):
        _knoten = each(Value, [_rng.uniform(-1, 1) for _ in range(4)])
        for _ in range(12):
            _i = len(_knoten) - 1 if _rng.random() < 0.5 else _rng.randrange(len(_knoten))
            _j = _rng.randrange(len(_knoten))
            _art = _rng.choice(["+", "*", "relu"])
            if _art == "+":
                _knoten.append(_knoten[_i] + _knoten[_j])
            elif _art == "*":
                _knoten.append(_knoten[_i] * _knoten[_j])
            else:
                _knoten.append(_relu(_knoten[_i]))
        _pruefe_topo(_knoten[-1], "Zufallsgraph", _knoten)
        _pruefe_topo(_knoten[-1], "Zufallsgraph, zweiter Aufruf", _knoten)


@_aufgabe("backward_methode")
def pruefe_backward_methode(Value) -> None:
    """Task ``backward_methode`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _x1, _x2, _w1, _w2, _b = Value(2.0), Value(-1.0), Value(1.5), Value(0.5), Value(0.5)
    _o = ((_x1 * _w1) + (_x2 * _w2) + _b).relu()
    _o.backward()
    assert _o.grad == 1, f"o.grad = {_de(_o.grad)}: `backward()` muss den Gradienten der Wurzel auf 1 setzen."
    _ist = [_x1.grad, _w1.grad, _x2.grad, _w2.grad, _b.grad]
    assert all(_nah(_i, _s) for _i, _s in zip(_ist, [1.5, 2.0, 0.5, -1.0, 1.0], strict=True)), (
        f"Gradienten (x1, w1, x2, w2, b) = ({'; '.join(_de(_i) for _i in _ist)}), erwartet (1,5; 2; 0,5; -1; 1). "
        "Rufst du `_backward` in umgekehrter topologischer Reihenfolge auf (Wurzel zuerst)?"
    )
    bestanden("`backward()` berechnet die Gradienten wie PyTorch.")


@_aufgabe("backward_methode")
def pruefe_backward_methode_genauer(Value) -> None:
    """Task ``backward_methode``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _rng = random.Random(5)
    for _i in range(20):
        _bl, _tb, _w, _tw = _zufallsbaum(_rng, Value, _rng.randint(2, 6))
        _w.backward()
        _vergleiche(_bl, _tb, _tw, f"Zufälliger Ausdruck Nr. {_i}")
    _rng = random.Random(6)
    for _i in range(20):
        _pruefe_reihenfolge(_rng, f"Graph mit mehrfach verwendeten Knoten Nr. {_i}")


@_aufgabe("gradienten_akkumulieren")
def pruefe_gradienten_akkumulieren(Value) -> None:
    """Task ``gradienten_akkumulieren`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _a = Value(3.0)
    _b = _a + _a
    _ref_backward(_b)
    assert _nah(_a.grad, 2.0), (
        f"b = a + a: erwartet a.grad = 2, erhalten {_de(_a.grad)}. Summiere die Beiträge mit `+=`."
    )
    _a, _b = Value(-2.0), Value(3.0)
    _g = (_a * _b) * (_a + _b)
    _ref_backward(_g)
    assert _nah(_a.grad, -3.0) and _nah(_b.grad, -8.0), (
        f"g = (a·b)·(a+b) mit a = -2, b = 3: erwartet a.grad = -3, b.grad = -8 (wie PyTorch), "
        f"erhalten {_de(_a.grad)} und {_de(_b.grad)}. Addieren alle drei `_backward`-Funktionen ihren Beitrag?"
    )
    bestanden("Mehrfach verwendete Knoten sammeln ihre Gradienten.")


@_aufgabe("gradienten_akkumulieren")
def pruefe_gradienten_akkumulieren_genauer(Value) -> None:
    """Task ``gradienten_akkumulieren``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(Value=Value)
    _a = Value(1.5)
    _ref_backward(_a * _a)
    assert _nah(_a.grad, 3.0), f"a · a mit a = 1,5: erwartet a.grad = 3, erhalten {_de(_a.grad)}."
    _a = Value(1.5)
    _ref_backward(_relu(_a) + _a)
    assert _nah(_a.grad, 2.0), f"relu(a) + a mit a = 1,5: erwartet a.grad = 2, erhalten {_de(_a.grad)}."
    _a = Value(-1.5)
    _ref_backward(_relu(_a) + _a)
    assert _nah(_a.grad, 1.0), f"relu(a) + a mit a = -1,5: erwartet a.grad = 1, erhalten {_de(_a.grad)}."
    _a = Value(0.7)
    _r = _relu(_a)
    _ref_backward(_r + _r)
    assert _nah(_a.grad, 2.0), f"r + r mit r = relu(a), a = 0,7: erwartet a.grad = 2, erhalten {_de(_a.grad)}."
    _rng = random.Random(7)
    for _i in range(25):
        _bl, _tb, _w, _tw, _kn = _zufallsgraph(_rng, Value, 3, 10)
        _ref_backward(_w, _kn)
        _vergleiche(_bl, _tb, _tw, f"Graph mit mehrfach verwendeten Knoten Nr. {_i}")


@_aufgabe("mlp_training")
def pruefe_mlp_training(Value, MLP, trainingsschritt, modell, verluste) -> None:
    """Task ``mlp_training`` (visible part of its test cell)."""
    __tracebackhide__ = True
    _abgabe(Value=Value, MLP=MLP, trainingsschritt=trainingsschritt, modell=modell, verluste=verluste)
    _zufall.seed(3)
    _m = MLP(3, [4, 4, 1])
    _p = _m.parameters()
    assert _p is not None and len(_p) == 41, (
        f"MLP(3, [4, 4, 1]) hat 3·4+4 + 4·4+4 + 4·1+1 = 41 Parameter, `parameters()` liefert "
        f"{'nichts' if _p is None else len(_p)}."
    )
    assert all(_ja is True for _ja in each(_isinstance, _p, [Value] * len(_p))), (
        "`parameters()` soll die `Value`-Objekte selbst liefern."
    )
    _struktur = {identity(_q) for _s in _neuronen(_m) for _w, _b in _s for _q in [*_w, _b]}
    assert {identity(_q) for _q in _p} == _struktur, (
        "`parameters()` muss jedes Gewicht und jeden Bias genau einmal enthalten."
    )
    _y = _wert(_m(_xs[0]))
    assert isinstance(_y, Value), (
        f"Bei einem Ausgabeneuron soll das MLP einen `Value` liefern, nicht {type(_y).__name__}."
    )
    _ref = _vorwaerts(_gewichte(_m), _xs[0]).item()
    assert math.isclose(_y.data, _ref, abs_tol=1e-9), (
        f"Ausgabe des MLP: {_de(_y.data)}, erwartet {_de(_ref)}. Jedes Neuron rechnet tanh(w · x + b), "
        "die Schichten nacheinander."
    )
    _pruefe_schritt(_m, _xs, _ys, 0.05, "Trainingsschritt")
    _zuletzt["mlp"] = _m
    _endverlust = sum((_vorwaerts(_gewichte(modell), _x).item() - _z) ** 2 for _x, _z in zip(_xs, _ys, strict=True))
    assert _endverlust < 0.1, (
        f"Nach dem Training ist der Verlust von `modell` {_de(_endverlust)}, erwartet wird weniger als 0,1."
    )
    bestanden("Das MLP rechnet und trainiert wie verlangt.")


@_aufgabe("mlp_training")
def pruefe_mlp_training_genauer(Value, MLP, trainingsschritt, modell, verluste) -> None:
    """Task ``mlp_training``: the hidden part of its test cell (more cases)."""
    __tracebackhide__ = True
    _abgabe(Value=Value, MLP=MLP, trainingsschritt=trainingsschritt, modell=modell, verluste=verluste)
    _m = _zuletzt["mlp"]
    _gew = _gewichte(_m)
    for _x in _xs + [[0.3, -0.7, 1.2]]:
        assert math.isclose(_wert(_m(_x)).data, _vorwaerts(_gew, _x).item(), abs_tol=1e-9), (
            f"Für die Eingabe {_x} weicht die Ausgabe des MLP von tanh(w · x + b), Schicht für Schicht, ab."
        )
    _zufall.seed(11)
    _m2 = MLP(2, [3, 1])
    assert len(_m2.parameters()) == 13, (
        f"MLP(2, [3, 1]) hat 2·3+3 + 3·1+1 = 13 Parameter, `parameters()` liefert {len(_m2.parameters())}."
    )
    _xs2 = [[1.0, -2.0], [0.5, 0.5], [-1.0, 1.5]]
    _ys2 = [1.0, -1.0, 0.5]
    _gew = _gewichte(_m2)
    for _x in _xs2:
        assert math.isclose(_wert(_m2(_x)).data, _vorwaerts(_gew, _x).item(), abs_tol=1e-9), (
            f"MLP(2, [3, 1]): Für die Eingabe {_x} weicht die Ausgabe von tanh(w · x + b), Schicht für Schicht, ab."
        )
    _pruefe_schritt(_m2, _xs2, _ys2, 0.1, "MLP(2, [3, 1])")
    _zufall.seed(12)
    _m3 = MLP(3, [4, 4, 1])
    _pruefe_schritt(_m3, _xs, _ys, 0.2, "MLP(3, [4, 4, 1]), Lernrate 0,2")
    assert verluste[-1] < verluste[0], "Beim Training von `modell` soll der Verlust sinken."
