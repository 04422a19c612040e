"""The channel between the student's kernel and the trusted test kernel, without kernels (fast).

What crosses as data arrives as plain data of the trusted side (whatever class the student's object
had); what the trusted side decodes is checked node by node; references never decide a comparison.
The loop reference -> request -> student's end -> answer -> decode runs end to end in-process
(:class:`course.trusted.transport.InProcessTransport`), with honest and with hostile student ends.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pytest
import torch

from course.trusted import client, kernel_side, proxies, wire
from course.trusted.transport import InProcessTransport
from course.trusted.wire import MAX_DEPTH, ProtocolError, decode, encode


def roundtrip(value):
    objects = kernel_side.Objects()
    buffers: list = []
    tree = encode(value, buffers, objects.ref, identities=True)
    return decode(tree, buffers, lambda node: ("ref", node["id"], node["name"]))


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -(10**300), 1.5, "Übergrößenträger", b"\x00\xff", (1, [2.5, {"a": None}]), {3, 4},
     frozenset({"x"}), slice(1, None, 2), range(2, 10, 3), Ellipsis, 2 + 3j],
)  # fmt: skip
def test_plain_data_arrives_unchanged(value):
    assert roundtrip(value) == value
    assert type(roundtrip(value)) is type(value)


def test_special_floats_and_numpy_scalars():
    assert math.isnan(roundtrip(float("nan")))
    assert roundtrip([float("inf"), np.float32(0.5), np.int64(7), np.bool_(True)]) == [float("inf"), 0.5, 7, True]


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.bool]
)
def test_tensors_arrive_as_tensors(dtype):
    tensor = (torch.arange(12).reshape(3, 4) % 3).to(dtype)
    got = roundtrip(tensor.T)  # not contiguous
    assert type(got) is torch.Tensor and got.dtype == dtype and torch.equal(got, tensor.T)
    assert type(roundtrip(torch.empty(0, 3))) is torch.Tensor


def test_tensor_keeps_grad_leaf_and_identity():
    leaf = torch.tensor([1.0, 2.0], requires_grad=True)
    (leaf * leaf).sum().backward()
    got = roundtrip(leaf)
    assert got.requires_grad and got.is_leaf and torch.equal(got.grad, torch.tensor([2.0, 4.0]))
    assert got._course_identity == id(leaf)
    result = roundtrip(leaf * 2)
    assert result.requires_grad and not result.is_leaf and result.grad_fn is not None
    assert isinstance(roundtrip(torch.nn.Parameter(torch.ones(2))), torch.Tensor)


def test_numpy_arrays_arrive_as_arrays():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)[:, ::2]
    got = roundtrip(array)
    assert type(got) is np.ndarray and got.dtype == np.float32 and np.array_equal(got, array)


def test_subclasses_of_plain_types_lose_their_tricks():
    class Alles(float):
        def __eq__(self, other):
            return True

        __hash__ = float.__hash__

    class Liste(list):
        def __len__(self):
            return 99

    got = roundtrip([Alles(9.0), Liste([1, 2])])
    assert type(got[0]) is float and got[0] != 0.5
    assert type(got[1]) is list and len(got[1]) == 2


def test_other_objects_become_references_whatever_their_class_claims():
    class Tarnung:
        __class__ = property(lambda self: float)

    assert roundtrip(Tarnung())[0] == "ref"
    assert roundtrip(torch.nn.Linear(2, 1))[0] == "ref"
    assert roundtrip(lambda x: x)[0] == "ref"
    assert roundtrip(np.array([object()]))[0] == "ref"


@pytest.mark.parametrize(
    "tree, buffers",
    [
        ({"t": "pickle", "v": "..."}, []),
        ({"t": "int", "v": 5}, []),  # ints travel as text
        ({"t": "int", "v": "1" * 5000}, []),
        ({"t": "float", "v": "__import__('os')"}, []),
        ({"t": "bool", "v": 1}, []),
        ({"t": "list", "v": "abc"}, []),
        ({"t": "dict", "v": [[{"t": "none"}]]}, []),
        ({"t": "tensor", "dtype": "float32", "shape": [2], "b": 0, "rg": False, "leaf": True}, [b"\x00" * 4]),
        ({"t": "tensor", "dtype": "object", "shape": [1], "b": 0, "rg": False, "leaf": True}, [b"\x00" * 8]),
        ({"t": "tensor", "dtype": "float32", "shape": [-1], "b": 0, "rg": False, "leaf": True}, [b""]),
        ({"t": "ndarray", "dtype": "object", "shape": [1], "b": 0}, [b"\x00" * 8]),
        ({"t": "ndarray", "dtype": "float64", "shape": [1], "b": 3}, [b"\x00" * 8]),
        ({"t": "dtype", "v": "Tensor"}, []),
        ("kein dict", []),
    ],
)
def test_malformed_answers_are_rejected(tree, buffers):
    with pytest.raises(ProtocolError):
        decode(tree, buffers, lambda node: None)


def test_depth_and_size_are_limited():
    deep: dict = {"t": "none"}
    for _ in range(MAX_DEPTH + 5):
        deep = {"t": "list", "v": [deep]}
    with pytest.raises(ProtocolError):
        decode(deep, [], lambda node: None)
    with pytest.raises(ProtocolError):
        decode({"t": "list", "v": [{"t": "none"}] * 1_100_000}, [], lambda node: None)


class FakeConnection:
    """Records requests; answers from a table (what the student's side would say)."""

    def __init__(self, answers):
        self.answers, self.requests = answers, []
        self.proxy_classes = {}

    def request(self, op, *args):
        self.requests.append((op, *args))
        return self.answers.get(op)


def make_ref(classes, answers=None, name="Objekt"):
    conn = FakeConnection(answers or {})
    return proxies.make_ref(conn, 42, name, [tuple(c) for c in classes]), conn


def test_a_reference_claims_only_classes_the_trusted_side_has():
    linear, _ = make_ref([["__main__", "MeineSchicht"], ["torch.nn.modules.linear", "Linear"], ["builtins", "object"]])
    assert isinstance(linear, torch.nn.Linear) and type(linear).__name__ == "Objekt"
    fake, _ = make_ref([["__main__", "Linear"], ["builtins", "object"]])
    assert not isinstance(fake, torch.nn.Linear)
    bogus, _ = make_ref([["os", "system"], ["nicht.geladen", "X"]])
    assert not isinstance(bogus, torch.nn.Module)
    forged, _ = make_ref([["builtins", "float"], ["builtins", "object"]])  # a real float would be data
    assert not isinstance(forged, float) and not isinstance(forged, numbers.Real)


@pytest.mark.parametrize(
    "claim",
    [
        ("numbers", "Real"),  # an ABC: the test's arithmetic would be the student's
        ("numbers", "Number"),
        ("collections.abc", "Sequence"),
        ("torch", "Tensor"),  # torch's C code would read the proxy's memory as a tensor
        ("torch.nn.parameter", "Parameter"),
        ("numpy", "ndarray"),
        ("torch", "Generator"),
        ("builtins", "int"),
        ("builtins", "type"),
    ],
)
def test_a_reference_never_claims_data_or_abstract_classes(claim):
    forged, _ = make_ref([list(claim), ["builtins", "object"]])
    assert type(forged).__class__ is type and forged.__class__ is type(forged)
    assert not isinstance(forged, (numbers.Number, torch.Tensor, np.ndarray, int, type, torch.Generator))


@pytest.mark.parametrize(
    "claim",
    [
        ("torch.nn.modules.container", "Sequential"),
        ("torch.optim.adam", "Adam"),
        ("torch.utils.data.dataloader", "DataLoader"),
        ("torch.utils.data.dataset", "TensorDataset"),
    ],
)
def test_a_reference_claims_modules_optimizers_and_loaders(claim):
    ref, _ = make_ref([list(claim), ["builtins", "object"]])
    assert ref.__class__.__name__ == claim[1]


def test_proxy_classes_are_bounded_per_connection():
    cache = {}
    for i in range(proxies.MAX_PROXY_CLASSES + 50):
        proxies.proxy_class(f"Klasse{i}", cache)
    assert len(cache) <= proxies.MAX_PROXY_CLASSES + 1  # and "Objekt" for the rest
    assert proxies.proxy_class("NochEine", cache).__name__ == "Objekt"
    assert proxies.proxy_class("Linear", {}).__name__ == "Linear"  # another submission starts afresh


def test_comparisons_and_truth_values_are_not_asked_of_the_student():
    ref, conn = make_ref([], {"binary": True, "convert": True})
    assert ref == ref and not (ref == 0.5) and ref != 0.5
    for compare in (lambda: ref < 1, lambda: ref >= 1, lambda: bool(ref), lambda: 1 if ref else 0):
        with pytest.raises(TypeError, match="nicht ausgewertet"):
            compare()
    assert conn.requests == []
    assert ref + 1 is True and conn.requests == [("binary", "add", ref, 1)]  # arithmetic is forwarded


def test_conversions_must_answer_with_the_required_type():
    ref, _ = make_ref([], {"convert": 3})
    with pytest.raises(TypeError):
        float(ref)
    assert int(ref) == 3 and len(ref) == 3


def test_trusted_objects_never_cross():
    ref, _ = make_ref([])
    assert client._trusted_ref(ref) == {"t": "ref", "id": 42}
    for trusted in (print, torch.nn.Linear(1, 1), math, iter([1])):
        with pytest.raises(TypeError, match="kann nicht an deinen Code übergeben werden"):
            encode([trusted], [], client._trusted_ref)
    with pytest.raises(TypeError):

        class Unterklasse(ref):  # noqa: F841
            pass


def test_student_exceptions_keep_builtin_types_only():
    assert isinstance(client._student_exception({"type": "KeyError", "builtin": True, "message": "x"}), KeyError)
    error = client._student_exception({"type": "AssertionError", "builtin": True, "message": "bestanden"})
    assert type(error) is client.StudentError  # a student's AssertionError is not the test's
    forged = client._student_exception({"type": "SystemExit", "builtin": True, "message": ""})
    assert type(forged) is client.StudentError


def test_the_student_side_answers_requests():
    objects = kernel_side.Objects()
    layer = torch.nn.Linear(2, 1)
    ref = objects.ref(layer)

    def args(*values):
        return {"t": "list", "v": [ref, *(encode(v, [], None) for v in values)]}

    answer, out = kernel_side.answer(objects, {"op": "getattr", "args": args("in_features")}, [])
    assert decode(answer["ok"], out, objects.resolve) == 2
    answer, _ = kernel_side.answer(objects, {"op": "getattr", "args": args("gibt_es_nicht")}, [])
    assert answer["error"]["type"] == "AttributeError" and answer["error"]["builtin"]
    answer, _ = kernel_side.answer(objects, {"op": "unbekannt", "args": {"t": "list", "v": []}}, [])
    assert "error" in answer


def test_references_the_trusted_side_dropped_are_forgotten():
    objects = kernel_side.Objects()
    kept, dropped = objects.ref([1]), objects.ref([2])
    request = {"op": "convert", "args": encode(["len", [0]], [], None), "release": [dropped["id"], "kein int"]}
    answer, _ = kernel_side.answer(objects, request, [])
    assert answer["ok"] == {"t": "int", "v": "1"}
    assert kept["id"] in objects.table and dropped["id"] not in objects.table


def test_the_trusted_side_releases_references_it_no_longer_holds():
    import gc

    conn = client.Connection(InProcessTransport())
    ref = conn._ref({"t": "ref", "id": 7, "name": "X", "classes": []})
    assert conn._ref({"t": "ref", "id": 7}) is ref and not conn.released
    del ref
    gc.collect()
    assert conn.released == {7}
    again = conn._ref({"t": "ref", "id": 7, "name": "X", "classes": []})  # handed out again before the release
    assert conn.released == set() and again is conn.refs[7]


def test_a_call_can_return_its_inputs_as_they_are_afterwards():
    """A function that changes its (copied) input in place is seen through the copy it changed."""
    objects = kernel_side.Objects()
    function = objects.ref(lambda t: t.clamp_(min=0))
    buffers: list = []
    args = {"t": "list", "v": [function, encode([torch.tensor([-1.0, 2.0])], buffers, None), encode({}, [], None)]}
    answer, out = kernel_side.answer(objects, {"op": "call_inputs", "args": args}, buffers)
    result, (after,), _ = decode(answer["ok"], out, objects.resolve)
    assert torch.equal(after, torch.tensor([0.0, 2.0])) and torch.equal(result, after)


def test_each_outside_grading_is_the_plain_list_comprehension():
    """In JupyterLab (no connection) `each`, `attribute` and `method` are plain Python."""
    from course.testing import attribute, each, method

    assert client.connection is None
    values = [1.5, -2.0, 3.25]
    assert each(attribute("real"), values) == [v.real for v in values]
    assert each(method("__add__", 1), values) == [v + 1 for v in values]
    assert each(pow, values, [2, 3, 1]) == [v**e for v, e in zip(values, [2, 3, 1], strict=True)]
    assert each(attribute("real", "imag"), [2 + 3j]) == [(2.0, 3.0)]


def test_each_asks_the_student_side_once_per_list():
    """With a reference, the whole list is one `list(map(...))` call in the student's kernel."""
    from types import SimpleNamespace

    from course.testing import each

    function, conn = make_ref([], name="function")
    calls: list = []

    def student_map(f, *lists):
        calls.append((f, lists))
        return "map object"

    modules: list = []
    conn.module = lambda name: modules.append(name) or SimpleNamespace(list=lambda m: [m, "as list"], map=student_map)
    assert each(function, [1, 2], [3, 4]) == ["map object", "as list"]
    assert each(function, [5]) == ["map object", "as list"]
    assert calls == [(function, ([1, 2], [3, 4])), (function, ([5],))]
    assert modules == ["builtins", "builtins"]  # list and map, each looked up once per connection
    assert each(len, ["ab", "c"]) == [2, 1]  # a trusted function is applied here


# --------------------------------------------------------------------------- end to end, in-process


def connect(namespace=None, answer=None) -> tuple[client.Connection, InProcessTransport]:
    transport = InProcessTransport(answer=answer, namespace=namespace)
    return client.Connection(transport, deadline=1.0), transport


def test_requests_round_trip_through_the_student_end():
    layer = torch.nn.Linear(3, 2)
    conn, _ = connect({"schicht": layer, "n": 5, "werte": [1.5, 2.5], "os": math})
    found = conn.names(["schicht", "n", "werte", "os", "fehlt"])
    assert set(found) == {"schicht", "n", "werte"}  # modules are never taken over
    schicht = found["schicht"]
    assert isinstance(schicht, torch.nn.Linear) and found["n"] == 5 and found["werte"] == [1.5, 2.5]
    assert schicht.in_features == 3 and tuple(schicht.weight.shape) == (2, 3)
    x = torch.randn(4, 3)
    assert torch.allclose(schicht(x), layer(x).detach())
    assert len(list(schicht.parameters())) == 2 and len(schicht.weight) == 2


def test_student_exceptions_and_protocol_errors_stay_apart():
    conn, _ = connect({"d": {}})
    student_dict = conn.module("builtins").dict()
    with pytest.raises(KeyError):
        student_dict["fehlt"]  # the student's KeyError is a KeyError
    with pytest.raises(ProtocolError, match="nicht verstanden"):
        conn.request("gibt_es_nicht")  # a misspelt operation is a bug of the trusted side
    with pytest.raises(ProtocolError, match="nicht verstanden"):
        conn.request(wire.Op.CONVERT, "exec", "print(1)")


def test_dunder_and_display_attributes_are_never_forwarded():
    class Zeiger:
        __array_interface__ = {"data": (1, False), "shape": (10,), "typestr": "<f8", "version": 3}
        __cuda_array_interface__ = __array_interface__
        _repr_html_ = "<b>html</b>"

        def __array__(self, dtype=None, copy=None):
            return np.zeros(3)

        def __torch_function__(self, *args, **kwargs):
            return 1

        def _ipython_display_(self):
            pass

    sent: list = []
    transport = InProcessTransport(namespace={"z": Zeiger()})
    honest = transport.answer
    transport.answer = lambda data, buffers: (sent.append(data["op"]), honest(data, buffers))[1]
    conn = client.Connection(transport, deadline=1.0)
    z = conn.names(["z"])["z"]
    sent.clear()
    array = np.asarray(z)
    assert array.dtype == object and array.shape == ()  # an opaque object, never a pointer
    for name in ("__array_interface__", "__array__", "__torch_function__", "_repr_html_", "_ipython_display_"):
        with pytest.raises(AttributeError):
            getattr(z, name)
    with pytest.raises(TypeError):
        torch.as_tensor(z)
    assert "getattr" not in sent  # only the sequence protocol's len(), whose answer must be an int


def test_tensors_the_trusted_side_sends_carry_no_identity():
    seen: list = []

    def spy(data, buffers):
        seen.append(data)
        return kernel_side.answer(objects, data, buffers)

    objects = kernel_side.Objects({"f": lambda t: t})
    conn, _ = connect(answer=spy)
    f = conn.names(["f"])["f"]
    back = f(torch.ones(2))
    assert torch.equal(back, torch.ones(2)) and hasattr(back, "_course_identity")  # the student's side tells its own
    assert '"id"' not in str([d["args"]["v"][1:] for d in seen[1:]])


@pytest.mark.parametrize(
    "hostile",
    [
        lambda data, buffers: ({"weder": "noch"}, []),
        lambda data, buffers: ({"ok": {"t": "tensor", "dtype": "float32", "shape": [4], "b": 0}}, [b"\x00" * 3]),
        lambda data, buffers: ({"ok": {"t": "ref", "id": "nicht int", "classes": []}}, []),
        lambda data, buffers: ({"error": "kein dict"}, []),
        lambda data, buffers: ({"ok": {"t": "dict", "v": [[{"t": "list", "v": []}, {"t": "none"}]]}}, []),
    ],
)
def test_malformed_answers_end_as_protocol_errors(hostile):
    conn, _ = connect(answer=hostile)
    with pytest.raises(ProtocolError):
        conn.request(wire.Op.NAMES, ["x"])


def test_a_forged_error_kind_or_type_is_only_the_students():
    def forged(data, buffers):
        return {"error": {"kind": "wer weiß", "type": "AssertionError", "builtin": True, "message": "ok"}}, []

    conn, _ = connect(answer=forged)
    with pytest.raises(client.StudentError):
        conn.request(wire.Op.NAMES, ["x"])


def test_a_missing_answer_interrupts_and_then_fails_fast():
    conn, transport = connect(answer=lambda data, buffers: None)
    with pytest.raises(client.NoAnswer):
        conn.request(wire.Op.NAMES, ["x"])
    assert transport.interrupts == 1 and conn.broken == client.STUCK
    with pytest.raises(client.NoAnswer):
        conn.request(wire.Op.NAMES, ["x"])  # at once: no second wait


def test_message_budget_counts_frames_and_bytes():
    ok = [b"id", b"<IDS|MSG>", b"sig", b"{}", b"{}", b"{}", b"{}", b"buffer"]
    assert wire.within_budget(ok)
    assert not wire.within_budget(ok + [b""] * wire.MAX_FRAMES)
    assert not wire.within_budget([b"<IDS|MSG>", b"sig", b"x" * (wire.MAX_JSON_BYTES + 1), b"{}", b"{}", b"{}"])
    assert not wire.within_budget([b"kein", b"trenner"])


def test_test_cells_keep_only_errors_and_pass_lines():
    from nbformat.notebooknode import NotebookNode

    from course.cells import PASS_MARK
    from course.preprocessors.safe_execute import test_outputs

    outputs = [
        NotebookNode(output_type="stream", name="stdout", text=f"Zwischenstand 3\n{PASS_MARK}Form stimmt.\n"),
        NotebookNode(output_type="stream", name="stderr", text="<cell>:3: RuntimeWarning: ... # versteckt\n"),
        NotebookNode(output_type="execute_result", data={"text/plain": "4.0"}, metadata={}, execution_count=1),
        NotebookNode(output_type="display_data", data={"text/plain": "Bild"}, metadata={}),
        NotebookNode(output_type="error", ename="AssertionError", evalue="falsch", traceback=[]),
    ]
    kept = test_outputs(outputs)
    assert [o.output_type for o in kept] == ["stream", "error"]
    assert kept[0].text == f"{PASS_MARK}Form stimmt.\n"
