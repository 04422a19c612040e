"""Grading of 01_neuronen: alternative right answers get full points, typical wrong ones 0."""

from harness import Variant, test_points  # noqa: F401  (test_points is collected by pytest)

ASSIGNMENT = "01_neuronen"

VARIANTS = {
    # Right: a float, another way to build the layer and a (1, 3) input, the transposed batch.
    "richtig_float_batch_form": Variant(
        answers={
            "neuron_ausgabe": "ausgabe = 10.0",
            "layer_erzeugen": (
                "layer = torch.nn.Linear(in_features=3, out_features=10)\nx = torch.rand(1, 3)\ny = layer(x)"
            ),
            "batch_korrigieren": "x_rnd = torch.rand(3, 5).T\nlayer(x_rnd)",
        }
    ),
    # Right: the neuron's own output (a 1-element tensor with gradient), x defined first, a randn batch.
    "richtig_tensor": Variant(
        answers={
            "neuron_ausgabe": "ausgabe = neuron(torch.tensor([3.0, 2.0]))",
            "layer_erzeugen": "x = torch.tensor([1.0, 2.0, 3.0])\nlayer = torch.nn.Linear(3, 10)\ny = layer(x)\ny",
            "batch_korrigieren": "x_rnd = torch.randn(5, 3)",
        }
    ),
    # Right: a 0-d tensor worked out by hand.
    "richtig_0d_tensor": Variant(answers={"neuron_ausgabe": "ausgabe = torch.tensor(1.0 * 3 + 2.0 * 2 + 3.0)"}),
    # Wrong: bias forgotten; inputs and neurons swapped; the batch left as it was.
    "falsch_bias_vertauscht": Variant(
        answers={
            "neuron_ausgabe": "ausgabe = 1 * 3 + 2 * 2",
            "layer_erzeugen": "layer = torch.nn.Linear(10, 3)\nx = torch.rand(10)\ny = layer(x)",
            "batch_korrigieren": "x_rnd = torch.rand(3, 5)",
        },
        points={"neuron_ausgabe": 0, "layer_erzeugen": 0, "batch_korrigieren": 0},
    ),
    # Wrong: bias counted twice; y is not the layer's output; a batch of 5 single values.
    "falsch_doppelt_y": Variant(
        answers={
            "neuron_ausgabe": "ausgabe = 13",
            "layer_erzeugen": "layer = torch.nn.Linear(3, 10)\nx = torch.rand(3)\ny = x",
            "batch_korrigieren": "x_rnd = torch.rand(5)",
        },
        points={"neuron_ausgabe": 0, "layer_erzeugen": 0, "batch_korrigieren": 0},
    ),
    # Wrong: the answer under another name (the test says in German that `ausgabe` is missing); not a number;
    # a batch of 5 identical inputs.
    "falsch_name_nan_gleiche_zeilen": Variant(
        answers={
            "neuron_ausgabe": "ergebnis = 10",
            "batch_korrigieren": "x_rnd = torch.rand(1, 3).expand(5, 3)",
        },
        points={"neuron_ausgabe": 0, "batch_korrigieren": 0},
    ),
    "falsch_nan_ohne_y": Variant(
        answers={
            "neuron_ausgabe": "ausgabe = float('nan')",
            "layer_erzeugen": "layer = torch.nn.Linear(3, 10)\nx = torch.rand(3)",
            "batch_korrigieren": "x_rnd = torch.rand(5, 3)\nx_rnd[0, 0] = float('inf')",
        },
        points={"neuron_ausgabe": 0, "layer_erzeugen": 0, "batch_korrigieren": 0},
    ),
    # Wrong: whole numbers as input (the task asks for Gleitkommazahlen; the layer cannot take them as they are).
    "falsch_ganzzahlige_eingabe": Variant(
        answers={"layer_erzeugen": "layer = torch.nn.Linear(3, 10)\nx = torch.tensor([1, 2, 3])\ny = layer(x.float())"},
        points={"layer_erzeugen": 0},
    ),
    # Wrong: y computed for another input than x; a batch with 10 values per input.
    "falsch_anderes_x": Variant(
        answers={
            "layer_erzeugen": "layer = torch.nn.Linear(3, 10)\nx = torch.rand(3)\ny = layer(torch.rand(3))",
            "batch_korrigieren": "x_rnd = torch.rand(5, 10)",
        },
        points={"layer_erzeugen": 0, "batch_korrigieren": 0},
    ),
}
