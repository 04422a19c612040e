"""Checks of single tasks of the course's notebooks, built from :mod:`course.checks`.

A task whose reference takes more than a line (an autograd computation, a network built with the student's
class and seeded in the student's kernel) gets one check here, so that its visible test cell stays a list
of calls.  Same rules as :mod:`course.checks`: German messages in one style, one pass line, no exception
of the student's code turned into a pass.
"""

from __future__ import annotations

import numpy as np
import torch

from course.checks import _fail, aufruf, bestanden, form_text, zahl_text, zufall_festlegen
from course.testing import attribute, each, student_function

# ----------------------------------------------------------------------------------------------- 07_kettenregel


def _sigmoid_mlp_gradients(weights, biases, x, y):
    """Autograd (float64) of ``0.5 · mean((σ(… σ(x Wᵀ + b) …) - y)²)``: the gradients of biases and weights."""
    ws = [torch.tensor(np.asarray(w), dtype=torch.float64, requires_grad=True) for w in weights]
    bs = [torch.tensor(np.asarray(b), dtype=torch.float64, requires_grad=True) for b in biases]
    a = torch.tensor(np.asarray(x), dtype=torch.float64)
    for w, b in zip(ws, bs, strict=True):
        a = torch.sigmoid(a @ w.T + b)
    verlust = 0.5 * torch.mean((a - torch.tensor(np.asarray(y), dtype=torch.float64)) ** 2)
    grads = torch.autograd.grad(verlust, bs + ws)
    return [g.numpy() for g in grads[: len(bs)]], [g.numpy() for g in grads[len(bs) :]]


def pruefe_backward_numpy(klasse, eingaben: int, ausgaben: int, verdeckt: list[int], *, batch: int, seed: int):
    """``klasse(eingaben, ausgaben, verdeckt).backward(x, y)`` gives PyTorch autograd's gradients (07)."""
    __tracebackhide__ = True
    groessen = [eingaben, *verdeckt, ausgaben]
    netzname = f"Netz {groessen}, Batch {batch}"
    zufall_festlegen(seed)  # the start weights of the student's network
    netz = aufruf(
        klasse,
        eingaben,
        ausgaben,
        list(verdeckt),
        text=f"`CustomNet_Numpy` für das {netzname}",
        aufgabe="numpy_backward",
    )
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((batch, eingaben)), rng.random((batch, ausgaben))
    antwort = aufruf(netz.backward, x, y, text=f"`backward` für das {netzname}", aufgabe="numpy_backward")
    anzahl = len(groessen) - 1
    if not isinstance(antwort, tuple | list) or len(antwort) != 2:
        _fail(f"{netzname}: `backward` soll (gradient_b, gradient_w) zurückgeben", "2 Listen", type(antwort).__name__)
    gb, gw = antwort
    if len(gw) != anzahl or len(gb) != anzahl:
        _fail(
            f"{netzname}: `backward` soll eine Liste pro Art mit einem Eintrag pro Schicht zurückgeben",
            f"je {anzahl}",
            f"{len(gb)} und {len(gw)}",
        )
    ref_b, ref_w = _sigmoid_mlp_gradients(netz.weights, netz.biases, x, y)
    for nr in reversed(range(anzahl)):  # from the back: the first difference points at the faulty step
        for art, g, ref in (("der Gewichte", gw[nr], ref_w[nr]), ("des Bias", gb[nr], ref_b[nr])):
            g = np.asarray(g)
            if g.shape != ref.shape:
                _fail(
                    f"{netzname}: Der Gradient {art} von Schicht {nr + 1} hat die falsche Form (die des Parameters)",
                    form_text(ref.shape),
                    form_text(g.shape),
                    "Prüfe, ob du transponieren musst und welcher Eintrag von activations die Eingabe dieser "
                    "Schicht ist.",
                )
            if not np.allclose(g, ref, rtol=1e-6, atol=1e-9 * np.abs(ref).max()):
                _fail(
                    f"{netzname}: Der Gradient {art} von Schicht {nr + 1} weicht von PyTorch Autograd ab (größte "
                    f"Abweichung {zahl_text(np.abs(g - ref).max(), 2)})",
                    tipp="Häufige Ursachen: die Ableitung sigmoid_prime vergessen oder an der falschen Stelle "
                    "ausgewertet (an Z, nicht an A), die Gewichte einer falschen Schicht verwendet oder über den "
                    "Batch gemittelt statt summiert.",
                )
    bestanden(f"`backward` stimmt für das {netzname}.")


def _torch_reference(weights, biases, x, y):
    ws = [w.detach().clone().requires_grad_(True) for w in weights]
    a = torch.as_tensor(x, dtype=torch.float32)
    for w, b in zip(ws, biases, strict=True):
        a = torch.sigmoid(a @ w.T + b.detach())
    loss = 0.5 * torch.mean((a - torch.as_tensor(y, dtype=torch.float32)) ** 2)
    return loss.item(), list(torch.autograd.grad(loss, ws))


def _vergleiche_torch(netz, schichten, x, y, aufruf_text: str) -> None:
    __tracebackhide__ = True
    antwort = aufruf(netz.backward, x, y, text=f"`backward` ({aufruf_text})", aufgabe="torch_gradients")
    if not isinstance(antwort, tuple | list) or len(antwort) != 2:
        _fail(f"{aufruf_text}: `backward` soll (Verlust, Gradienten) zurückgeben", "2 Werte", type(antwort).__name__)
    loss, grads = antwort
    grads = [torch.as_tensor(g).detach().clone() for g in grads]
    gewichte, bias = zip(*each(attribute("weight", "bias"), schichten), strict=True)
    ref_loss, ref = _torch_reference(gewichte, bias, x, y)
    if not abs(float(loss) - ref_loss) < 1e-5:
        _fail(
            f"{aufruf_text}: Der Verlust stimmt noch nicht",
            zahl_text(ref_loss),
            zahl_text(float(loss)),
            "Verwende `self.loss_func(out, y)`.",
        )
    if len(grads) != len(ref):
        _fail(f"{aufruf_text}: Es soll einen Gradienten pro Schicht geben", str(len(ref)), str(len(grads)))
    for nr, (g, r_g) in enumerate(zip(grads, ref, strict=True), start=1):
        if tuple(g.shape) != tuple(r_g.shape):
            _fail(
                f"{aufruf_text}: Der Gradient von Schicht {nr} hat die falsche Form",
                form_text(r_g.shape),
                form_text(g.shape),
                "Sammle `layer.weight.grad`, nicht den Gradienten des Bias.",
            )
        if not torch.allclose(g.to(r_g.dtype), r_g, rtol=1e-4, atol=1e-7):
            abweichung = (g.to(r_g.dtype) - r_g).abs().max().item()
            _fail(
                f"{aufruf_text}: Der Gradient der Gewichte von Schicht {nr} weicht von Autograd ab (größte "
                f"Abweichung {zahl_text(abweichung, 2)})",
                tipp="Wird `zero_grad()` vor `backward()` aufgerufen, damit sich die Gradienten nicht aufsummieren?",
            )


def pruefe_backward_torch(
    klasse, eingaben: int, ausgaben: int, verdeckt: list[int], *, batch: int, seed: int, neue_daten: bool = True,
    numpy_daten: bool = False,
):  # fmt: skip
    """Two calls of ``klasse(...).backward(x, y)`` give autograd's loss and weight gradients (07)."""
    __tracebackhide__ = True
    groessen = [eingaben, *verdeckt, ausgaben]
    zufall_festlegen(seed)  # the start weights of the student's network
    netz = aufruf(
        klasse,
        eingaben,
        ausgaben,
        list(verdeckt),
        text=f"`CustomNet_Torch` für das Netz {groessen}",
        aufgabe="torch_gradients",
    )
    schichten = student_function("builtins", "list")(netz.layers)
    parameter = len(student_function("builtins", "list")(netz.parameters()))
    if parameter != 2 * len(schichten) or len(schichten) != len(groessen) - 1:
        _fail(
            f"Das Netz {groessen} hat die falsche Zahl registrierter Parameter (Gewichte und Bias jeder Schicht)",
            str(2 * (len(groessen) - 1)),
            str(parameter),
            "Speichere die Schichten in einer `nn.ModuleList`, nicht in einer Liste.",
        )
    g = torch.Generator().manual_seed(seed)

    def daten():
        x, y = torch.randn(batch, eingaben, generator=g), torch.rand(batch, ausgaben, generator=g)
        return (x.double().numpy(), y.numpy()) if numpy_daten else (x, y)

    x1, y1 = daten()
    _vergleiche_torch(netz, schichten, x1, y1, "Erster Aufruf" + (" mit NumPy-Daten" if numpy_daten else ""))
    x2, y2 = daten() if neue_daten else (x1, y1)
    _vergleiche_torch(netz, schichten, x2, y2, "Zweiter Aufruf" + (" mit neuen Daten" if neue_daten else ""))
    bestanden(f"`backward` stimmt für das Netz {groessen} mit Batch {batch}, zweimal hintereinander.")
