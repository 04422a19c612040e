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
