"""Grading of 07_kettenregel: alternative correct answers get full points, typical mistakes get 0."""

from harness import Variant, reference_answers, test_points  # noqa: F401  (test_points is collected by pytest)
from harness import changed as _changed

ASSIGNMENT = "07_kettenregel"

SOLUTION = reference_answers(ASSIGNMENT)


def changed(task: str, *replacements: tuple[str, str]) -> str:
    return _changed(SOLUTION, task, *replacements)


# The parts of the reference answers that the variants change.
AUTOGRAD_TENSORS = (
    "x = torch.tensor(1.0, requires_grad=True)\n"
    "y = torch.tensor(2.0, requires_grad=True)\n"
    "z = torch.tensor(4.0, requires_grad=True)\n"
)
NUMPY_LOOP = (
    "            delta = (delta @ self.weights[-i + 1]) * self.sigmoid_prime(zs[-i])\n"
    "            gradient_b[-i] = delta.sum(axis=0)\n"
    "            gradient_w[-i] = delta.T @ activations[-i - 1]\n"
)
TORCH_LAYERS = "self.layers = nn.ModuleList()"
TORCH_BACKWARD = (
    "        loss = self.loss_func(out, y)\n"
    "        self.zero_grad()\n"
    "        loss.backward()\n"
    "        gradients = [layer.weight.grad for layer in self.layers]\n"
)

WRONG = {"kettenregel_hand": 0, "autograd": 0, "numpy_backward": 0, "torch_gradients": 0}

VARIANTS = {
    # ------------------------------------------------------------------ other correct formulations
    "richtig_kompakt": Variant(
        answers={
            # closed form, everything in one go
            "kettenregel_hand": (
                "def gradienten_von_hand(x, y, z):\n"
                "    v = x * x + y\n"
                "    w = z * v\n"
                "    return w * w, 4 * w * z * x, 2 * w * z, 2 * w * v\n"
            ),
            # 1-element tensors, mixed dtypes, requires_grad_() afterwards
            "autograd": changed(
                "autograd",
                (
                    AUTOGRAD_TENSORS,
                    "x = torch.tensor([1.0], requires_grad=True)\n"
                    "y = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)\n"
                    "z = torch.tensor(4.0).requires_grad_()\n",
                ),
            ),
            # np.dot, np.sum, einsum
            "numpy_backward": changed(
                "numpy_backward",
                (
                    NUMPY_LOOP,
                    "            sp = self.sigmoid_prime(zs[-i])\n"
                    "            delta = np.dot(delta, self.weights[-i + 1]) * sp\n"
                    "            gradient_b[-i] = np.sum(delta, axis=0)\n"
                    '            gradient_w[-i] = np.einsum("nj,nk->jk", delta, activations[-i - 1])\n',
                ),
            ),
            # nn.Sequential as container, torch.autograd.grad instead of loss.backward()
            "torch_gradients": changed(
                "torch_gradients",
                (TORCH_LAYERS, "self.layers = nn.Sequential()"),
                (
                    TORCH_BACKWARD,
                    "        loss = self.loss_func(out, y)\n"
                    "        self.zero_grad()\n"
                    "        gradients = list(torch.autograd.grad(loss, [layer.weight for layer in self.layers]))\n",
                ),
            ),
        }
    ),
    "richtig_ausfuehrlich": Variant(
        answers={
            # NumPy numbers and np.power
            "kettenregel_hand": (
                "def gradienten_von_hand(x, y, z):\n"
                "    x, y, z = np.float64(x), np.float64(y), np.float64(z)\n"
                "    u = np.power(x, 2)\n"
                "    v = u + y\n"
                "    w = z * v\n"
                "    r = np.power(w, 2)\n"
                "    lokal = {'dr_dw': 2 * w, 'dw_dv': z, 'dw_dz': v, 'dv_du': 1.0, 'dv_dy': 1.0, 'du_dx': 2 * x}\n"
                "    dr_dv = lokal['dr_dw'] * lokal['dw_dv']\n"
                "    dr_dz = lokal['dr_dw'] * lokal['dw_dz']\n"
                "    dr_dy = dr_dv * lokal['dv_dy']\n"
                "    dr_dx = dr_dv * lokal['dv_du'] * lokal['du_dx']\n"
                "    return r, dr_dx, dr_dy, dr_dz\n"
            ),
            # float64 tensors from ints
            "autograd": changed(
                "autograd",
                (
                    AUTOGRAD_TENSORS,
                    "x, y, z = (torch.tensor(wert, dtype=torch.float64, requires_grad=True) for wert in (1, 2, 4))\n",
                ),
            ),
            # sigma' from the activations, one sample at a time
            "numpy_backward": changed(
                "numpy_backward",
                (
                    NUMPY_LOOP,
                    "            a = activations[-i]\n"
                    "            delta = (delta @ self.weights[-i + 1]) * a * (1 - a)\n"
                    "            gradient_b[-i] = np.zeros_like(self.biases[-i])\n"
                    "            gradient_w[-i] = np.zeros_like(self.weights[-i])\n"
                    "            for d_n, a_n in zip(delta, activations[-i - 1], strict=True):\n"
                    "                gradient_b[-i] += d_n\n"
                    "                gradient_w[-i] += np.outer(d_n, a_n)\n",
                ),
            ),
            # ModuleList from a list, gradients reset by hand, copies returned
            "torch_gradients": changed(
                "torch_gradients",
                (TORCH_LAYERS, "self.layers = nn.ModuleList([])"),
                (
                    TORCH_BACKWARD,
                    "        loss = self.loss_func(out, y)\n"
                    "        for p in self.parameters():\n"
                    "            p.grad = None\n"
                    "        loss.backward()\n"
                    "        gradients = []\n"
                    "        for layer in self.layers:\n"
                    "            gradients.append(layer.weight.grad.detach().clone())\n",
                ),
            ),
        }
    ),
    # ------------------------------------------------------------------ typical mistakes
    "falsch_faktoren_vergessen": Variant(
        answers={
            # du/dx = 2x taken as 2: right for x = 1 only
            "kettenregel_hand": changed("kettenregel_hand", ("dr_dx = dr_du * 2 * x", "dr_dx = dr_du * 2")),
            # x does not record gradients
            "autograd": changed("autograd", ("x = torch.tensor(1.0, requires_grad=True)", "x = torch.tensor(1.0)")),
            # sigma'(Z) forgotten
            "numpy_backward": changed(
                "numpy_backward",
                (
                    "delta = (delta @ self.weights[-i + 1]) * self.sigmoid_prime(zs[-i])",
                    "delta = delta @ self.weights[-i + 1]",
                ),
            ),
            # plain Python list: layers not registered, zero_grad does not reach them
            "torch_gradients": changed("torch_gradients", (TORCH_LAYERS, "self.layers = []")),
        },
        points=WRONG,
    ),
    "falsch_verwechselt": Variant(
        answers={
            # dw/dz forgotten
            "kettenregel_hand": changed("kettenregel_hand", ("dr_dz = dr_dw * v", "dr_dz = dr_dw")),
            # integer tensors cannot require gradients: the answer cell fails
            "autograd": changed(
                "autograd",
                (
                    AUTOGRAD_TENSORS,
                    "x = torch.tensor(1, requires_grad=True)\n"
                    "y = torch.tensor(2, requires_grad=True)\n"
                    "z = torch.tensor(4, requires_grad=True)\n",
                ),
            ),
            # sigma' applied to the activations instead of Z
            "numpy_backward": changed(
                "numpy_backward", ("self.sigmoid_prime(zs[-i])", "self.sigmoid_prime(activations[-i])")
            ),
            # zero_grad forgotten: the second call accumulates
            "torch_gradients": changed("torch_gradients", ("        self.zero_grad()\n", "")),
        },
        points=WRONG,
    ),
    "falsch_normierung": Variant(
        answers={
            # return order mixed up
            "kettenregel_hand": changed(
                "kettenregel_hand", ("return r, dr_dx, dr_dy, dr_dz", "return r, dr_dz, dr_dy, dr_dx")
            ),
            # averaged over the batch although loss_derivative already divides by B*K
            "numpy_backward": changed(
                "numpy_backward",
                (
                    "            gradient_b[-i] = delta.sum(axis=0)\n"
                    "            gradient_w[-i] = delta.T @ activations[-i - 1]\n",
                    "            gradient_b[-i] = delta.mean(axis=0)\n"
                    "            gradient_w[-i] = delta.T @ activations[-i - 1] / len(x)\n",
                ),
            ),
            # gradients of the biases collected instead of the weights
            "torch_gradients": changed("torch_gradients", ("layer.weight.grad for", "layer.bias.grad for")),
        },
        points={"kettenregel_hand": 0, "numpy_backward": 0, "torch_gradients": 0},
    ),
    "falsch_indizes": Variant(
        answers={
            # input of the layer taken one index too far back (the layer's own output)
            "numpy_backward": changed("numpy_backward", ("delta.T @ activations[-i - 1]", "delta.T @ activations[-i]")),
            # loss without the factor 0.5: gradients twice as large
            "torch_gradients": changed(
                "torch_gradients", ("loss = self.loss_func(out, y)", "loss = torch.mean((out - y) ** 2)")
            ),
        },
        points={"numpy_backward": 0, "torch_gradients": 0},
    ),
    # ------------------------------------------------------------------ the shapes worked out differently
    "richtig_spaltenform": Variant(
        answers={
            # the column-vector formulas of the notebook, applied example by example through transposes
            "numpy_backward": changed(
                "numpy_backward",
                (
                    NUMPY_LOOP,
                    "            delta_spalten = self.weights[-i + 1].T @ delta.T  # (n_l, B)\n"
                    "            delta = delta_spalten.T * self.sigmoid_prime(zs[-i])\n"
                    "            gradient_w[-i] = (activations[-i - 1].T @ delta).T\n"
                    "            gradient_b[-i] = np.ones(len(delta)) @ delta\n",
                ),
            ),
        }
    ),
    "falsch_formen": Variant(
        answers={
            # the weights of the layer itself instead of the layer behind it (shapes only fit by chance)
            "numpy_backward": changed("numpy_backward", ("delta @ self.weights[-i + 1]", "delta @ self.weights[-i].T")),
        },
        points={"numpy_backward": 0},
    ),
    "falsch_transponiert": Variant(
        answers={
            # W transposed: the shapes do not fit, the cell raises
            "numpy_backward": changed(
                "numpy_backward", ("delta @ self.weights[-i + 1]", "delta @ self.weights[-i + 1].T")
            ),
        },
        points={"numpy_backward": 0},
    ),
}
