"""The test-author vocabulary: checks that compare, explain in German and print one line when they pass.

A graded test cell of this course names the student's answers and checks them, nothing else::

    from course.checks import pruefe_namen, pruefe_zahl

    pruefe_namen("ausgabe")
    pruefe_zahl("ausgabe", ausgabe, 10, falsch={7: "Du hast den Bias b = 3 vergessen."})

A failing check raises ``AssertionError`` with one German message in one style::

    `ausgabe` stimmt noch nicht: erwartet 10, bekommen 7. Tipp: Du hast den Bias b = 3 vergessen.

A passing check prints one line to stdout that starts with :data:`course.cells.PASS_MARK` (``"✔ "``); during
grading a test cell keeps only such lines, so a student can tell "passed" from "did not run". ``leise=True``
keeps a check quiet (a hidden check that repeats a visible one on more cases).

The checks
----------
- :func:`pruefe_namen` -- the names exist, else "`x` fehlt noch: Führe zuerst deine Lösungszelle oben aus ...".
  Silent when it passes (it is a precondition, not a check of its own).
- :func:`pruefe_zahl` -- a number (``int``, ``float``, a tensor or array with one value), finite, within a
  tolerance; ``falsch`` maps typical wrong values to a hint.
- :func:`pruefe_tensor` -- a tensor (or NumPy array): type, shape (one or several allowed), floating point or
  an exact dtype, finite, values against a reference with a tolerance.
- :func:`pruefe_funktion` -- a function over a table of inputs against a reference function or expected
  values; optionally "the inputs stay unchanged".  All calls go to the student's kernel in one batch.
- :func:`pruefe_modell` -- a ``torch.nn.Module``: its class, its layers, the ``(in, out)`` of its Linear layers,
  the number of parameters, the output shape for an input.
- :func:`pruefe_training` -- a training result: a value that must reach a bound (a loss at most, an accuracy
  at least), with the measured value in the message.

Helpers for values and calls:

- :func:`vorhersage` -- ``modell(x)`` without gradients (in both kernels), shape errors explained in German.
- :func:`ohne_gradienten` -- a context manager: ``torch.no_grad()`` here *and* in the student's kernel.
- :func:`zufall_festlegen` -- seeds ``torch``, ``numpy`` and ``random`` of the student's kernel (the kernel
  that builds the student's objects; test data comes from the test's own generators).
- :func:`aufruf` -- one call of the student's code; a stub's ``NotImplementedError`` becomes "Aufgabe … ist noch
  nicht gelöst", a shape error of PyTorch a German hint, every other error a German message with its text.
- :func:`zahl_text`, :func:`form_text` -- a number with decimal comma, a shape as ``(5, 3)``.

Every check works the same in JupyterLab (the test cell runs in the student's kernel, objects are real) and
during grading (the test cell runs in the trusted kernel, the student's objects are copies or
:class:`course.trusted.client.Ref` references): conversions, batching and seeding happen in here.  A check
never turns an exception of the student's code into a pass: it fails with a German message instead.

More examples::

    pruefe_tensor("x_rnd", x_rnd, form=(5, 3), gleitkomma=True, verschieden=True)
    pruefe_funktion("my_single_relu", my_single_relu, [-3, 0, 5, -2.5], referenz=lambda x: max(x, 0),
                    ergebnis="zahl", toleranz=0)
    pruefe_funktion("mse", mse, [(a, b)], erwartet=[5.0], ergebnis="skalar", unveraendert=True,
                    falsch={10.0: "Teile die Summe noch durch die Anzahl."})
    pruefe_modell("net_32", net_32, typ=torch.nn.Sequential, bausteine=["Linear", "ReLU", "Linear"],
                  linear=[(1, 32), (32, 1)], parameter=97, eingabe=torch.zeros(4, 1), ausgabe_form=(4, 1))
    pruefe_training("Test-MSE", vorhersage_mse, hoechstens=0.2, tipp="Trainiere länger.")
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
import sys

from course.cells import PASS_MARK
from course.testing import attribute, each, each_with_inputs, student_function

__all__ = [
    "aufruf",
    "bestanden",
    "form_text",
    "ohne_gradienten",
    "pruefe_funktion",
    "pruefe_modell",
    "pruefe_namen",
    "pruefe_tensor",
    "pruefe_training",
    "pruefe_zahl",
    "vorhersage",
    "zahl_text",
    "zufall_festlegen",
    "zufallstensor",
]


# ----------------------------------------------------------------------------------------------- texts


def zahl_text(wert, stellen: int = 6) -> str:
    """A number as German text: ``2.5 -> "2,5"``, ``1e-07 -> "1e-07"``, whole numbers without a comma."""
    if isinstance(wert, bool):
        return "wahr" if wert else "falsch"
    if isinstance(wert, numbers.Integral):
        return str(int(wert))
    wert = float(wert)
    if math.isnan(wert):
        return "nan"
    if math.isinf(wert):
        return "unendlich" if wert > 0 else "minus unendlich"
    return f"{wert:.{stellen}g}".replace(".", ",")


def form_text(form) -> str:
    """A shape as text: ``torch.Size([5, 3]) -> "(5, 3)"``, ``() -> "()"``."""
    form = tuple(int(n) for n in form)
    return "(" + ", ".join(map(str, form)) + ("," if len(form) == 1 else "") + ")"


def bestanden(text: str) -> None:
    """Print the one line of a passed check (stdout, starting with the pass mark)."""
    sys.stdout.write(PASS_MARK + text + "\n")  # one write: the line arrives as one piece
    sys.stdout.flush()


def _meldung(was: str, erwartet: str | None = None, bekommen: str | None = None, tipp: str = "") -> str:
    text = was
    if erwartet is not None and bekommen is not None:
        text += f": erwartet {erwartet}, bekommen {bekommen}."
    elif not text.endswith((".", "?", "!")):
        text += "."
    if tipp:
        text += f" Tipp: {tipp}"
    return text


def _fail(was: str, erwartet: str | None = None, bekommen: str | None = None, tipp: str = ""):
    __tracebackhide__ = True
    raise AssertionError(_meldung(was, erwartet, bekommen, tipp))


def _typname(wert) -> str:
    return type(wert).__name__


# ----------------------------------------------------------------------------------------------- the channel


def _channel_errors() -> tuple[type[BaseException], ...]:
    """Errors of the channel itself (no answer, a malformed answer): never the student's, never translated."""
    from course.trusted import client

    return tuple(e for e in (client.NoAnswer, getattr(client, "ProtocolError", None)) if isinstance(e, type))


def _fehlertext(exc: BaseException) -> tuple[str, str]:
    """``(type name, message)`` of an exception of the student's code, alike in both kernels."""
    from course.trusted.client import StudentError

    if isinstance(exc, StudentError):  # "Type: message" as the student's kernel named it
        name, _, message = str(exc).partition(": ")
        return name, message
    return type(exc).__name__, str(exc)


_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_SHAPE_WORDS = (
    "shapes cannot be multiplied",
    "size mismatch",
    "must match the size of tensor",
    "The size of tensor a",
    "Expected input batch_size",
    "to have shape",
    "expected input",
    "mismatch in shape",
    "mismatch in its core dimension",
    "could not be broadcast",
    "shape mismatch",
    "is invalid for input of size",
)


def _als_meldung(exc: BaseException, text: str, aufgabe: str | None) -> AssertionError:
    """The German failure for an exception of the student's code during ``text`` (e.g. "`mse(x, y)`")."""
    name, message = _fehlertext(exc)
    if name == "NotImplementedError":
        aufgabe_text = f"Aufgabe `{aufgabe}`" if aufgabe else "Die Aufgabe"
        return AssertionError(
            _meldung(
                f"{aufgabe_text} ist noch nicht gelöst: {text} löst NotImplementedError aus"
                + (f" ({message})" if message else ""),
                tipp="Ersetze `raise NotImplementedError()` durch deine Lösung und führe die Zelle erneut aus.",
            )
        )
    match = _MATMUL.search(message)
    if match:
        _zeilen, werte, erwartet, _neurone = (int(g) for g in match.groups())
        return AssertionError(
            _meldung(
                f"{text} scheitert an den Formen: Eine Linear-Schicht bekommt {werte} Werte pro Beispiel, "
                f"erwartet aber {erwartet}",
                tipp="Fehlt am Anfang ein `torch.nn.Flatten()`, das jedes Bild zu einem Vektor macht, oder passt "
                "`in_features` einer Schicht nicht zu den Ausgaben der Schicht davor?",
            )
        )
    if any(word in message for word in _SHAPE_WORDS):
        return AssertionError(
            _meldung(
                f"{text} scheitert an den Formen der Tensoren (PyTorch meldet: {message.splitlines()[0][:300]})",
                tipp="Gib dir mit `print(x.shape)` die Form jedes Zwischenergebnisses aus und vergleiche sie mit "
                "dem, was die nächste Operation erwartet.",
            )
        )
    first = message.splitlines()[0][:300] if message else ""
    return AssertionError(_meldung(f"{text} löst einen Fehler aus: {name}" + (f": {first}" if first else "")))


def aufruf(funktion, *args, text: str | None = None, aufgabe: str | None = None, **kwargs):
    """``funktion(*args, **kwargs)`` for a test; an error of the student's code fails in German.

    ``text`` names the call in the message (default: the function's name); ``aufgabe`` the task that a
    ``NotImplementedError`` belongs to.
    """
    __tracebackhide__ = True
    try:
        return funktion(*args, **kwargs)
    except _channel_errors():
        raise
    except Exception as exc:
        raise _als_meldung(exc, text or f"`{_name_of(funktion)}`", aufgabe) from None


def _name_of(funktion) -> str:
    try:
        name = getattr(funktion, "__name__", None)
    except Exception:  # a reference whose __name__ is not data
        name = None
    return name if isinstance(name, str) else _typname(funktion)


@contextlib.contextmanager
def ohne_gradienten():
    """``torch.no_grad()`` in this kernel and, during grading, in the student's kernel too."""
    import torch

    set_grad_enabled = student_function("torch", "set_grad_enabled")
    if set_grad_enabled is torch.set_grad_enabled:  # JupyterLab: one kernel
        with torch.no_grad():
            yield
        return
    before = student_function("torch", "is_grad_enabled")()
    set_grad_enabled(False)
    try:
        with torch.no_grad():
            yield
    finally:
        set_grad_enabled(before)


def zufall_festlegen(seed: int) -> None:
    """Seed ``torch``, ``numpy`` and ``random`` of the student's kernel (where the student's objects are built)."""
    student_function("torch", "manual_seed")(seed)
    student_function("numpy.random", "seed")(seed)
    student_function("random", "seed")(seed)


def vorhersage(modell, x, name: str = "modell"):
    """``modell(x)`` without gradients in both kernels; a shape error of the model fails with a German hint."""
    __tracebackhide__ = True
    with ohne_gradienten():
        return aufruf(modell, x, text=f"`{name}` mit einer Eingabe der Form {form_text(x.shape)}")


def zufallstensor(*form: int, seed: int = 0, dtype=None, skala: float = 1.0, verschiebung: float = 0.0):
    """Test data: ``torch.randn(*form) * skala + verschiebung`` from the test's own generator (same every run)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*form, generator=generator, dtype=dtype or torch.float32) * skala + verschiebung


# ----------------------------------------------------------------------------------------------- names


def pruefe_namen(*namen: str, zelle: str = "deine Lösungszelle oben") -> None:
    """Each name is defined in the test cell's namespace; else "`x` fehlt noch: Führe zuerst … aus".

    Call it directly from the test cell (it looks at the caller's globals).  Silent when it passes.
    """
    __tracebackhide__ = True
    namespace = sys._getframe(1).f_globals
    for name in namen:
        if name not in namespace:
            _fail(f"`{name}` fehlt noch: Führe zuerst {zelle} aus (und die Zellen davor)")


# ----------------------------------------------------------------------------------------------- numbers


def _als_zahl(name: str, wert, nur_python_zahl: bool = False) -> float:
    """A number as ``float``: ints, floats, tensors and arrays with one value; else a German failure."""
    __tracebackhide__ = True
    if wert is None:
        _fail(f"{name} ist None", tipp="Hast du das `return` vergessen oder der Variablen noch nichts zugewiesen?")
    if isinstance(wert, bool):
        _fail(f"{name} ist ein Wahrheitswert ({wert}), erwartet wird eine Zahl")
    if isinstance(wert, numbers.Real) and not _is_tensor(wert):
        return float(wert)
    if nur_python_zahl:
        _fail(
            f"{name} ist vom Typ {_typname(wert)}",
            "eine Zahl (int oder float)",
            _typname(wert),
            tipp="Gib eine gewöhnliche Python-Zahl zurück, keinen Tensor." if _is_array(wert) else "",
        )
    if _is_array(wert):
        anzahl = int(wert.numel() if hasattr(wert, "numel") else wert.size)
        if anzahl != 1:
            _fail(f"{name} enthält {anzahl} Werte statt einer einzigen Zahl", "1 Wert", f"Form {form_text(wert.shape)}")
        return float(_as_tensor(wert).reshape(-1)[0])
    from course.trusted.client import Ref

    if isinstance(wert, Ref) and _typname(wert) in ("float16", "float32", "float64", "int8", "int16", "int32", "int64"):
        return float(wert)  # a NumPy number of the student's kernel
    _fail(f"{name} soll eine Zahl sein, ist aber vom Typ {_typname(wert)}")


def _is_tensor(wert) -> bool:
    import numpy as np
    import torch

    return isinstance(wert, torch.Tensor | np.ndarray)


def _is_array(wert) -> bool:
    import numpy as np
    import torch

    return isinstance(wert, torch.Tensor | np.ndarray | np.generic)


def _nah(x: float, soll: float, toleranz: float, relativ: float) -> bool:
    if math.isnan(soll):
        return math.isnan(x)
    return abs(x - soll) <= toleranz + relativ * abs(soll)


def _tipp_fuer(x: float, falsch: dict | None, toleranz: float, relativ: float) -> str | None:
    for wert, tipp in (falsch or {}).items():
        if _nah(x, float(wert), max(toleranz, 1e-9), relativ):
            return tipp
    return None


def pruefe_zahl(
    name: str,
    wert,
    soll: float,
    *,
    toleranz: float = 1e-6,
    relativ: float = 0.0,
    ganzzahlig: bool = False,
    falsch: dict | None = None,
    tipp: str = "",
    verraten: bool = True,
    leise: bool = False,
) -> None:
    """``wert`` is a finite number within ``toleranz + relativ·|soll|`` of ``soll``.

    ``falsch`` maps typical wrong values to a hint; ``tipp`` is the hint for any other wrong value;
    ``ganzzahlig`` asks for a whole number (a count); ``verraten=False`` keeps ``soll`` out of the message
    (for answers worked out by hand).
    """
    __tracebackhide__ = True
    text = f"`{name}`"
    erwartet = zahl_text(soll) if verraten else "einen anderen Wert"
    x = _als_zahl(text, wert)
    if not math.isfinite(x):
        _fail(f"{text} ist keine endliche Zahl", erwartet, zahl_text(x), tipp)
    if not _nah(x, float(soll), toleranz, relativ):
        _fail(f"{text} stimmt noch nicht", erwartet, zahl_text(x), _tipp_fuer(x, falsch, toleranz, relativ) or tipp)
    if ganzzahlig and not x.is_integer():
        _fail(f"{text} soll eine ganze Zahl sein", erwartet, zahl_text(x), tipp)
    if not leise:
        bestanden(f"{text} = {zahl_text(x)} stimmt.")


# ----------------------------------------------------------------------------------------------- tensors


def _as_tensor(wert):
    import numpy as np
    import torch

    if isinstance(wert, np.ndarray | np.generic):
        return torch.from_numpy(np.array(wert, copy=True))
    return wert.detach()


def _reduktion_tipp(bekommen: tuple, erwartet: tuple) -> str:
    """A hint when a result lost a dimension (a sum/mean/max over ``dim`` or over everything)."""
    if erwartet and bekommen == ():
        return (
            "Dein Ergebnis ist eine einzige Zahl: Du hast über alle Werte zusammengefasst (z. B. mit `sum`, `mean` "
            "oder `max` ohne `dim`). Das Ergebnis soll dieselbe Form haben wie gefordert."
        )
    if len(bekommen) == len(erwartet) - 1:
        for dim in range(len(erwartet)):
            if erwartet[:dim] + erwartet[dim + 1 :] == bekommen:
                return (
                    f"Deinem Ergebnis fehlt die Dimension {dim}: Du hast über `dim={dim}` zusammengefasst (z. B. "
                    "mit `sum`, `mean` oder `max`). Prüfe, über welche Dimension du zusammenfassen willst."
                )
    if len(bekommen) == len(erwartet) and len(erwartet) == 2 and bekommen == erwartet[::-1]:
        return "Zeilen und Spalten sind vertauscht: Transponiere (`.T`) oder vertausche die Faktoren."
    return ""


def _tuple_result_tipp(wert) -> str:
    name = _typname(wert)
    if name in ("max", "min", "sort", "topk", "median", "mode", "kthvalue"):
        return (
            f"`torch.{name}(x, dim)` gibt ein Paar (Werte, Indizes) zurück; für ein elementweises Maximum zweier "
            "Tensoren nimm `torch.maximum(a, b)`."
        )
    return ""


def pruefe_tensor(
    name: str,
    wert,
    soll=None,
    *,
    form=None,
    gleitkomma: bool | None = None,
    dtype=None,
    toleranz: float = 1e-6,
    relativ: float = 1e-5,
    endlich: bool = True,
    verschieden: bool = False,
    gradient=None,
    numpy: bool = False,
    tipp: str = "",
    leise: bool = False,
) -> None:
    """``wert`` is a tensor (or NumPy array) of the right shape and kind, with the values of ``soll``.

    ``form``: a shape or a list of allowed shapes (default: the shape of ``soll``); ``gleitkomma=True``: a
    floating point dtype; ``dtype``: exactly this dtype; ``toleranz``/``relativ``: as in ``torch.allclose``
    (both 0: exactly equal); ``verschieden``: not all values equal (random numbers);
    ``gradient``: the tensor records gradients and its ``.grad`` has these values (after ``backward()``);
    ``numpy``: a NumPy array is accepted too (always when ``soll`` is one);
    ``leise``: print nothing when it passes (for checks inside a larger check).
    """
    __tracebackhide__ = True
    import numpy as np
    import torch

    text = f"`{name}`"
    arten = torch.Tensor | np.ndarray if numpy or isinstance(soll, np.ndarray) else torch.Tensor
    if not isinstance(wert, arten):
        _fail(
            f"{text} soll ein Tensor sein",
            "einen Tensor",
            f"ein Objekt vom Typ {_typname(wert)}",
            _tuple_result_tipp(wert) or tipp,
        )
    t = _as_tensor(wert)
    ref = None if soll is None else _as_tensor(torch.as_tensor(soll) if not _is_array(soll) else soll)
    formen = [ref.shape] if form is None and ref is not None else ([] if form is None else form)
    formen = (
        [tuple(f) for f in formen]
        if formen and isinstance(formen[0], tuple | list | torch.Size)
        else ([tuple(formen)] if formen else [])
    )
    if formen and tuple(t.shape) not in formen:
        _fail(
            f"{text} hat die falsche Form",
            " oder ".join(form_text(f) for f in formen),
            form_text(t.shape),
            _reduktion_tipp(tuple(t.shape), formen[0]) or tipp,
        )
    if dtype is not None and t.dtype != dtype:
        _fail(f"{text} hat den falschen Datentyp", str(dtype), str(t.dtype), tipp)
    if gleitkomma and not t.is_floating_point():
        _fail(
            f"{text} enthält keine Gleitkommazahlen",
            "z. B. torch.float32",
            str(t.dtype),
            "Die Schichten rechnen mit Gleitkommazahlen, z. B. `torch.tensor([1.0, 2.0])` oder `torch.rand`.",
        )
    if endlich and (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
        _fail(f"{text} enthält unendliche Werte oder nan", tipp=tipp)
    if verschieden and t.numel() > 1 and t.unique().numel() == 1:
        _fail(f"{text} enthält überall denselben Wert", tipp="Erzeuge zufällige Werte, z. B. mit `torch.rand`.")
    if ref is not None:
        _vergleiche_werte(text, t, ref, toleranz, relativ, tipp)
    if gradient is not None:
        if not wert.requires_grad:
            _fail(f"{text} zeichnet keine Gradienten auf", tipp="Lege den Tensor mit `requires_grad=True` an.")
        if wert.grad is None:
            _fail(f"`{name}.grad` ist leer", tipp="Wurde `backward()` ausgeführt, nachdem der Tensor angelegt war?")
        g = _as_tensor(wert.grad)
        _vergleiche_werte(
            f"`{name}.grad`",
            g,
            _as_tensor(torch.as_tensor(gradient, dtype=torch.float64)).expand_as(g),
            toleranz,
            relativ,
            tipp,
        )
    if not leise:
        teile = [] if t.dim() == 0 and ref is not None else [f"die Form {form_text(t.shape)}"]
        teile += ["den richtigen Wert" if t.numel() == 1 else "die richtigen Werte"] if ref is not None else []
        teile += ["den richtigen Gradienten"] if gradient is not None else []
        bestanden(f"{text} hat {' und '.join(teile)}.")


def _vergleiche_werte(text: str, t, ref, toleranz: float, relativ: float, tipp: str) -> None:
    __tracebackhide__ = True
    import torch

    a = t.to(torch.complex128 if t.is_complex() else torch.float64)
    b = ref.to(a.dtype)
    gleich = torch.equal(a, b) if toleranz == 0 and relativ == 0 else torch.allclose(a, b, rtol=relativ, atol=toleranz)
    if not gleich:
        if a.numel() <= 8:
            _fail(f"{text} stimmt noch nicht", _werte_text(b), _werte_text(a), tipp)
        abweichung = (a - b).abs().max().item()
        _fail(f"{text} stimmt noch nicht (größte Abweichung {zahl_text(abweichung, 2)})", tipp=tipp)


def _werte_text(t) -> str:
    if t.dim() == 0:
        return zahl_text(t.item())
    return "[" + "; ".join(_werte_text(z) for z in t) + "]"


# ----------------------------------------------------------------------------------------------- functions


def _arg_text(arg) -> str:
    import numpy as np
    import torch

    if isinstance(arg, torch.Tensor):
        if arg.numel() <= 6 and arg.dim() <= 1:
            return f"torch.tensor({arg.tolist()!r})"
        return f"<Tensor der Form {form_text(arg.shape)}, {str(arg.dtype).removeprefix('torch.')}>"
    if isinstance(arg, np.ndarray):
        return f"<Array der Form {form_text(arg.shape)}>"
    text = repr(arg)
    return text if len(text) <= 40 else text[:37] + "..."


def _call_text(name: str, args: tuple) -> str:
    return f"`{name}({', '.join(_arg_text(a) for a in args)})`"


def _clone(value):
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _same(a, b) -> bool:
    import numpy as np
    import torch

    if isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b))
    return True


def _rufe_alle(name, funktion, faelle, unveraendert, aufgabe):
    """All calls in one batch: ``(results, inputs after the calls)``; an error is pinned to its case."""
    __tracebackhide__ = True
    arity = {len(f) for f in faelle}
    if len(arity) != 1 or arity == {0}:  # mixed or no arguments: one call per case (an author's choice)
        return [aufruf(funktion, *f, text=_call_text(name, f), aufgabe=aufgabe) for f in faelle], faelle
    spalten = [list(c) for c in zip(*faelle, strict=True)]
    try:
        if unveraendert:
            results, after = each_with_inputs(funktion, *spalten)
            return results, [tuple(c) for c in zip(*after, strict=True)]
        return each(funktion, *spalten), faelle
    except _channel_errors():
        raise
    except Exception as batch_error:
        for fall in faelle:  # which case fails? (only on this path: the cost of a failing test)
            aufruf(funktion, *[_clone(a) for a in fall], text=_call_text(name, fall), aufgabe=aufgabe)
        raise _als_meldung(batch_error, f"`{name}`", aufgabe) from None


def pruefe_funktion(
    name: str,
    funktion,
    eingaben: list,
    *,
    referenz=None,
    erwartet: list | None = None,
    ergebnis: str = "skalar",
    toleranz: float = 1e-6,
    relativ: float = 1e-6,
    unveraendert: bool = False,
    falsch: dict | None = None,
    tipp: str | dict = "",
    teile: list[str] | None = None,
    aufgabe: str | None = None,
    leise: bool = False,
) -> None:
    """``funktion`` gives the right result for every input of the table.

    ``eingaben``: a list of argument tuples (a single non-tuple value is one argument);
    ``referenz`` (computed here, on the test's side) or ``erwartet`` (the results) say what is right;
    ``ergebnis``: ``"zahl"`` (a Python ``int``/``float``), ``"skalar"`` (a number or a tensor with one value)
    ``"tensor"`` (a tensor of the reference's shape) or ``"zahlen"`` (a tuple of numbers named by ``teile``,
    ``tipp`` may then map each part to its hint); ``unveraendert``: the function must not change its
    inputs in place; ``falsch``: typical wrong results (numbers) with a hint; ``aufgabe``: the task a
    ``NotImplementedError`` belongs to (default: ``name``).
    """
    __tracebackhide__ = True
    if not callable(funktion) or isinstance(funktion, type) and funktion in (int, float, bool, str):
        _fail(
            f"`{name}` soll eine Funktion sein", f"`def {name}(...): ...`", f"ein Objekt vom Typ {_typname(funktion)}"
        )
    faelle = [f if isinstance(f, tuple) else (f,) for f in eingaben]
    vorher = [tuple(_clone(a) for a in f) for f in faelle]
    if erwartet is None:
        if referenz is None:
            raise TypeError("pruefe_funktion braucht referenz= oder erwartet=")
        erwartet = [referenz(*[_clone(a) for a in f]) for f in faelle]
    if len(erwartet) != len(faelle):
        raise TypeError("erwartet= braucht ein Ergebnis pro Eingabe")
    results, danach = _rufe_alle(
        name, funktion, [tuple(_clone(a) for a in f) for f in faelle], unveraendert, aufgabe or name
    )
    for fall, alt, neu, result, soll in zip(faelle, vorher, danach, results, erwartet, strict=True):
        text = _call_text(name, fall)
        if ergebnis == "zahlen":
            _vergleiche_teile(text, result, soll, teile, toleranz, relativ, tipp)
        elif ergebnis == "tensor":
            pruefe_tensor(
                text.strip("`"), result, soll, toleranz=toleranz, relativ=relativ, tipp=tipp, leise=True, endlich=False
            )
        else:
            if result is None:
                _fail(f"{text} gibt nichts zurück", zahl_text(soll), "None", "Hast du das `return` vergessen?")
            x = _als_zahl(text, result, nur_python_zahl=ergebnis == "zahl")
            if not _nah(x, float(soll), toleranz, relativ):
                _fail(
                    f"{text} stimmt noch nicht",
                    zahl_text(soll),
                    zahl_text(x),
                    _tipp_fuer(x, falsch, toleranz, relativ) or tipp,
                )
        if unveraendert and not all(_same(n, a) for n, a in zip(neu, alt, strict=True)):
            _fail(
                f"{text} verändert seine Eingabe",
                tipp="Gib ein neues Ergebnis zurück, statt die Eingabe zu überschreiben (keine In-place-"
                "Operationen wie `clamp_`, `+=` oder `x[x < 0] = 0`).",
            )
    if not leise:
        bestanden(f"`{name}` stimmt für {_anzahl_text(len(faelle))}.")


def _vergleiche_teile(text, result, soll, teile, toleranz, relativ, tipp) -> None:
    __tracebackhide__ = True
    teile = list(teile or [f"Wert {i + 1}" for i in range(len(soll))])
    if not isinstance(result, tuple | list) or len(result) != len(soll):
        _fail(
            f"{text} soll {len(soll)} Werte zurückgeben",
            f"({', '.join(teile)})",
            _typname(result) if not isinstance(result, tuple | list) else f"{len(result)} Werte",
        )
    for teil, wert, s in zip(teile, result, soll, strict=True):
        x = _als_zahl(f"{teil} aus {text}", wert)
        if not _nah(x, float(s), toleranz, relativ):
            hinweis = tipp.get(teil, "") if isinstance(tipp, dict) else tipp
            _fail(f"{text}: {teil} stimmt noch nicht", zahl_text(s), zahl_text(x), hinweis)


def _anzahl_text(n: int) -> str:
    return {1: "die Eingabe", 2: "beide Eingaben"}.get(n, f"alle {n} Eingaben")


# ----------------------------------------------------------------------------------------------- modules


def pruefe_modell(
    name: str,
    modell,
    *,
    typ=None,
    bausteine: list[str] | None = None,
    linear: list[tuple[int, int]] | None = None,
    mit_bias: bool | None = None,
    parameter: int | None = None,
    eingabe=None,
    ausgabe_form=None,
    tipp: str = "",
    leise: bool = False,
) -> None:
    """A ``torch.nn.Module`` built as asked.

    ``typ``: its class (e.g. ``torch.nn.Sequential``); ``bausteine``: the class names of its children in
    order; ``linear``: ``(in_features, out_features)`` of its Linear layers in order; ``mit_bias``: every
    Linear layer has a bias; ``parameter``: the number of parameters; ``eingabe`` and ``ausgabe_form``: the
    output shape for this input (computed without gradients; finite values).
    """
    __tracebackhide__ = True
    import torch

    text = f"`{name}`"
    art = typ or torch.nn.Module
    if not isinstance(modell, art):
        modul = "torch.nn" if art.__module__.startswith("torch.nn.modules") else art.__module__
        _fail(f"{text} hat den falschen Typ", f"`{modul}.{art.__qualname__}`", _typname(modell), tipp)
    kinder = (
        student_function("builtins", "list")(modell.children()) if bausteine is not None or linear or mit_bias else []
    )
    if bausteine is not None:
        namen = [_typname(k) for k in kinder]
        if namen != list(bausteine):
            _fail(
                f"Die Bausteine von {text} stimmen nicht",
                f"{len(bausteine)}: {', '.join(bausteine)}",
                f"{len(namen)}: {', '.join(namen)}",
                tipp,
            )
    schichten = (
        [modell] if isinstance(modell, torch.nn.Linear) else [k for k in kinder if isinstance(k, torch.nn.Linear)]
    )
    if linear is not None:
        formen = [tuple(int(n) for n in f) for f in each(attribute("in_features", "out_features"), schichten)]
        if formen != [tuple(f) for f in linear]:
            _fail(
                f"Die Linear-Schichten von {text} haben die falschen Formen (Eingaben, Neuronen)",
                ", ".join(map(form_text, linear)),
                ", ".join(map(form_text, formen)) or "keine",
                tipp,
            )
    if mit_bias:
        ohne = [i for i, b in enumerate(each(attribute("bias"), schichten)) if b is None]
        if ohne:
            _fail(
                f"{len(ohne)} Linear-Schicht(en) von {text} haben keinen Bias",
                tipp="Lass `bias=False` weg: Jede Schicht soll einen Bias haben.",
            )
    if parameter is not None:
        anzahl = sum(int(p.numel()) for p in student_function("builtins", "list")(modell.parameters()))
        if anzahl != parameter:
            _fail(f"{text} hat die falsche Zahl von Parametern", zahl_text(parameter), zahl_text(anzahl), tipp)
    if eingabe is not None:
        aus = vorhersage(modell, eingabe, name)
        form = [tuple(ausgabe_form)] if ausgabe_form is not None else None
        pruefe_tensor(f"{name}(x) für x der Form {form_text(eingabe.shape)}", aus, form=form, leise=True, tipp=tipp)
    if not leise:
        bestanden(f"{text} ist aufgebaut wie verlangt.")


# ----------------------------------------------------------------------------------------------- training


def pruefe_training(
    was: str,
    wert,
    *,
    hoechstens: float | None = None,
    mindestens: float | None = None,
    tipp: str = "",
) -> None:
    """A training result (a loss, an accuracy) reached its bound: ``wert <= hoechstens``, ``wert >= mindestens``.

    ``was`` says in German what was measured ("Der MSE auf den Testdaten"), ``wert`` is a number or a
    one-value tensor computed by the test (e.g. from :func:`vorhersage`).
    """
    __tracebackhide__ = True
    x = _als_zahl(was, wert)
    if not math.isfinite(x):
        _fail(f"{was} ist keine endliche Zahl ({zahl_text(x)})", tipp=tipp or "Ist das Training auseinandergelaufen?")
    if hoechstens is not None and not x <= hoechstens:
        _fail(f"{was} ist noch zu groß", f"höchstens {zahl_text(hoechstens)}", zahl_text(x, 3), tipp)
    if mindestens is not None and not x >= mindestens:
        _fail(f"{was} ist noch zu klein", f"mindestens {zahl_text(mindestens)}", zahl_text(x, 3), tipp)
    bestanden(f"{was} ist {zahl_text(x, 3)}.")
