"""The test-author vocabulary (course.checks) on plain objects: what passes, what fails, and what it says.

These run in one process (no kernels): the objects are real, as in JupyterLab.  The same checks with the
student's objects as references of the trusted kernel are run by the notebooks' grading tests
(tests/test_0*.py) and compared with a plain kernel in tests/test_visible_tests.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course.cells import PASS_MARK
from course.checks import (
    aufruf,
    form_text,
    ohne_gradienten,
    pruefe_funktion,
    pruefe_modell,
    pruefe_namen,
    pruefe_tensor,
    pruefe_training,
    pruefe_zahl,
    vorhersage,
    zahl_text,
    zufallstensor,
)
from course.testing import each_with_inputs


def fails(check, *args, **kwargs) -> str:
    """The message of a failing check (it must fail with AssertionError and print nothing)."""
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


def passes(capsys, check, *args, **kwargs) -> str:
    check(*args, **kwargs)
    out = capsys.readouterr()
    assert out.err == ""
    return out.out


def test_texts():
    assert zahl_text(2.5) == "2,5" and zahl_text(10) == "10" and zahl_text(1 / 3) == "0,333333"
    assert (
        zahl_text(True) == "wahr" and zahl_text(float("nan")) == "nan" and zahl_text(-float("inf")) == "minus unendlich"
    )
    assert form_text(torch.Size([5, 3])) == "(5, 3)" and form_text((3,)) == "(3,)" and form_text(()) == "()"


def test_a_passing_check_prints_one_line_on_stdout(capsys):
    out = passes(capsys, pruefe_zahl, "ausgabe", 10.0, 10)
    assert out == PASS_MARK + "`ausgabe` = 10 stimmt.\n"
    assert passes(capsys, pruefe_zahl, "ausgabe", 10.0, 10, leise=True) == ""


def test_names(capsys):
    ausgabe = 1  # noqa: F841 - looked up in the caller's globals, not locals
    message = fails(pruefe_namen, "gibt_es_nicht")
    assert message == "`gibt_es_nicht` fehlt noch: Führe zuerst deine Lösungszelle oben aus (und die Zellen davor)."
    assert "die Zellen oben" in fails(pruefe_namen, "gibt_es_nicht", zelle="die Zellen oben")
    assert passes(capsys, pruefe_namen, "pytest", "torch") == ""  # silent: a precondition


def test_number():
    hint = {7: "Du hast den Bias vergessen."}
    assert fails(pruefe_zahl, "ausgabe", 7, 10, falsch=hint) == (
        "`ausgabe` stimmt noch nicht: erwartet 10, bekommen 7. Tipp: Du hast den Bias vergessen."
    )
    assert fails(pruefe_zahl, "ausgabe", 13.5, 10, verraten=False) == (
        "`ausgabe` stimmt noch nicht: erwartet einen anderen Wert, bekommen 13,5."
    )
    assert "Wahrheitswert" in fails(pruefe_zahl, "ausgabe", True, 1)
    assert "vom Typ str" in fails(pruefe_zahl, "ausgabe", "10", 10)
    assert "2 Werte" in fails(pruefe_zahl, "ausgabe", torch.ones(2), 10)
    assert "keine endliche Zahl" in fails(pruefe_zahl, "ausgabe", float("nan"), 10)
    assert "return" in fails(pruefe_zahl, "ausgabe", None, 10)
    assert "ganze Zahl" in fails(pruefe_zahl, "n", 4.5, 4.5, ganzzahlig=True)
    # one-value tensors (also with gradients) and NumPy numbers are numbers
    for value in (torch.tensor([10.0], requires_grad=True) * 1, torch.tensor(10), np.float64(10.0), np.array([10])):
        pruefe_zahl("ausgabe", value, 10, leise=True)
    # a hint for a wrong value never overrides a right one
    pruefe_zahl("ausgabe", 10, 10, falsch={10: "falsch"}, leise=True)


def test_tensor():
    assert fails(pruefe_tensor, "x_rnd", torch.rand(3, 5), form=(5, 3)).startswith(
        "`x_rnd` hat die falsche Form: erwartet (5, 3), bekommen (3, 5). Tipp: Zeilen und Spalten sind vertauscht"
    )
    assert "Gleitkommazahlen" in fails(pruefe_tensor, "x", torch.tensor([1, 2, 3]), gleitkomma=True)
    assert "überall denselben Wert" in fails(pruefe_tensor, "x", torch.ones(5, 3), verschieden=True)
    assert "unendliche Werte oder nan" in fails(pruefe_tensor, "x", torch.tensor([1.0, float("inf")]))
    assert "soll ein Tensor sein" in fails(pruefe_tensor, "x", [1.0, 2.0])
    assert "soll ein Tensor sein" in fails(pruefe_tensor, "x", np.zeros(2))  # NumPy only when asked for
    pruefe_tensor("x", np.zeros(2), np.zeros(2), leise=True)
    pruefe_tensor("x", torch.rand(1, 3), form=[(3,), (1, 3)], leise=True)
    assert "erwartet [1; 2], bekommen [1; 3]" in fails(pruefe_tensor, "y", torch.tensor([1.0, 3.0]), [1.0, 2.0])
    assert "größte Abweichung 1" in fails(pruefe_tensor, "y", torch.ones(20), torch.zeros(20))
    exact = fails(pruefe_tensor, "y", torch.tensor([1.0 + 1e-7]), torch.tensor([1.0]), toleranz=0, relativ=0)
    assert "stimmt noch nicht" in exact


def test_tensor_gradient():
    x = torch.tensor(2.0, requires_grad=True)
    (x**2).backward()
    pruefe_tensor("x", x, 2.0, gradient=4.0, leise=True)
    assert "`x.grad` stimmt noch nicht: erwartet 5, bekommen 4" in fails(pruefe_tensor, "x", x, 2.0, gradient=5.0)
    assert "zeichnet keine Gradienten auf" in fails(pruefe_tensor, "x", torch.tensor(2.0), 2.0, gradient=4.0)
    assert "`x.grad` ist leer" in fails(pruefe_tensor, "x", torch.tensor(2.0, requires_grad=True), 2.0, gradient=4.0)


def relu(x):
    return torch.maximum(x, torch.zeros_like(x))


def test_function_over_a_table(capsys):
    cases = [torch.tensor([3, -2, 0]), torch.randn(3, 4)]
    out = passes(capsys, pruefe_funktion, "relu", relu, cases, referenz=torch.relu, ergebnis="tensor", toleranz=0,
                 relativ=0, unveraendert=True)  # fmt: skip
    assert out == PASS_MARK + "`relu` stimmt für beide Eingaben.\n"
    kwargs = {"referenz": torch.relu, "ergebnis": "tensor", "unveraendert": True}
    assert "verändert seine Eingabe" in fails(pruefe_funktion, "relu", lambda x: x.clamp_(min=0), cases, **kwargs)
    assert "(Werte, Indizes)" in fails(pruefe_funktion, "relu", lambda x: torch.max(x, 0), cases, **kwargs)
    assert "zusammengefasst" in fails(pruefe_funktion, "relu", lambda x: torch.relu(x).sum(), cases, **kwargs)
    assert "fehlt die Dimension 0" in fails(
        pruefe_funktion, "relu", lambda x: torch.relu(x).sum(0), [torch.randn(3, 4)], **kwargs
    )
    assert "soll eine Funktion sein" in fails(pruefe_funktion, "relu", 5.0, cases, **kwargs)


def test_function_numbers_and_hints():
    hints = {10.0: "Teile noch durch die Anzahl."}
    message = fails(pruefe_funktion, "mse", lambda a, b: ((a - b) ** 2).sum(), [(torch.tensor([3.0, 4.0]),
                    torch.tensor([6.0, 5.0]))], erwartet=[5.0], falsch=hints)  # fmt: skip
    assert message == (
        "`mse(torch.tensor([3.0, 4.0]), torch.tensor([6.0, 5.0]))` stimmt noch nicht: erwartet 5, bekommen 10. "
        "Tipp: Teile noch durch die Anzahl."
    )
    assert "Typ Tensor" in fails(
        pruefe_funktion, "f", lambda x: torch.tensor(x), [1.0], erwartet=[1.0], ergebnis="zahl"
    )
    assert "gibt nichts zurück" in fails(pruefe_funktion, "f", lambda x: None, [1.0], erwartet=[1.0])
    pruefe_funktion("f", lambda x: torch.tensor([x]), [1.0, 2.0], referenz=float, leise=True)  # one-value tensors
    # several results by name, with a hint per part
    hand = fails(pruefe_funktion, "g", lambda x: (x, 2 * x), [3], erwartet=[(3, 9)], ergebnis="zahlen",
                 teile=["a", "b"], tipp={"b": "b = x²"})  # fmt: skip
    assert hand == "`g(3)`: b stimmt noch nicht: erwartet 9, bekommen 6. Tipp: b = x²"
    assert "soll 2 Werte zurückgeben" in fails(pruefe_funktion, "g", lambda x: x, [3], erwartet=[(3, 9)],
                                                 ergebnis="zahlen")  # fmt: skip


def stub(x):
    raise NotImplementedError()


def test_errors_of_the_students_code_fail_in_german():
    message = fails(pruefe_funktion, "relu", stub, [1.0, 2.0], erwartet=[1.0, 2.0], aufgabe="relu")
    assert message.startswith("Aufgabe `relu` ist noch nicht gelöst: `relu(1.0)` löst NotImplementedError aus.")
    assert "Ersetze `raise NotImplementedError()`" in message
    # the failing case is named, also when only a later case fails
    assert "`f(0)` löst einen Fehler aus: ZeroDivisionError: division by zero." == fails(
        pruefe_funktion, "f", lambda x: 1 / x, [1, 0], erwartet=[1, 0]
    )
    net = torch.nn.Sequential(torch.nn.Linear(784, 10))
    shape = fails(vorhersage, net, torch.zeros(4, 1, 28, 28), "net")
    assert "bekommt 28 Werte pro Beispiel, erwartet aber 784" in shape and "torch.nn.Flatten()" in shape
    other = fails(aufruf, torch.zeros(2, 3).view, 4, text="`x.view(4)`")
    assert other.startswith("`x.view(4)` scheitert an den Formen der Tensoren")
    with pytest.raises(KeyboardInterrupt):  # an interrupt (a cell's timeout) is never turned into a message
        aufruf(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))


def test_model():
    net = torch.nn.Sequential(torch.nn.Linear(10, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    pruefe_modell("net", net, typ=torch.nn.Sequential, bausteine=["Linear", "ReLU", "Linear"], linear=[(10, 3), (3, 1)],
                  mit_bias=True, parameter=37, eingabe=torch.zeros(4, 10), ausgabe_form=(4, 1), leise=True)  # fmt: skip
    assert "erwartet `torch.nn.Linear`, bekommen Sequential" in fails(pruefe_modell, "net", net, typ=torch.nn.Linear)
    assert "erwartet 2: Linear, Linear, bekommen 3: Linear, ReLU, Linear" in fails(
        pruefe_modell, "net", net, bausteine=["Linear", "Linear"]
    )
    assert "erwartet (10, 4), (4, 1), bekommen (10, 3), (3, 1)" in fails(
        pruefe_modell, "net", net, linear=[(10, 4), (4, 1)]
    )
    assert "erwartet 38, bekommen 37" in fails(pruefe_modell, "net", net, parameter=38)
    assert "falsche Form: erwartet (4, 2)" in fails(
        pruefe_modell, "net", net, eingabe=torch.zeros(4, 10), ausgabe_form=(4, 2)
    )
    no_bias = torch.nn.Sequential(torch.nn.Linear(1, 2, bias=False))
    assert "keinen Bias" in fails(pruefe_modell, "net", no_bias, mit_bias=True)
    pruefe_modell("layer", torch.nn.Linear(3, 10), typ=torch.nn.Linear, linear=[(3, 10)], leise=True)  # itself


def test_predictions_run_without_gradients():
    net = torch.nn.Linear(2, 1)
    y = vorhersage(net, torch.zeros(3, 2))
    assert not y.requires_grad
    with ohne_gradienten():
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()


def test_training_result(capsys):
    assert passes(capsys, pruefe_training, "Der MSE", torch.tensor(0.05), hoechstens=0.2) == (
        PASS_MARK + "Der MSE ist 0,05.\n"
    )
    assert fails(pruefe_training, "Der MSE", 0.5, hoechstens=0.2, tipp="Trainiere länger.") == (
        "Der MSE ist noch zu groß: erwartet höchstens 0,2, bekommen 0,5. Tipp: Trainiere länger."
    )
    assert "noch zu klein: erwartet mindestens 0,9" in fails(pruefe_training, "Die Genauigkeit", 0.8, mindestens=0.9)
    assert "keine endliche Zahl" in fails(pruefe_training, "Der MSE", float("nan"), hoechstens=0.2)


def test_test_data_is_the_same_every_time():
    assert torch.equal(zufallstensor(3, 2, seed=4), zufallstensor(3, 2, seed=4))
    assert zufallstensor(3, seed=1, dtype=torch.float64).dtype == torch.float64


def test_each_with_inputs_outside_grading():
    x = torch.tensor([-1.0, 2.0])
    results, (after,) = each_with_inputs(lambda t: t.clamp_(min=0), [x])
    assert torch.equal(after[0], torch.tensor([0.0, 2.0])) and torch.equal(results[0], after[0])


# --------------------------------------------------------------------------- through the trusted channel, in-process


@pytest.fixture
def student(monkeypatch):
    """The student's end in this process (``InProcessTransport``): ``student(namespace) -> (names, transport)``.

    The checks then see the student's objects as the trusted kernel does (copies and references), and
    ``course.testing.student_module`` answers from the student's end.
    """
    from course.trusted import client
    from course.trusted.transport import InProcessTransport

    def connect(namespace: dict):
        transport = InProcessTransport(namespace=namespace)
        connection = client.Connection(transport, deadline=5.0)
        monkeypatch.setattr(client, "connection", connection)
        return connection.names(list(namespace)), transport

    return connect


def sent(transport, action) -> int:
    """The number of requests ``action()`` makes."""
    before = len(transport.answers), transport.send
    count = [0]

    def counting(data, buffers):
        count[0] += 1
        return before[1](data, buffers)

    transport.send = counting
    try:
        action()
    finally:
        transport.send = before[1]
    return count[0]


def test_a_function_table_is_one_batch(student, capsys):
    names, transport = student({"relu": relu, "inplace": lambda x: x.clamp_(min=0)})
    cases = [torch.tensor([3, -2, 0]), torch.randn(3, 4), torch.randn(5)]
    first = sent(
        transport, lambda: pruefe_funktion("relu", names["relu"], cases, referenz=torch.relu, ergebnis="tensor")
    )
    more = sent(transport, lambda: pruefe_funktion("relu", names["relu"], cases * 10, referenz=torch.relu,
                                                   ergebnis="tensor"))  # fmt: skip
    assert first <= 6 and more == 2  # list(map(relu, cases)) in the student's kernel: 2 requests for 30 calls
    assert capsys.readouterr().out.count(PASS_MARK) == 2
    # in-place changes are seen in the student's kernel, still in a few requests
    message = fails(pruefe_funktion, "relu", names["inplace"], cases * 10, referenz=torch.relu, ergebnis="tensor",
                    unveraendert=True)  # fmt: skip
    assert "verändert seine Eingabe" in message
    assert sent(transport, lambda: pruefe_funktion("relu", names["relu"], cases * 10, referenz=torch.relu,
                                                   ergebnis="tensor", unveraendert=True)) <= 8  # fmt: skip


def test_errors_through_the_channel_read_as_locally(student):
    def shape(x):
        return torch.nn.Linear(784, 10)(x)

    names, _ = student({"stub": stub, "shape": shape, "f": lambda x: 1 / x})
    assert fails(pruefe_funktion, "stub", names["stub"], [1.0], erwartet=[1.0]) == fails(
        pruefe_funktion, "stub", stub, [1.0], erwartet=[1.0]
    )
    assert "erwartet aber 784" in fails(pruefe_funktion, "shape", names["shape"], [torch.zeros(2, 28)], erwartet=[0])
    assert fails(pruefe_funktion, "f", names["f"], [1, 0], erwartet=[1, 0]).startswith("`f(0)` löst einen Fehler aus")


def test_models_numbers_and_names_through_the_channel(student):
    def mlp(depth):
        layers = [torch.nn.Linear(10, 3)] + [m for _ in range(depth) for m in (torch.nn.ReLU(), torch.nn.Linear(3, 3))]
        return torch.nn.Sequential(*layers)

    names, transport = student({"klein": mlp(1), "gross": mlp(8), "wert": np.float64(2.5), "n": 5})

    def check(name):
        model, depth = names[name], 1 if name == "klein" else 8
        pruefe_modell(name, model, typ=torch.nn.Sequential, bausteine=["Linear"] + ["ReLU", "Linear"] * depth,
                      linear=[(10, 3)] + [(3, 3)] * depth, mit_bias=True, parameter=33 + 12 * depth,
                      eingabe=torch.zeros(4, 10), ausgabe_form=(4, 3), leise=True)  # fmt: skip

    check("klein")  # looks up the student's list, map, attrgetter, set_grad_enabled once
    assert sent(transport, lambda: check("klein")) == sent(transport, lambda: check("gross")) <= 16  # not per layer
    assert "bekommen 3: Linear, ReLU, Linear" in fails(pruefe_modell, "klein", names["klein"], bausteine=["Linear"])
    assert not vorhersage(names["klein"], torch.zeros(2, 10)).requires_grad
    pruefe_zahl("wert", names["wert"], 2.5, leise=True)
    pruefe_zahl("n", names["n"], 5, leise=True)
