"""Grading of 05_training: alternative right answers get full points, typical wrong ones 0."""

from harness import Variant, reference_answers, test_points  # noqa: F401  (test_points is collected by pytest)

ASSIGNMENT = "05_training"

LOOP_HEAD = "torch.manual_seed(1)\nmax_iter = 1000\n"

# A correct training step as the reference writes it (for the wrong variants of the loop below).
STEP = """\
    batch_ind = torch.randint(len(x_train), (16,))
    x_batch = x_train[batch_ind]
    y_batch = y_train[batch_ind]
    loss = torch_mse(net(x_batch), y_batch)
"""

# An improved network in the monitoring cell; {extra} goes into the loop after the optimizer step.
MONITORING = """\
torch.manual_seed(3)
net = torch.nn.Sequential(
    torch.nn.Linear(1, 64), torch.nn.ReLU(),
    torch.nn.Linear(64, 64), torch.nn.ReLU(),
    torch.nn.Linear(64, 64), torch.nn.ReLU(),
    torch.nn.Linear(64, 1),
)
max_iter = 1000
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_iter)
loss_hist = []
for it in tqdm(range(max_iter)):
    batch_ind = torch.randint(len(x_train), (64,))
    loss = torch_mse(net(x_train[batch_ind]), y_train[batch_ind])
    {zero_grad}
    loss.backward()
    optimizer.step()
    scheduler.step()
    {append}
    if it % 100 == 0:
        with torch.no_grad():
            print(it, torch_mse(net(x_val), y_val).item())
"""


def monitoring(zero_grad="optimizer.zero_grad()", append="loss_hist.append(loss.item())", watch=None):
    """The improved network; ``watch`` replaces the validation every 100 steps."""
    source = MONITORING.format(zero_grad=zero_grad, append=append)
    if watch is not None:
        block = source[source.index("    if it % 100 == 0:") :]
        source = source.replace(block, watch)
    return source


def loop(step: str) -> str:
    """The training loop cell with ``step`` as the body of each of the 1000 steps."""
    return LOOP_HEAD + "for _ in tqdm(range(max_iter)):\n" + step


VARIANTS = {
    # Right: one-line batch with randint(0, n, (16, 1)) (inputs of shape (16, 1, 1)), backward and step first,
    # net.zero_grad() at the end (the gradients are then None); squeezed predictions and a float MSE; a narrower
    # network with 1500 steps and float(loss) in loss_hist.
    "richtig_zero_grad_am_ende": Variant(
        answers={
            "training_loop": LOOP_HEAD + "for _ in tqdm(range(max_iter)):\n"
            "    idx = torch.randint(0, len(x_train), (16, 1))\n"
            "    loss = torch_mse(net(x_train[idx]), y_train[idx])\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    net.zero_grad()\n",
            "test_loss": "with torch.no_grad():\n"
            "    y_pred_test = net(x_test).squeeze()\n"
            "    err = ((y_pred_test - y_test.squeeze()) ** 2).mean().item()\n"
            "print(err)",
            "training_monitoring": "torch.manual_seed(5)\n"
            "net = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),\n"
            "    torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))\n"
            "max_iter = 1500\n"
            "optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)\n"
            "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max_iter)\n"
            "loss_hist = []\n"
            "for it in tqdm(range(max_iter)):\n"
            "    ind = torch.randint(len(x_train), (64,))\n"
            "    optimizer.zero_grad()\n"
            "    loss = torch_mse(net(x_train[ind]), y_train[ind])\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    scheduler.step()\n"
            "    loss_hist += [float(loss)]\n"
            "    if it % 100 == 0:\n"
            "        with torch.no_grad():\n"
            "            print(f'{it}: {torch_mse(net(x_val), y_val):.4f}')\n"
            "plt.plot(loss_hist)\n"
            "plt.show()",
        }
    ),
    # Right: a batch from randperm, zero_grad(set_to_none=False), the test MSE printed after the loop (without
    # no_grad, so the protocol records it with gradients); the functional MSE as a tensor; a learning
    # rate lowered by hand after 800 steps and loss_hist as a NumPy array.
    "richtig_randperm_lr_von_hand": Variant(
        answers={
            "training_loop": LOOP_HEAD + "for _ in tqdm(range(max_iter)):\n"
            "    ind = torch.randperm(len(x_train))[:16]\n"
            "    y_pred = net(x_train[ind])\n"
            "    loss = torch.nn.functional.mse_loss(y_pred, y_train[ind])\n"
            "    optimizer.zero_grad(set_to_none=False)\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "print('MSE auf den Testdaten:', torch_mse(net(x_test), y_test).item())\n",
            "test_loss": "with torch.no_grad():\n"
            "    y_pred_test = net(x_test)\n"
            "    err = torch.nn.functional.mse_loss(y_pred_test, y_test)\n",
            "training_monitoring": "import numpy as np\n"
            "torch.manual_seed(4)\n"
            "net = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),\n"
            "    torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))\n"
            "optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)\n"
            "max_iter = 1200\n"
            "verlauf = []\n"
            "for it in tqdm(range(max_iter)):\n"
            "    if it == 800:\n"
            "        for group in optimizer.param_groups:\n"
            "            group['lr'] = 1e-3\n"
            "    ind = torch.randint(len(x_train), (64,))\n"
            "    loss = torch_mse(net(x_train[ind]), y_train[ind])\n"
            "    optimizer.zero_grad()\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    verlauf.append(loss.item())\n"
            "    if it % 100 == 0:\n"
            "        with torch.no_grad():\n"
            "            print(it, torch_mse(net(x_val), y_val).item())\n"
            "loss_hist = np.array(verlauf)",
        }
    ),
    # Wrong: no optimizer.step() (the net stays untrained); predictions and MSE on the training data;
    # loss_hist holds the loss tensors instead of numbers.
    "falsch_ohne_step_trainingsdaten_tensoren": Variant(
        answers={
            "training_loop": LOOP_HEAD
            + "for _ in tqdm(range(max_iter)):\n"
            + STEP
            + "    optimizer.zero_grad()\n    loss.backward()\n",
            "test_loss": "with torch.no_grad():\n"
            "    y_pred_test = net(x_train)\n"
            "    err = torch_mse(y_pred_test, y_train)\n",
            "training_monitoring": monitoring(append="loss_hist.append(loss)"),
        },
        points={"training_loop": 0, "test_loss": 0, "training_monitoring": 0},
    ),
    # Wrong: no zero_grad (the gradients add up); the sum instead of the mean; the plain network of the
    # first loop with monitoring but without any improvement.
    "falsch_ohne_zero_grad_summe_unverbessert": Variant(
        answers={
            "training_loop": LOOP_HEAD
            + "for _ in tqdm(range(max_iter)):\n"
            + STEP
            + "    loss.backward()\n    optimizer.step()\n",
            "test_loss": "with torch.no_grad():\n"
            "    y_pred_test = net(x_test)\n"
            "    err = ((y_pred_test - y_test) ** 2).sum()\n",
            "training_monitoring": "torch.manual_seed(0)\n"
            "net = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),\n"
            "    torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))\n"
            "optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)\n"
            "max_iter = 1000\n"
            "loss_hist = []\n"
            "for it in tqdm(range(max_iter)):\n" + STEP + "    optimizer.zero_grad()\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    loss_hist.append(loss.item())\n"
            "    if it % 100 == 0:\n"
            "        with torch.no_grad():\n"
            "            print(it, torch_mse(net(x_val), y_val).item())\n",
        },
        points={"training_loop": 0, "test_loss": 0, "training_monitoring": 0},
    ),
    # Wrong: always the example batch from above (never a new one); the predictions without torch.no_grad();
    # loss_hist only every 100 steps.
    "falsch_beispielbatch_ohne_no_grad_selten": Variant(
        answers={
            "training_loop": LOOP_HEAD + "for _ in tqdm(range(max_iter)):\n"
            "    loss = torch_mse(net(x_batch), y_batch)\n"
            "    optimizer.zero_grad()\n"
            "    loss.backward()\n"
            "    optimizer.step()\n",
            "test_loss": "y_pred_test = net(x_test)\nerr = torch_mse(y_pred_test, y_test)\nprint(err)",
            "training_monitoring": monitoring(append="if it % 100 == 0:\n        loss_hist.append(loss.item())"),
        },
        points={"training_loop": 0, "test_loss": 0, "training_monitoring": 0},
    ),
    # Wrong: one batch drawn once before the loop; the root of the MSE; the improved network but without
    # zero_grad in the monitoring loop.
    "falsch_einmal_gezogen_wurzel_monitoring_ohne_zero_grad": Variant(
        answers={
            "training_loop": LOOP_HEAD + "batch_ind = torch.randint(len(x_train), (16,))\n"
            "for _ in tqdm(range(max_iter)):\n"
            "    loss = torch_mse(net(x_train[batch_ind]), y_train[batch_ind])\n"
            "    optimizer.zero_grad()\n"
            "    loss.backward()\n"
            "    optimizer.step()\n",
            "test_loss": "with torch.no_grad():\n"
            "    y_pred_test = net(x_test)\n"
            "    err = torch_mse(y_pred_test, y_test).sqrt()\n",
            "training_monitoring": monitoring(zero_grad="pass"),
        },
        points={"training_loop": 0, "test_loss": 0, "training_monitoring": 0},
    ),
    # Right: the mini-batches from a shuffled DataLoader over the training data (exactly 16 per batch, a new
    # iterator after each pass); the validation loss every 50 steps, counted from 1, with an F-string.
    "richtig_dataloader_validierung_alle_50": Variant(
        answers={
            "training_loop": LOOP_HEAD + "loader = torch.utils.data.DataLoader(\n"
            "    torch.utils.data.TensorDataset(x_train, y_train), batch_size=16, shuffle=True)\n"
            "batches = iter(loader)\n"
            "for _ in tqdm(range(max_iter)):\n"
            "    try:\n"
            "        xb, yb = next(batches)\n"
            "    except StopIteration:\n"
            "        batches = iter(loader)\n"
            "        xb, yb = next(batches)\n"
            "    optimizer.zero_grad()\n"
            "    torch_mse(net(xb), yb).backward()\n"
            "    optimizer.step()\n",
            "training_monitoring": monitoring(
                watch="    if (it + 1) % 50 == 0:\n"
                "        with torch.no_grad():\n"
                "            val = torch_mse(net(x_val), y_val)\n"
                "        print(f'Schritt {it + 1}: {val.item():.4f}')\n"
            ),
        }
    ),
    # Wrong (grading gaps of issue 11): the mini-batches come from the test data (the net still learns the
    # curve); the monitoring loop never evaluates the validation data.
    "falsch_testdaten_nie_validiert": Variant(
        answers={
            "training_loop": loop(
                "    ind = torch.randint(len(x_test), (16,))\n"
                "    loss = torch_mse(net(x_test[ind]), y_test[ind])\n"
                "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
            ),
            "training_monitoring": monitoring(watch=""),
        },
        points={"training_loop": 0, "training_monitoring": 0},
    ),
    # Wrong: every step trains on all training data instead of a mini-batch of 16; the monitoring evaluates
    # the test data every 100 steps (tuning on the test set).
    "falsch_alle_trainingsdaten_testdaten_beobachtet": Variant(
        answers={
            "training_loop": loop(
                "    loss = torch_mse(net(x_train), y_train)\n"
                "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
            ),
            "training_monitoring": monitoring(
                watch="    if it % 100 == 0:\n"
                "        with torch.no_grad():\n"
                "            print(it, torch_mse(net(x_test), y_test).item())\n"
            ),
        },
        points={"training_loop": 0, "training_monitoring": 0},
    ),
    # Wrong: mini-batches of 16 from the validation data; the validation loss only once, after training.
    "falsch_validierungsdaten_nur_am_ende": Variant(
        answers={
            "training_loop": loop(
                "    ind = torch.randint(len(x_val), (16,))\n"
                "    loss = torch_mse(net(x_val[ind]), y_val[ind])\n"
                "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
            ),
            "training_monitoring": monitoring(watch="")
            + "with torch.no_grad():\n    print(torch_mse(net(x_val), y_val).item())\n",
        },
        points={"training_loop": 0, "training_monitoring": 0},
    ),
    # Wrong: mini-batches of 4 instead of 16 (trains well); the validation only every 200 steps.
    "falsch_batch_4_alle_200": Variant(
        answers={
            "training_loop": loop(
                STEP.replace("(16,)", "(4,)") + "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
            ),
            "training_monitoring": monitoring(
                watch="    if it % 200 == 0:\n"
                "        with torch.no_grad():\n"
                "            print(it, torch_mse(net(x_val), y_val).item())\n"
            ),
        },
        points={"training_loop": 0, "training_monitoring": 0},
    ),
    # Right: an own nn.Module class; the validation loss at the start of every block of 100 steps, before the
    # training step, under torch.inference_mode(); the training loop without tqdm and with a step counter.
    "richtig_eigene_klasse_validierung_vor_dem_schritt": Variant(
        answers={
            "training_loop": LOOP_HEAD + "for schritt in range(max_iter):\n"
            "    auswahl = torch.randint(high=x_train.shape[0], size=(16,))\n"
            "    optimizer.zero_grad()\n"
            "    fehler = torch_mse(net(x_train[auswahl]), y_train[auswahl])\n"
            "    fehler.backward()\n"
            "    optimizer.step()\n",
            "training_monitoring": "class Netz(torch.nn.Module):\n"
            "    def __init__(self, breite):\n"
            "        super().__init__()\n"
            "        self.schichten = torch.nn.ModuleList(\n"
            "            [torch.nn.Linear(1, breite)] + [torch.nn.Linear(breite, breite) for _ in range(2)])\n"
            "        self.aus = torch.nn.Linear(breite, 1)\n"
            "\n"
            "    def forward(self, x):\n"
            "        for schicht in self.schichten:\n"
            "            x = torch.relu(schicht(x))\n"
            "        return self.aus(x)\n"
            "\n"
            "\n"
            "torch.manual_seed(7)\n"
            "net = Netz(64)\n"
            "max_iter = 1000\n"
            "optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)\n"
            "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_iter)\n"
            "loss_hist = []\n"
            "for it in tqdm(range(max_iter)):\n"
            "    if it % 100 == 0:\n"
            "        with torch.inference_mode():\n"
            "            print(it, torch.nn.functional.mse_loss(net(x_val), y_val).item())\n"
            "    ind = torch.randint(len(x_train), (64,))\n"
            "    loss = torch_mse(net(x_train[ind]), y_train[ind])\n"
            "    optimizer.zero_grad()\n"
            "    loss.backward()\n"
            "    optimizer.step()\n"
            "    scheduler.step()\n"
            "    loss_hist.append(loss.item())\n",
        }
    ),
}

# Issue 20: right answers in other legitimate forms, wrong answers that passed before.
TRAINING_LOOP = reference_answers(ASSIGNMENT)["training_loop"]
VARIANTS.update(
    {
        # Right: `net.forward(x)` and every sample on its own (16 forward passes, one step), gradient clipping
        # between backward() and step(); the validation predictions in chunks of 200, also with net.forward.
        "richtig_forward_einzeln_clipping_validierung_in_teilen": Variant(
            answers={
                "training_loop": loop(
                    "    batch_ind = torch.randint(len(x_train), (16,))\n"
                    "    optimizer.zero_grad()\n"
                    "    loss = sum(torch_mse(net.forward(x_train[i]), y_train[i]) for i in batch_ind) / 16\n"
                    "    loss.backward()\n"
                    "    torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)\n"
                    "    optimizer.step()\n"
                ),
                "training_monitoring": monitoring(
                    watch="    if it % 100 == 0:\n"
                    "        with torch.no_grad():\n"
                    "            teile = [net.forward(x_val[i : i + 200]) for i in range(0, len(x_val), 200)]\n"
                    "            print(it, torch_mse(torch.cat(teile), y_val).item())\n"
                ),
            }
        ),
        # Right: the training cell run a second time (the protocol keeps both runs; only the last one counts).
        "richtig_trainingszelle_zweimal": Variant(
            answers={"training_loop": TRAINING_LOOP + f"\nget_ipython().run_cell({TRAINING_LOOP!r})\n"}
        ),
        # Wrong: a new Adam optimizer in every step (it trains, but Adam forgets its state); the validation loss
        # computed with gradients and trained on every 100 steps. test_loss keeps its points.
        "falsch_neuer_adam_pro_schritt_validierung_trainiert": Variant(
            answers={
                "training_loop": loop(
                    STEP + "    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)\n"
                    "    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
                ),
                "training_monitoring": monitoring(
                    watch="    if it % 100 == 0:\n"
                    "        val_loss = torch_mse(net(x_val), y_val)\n"
                    "        optimizer.zero_grad()\n"
                    "        val_loss.backward()\n"
                    "        optimizer.step()\n"
                    "        print(it, val_loss.item())\n"
                ),
            },
            points={"training_loop": 0, "training_monitoring": 0},
        ),
        # Wrong: a hand-written update with the wrong sign (the net diverges to nan): only training_loop is lost,
        # test_loss computes the (nan) MSE of that net correctly. The monitoring keeps the validation predictions
        # but prints the loss of the mini-batch where the validation loss is asked.
        "falsch_divergiert_trainingsverlust_ausgegeben": Variant(
            answers={
                "training_loop": loop(
                    STEP + "    net.zero_grad()\n    loss.backward()\n"
                    "    with torch.no_grad():\n"
                    "        for p in net.parameters():\n"
                    "            p += 0.1 * p.grad\n"
                ),
                "training_monitoring": monitoring(
                    watch="    if it % 100 == 0:\n"
                    "        with torch.no_grad():\n"
                    "            snapshot = net(x_val)\n"
                    "        print(it, loss.item())\n"
                ),
            },
            points={"training_loop": 0, "training_monitoring": 0},
        ),
        # Wrong: the test MSE typed in as a number (the visible messages no longer print the expected value).
        "falsch_test_loss_eingetippt": Variant(
            answers={"test_loss": "with torch.no_grad():\n    y_pred_test = net(x_test)\nerr = 0.0412\n"},
            points={"test_loss": 0},
        ),
    }
)


def test_visible_messages_do_not_print_the_expected_mse():
    """The visible part of test_test_loss never formats the expected value into a message (it could be typed in)."""
    from harness import REPO

    from course.cells import BEGIN_HIDDEN
    from course.layout import read_notebook, source_notebook

    nb = read_notebook(source_notebook(REPO, ASSIGNMENT))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_test_loss")
    visible = cell.source.split(BEGIN_HIDDEN)[0]
    assert "{_soll" not in visible and "_soll:" not in visible
