"""Grading of 08_micrograd: alternative correct answers get full points, typical mistakes get 0."""

from harness import Variant, reference_answers, test_points  # noqa: F401  (test_points is collected by pytest)
from harness import changed as _changed

ASSIGNMENT = "08_micrograd"

SOLUTION = reference_answers(ASSIGNMENT)


def changed(task: str, *replacements: tuple[str, str]) -> str:
    return _changed(SOLUTION, task, *replacements)


# The parts of the reference answers that the variants change.
ADD = "            self.grad = out.grad\n            other.grad = out.grad\n"
MUL = "            self.grad = other.data * out.grad\n            other.grad = self.data * out.grad\n"
RELU = "            self.grad = (1.0 if self.data > 0 else 0.0) * out.grad\n"
ADD_ACC = "            self.grad += out.grad\n            other.grad += out.grad\n"
MUL_ACC = "            self.grad += other.data * out.grad\n            other.grad += self.data * out.grad\n"
RELU_ACC = "            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad\n"
MANUAL = "o.grad = 1.0\no._backward()\nn._backward()\nx1w1x2w2._backward()\nx1w1._backward()\nx2w2._backward()"
BACKWARD = "        visit(self)\n        self.grad = 1.0\n        for v in reversed(topo):\n            v._backward()"
VISIT = (
    "        if v not in visited:\n"
    "            visited.add(v)\n"
    "            for child in v._prev:\n"
    "                visit(child)\n"
    "            topo.append(v)\n"
)
DQ = "return (f(x + h) - f(x)) / h"
RESET = "    for p in modell.parameters():\n        p.grad = 0.0\n"
UPDATE = "        p.data -= lernrate * p.grad\n"
LOSS = "    verlust = sum(((y_dach - y) ** 2 for y_dach, y in zip(vorhersagen, ys, strict=True)), Value(0.0))\n"

ALL_WRONG = dict.fromkeys(
    [
        "differenzenquotient", "neuron_knoten", "backward_add", "backward_mul", "backward_relu",
        "manuelles_backward", "topo_sort", "backward_methode", "gradienten_akkumulieren", "mlp_training",
    ],
    0,
)  # fmt: skip

VARIANTS = {
    # ------------------------------------------------------------------ other correct formulations
    "richtig_a": Variant(
        answers={
            # central difference quotient
            "differenzenquotient": changed("differenzenquotient", (DQ, "return (f(x + h) - f(x - h)) / (2 * h)")),
            # other numbers (int data, inactive ReLU), other labels, other operand order
            "neuron_knoten": (
                "x1 = Value(-1.0, label='x1')\nx2 = Value(4, label='x2')\n"
                "w1 = Value(0.25, label='w1')\nw2 = Value(-2, label='w2')\nb = Value(3.0, label='b')\n"
                "x1w1 = w1 * x1\nx1w1.label = 'x1w1'\nx2w2 = w2 * x2\nx2w2.label = 'x2w2'\n"
                "x1w1x2w2 = x2w2 + x1w1\nx1w1x2w2.label = 'summe'\n"
                "n = b + x1w1x2w2\nn.label = 'n'\no = n.relu()\no.label = 'o'\n"
            ),
            # accumulating right away
            "backward_add": changed(
                "backward_add",
                (ADD, "            self.grad += 1.0 * out.grad\n            other.grad += 1.0 * out.grad\n"),
            ),
            "backward_mul": changed("backward_mul", (MUL, MUL_ACC)),
            "backward_relu": changed("backward_relu", (RELU, "            self.grad += (out.data > 0) * out.grad\n")),
            # a loop over all nodes, leaves included, o.grad as int
            "manuelles_backward": changed(
                "manuelles_backward",
                (
                    MANUAL,
                    "o.grad = 1\n"
                    "for knoten in [o, n, x1w1x2w2, x2w2, x1w1, x1, x2, w1, w2, b]:\n"
                    "    knoten._backward()",
                ),
            ),
            # iterative depth-first search
            "topo_sort": (
                "def build_topo(root):\n"
                "    topo, visited = [], set()\n"
                "    stapel = [(root, False)]\n"
                "    while stapel:\n"
                "        v, fertig = stapel.pop()\n"
                "        if fertig:\n"
                "            topo.append(v)\n"
                "        elif v not in visited:\n"
                "            visited.add(v)\n"
                "            stapel.append((v, True))\n"
                "            stapel.extend((kind, False) for kind in v._prev)\n"
                "    return topo\n"
            ),
            # uses the global build_topo and resets all gradients first
            "backward_methode": changed(
                "backward_methode",
                (
                    SOLUTION["backward_methode"][
                        SOLUTION["backward_methode"].index("        topo = []") : SOLUTION["backward_methode"].index(
                            BACKWARD
                        )
                        + len(BACKWARD)
                    ],
                    "        topo = build_topo(self)\n"
                    "        for v in topo:\n"
                    "            v.grad = 0.0\n"
                    "        self.grad = 1\n"
                    "        for v in topo[::-1]:\n"
                    "            v._backward()",
                ),
            ),
            "gradienten_akkumulieren": changed(
                "gradienten_akkumulieren",
                (
                    ADD_ACC,
                    "            self.grad = self.grad + out.grad\n            other.grad = other.grad + out.grad\n",
                ),
                (
                    MUL_ACC,
                    "            self.grad = self.grad + other.data * out.grad\n"
                    "            other.grad = other.grad + self.data * out.grad\n",
                ),
                (RELU_ACC, "            self.grad = self.grad + (out.data > 0) * out.grad\n"),
            ),  # fmt: skip
            # mean squared error, zero_grad() method, gradients reset after the update, sum() from 0
            "mlp_training": changed(
                "mlp_training",
                (
                    "        return [p for layer in self.layers for p in layer.parameters()]\n",
                    "        return [p for layer in self.layers for p in layer.parameters()]\n\n"
                    "    def zero_grad(self):\n"
                    "        for p in self.parameters():\n"
                    "            p.grad = 0\n",
                ),
                (
                    LOSS,
                    "    verlust = sum((y_dach - y) ** 2 for y_dach, y in zip(vorhersagen, ys)) / len(ys)\n",
                ),
                (RESET, ""),
                (UPDATE, UPDATE + "    modell.zero_grad()\n"),
                ("    return verlust.data", "    return float(verlust.data)"),
            ),
        },
    ),
    "richtig_b": Variant(
        answers={
            # with tensors: dx is a tensor
            "differenzenquotient": changed(
                "differenzenquotient",
                (
                    DQ,
                    "oben = f(torch.tensor(x + h, dtype=torch.float64))\n"
                    "    unten = f(torch.tensor(x, dtype=torch.float64))\n"
                    "    return (oben - unten) / h",
                ),
            ),
            "neuron_knoten": changed("neuron_knoten", ('x1 = Value(2.0, label="x1")', 'x1 = Value(-3, label="x1")')),
            # the seed's 1.0 * out.grad
            "backward_add": changed(
                "backward_add",
                (ADD, "            self.grad = 1.0 * out.grad\n            other.grad = 1.0 * out.grad\n"),
            ),
            "backward_mul": changed(
                "backward_mul",
                (MUL, "            self.grad = out.grad * other.data\n            other.grad = out.grad * self.data\n"),
            ),
            "backward_relu": changed(
                "backward_relu",
                (
                    RELU,
                    "            if self.data > 0:\n"
                    "                self.grad = out.grad\n"
                    "            else:\n"
                    "                self.grad = 0.0\n",
                ),
            ),
            # another valid order
            "manuelles_backward": changed(
                "manuelles_backward",
                ("x1w1._backward()\nx2w2._backward()", "x2w2._backward()\nx1w1._backward()"),
            ),
            # recursion that returns lists
            "topo_sort": (
                "def build_topo(root, visited=None):\n"
                "    if visited is None:\n"
                "        visited = set()\n"
                "    if root in visited:\n"
                "        return []\n"
                "    visited.add(root)\n"
                "    topo = []\n"
                "    for child in root._prev:\n"
                "        topo += build_topo(child, visited)\n"
                "    return topo + [root]\n"
            ),
            # a list as 'visited', slicing instead of reversed
            "backward_methode": changed(
                "backward_methode",
                ("        visited = set()\n", "        visited = []\n"),
                ("visited.add(v)", "visited.append(v)"),
                ("        for v in reversed(topo):\n", "        for v in topo[::-1]:\n"),
            ),
            "gradienten_akkumulieren": changed(
                "gradienten_akkumulieren",
                (ADD_ACC, "            self.grad += 1.0 * out.grad\n            other.grad += 1.0 * out.grad\n"),
                (RELU_ACC, "            if out.data > 0:\n                self.grad += out.grad\n"),
            ),
            # tanh via exp, bias added last, gradients reset before the forward pass, sum() from 0
            "mlp_training": changed(
                "mlp_training",
                (
                    "        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)\n"
                    "        return act.tanh()\n",
                    "        act = sum(wi * xi for wi, xi in zip(self.w, x)) + self.b\n"
                    "        e = (2 * act).exp()\n"
                    "        return (e - 1) / (e + 1)\n",
                ),
                (RESET, ""),
                (
                    "    vorhersagen = [modell(x) for x in xs]\n",
                    RESET + "    vorhersagen = [modell(x) for x in xs]\n",
                ),
                (
                    LOSS,
                    "    verlust = sum([(y_dach - y) ** 2 for y_dach, y in zip(vorhersagen, ys)])\n",
                ),
                (UPDATE, "        p.data += -lernrate * p.grad\n"),
            ),
        },
    ),
    # ------------------------------------------------------------------ typical mistakes (each test on its own)
    "falsch_a": Variant(
        answers={
            "differenzenquotient": changed("differenzenquotient", (DQ, "return f(x + h) - f(x)")),  # not divided by h
            "neuron_knoten": changed(  # bias forgotten
                "neuron_knoten", ("n = x1w1x2w2 + b\n", "n = x1w1x2w2\n")
            ),
            "backward_add": changed(  # out.grad ignored
                "backward_add", (ADD, "            self.grad = 1.0\n            other.grad = 1.0\n")
            ),
            "backward_mul": changed(  # not crossed: a gets a's data
                "backward_mul",
                (MUL, "            self.grad = self.data * out.grad\n            other.grad = other.data * out.grad\n"),
            ),
            "backward_relu": changed(  # gradient passed for negative inputs too
                "backward_relu", (RELU, "            self.grad = out.grad\n")
            ),
            "manuelles_backward": changed(  # the seed's defect: o.grad = 0
                "manuelles_backward", ("o.grad = 1.0", "o.grad = 0")
            ),
            "topo_sort": changed(  # node appended before its inputs (order reversed)
                "topo_sort",
                (
                    VISIT,
                    "        if v not in visited:\n"
                    "            visited.add(v)\n"
                    "            topo.append(v)\n"
                    "            for child in v._prev:\n"
                    "                visit(child)\n",
                ),
            ),
            "backward_methode": changed(  # _backward in topological instead of reversed order
                "backward_methode", ("        for v in reversed(topo):\n", "        for v in topo:\n")
            ),
            "gradienten_akkumulieren": changed(  # nothing fixed: '=' everywhere
                "gradienten_akkumulieren", (ADD_ACC, ADD), (MUL_ACC, MUL), (RELU_ACC, RELU)
            ),
            "mlp_training": changed("mlp_training", (RESET, "")),  # gradients never reset
        },
        points=ALL_WRONG,
    ),
    "falsch_b": Variant(
        answers={
            "differenzenquotient": changed("differenzenquotient", (DQ, "return (f(x) - f(x + h)) / h")),  # sign
            "neuron_knoten": changed(  # ReLU as a plain number: o no longer in the graph
                "neuron_knoten", ("o = n.relu()\n", "o = Value(max(0.0, n.data))\n")
            ),
            "backward_add": changed(  # only self gets a gradient
                "backward_add", (ADD, "            self.grad = out.grad\n")
            ),
            "backward_mul": changed(  # out.grad forgotten
                "backward_mul", (MUL, "            self.grad = other.data\n            other.grad = self.data\n")
            ),
            "backward_relu": changed(  # inverted condition
                "backward_relu", (RELU, "            self.grad = (1.0 if self.data < 0 else 0.0) * out.grad\n")
            ),
            "manuelles_backward": changed(  # left to right: leaves first
                "manuelles_backward",
                (
                    MANUAL,
                    "o.grad = 1.0\nx1w1._backward()\nx2w2._backward()\n"
                    "x1w1x2w2._backward()\nn._backward()\no._backward()",
                ),
            ),
            "topo_sort": changed(  # no visited check: shared nodes appear several times
                "topo_sort",
                (
                    VISIT,
                    "        for child in v._prev:\n            visit(child)\n        topo.append(v)\n",
                ),
            ),
            "backward_methode": changed(  # gradient of the root not set to 1
                "backward_methode", ("        self.grad = 1.0\n", "")
            ),
            "gradienten_akkumulieren": changed(  # only the addition fixed
                "gradienten_akkumulieren", (MUL_ACC, MUL), (RELU_ACC, RELU)
            ),
            "mlp_training": changed("mlp_training", (UPDATE, "        p.data += lernrate * p.grad\n")),  # ascent
        },
        points=ALL_WRONG,
    ),
    "falsch_c": Variant(
        answers={
            "differenzenquotient": changed(  # h far too large
                "differenzenquotient", (DQ, "return (f(x + 1) - f(x)) / 1")
            ),
            "neuron_knoten": changed(  # no labels
                "neuron_knoten",
                ('x1w1.label = "x1*w1"\n', ""),
                ('x2w2.label = "x2*w2"\n', ""),
                ('x1w1x2w2.label = "x1*w1 + x2*w2"\n', ""),
            ),
            "backward_add": changed(  # data instead of grad
                "backward_add", (ADD, "            self.grad = out.data\n            other.grad = out.data\n")
            ),
            "backward_mul": changed(  # out.data instead of out.grad
                "backward_mul",
                (MUL, "            self.grad = other.data * out.data\n            other.grad = self.data * out.data\n"),
            ),
            "backward_relu": changed(  # multiplied by the input instead of the local derivative
                "backward_relu", (RELU, "            self.grad = self.data * out.grad\n")
            ),
            "manuelles_backward": changed(  # one node forgotten
                "manuelles_backward", ("x1w1x2w2._backward()\n", "")
            ),
            "topo_sort": changed("topo_sort", ("    return topo", "    return topo[::-1]")),  # reversed list
            "backward_methode": changed(  # recursion without topological order: right for trees, wrong for DAGs
                "backward_methode",
                (
                    SOLUTION["backward_methode"][
                        SOLUTION["backward_methode"].index("        topo = []") : SOLUTION["backward_methode"].index(
                            BACKWARD
                        )
                        + len(BACKWARD)
                    ],
                    "        self.grad = 1.0\n\n"
                    "        def rueckwaerts(v):\n"
                    "            v._backward()\n"
                    "            for child in v._prev:\n"
                    "                rueckwaerts(child)\n\n"
                    "        rueckwaerts(self)",
                ),
            ),
            "gradienten_akkumulieren": changed(  # ReLU still assigns
                "gradienten_akkumulieren", (RELU_ACC, RELU)
            ),
            "mlp_training": changed(  # bias missing in parameters()
                "mlp_training", ("        return self.w + [self.b]\n", "        return self.w\n")
            ),
        },
        points=ALL_WRONG,
    ),
    # ------------------------------------------------------------------ grading gaps: difference quotient, ReLU at 0
    "richtig_c": Variant(
        answers={
            "differenzenquotient": changed(
                "differenzenquotient", (DQ, "differenz = f(x + h) - f(x)\n    return float(differenz / h)")
            ),
            "backward_relu": changed(
                "backward_relu", (RELU, "            self.grad = out.grad if self.data > 0 else 0.0\n")
            ),
        }
    ),
    "richtig_d": Variant(
        answers={
            "differenzenquotient": changed("differenzenquotient", (DQ, "return (f(x + h) - f(x)) * (1 / h)")),
            "backward_relu": changed(
                "backward_relu", (RELU, "            self.grad = float(self.data > 0) * out.grad\n")
            ),
        }
    ),
    "falsch_analytisch": Variant(
        answers={
            # the derivative of the parabola typed in instead of the difference quotient
            "differenzenquotient": changed("differenzenquotient", (DQ, "return 6 * x - 4")),
            # derivative 1 at exactly 0, where the task says 0
            "backward_relu": changed(
                "backward_relu", (RELU, "            self.grad = (1.0 if self.data >= 0 else 0.0) * out.grad\n")
            ),
        },
        points={"differenzenquotient": 0, "backward_relu": 0},
    ),
    "falsch_festes_h": Variant(
        answers={
            # the given h ignored: right for h = 0.0001 only
            "differenzenquotient": changed("differenzenquotient", (DQ, "return (f(x + 0.0001) - f(x)) / 0.0001")),
            "backward_relu": changed(
                "backward_relu", (RELU, "            self.grad = 0.0 if self.data < 0 else out.grad\n")
            ),
        },
        points={"differenzenquotient": 0, "backward_relu": 0},
    ),
    "falsch_zahl": Variant(
        answers={
            # the value at x = 3 typed in
            "differenzenquotient": changed("differenzenquotient", (DQ, "return 14.0003")),
            "backward_relu": changed("backward_relu", (RELU, "            self.grad = (out.data >= 0) * out.grad\n")),
        },
        points={"differenzenquotient": 0, "backward_relu": 0},
    ),
}

# Issue 20: wrong answers that got full points before.
VARIANTS["falsch_division_von_hand"] = Variant(
    answers={
        # the local derivative of a product as out.data / factor: right unless a factor is 0
        "backward_mul": changed(
            "backward_mul",
            (
                MUL,
                "            self.grad = out.data / self.data * out.grad\n"
                "            other.grad = out.data / other.data * out.grad\n",
            ),
        ),
        # the right gradients assigned by hand instead of calling _backward
        "manuelles_backward": changed(
            "manuelles_backward",
            (
                MANUAL,
                "o.grad = 1.0\nn.grad = 1.0\nx1w1x2w2.grad = 1.0\nb.grad = 1.0\nx1w1.grad = 1.0\nx2w2.grad = 1.0\n"
                "x1.grad = w1.data\nw1.grad = x1.data\nx2.grad = w2.data\nw2.grad = x2.data",
            ),
        ),
    },
    points={"backward_mul": 0, "manuelles_backward": 0},
)
