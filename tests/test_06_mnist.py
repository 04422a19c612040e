"""Grading of 06_mnist: alternative correct answers get full points, typical mistakes get none.

Every Variant is a full autograde with training, so the alternatives of all tasks share two
Variants and the mistakes share two more.
"""

from harness import Variant, reference_answers, test_points  # noqa: F401  (test_points is collected by pytest)
from harness import changed as _changed

ASSIGNMENT = "06_mnist"
SOLUTION = reference_answers(ASSIGNMENT)


def changed(task: str, *replacements: tuple[str, str]) -> str:
    return _changed(SOLUTION, task, *replacements)


TASKS = ("dataloader", "mnist_net", "loss_optimizer", "mnist_training", "accuracy", "accuracy_per_epoch")
NONE = dict.fromkeys(TASKS, 0)

# --------------------------------------------------------------------------- correct alternatives

RICHTIG_A = {
    # positional arguments, explicit shuffle=False
    "dataloader": """
train_loader = torch.utils.data.DataLoader(mnist_train, 16, True)
test_loader = torch.utils.data.DataLoader(mnist_test, batch_size=16, shuffle=False)
""",
    # own nn.Module class without Flatten/ReLU modules, moved to the device right away
    "mnist_net": """
class DigitNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(784, 100)
        self.out = torch.nn.Linear(100, 10)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return self.out(torch.relu(self.hidden(x)))


net = DigitNet().to(device)
""",
    "loss_optimizer": """
from torch import nn

loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(params=net.parameters(), lr=0.001)
""",
    # zero_grad first, enumerate, float(loss)
    "mnist_training": """
def train(net, loader, loss_fn, optimizer, n_epoch):
    loss_hist = []
    for ep in range(n_epoch):
        for i, (x_batch, y_batch) in enumerate(tqdm(loader)):
            optimizer.zero_grad()
            loss = loss_fn(net(x_batch.to(device)), y_batch.to(device))
            loss.backward()
            optimizer.step()
            loss_hist.append(float(loss))
    return loss_hist
""",
    # without torch.no_grad (wasteful, not wrong), max(...).indices, counts kept as tensors
    "accuracy": """
def evaluate(net, loader):
    sum_correct = 0
    sum_imgs = 0
    for x_batch, y_batch in loader:
        x_batch, y_batch = x_batch.to(device), y_batch.to(device)
        y_pred = net(x_batch).max(dim=1).indices
        sum_correct += (y_pred == y_batch).sum()
        sum_imgs += x_batch.shape[0]
    return sum_correct / sum_imgs
""",
    # reuses the student's own train and evaluate, one epoch per loop pass
    "accuracy_per_epoch": """
n_epoch = 2 if AUTOGRADING else 5
acc_hist = []
better_net = torch.nn.Sequential(
    torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
).to(device)
loader = torch.utils.data.DataLoader(mnist_train, batch_size=32, shuffle=True)
opt = torch.optim.Adam(better_net.parameters(), lr=1e-3)
val_loader = torch.utils.data.DataLoader(mnist_val, batch_size=100)
for ep in range(n_epoch):
    train(better_net, loader, torch.nn.CrossEntropyLoss(), opt, 1)
    acc_hist.append(evaluate(better_net, val_loader))
""",
}

RICHTIG_B = {
    # an explicit sampler instead of shuffle=True
    "dataloader": """
from torch.utils.data import DataLoader, RandomSampler

train_loader = DataLoader(mnist_train, batch_size=16, sampler=RandomSampler(mnist_train))
test_loader = DataLoader(dataset=mnist_test, batch_size=16)
""",
    # two hidden layers with Tanh, Dropout
    "mnist_net": """
net = torch.nn.Sequential(
    torch.nn.Flatten(start_dim=1),
    torch.nn.Linear(784, 200),
    torch.nn.Tanh(),
    torch.nn.Dropout(0.1),
    torch.nn.Linear(200, 64),
    torch.nn.Tanh(),
    torch.nn.Linear(64, 10),
)
""",
    "loss_optimizer": """
loss_fn = torch.nn.CrossEntropyLoss(reduction="mean")
optimizer = torch.optim.Adam(list(net.parameters()), lr=2e-3)
""",
    # zero_grad after the step, net.train(), loss.detach().item(), list concatenation
    "mnist_training": """
def train(net, loader, loss_fn, optimizer, n_epoch):
    net.train()
    loss_hist = []
    for _ in range(n_epoch):
        for x_batch, y_batch in tqdm(loader, leave=False):
            x_batch = x_batch.to(device)
            y_batch = y_batch.to(device)
            output = net(x_batch)
            loss = loss_fn(output, y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss_hist += [loss.detach().item()]
    return loss_hist
""",
    # no_grad around the loop, softmax before argmax, eval mode, numel
    "accuracy": """
def evaluate(net, loader):
    net.eval()
    sum_correct = 0
    sum_imgs = 0
    with torch.no_grad():
        for x_batch, y_batch in loader:
            probabilities = torch.softmax(net(x_batch.to(device)), dim=1)
            predicted = torch.argmax(probabilities, dim=-1)
            sum_correct += predicted.eq(y_batch.to(device)).sum().item()
            sum_imgs += y_batch.numel()
    net.train()
    return sum_correct / sum_imgs
""",
    # stores a copy of the net after every epoch and evaluates the copies afterwards (with Dropout, eval mode)
    "accuracy_per_epoch": """
import copy

n_epoch = 2 if AUTOGRADING else 5
acc_hist = []
better_net = torch.nn.Sequential(
    torch.nn.Flatten(),
    torch.nn.Linear(784, 256),
    torch.nn.ReLU(),
    torch.nn.Dropout(0.05),
    torch.nn.Linear(256, 128),
    torch.nn.ReLU(),
    torch.nn.Linear(128, 10),
).to(device)
opt = torch.optim.Adam(better_net.parameters(), lr=2e-3)
my_loader = torch.utils.data.DataLoader(mnist_train, batch_size=64, shuffle=True)
snapshots = []
for ep in range(n_epoch):
    better_net.train()
    for x, y in tqdm(my_loader):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(better_net(x.to(device)), y.to(device)).backward()
        opt.step()
    snapshots.append(copy.deepcopy(better_net))
for snapshot in snapshots:
    snapshot.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(mnist_val, batch_size=1000):
            correct += (snapshot(x.to(device)).argmax(1) == y.to(device)).sum().item()
    acc_hist.append(correct / len(mnist_val))
better_net.eval()
""",
}

# --------------------------------------------------------------------------- typical mistakes

FALSCH_A = {
    # the test data are shuffled too
    "dataloader": """
train_loader = torch.utils.data.DataLoader(mnist_train, batch_size=16, shuffle=True)
test_loader = torch.utils.data.DataLoader(mnist_test, batch_size=16, shuffle=True)
""",
    # no nonlinearity: the whole net is one linear map
    "mnist_net": """
net = torch.nn.Sequential(
    torch.nn.Flatten(),
    torch.nn.Linear(784, 128),
    torch.nn.Linear(128, 10),
)
""",
    # the optimizer trains a different network
    "loss_optimizer": """
loss_fn = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(torch.nn.Linear(784, 10).parameters())
""",
    # the loss tensor itself (with its graph) is stored instead of a number
    "mnist_training": changed("mnist_training", ("loss_hist.append(loss.item())", "loss_hist.append(loss)")),
    # counts batches instead of images
    "accuracy": changed("accuracy", ("sum_imgs += len(y_batch)", "sum_imgs += 1")),
    # the counters are not reset per epoch: from the second epoch on the value mixes all epochs
    "accuracy_per_epoch": """
n_epoch = 2 if AUTOGRADING else 5
acc_hist = []
better_net = torch.nn.Sequential(
    torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
).to(device)
opt = torch.optim.Adam(better_net.parameters(), lr=2e-3)
loader = torch.utils.data.DataLoader(mnist_train, batch_size=64, shuffle=True)
sum_correct = 0
sum_imgs = 0
for ep in range(n_epoch):
    for x, y in tqdm(loader):
        loss = torch.nn.functional.cross_entropy(better_net(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(mnist_val, batch_size=500):
            sum_correct += (better_net(x.to(device)).argmax(dim=1) == y.to(device)).sum().item()
            sum_imgs += len(y)
    acc_hist.append(sum_correct / sum_imgs)
""",
}

FALSCH_B = {
    # the training data are not shuffled
    "dataloader": """
train_loader = torch.utils.data.DataLoader(mnist_train, batch_size=16)
test_loader = torch.utils.data.DataLoader(mnist_test, batch_size=16)
""",
    # no Flatten: Linear gets images of shape (1, 28, 28)
    "mnist_net": """
net = torch.nn.Sequential(
    torch.nn.Linear(784, 128),
    torch.nn.ReLU(),
    torch.nn.Linear(128, 10),
)
""",
    # SGD instead of Adam
    "loss_optimizer": """
loss_fn = torch.nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
""",
    # zero_grad forgotten: the gradients pile up over the batches
    "mnist_training": changed("mnist_training", ("            optimizer.zero_grad()\n", "")),
    # argmax over the batch dimension
    "accuracy": changed("accuracy", ("argmax(dim=1)", "argmax(dim=0)")),
    # accuracy in percent instead of a fraction
    "accuracy_per_epoch": """
n_epoch = 2 if AUTOGRADING else 5
acc_hist = []
better_net = torch.nn.Sequential(
    torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
).to(device)
opt = torch.optim.Adam(better_net.parameters(), lr=2e-3)
loader = torch.utils.data.DataLoader(mnist_train, batch_size=64, shuffle=True)
for ep in range(n_epoch):
    for x, y in tqdm(loader):
        loss = torch.nn.functional.cross_entropy(better_net(x.to(device)), y.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(mnist_val, batch_size=500):
            correct += (better_net(x.to(device)).argmax(dim=1) == y.to(device)).sum().item()
    acc_hist.append(100 * correct / len(mnist_val))
""",
}

# The grading gaps of issue 11; the other tasks keep the reference answers.
FALSCH_C = {
    # a ReLU after the output layer: the outputs are no longer logits (they cannot be negative)
    "mnist_net": changed(
        "mnist_net", ("    torch.nn.Linear(128, 10),\n", "    torch.nn.Linear(128, 10),\n    torch.nn.ReLU(),\n")
    ),
    # the mean of the per-batch accuracies, kept in the given counters (wrong when the last batch is smaller)
    "accuracy": changed(
        "accuracy",
        ("sum_imgs += len(y_batch)", "sum_imgs += 1"),
        ("sum_correct += (labels == y_batch).sum().item()", "sum_correct += (labels == y_batch).float().mean().item()"),
    ),
    # tuned on the test data: the accuracy after each epoch on mnist_test instead of mnist_val
    "accuracy_per_epoch": changed(
        "accuracy_per_epoch",
        ("DataLoader(mnist_val, batch_size=500)", "DataLoader(mnist_test, batch_size=500)"),
    ),
}

FALSCH_D = {
    # Softmax at the end: probabilities instead of logits
    "mnist_net": """
net = torch.nn.Sequential(
    torch.nn.Flatten(),
    torch.nn.Linear(784, 128),
    torch.nn.ReLU(),
    torch.nn.Linear(128, 10),
    torch.nn.Softmax(dim=1),
)
""",
    # a list of per-batch accuracies and their mean
    "accuracy": """
def evaluate(net, loader):
    accs = []
    with torch.no_grad():
        for x_batch, y_batch in loader:
            pred = net(x_batch.to(device)).argmax(dim=1)
            accs.append((pred == y_batch.to(device)).float().mean())
    return torch.stack(accs).mean()
""",
}

RICHTIG_C = {
    # per-batch accuracies weighted by the batch size, divided by the size of the data set: correct
    "accuracy": """
def evaluate(net, loader):
    correct = 0.0
    with torch.no_grad():
        for x_batch, y_batch in loader:
            batch_acc = (net(x_batch.to(device)).argmax(dim=1) == y_batch.to(device)).float().mean()
            correct += batch_acc.item() * len(y_batch)
    return correct / len(loader.dataset)
""",
}

VARIANTS = {
    "richtig_a": Variant(answers=RICHTIG_A),
    "richtig_c": Variant(answers=RICHTIG_C),
    "richtig_b": Variant(answers=RICHTIG_B),
    "falsch_a": Variant(answers=FALSCH_A, points=NONE),
    "falsch_b": Variant(answers=FALSCH_B, points=NONE),
    "falsch_c": Variant(answers=FALSCH_C, points=dict.fromkeys(FALSCH_C, 0)),
    "falsch_d": Variant(answers=FALSCH_D, points=dict.fromkeys(FALSCH_D, 0)),
}

# Issue 20: right answers in other legitimate forms, wrong answers that passed before (one graded run each).
RICHTIG_D = {
    # loaders built from batch samplers (batch_size is then None on the DataLoader)
    "dataloader": """
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

train_loader = torch.utils.data.DataLoader(
    mnist_train, batch_sampler=BatchSampler(RandomSampler(mnist_train), batch_size=16, drop_last=False)
)
test_loader = torch.utils.data.DataLoader(
    mnist_test, batch_sampler=BatchSampler(SequentialSampler(mnist_test), batch_size=16, drop_last=False)
)
""",
    # net.forward instead of net(...), gradient clipping between backward() and step()
    "mnist_training": changed(
        "mnist_training",
        ("y_pred = net(x_batch)", "y_pred = net.forward(x_batch)"),
        ("loss.backward()\n", "loss.backward()\n            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)\n"),
    ),
}

FALSCH_E = {
    # LeakyReLU after the output layer: negative outputs survive, but they are no longer logits
    "mnist_net": changed(
        "mnist_net", ("    torch.nn.Linear(128, 10),\n", "    torch.nn.Linear(128, 10),\n    torch.nn.LeakyReLU(),\n")
    ),
    # a new Adam optimizer in every step instead of the one passed to train
    "mnist_training": changed(
        "mnist_training",
        ("optimizer.zero_grad()", "optimizer = torch.optim.Adam(net.parameters())\n            optimizer.zero_grad()"),
    ),
    # the validation loader drops its last, incomplete batch
    "accuracy_per_epoch": changed(
        "accuracy_per_epoch",
        ("DataLoader(mnist_val, batch_size=500)", "DataLoader(mnist_val, batch_size=500, drop_last=True)"),
    ),
}

FALSCH_F = {
    # tanh after the output layer (outputs between -1 and 1)
    "mnist_net": changed(
        "mnist_net", ("    torch.nn.Linear(128, 10),\n", "    torch.nn.Linear(128, 10),\n    torch.nn.Tanh(),\n")
    ),
}

VARIANTS.update(
    {
        "richtig_d": Variant(answers=RICHTIG_D),
        "falsch_e": Variant(answers=FALSCH_E, points=dict.fromkeys(FALSCH_E, 0)),
        "falsch_f": Variant(answers=FALSCH_F, points=dict.fromkeys(FALSCH_F, 0)),
    }
)
