"""Grading of 03_netze: alternative right answers get full points, typical wrong ones 0."""

from harness import Variant, test_points  # noqa: F401  (test_points is collected by pytest)

ASSIGNMENT = "03_netze"

NET_32_KOPIE = """import copy

net_32 = copy.deepcopy(net)
net_32[2] = torch.nn.Linear(16, 32)
net_32[4] = torch.nn.Linear(32, 16)"""

NET_32_ORDERED_DICT = """from collections import OrderedDict

net_32 = torch.nn.Sequential(
    OrderedDict(
        [
            ("ein", torch.nn.Linear(1, 16)),
            ("relu1", torch.nn.ReLU()),
            ("breit", torch.nn.Linear(16, 32)),
            ("relu2", torch.nn.ReLU()),
            ("danach", torch.nn.Linear(32, 16)),
            ("relu3", torch.nn.ReLU()),
            ("aus", torch.nn.Linear(16, 1)),
        ]
    )
)"""

# The second-to-last Linear layer widened instead (net_32[4] 16->32, net_32[6] 32->1).
NET_32_VORLETZTE = """net_32 = torch.nn.Sequential(
    torch.nn.Linear(1, 16),
    torch.nn.ReLU(),
    torch.nn.Linear(16, 16),
    torch.nn.ReLU(),
    torch.nn.Linear(16, 32),
    torch.nn.ReLU(),
    torch.nn.Linear(32, 1),
)"""

# net_32[2] widened, but net_32[4] forgotten: the forward pass fails.
NET_32_VERGESSEN = """net_32 = torch.nn.Sequential(
    torch.nn.Linear(1, 16),
    torch.nn.ReLU(),
    torch.nn.Linear(16, 32),
    torch.nn.ReLU(),
    torch.nn.Linear(16, 16),
    torch.nn.ReLU(),
    torch.nn.Linear(16, 1),
)"""

# The output layer without a bias: the visible tests pass, the hidden ones do not.
NET_32_OHNE_BIAS = """net_32 = torch.nn.Sequential(
    torch.nn.Linear(1, 16),
    torch.nn.ReLU(),
    torch.nn.Linear(16, 32),
    torch.nn.ReLU(),
    torch.nn.Linear(32, 16),
    torch.nn.ReLU(),
    torch.nn.Linear(16, 1, bias=False),
)"""

VARIANTS = {
    # Right: a copy of net with two layers replaced; the number as a 0-d tensor.
    "richtig_kopie_tensor": Variant(
        answers={"net_32": NET_32_KOPIE, "num_weights": "num_weights = torch.tensor(593)"},
    ),
    # Right: named layers; the number as a float.
    "richtig_namen_float": Variant(
        answers={"net_32": NET_32_ORDERED_DICT + "\nnet_32", "num_weights": "num_weights = 593.0"},
    ),
    # Right: counted by PyTorch (an int).
    "richtig_gezaehlt": Variant(
        answers={"num_weights": "num_weights = sum(p.numel() for p in net.parameters())"},
    ),
    # Wrong: a layer without bias; the number under another name (the test says in German that it is missing).
    "falsch_ohne_bias_anderer_name": Variant(
        answers={"net_32": NET_32_OHNE_BIAS, "num_weights": "anzahl_parameter = 593"},
        points={"net_32": 0, "num_weights": 0},
    ),
    # Wrong: the other hidden layer widened; only the weights counted (bias forgotten).
    "falsch_vorletzte_ohne_bias": Variant(
        answers={"net_32": NET_32_VORLETZTE, "num_weights": "num_weights = 1 * 16 + 16 * 16 + 16 * 16 + 16 * 1"},
        points={"net_32": 0, "num_weights": 0},
    ),
    # Wrong: net_32[4] not adapted; the parameters of net_32 counted instead of net.
    "falsch_vergessen_net32_gezaehlt": Variant(
        answers={"net_32": NET_32_VERGESSEN, "num_weights": "num_weights = 1121"},
        points={"net_32": 0, "num_weights": 0},
    ),
    # Wrong: net itself; the number of neurons instead of parameters.
    "falsch_unveraendert_neuronen": Variant(
        answers={"net_32": "net_32 = net", "num_weights": "num_weights = 16 + 16 + 16 + 1"},
        points={"net_32": 0, "num_weights": 0},
    ),
}
