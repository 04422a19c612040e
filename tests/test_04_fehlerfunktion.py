"""Grading of 04_fehlerfunktion: alternative right answers get full points, typical wrong ones 0."""

from harness import Variant, test_points  # noqa: F401  (test_points is collected by pytest)

ASSIGNMENT = "04_fehlerfunktion"

VARIANTS = {
    # Right: product instead of power, other order; MSE as a loop over squared_err (a (1,)-tensor for (N, 1)).
    "richtig_produkt_schleife": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    d = y - x\n    return d * d",
            "mse": "def mse(x, y):\n    return sum(squared_err(a, b) for a, b in zip(x, y)) / len(x)",
        }
    ),
    # Right: the square of the absolute value; torch.mean/torch.square and a Python float as the result.
    "richtig_betrag_quadrat_float": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    return abs(x - y) ** 2",
            "mse": "def mse(x, y):\n    return torch.mean(torch.square(x - y)).item()",
        }
    ),
    # Right: PyTorch's own functional MSE; squared_err with pow().
    "richtig_pow_functional": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    return pow(x - y, 2)",
            "mse": "def mse(x, y):\n    return torch.nn.functional.mse_loss(x, y)",
        }
    ),
    # Right: the sum divided by the number of rows; PyTorch's loss object itself as `mse`.
    "richtig_summe_durch_n_mseloss": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    return (y - x) * (y - x)",
            "mse": "mse = torch.nn.MSELoss()",
        }
    ),
    "richtig_summe_durch_n": Variant(
        answers={"mse": "def mse(x, y):\n    return ((x - y) ** 2).sum() / x.shape[0]"},
    ),
    # Wrong: the right value, but computed in place in the caller's tensor.
    "falsch_mse_inplace": Variant(
        answers={"mse": "def mse(x, y):\n    x -= y\n    x **= 2\n    return x.mean()"},
        points={"mse": 0},
    ),
    # Wrong: rounded to whole numbers (the visible cases are whole numbers, random pairs are not); rounded
    # to 4 places (close enough for the visible float32 check, not for the hidden float64 one).
    "falsch_gerundet": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    return int((x - y) ** 2)",
            "mse": "def mse(x, y):\n    return round(((x - y) ** 2).mean().item(), 4)",
        },
        points={"squared_err": 0, "mse": 0},
    ),
    # Wrong: the numbers of the examples instead of functions (the tests say in German that a function is needed).
    "falsch_zahlen_statt_funktionen": Variant(
        answers={"squared_err": "squared_err = 9.0", "mse": "mse = 5.0"},
        points={"squared_err": 0, "mse": 0},
    ),
    # Wrong: the functions under other names (the tests say in German which function is missing).
    "falsch_andere_namen": Variant(
        answers={
            "squared_err": "def squared_error(x, y):\n    return (x - y) ** 2",
            "mse": "def mean_squared_error(x, y):\n    return ((x - y) ** 2).mean()",
        },
        points={"squared_err": 0, "mse": 0},
    ),
    # Wrong: the absolute difference; the sum of the squared errors without the mean.
    "falsch_betrag_summe": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    return abs(x - y)",
            "mse": "def mse(x, y):\n    return ((x - y) ** 2).sum()",
        },
        points={"squared_err": 0, "mse": 0},
    ),
    # Wrong: the square forgotten; the mean of the differences squared.
    "falsch_ohne_quadrat_mittel_quadriert": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    return x - y",
            "mse": "def mse(x, y):\n    return (x - y).mean() ** 2",
        },
        points={"squared_err": 0, "mse": 0},
    ),
    # Wrong: doubled instead of squared; the root of the MSE (RMSE); a squared_err only for tensors.
    "falsch_mal_zwei_wurzel": Variant(
        answers={
            "squared_err": "def squared_err(x, y):\n    return (x - y) * 2",
            "mse": "def mse(x, y):\n    return torch.sqrt(((x - y) ** 2).mean())",
        },
        points={"squared_err": 0, "mse": 0},
    ),
    # Wrong: squared_err that works for tensors only (torch.square on floats fails); MSE answered correctly.
    "falsch_nur_tensoren": Variant(
        answers={"squared_err": "def squared_err(x, y):\n    return torch.square(x - y)"},
        points={"squared_err": 0},
    ),
}
