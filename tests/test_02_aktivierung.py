"""Grading of 02_aktivierung: alternative right answers get full points, typical wrong ones 0."""

from harness import Variant, test_points  # noqa: F401  (test_points is collected by pytest)

ASSIGNMENT = "02_aktivierung"

VARIANTS = {
    # Right: Python's max; torch.where with a scalar.
    "richtig_max_where": Variant(
        answers={
            "my_single_relu": "def my_single_relu(x):\n    return max(0, x)",
            "my_tensor_relu": "def my_tensor_relu(x):\n    return torch.where(x > 0, x, 0)",
        }
    ),
    # Right: if/else returning a float; torch.clamp.
    "richtig_if_clamp": Variant(
        answers={
            "my_single_relu": "def my_single_relu(x):\n    if x < 0:\n        return 0.0\n    return x",
            "my_tensor_relu": "def my_tensor_relu(x):\n    return torch.clamp(x, min=0)",
        }
    ),
    # Right: multiplying with the mask (keeps integer dtypes).
    "richtig_maske": Variant(answers={"my_tensor_relu": "def my_tensor_relu(x):\n    return x * (x > 0)"}),
    # Wrong: no function (the test says so in German); the function under another name.
    "falsch_keine_funktion_anderer_name": Variant(
        answers={
            "my_single_relu": "my_single_relu = 0",
            "my_tensor_relu": "def tensor_relu(x):\n    return torch.clamp(x, min=0)",
        },
        points={"my_single_relu": 0, "my_tensor_relu": 0},
    ),
    # Wrong: a float for every input (int in, float out is right; but 1e-9 -> 0.0 is wrong); a Python loop
    # that works only for 1-D tensors (the visible test passes, the hidden 0-d and 2-D cases fail).
    "falsch_gerundet_nur_1d": Variant(
        answers={
            "my_single_relu": "def my_single_relu(x):\n    return round(max(0, x), 3)",
            "my_tensor_relu": (
                "def my_tensor_relu(x):\n    return torch.tensor([max(0, v) for v in x.tolist()], dtype=x.dtype)"
            ),
        },
        points={"my_single_relu": 0, "my_tensor_relu": 0},
    ),
    # Wrong: the absolute value instead of ReLU.
    "falsch_abs": Variant(
        answers={
            "my_single_relu": "def my_single_relu(x):\n    return abs(x)",
            "my_tensor_relu": "def my_tensor_relu(x):\n    return abs(x)",
        },
        points={"my_single_relu": 0, "my_tensor_relu": 0},
    ),
    # Wrong: a tensor instead of a number; clamp_ changes the input in place.
    "falsch_tensor_inplace": Variant(
        answers={
            "my_single_relu": "def my_single_relu(x):\n    return torch.relu(torch.tensor(x))",
            "my_tensor_relu": "def my_tensor_relu(x):\n    return x.clamp_(min=0)",
        },
        points={"my_single_relu": 0, "my_tensor_relu": 0},
    ),
    # Wrong: the identity; the maximum of the whole tensor.
    "falsch_identitaet_max": Variant(
        answers={
            "my_single_relu": "def my_single_relu(x):\n    return x",
            "my_tensor_relu": "def my_tensor_relu(x):\n    return torch.max(x)",
        },
        points={"my_single_relu": 0, "my_tensor_relu": 0},
    ),
}
