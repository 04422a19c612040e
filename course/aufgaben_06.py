"""Checks of the tasks of 06_mnist, built from :mod:`course.checks`.

Every check works in JupyterLab (the student's objects are real) and during grading (they are references into
the student's kernel).  Models, DataLoaders and optimizers that the student's ``train`` and ``evaluate`` receive
are built in the student's kernel (``student_module``) with its random number generator seeded and restored;
everything the checks compare with (MNIST images, reference accuracies and gradients) is computed here, with the
course's own data.  No check turns an exception of the student's code into a pass.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from numbers import Real

import torch

from course.checks import _fail, bestanden, zahl_text
from course.testing import identity, student_module

# ----------------------------------------------------------------------------------------------- helpers


def _als_zahl(wert, was: str) -> float:
    __tracebackhide__ = True
    if isinstance(wert, torch.Tensor):
        if wert.numel() != 1:
            _fail(f"{was} ist ein Tensor mit {wert.numel()} Werten statt einer Zahl")
        wert = wert.item()
    if not isinstance(wert, Real):
        _fail(f"{was} ist vom Typ {type(wert).__name__} statt einer Zahl")
    return float(wert)


def _prozent(anteil: float) -> str:
    return f"{100 * anteil:.1f} %".replace(".", ",")


@contextlib.contextmanager
def _im_kernel_der_abgabe(seed: int | None = None):
    """Objects built inside come from the student's kernel; its random numbers are seeded (if ``seed``) and
    restored afterwards; warnings and stderr of the student's code stay out of the test's output."""
    theirs = student_module("torch")
    zustand = theirs.get_rng_state()
    try:
        if seed is not None:
            theirs.manual_seed(seed)
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield theirs
    finally:
        theirs.set_rng_state(zustand)


def _mnist(train: bool):
    import torchvision

    from course import data_dir

    return torchvision.datasets.MNIST(data_dir(), train=train)


def _validierung():
    """The validation images and labels of the notebook's split (ToTensor: values from 0 to 1)."""
    voll = _mnist(train=True)
    n_val = len(voll) // 6
    _, teil = torch.utils.data.random_split(
        range(len(voll)), [len(voll) - n_val, n_val], generator=torch.Generator().manual_seed(0)
    )
    ind = torch.tensor(teil.indices)
    return voll.data[ind].float().div(255).unsqueeze(1), voll.targets[ind]


def _accuracy(model, bilder, labels, device) -> float:
    """Accuracy of ``model`` on ``bilder``: eval mode and no gradients in the kernel where ``model`` computes."""
    from course.checks import ohne_gradienten

    war_training = model.training
    model.eval()
    try:
        with ohne_gradienten():
            scores = model(bilder.to(device))
    finally:
        model.train(war_training)
    return (scores.argmax(dim=1).cpu() == labels).sum().item() / len(labels)


# ----------------------------------------------------------------------------------------------- dataloader


def _batch_sampler(loader):
    """What decides batch size and order: the DataLoader, or with ``batch_sampler=`` its batch sampler."""
    return loader.batch_sampler if loader.batch_size is None else loader


def pruefe_dataloader(train_loader, test_loader, mnist_train, mnist_test) -> None:
    """Task ``dataloader``: DataLoaders over the right data sets, batches of 16, shuffled training data only."""
    __tracebackhide__ = True
    from torch.utils.data import DataLoader, RandomSampler

    for name, loader, daten, daten_name in (
        ("train_loader", train_loader, mnist_train, "mnist_train"),
        ("test_loader", test_loader, mnist_test, "mnist_test"),
    ):
        if not isinstance(loader, DataLoader):
            _fail(f"`{name}` ist kein `torch.utils.data.DataLoader`")
        if loader.dataset is not daten:
            _fail(f"`{name}` läuft nicht über `{daten_name}`", tipp=f"Übergib `{daten_name}` als erstes Argument.")
        groesse = getattr(_batch_sampler(loader), "batch_size", None)
        if groesse != 16:
            _fail(f"`{name}` hat die falsche Batch-Größe", "16", str(groesse))
    if not isinstance(getattr(_batch_sampler(train_loader), "sampler", None), RandomSampler):
        _fail("Die Trainingsdaten werden nicht gemischt", tipp="Setze `shuffle=True` beim `train_loader`.")
    if isinstance(getattr(_batch_sampler(test_loader), "sampler", None), RandomSampler):
        _fail(
            "Die Testdaten werden gemischt", tipp="Lass `shuffle` beim `test_loader` weg (oder setze `shuffle=False`)."
        )
    bestanden("`train_loader` und `test_loader` liefern Batches zu 16, nur die Trainingsdaten gemischt.")


def pruefe_dataloader_genauer(train_loader, test_loader, mnist_test) -> None:
    """Hidden part of ``dataloader``: test data in order and complete, training data shuffled anew each pass."""
    __tracebackhide__ = True
    from torch.utils.data import SequentialSampler

    if not isinstance(getattr(_batch_sampler(test_loader), "sampler", None), SequentialSampler):
        _fail("`test_loader` liefert die Testdaten nicht der Reihe nach")
    if test_loader.drop_last or getattr(test_loader.batch_sampler, "drop_last", False):
        _fail("`test_loader` lässt den letzten Batch weg (drop_last=True): Dann fehlen Testbilder")
    with _im_kernel_der_abgabe(seed=0):
        erste = [next(iter(train_loader))[1] for _ in range(2)]
        test_labels = next(iter(test_loader))[1]
    if torch.equal(erste[0], erste[1]):
        _fail("`train_loader` mischt die Trainingsdaten nicht in jeder Epoche neu")
    if not torch.equal(test_labels, torch.as_tensor(mnist_test.targets[:16])):
        _fail("`test_loader` liefert die Testbilder nicht in ihrer Reihenfolge")


# ----------------------------------------------------------------------------------------------- mnist_net


def pruefe_logits_netz(net, mnist_test) -> None:
    """Task ``mnist_net``: images of shape (N, 1, 28, 28) in, 10 logits out, not affine, no activation at the end."""
    __tracebackhide__ = True
    from course.checks import aufruf

    if not isinstance(net, torch.nn.Module):
        _fail("`net` ist kein `torch.nn.Module`", tipp="Baue es zum Beispiel mit `torch.nn.Sequential`.")
    device = next(net.parameters()).device
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(16, 1, 28, 28, generator=generator).to(device)
    x2 = torch.rand(16, 1, 28, 28, generator=generator).to(device)
    bilder = torch.stack([mnist_test[i][0] for i in range(16)]).to(device)
    war_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            aus = aufruf(
                net, torch.zeros(1, 1, 28, 28, device=device), text="`net` mit einem Bild", aufgabe="mnist_net"
            )
            if tuple(aus.shape) != (1, 10):
                _fail(
                    "`net(torch.zeros(1, 1, 28, 28))` hat die falsche Form",
                    "(1, 10): ein Batch aus einem Bild hinein, zehn Werte heraus",
                    str(tuple(aus.shape)),
                )
            aus = aufruf(net, x, text="`net` mit einem Batch der Form (16, 1, 28, 28)", aufgabe="mnist_net")
            if tuple(aus.shape) != (16, 10):
                _fail(
                    "Ein Batch der Form (16, 1, 28, 28) ergibt die falsche Form",
                    "(16, 10)",
                    str(tuple(aus.shape)),
                    "Steht `Flatten` am Anfang?",
                )
            luecke = (net(x) + net(x2) - 2 * net((x + x2) / 2)).abs().max().item()
            if not luecke > 1e-4 * (1 + aus.abs().max().item()):
                _fail(
                    "`net` ist eine affine Abbildung",
                    tipp="Füge zwischen den Linear-Schichten eine Aktivierungsfunktion wie `torch.nn.ReLU()` ein.",
                )
            alle = torch.cat([net(x), net(x2), net(bilder)])
        # Logits come straight from the last Linear layer: doubling its weights and bias doubles the outputs, and
        # flipping their signs flips the outputs.  An activation behind it (ReLU, LeakyReLU, tanh, sigmoid,
        # softmax, ...) breaks one of the two.
        linear = [m for m in net.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 10]
        logits = True
        if linear:
            letzte = linear[-1]
            gewichte = {k: v.detach().clone() for k, v in letzte.state_dict().items()}
            try:
                for faktor in (2.0, -1.0):
                    letzte.load_state_dict({k: faktor * v for k, v in gewichte.items()})
                    with torch.no_grad():
                        skaliert = torch.cat([net(x), net(x2), net(bilder)])
                    logits = logits and torch.allclose(skaliert, faktor * alle, rtol=1e-4, atol=1e-5)
            finally:
                letzte.load_state_dict(gewichte)
    finally:
        net.train(war_training)
    if not logits or not (alle < 0).any():
        _fail(
            "Hinter der letzten Linear-Schicht steht noch eine Aktivierungsfunktion (etwa ReLU, LeakyReLU, tanh, "
            "Sigmoid oder Softmax)",
            tipp="Das Netz soll Logits ausgeben, also direkt die Werte der letzten Linear-Schicht: Lass die "
            "Aktivierung am Ende weg.",
        )
    bestanden("`net` macht aus jedem Bild zehn Logits.")


def pruefe_logits_netz_genauer(net) -> None:
    """Hidden part of ``mnist_net``: images independent within a batch, no softmax, a hidden layer."""
    __tracebackhide__ = True
    device = next(net.parameters()).device
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1)).to(device)
    war_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            einzeln = torch.cat([net(x[i : i + 1]) for i in range(4)])
            zusammen = net(x)
    finally:
        net.train(war_training)
    if not torch.allclose(einzeln, zusammen, atol=1e-5):
        _fail("`net` behandelt die Bilder eines Batches nicht einzeln")
    if torch.allclose(zusammen.sum(dim=1), torch.ones(4, device=device), atol=1e-3):
        _fail("Die zehn Ausgaben von `net` summieren sich zu 1: Am Ende steht Softmax", tipp="Gib Logits aus.")
    gewichte = [m for m in net.modules() if isinstance(getattr(m, "weight", None), torch.Tensor)]
    if len(gewichte) < 2:
        _fail("`net` braucht mindestens eine verdeckte Schicht vor der Ausgabeschicht")


# ----------------------------------------------------------------------------------------------- loss_optimizer


def pruefe_verlust_und_optimierer(loss_fn, optimizer, net) -> None:
    """Task ``loss_optimizer``: cross-entropy and Adam over exactly the parameters of ``net``."""
    __tracebackhide__ = True
    if not isinstance(loss_fn, torch.nn.CrossEntropyLoss):
        _fail("`loss_fn` hat den falschen Typ", "torch.nn.CrossEntropyLoss()", type(loss_fn).__name__)
    if not isinstance(optimizer, torch.optim.Adam):
        _fail("`optimizer` hat den falschen Typ", "torch.optim.Adam", type(optimizer).__name__)
    # identity(p) is id(p) in the student's kernel (during grading the parameters arrive as copies).
    eigene = sorted(identity(p) for gruppe in optimizer.param_groups for p in gruppe["params"])
    if eigene != sorted(identity(p) for p in net.parameters()):
        _fail("`optimizer` optimiert nicht genau die Parameter von `net`", tipp="Übergib ihm `net.parameters()`.")
    bestanden("`loss_fn` ist die Kreuzentropie, `optimizer` ein Adam-Optimierer für `net`.")


def pruefe_verlust_genauer(loss_fn) -> None:
    """Hidden part of ``loss_optimizer``: one positive loss for a batch."""
    __tracebackhide__ = True
    verlust = loss_fn(torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]), torch.tensor([0, 2]))
    if not (verlust.dim() == 0 and verlust.item() > 0):
        _fail("`loss_fn` muss für einen Batch einen einzelnen positiven Verlust liefern")


# ----------------------------------------------------------------------------------------------- mnist_training


def _verlustwerte(hist) -> list[float]:
    __tracebackhide__ = True
    werte = []
    for wert in hist:
        if isinstance(wert, torch.Tensor):
            if wert.numel() != 1 or wert.requires_grad:
                _fail("`loss_hist` enthält Tensoren, die noch am Rechengraphen hängen", tipp="Speichere `loss.item()`.")
            wert = wert.item()
        if not isinstance(wert, Real):
            _fail(f"`loss_hist` enthält {type(wert).__name__} statt Zahlen")
        werte.append(float(wert))
    return werte


def _kopie(model, *groessen):
    """A net of the test with the weights of ``model``: Flatten, then Linear layers of these sizes with ReLU."""
    module = [torch.nn.Flatten()]
    for i in range(len(groessen) - 1):
        module += [torch.nn.Linear(groessen[i], groessen[i + 1]), torch.nn.ReLU()]
    kopie = torch.nn.Sequential(*module[:-1])
    kopie.load_state_dict(model.state_dict())
    return kopie


def _trainiere(train, mnist_train, device, n_bilder, batch_size, n_epoch, seed):
    """The student's ``train`` on a small net, DataLoader and Adam built in the student's kernel."""
    from course.checks import aufruf

    with _im_kernel_der_abgabe(seed) as theirs:
        nn = theirs.nn
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
        loader = theirs.utils.data.DataLoader(
            theirs.utils.data.Subset(mnist_train, range(n_bilder)), batch_size=batch_size, shuffle=True
        )
        optimizer = theirs.optim.Adam(model.parameters())
        hist = aufruf(
            train,
            model,
            loader,
            nn.CrossEntropyLoss(),
            optimizer,
            n_epoch,
            text="`train(...)`",
            aufgabe="mnist_training",
        )
    return model, loader, hist, optimizer


_zuletzt_trainiert: list = []  # the net the visible check trained (the hidden one measures it once more)


def _test_bilder():
    test = _mnist(train=False)
    return test.data.float().div(255).unsqueeze(1), test.targets


def pruefe_train(train, mnist_train, device) -> None:
    """Task ``mnist_training``: one loss per batch, the optimizer it gets steps once per batch, the net learns."""
    __tracebackhide__ = True
    model, loader, hist, optimizer = _trainiere(train, mnist_train, device, 960, 16, 1, seed=1)
    _zuletzt_trainiert[:] = [model]
    if hist is None:
        _fail("`train` gibt nichts zurück", tipp="Gib am Ende `loss_hist` zurück.")
    werte = _verlustwerte(hist)
    if len(werte) != len(loader):
        _fail(
            f"`train` lieferte für eine Epoche mit {len(loader)} Batches die falsche Zahl von Verlustwerten",
            str(len(loader)),
            str(len(werte)),
            "Speichere genau einen Wert pro Batch, und zwar für die Batches aus `loader`.",
        )
    schritte = max((float(z.get("step", 0)) for z in optimizer.state_dict()["state"].values()), default=0.0)
    if schritte != len(loader):
        _fail(
            "Der Optimierer, den `train` bekommt, hat nicht einen Schritt pro Batch gemacht",
            str(len(loader)),
            zahl_text(schritte),
            "Rufe für jeden Batch `optimizer.step()` des übergebenen Optimierers auf und lege keinen neuen an: "
            "Adam merkt sich von Schritt zu Schritt, wie sich die Gradienten entwickeln.",
        )
    if not sum(werte[:10]) > sum(werte[-10:]):
        _fail("Der Verlust sinkt beim Training nicht")
    # Measured: untrained about 2.3; after this one epoch 0.93 to 1.0 (4 seeds).
    bilder, labels = _test_bilder()
    with torch.no_grad():
        ce = torch.nn.functional.cross_entropy(_kopie(model, 784, 64, 10)(bilder[:500]), labels[:500]).item()
    if not ce < 1.5:
        _fail(
            "Nach dem Training ist der Verlust auf 500 Testbildern noch zu groß (untrainiert etwa 2,3)",
            "weniger als 1,5",
            zahl_text(ce, 3),
            "Wird das Netz wirklich trainiert?",
        )
    bestanden(f"`train` hat ein Netz eine Epoche lang trainiert: Verlust auf 500 Testbildern {zahl_text(ce, 3)}.")


def pruefe_train_genauer(train, mnist_train, device) -> None:
    """Hidden part of ``mnist_training``: accuracy, two epochs, no accumulated gradients (clipping allowed)."""
    __tracebackhide__ = True
    bilder, labels = _test_bilder()

    def accuracy(model, start, stop):
        with torch.no_grad():
            vorhersage = _kopie(model, 784, 64, 10)(bilder[start:stop]).argmax(dim=1)
        return (vorhersage == labels[start:stop]).sum().item() / (stop - start)

    model = _zuletzt_trainiert[0] if _zuletzt_trainiert else _trainiere(train, mnist_train, device, 960, 16, 1, 1)[0]
    if not accuracy(model, 0, 500) > 0.6:
        _fail("Nach dem Training erkennt das Netz kaum Testbilder: Wird es wirklich trainiert?")
    model, loader, hist, _ = _trainiere(train, mnist_train, device, 480, 24, 2, seed=2)
    werte = _verlustwerte(hist)
    if len(werte) != 2 * len(loader):
        _fail("`train` muss für `n_epoch=2` zwei Epochen lang trainieren")
    if not (sum(werte[:5]) > sum(werte[-5:]) and accuracy(model, 500, 1000) > 0.6):
        _fail("Nach zwei Epochen erkennt das Netz kaum Testbilder")
    # Three different batches, learning rate 0: afterwards only the gradient of the last batch may be left
    # (at most shortened, e.g. by gradient clipping), not the sum of all three.
    paare = [mnist_train[i] for i in range(48)]
    x = torch.stack([b for b, _ in paare])
    y = torch.tensor([label for _, label in paare])
    with _im_kernel_der_abgabe(4) as theirs:
        model = theirs.nn.Sequential(theirs.nn.Flatten(), theirs.nn.Linear(784, 10)).to(device)
        loader = theirs.utils.data.DataLoader(theirs.utils.data.TensorDataset(x, y), batch_size=16)
        hist = train(model, loader, theirs.nn.CrossEntropyLoss(), theirs.optim.SGD(model.parameters(), lr=0.0), 1)
    linear = _kopie(model, 784, 10)  # learning rate 0: still the initial weights
    soll = torch.autograd.grad(torch.nn.CrossEntropyLoss()(linear(x[32:]), y[32:]), linear[1].weight)[0]
    if len(_verlustwerte(hist)) != 3:
        _fail("`train` muss einen Verlustwert pro Batch speichern")
    grad = model[1].weight.grad
    if grad is not None:
        grad = grad.cpu().reshape(-1)
        richtung = torch.nn.functional.cosine_similarity(grad, soll.reshape(-1), dim=0).item()
        if not (richtung > 0.999 and grad.norm() <= 1.001 * soll.norm()):
            _fail(
                "Die Gradienten sammeln sich über die Batches an",
                tipp="Rufe in jedem Schritt `optimizer.zero_grad()` auf.",
            )


# ----------------------------------------------------------------------------------------------- accuracy


def _evaluate(evaluate, model, dataset, batch_size, device) -> float:
    """``evaluate(...)`` for a copy of ``model`` (Flatten, Linear(784, 10)) and a DataLoader over ``dataset``,
    both built in the student's kernel."""
    from course.checks import aufruf

    with _im_kernel_der_abgabe() as theirs:
        kopie = theirs.nn.Sequential(theirs.nn.Flatten(), theirs.nn.Linear(784, 10))
        kopie.load_state_dict(model.state_dict())
        loader = theirs.utils.data.DataLoader(dataset, batch_size=batch_size)
        ergebnis = aufruf(evaluate, kopie.to(device), loader, text="`evaluate(...)`", aufgabe="accuracy")
    return _als_zahl(ergebnis, "`evaluate(...)`")


def _probe(n_bilder: int, falsch: list[int]):
    """Artificial images with a known answer: the net recognises exactly the images not in ``falsch``."""
    labels = torch.arange(n_bilder) % 10
    gezeigt = labels.clone()
    gezeigt[falsch] = (labels[falsch] + 1) % 10  # these images show the net a wrong digit
    bilder = torch.zeros(n_bilder, 1, 28, 28)
    bilder[torch.arange(n_bilder), 0, 0, gezeigt] = 1.0  # pixel k of the first row stands for digit k
    with torch.random.fork_rng():
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        model[1].weight[torch.arange(10), torch.arange(10)] = 1.0
    return model, (bilder, labels), (n_bilder - len(falsch)) / n_bilder


def pruefe_evaluate(
    evaluate, device, faelle=((50, [], 16), (50, [48, 49], 16), (40, list(range(10)), 16)), leise=False
):
    """Task ``accuracy``: ``evaluate`` on artificial images whose answer is known (n images, the wrongly recognised
    ones, batch size; the last batch is smaller)."""
    __tracebackhide__ = True
    for n_bilder, falsch, batch_size in faelle:
        model, (bilder, labels), soll = _probe(n_bilder, falsch)
        with _im_kernel_der_abgabe() as theirs:
            dataset = theirs.utils.data.TensorDataset(bilder, labels)
        wert = _evaluate(evaluate, model, dataset, batch_size, device)
        if not 0 <= wert <= 1:
            _fail(
                f"`evaluate` liefert {zahl_text(wert, 4)}: Die Accuracy ist ein Anteil zwischen 0 und 1",
                tipp="Zählst du Bilder (nicht Batches) und teilst durch ihre Anzahl?",
            )
        if abs(wert - soll) >= 0.5 / n_bilder:
            _fail(
                f"`evaluate` stimmt für {n_bilder} Bilder in Batches zu {batch_size} noch nicht, von denen "
                f"{n_bilder - len(falsch)} richtig erkannt werden",
                zahl_text(soll, 4),
                zahl_text(wert, 4),
                "Nimmst du argmax über die zehn Ausgaben jedes Bildes (dim=1), zählst Bilder statt Batches und teilst "
                "am Ende die Zahl der richtigen durch die Zahl aller Bilder? Der Mittelwert der Accuracy der "
                "einzelnen Batches stimmt nicht, wenn der letzte Batch kleiner ist.",
            )
    if not leise:
        bestanden(f"`evaluate` zählt richtig ({len(faelle)} Fälle mit bekannter Accuracy).")


def pruefe_evaluate_genauer(evaluate, mnist_test, device) -> None:
    """Hidden part of ``accuracy``: more artificial cases, and real digits with a fixed reference net."""
    __tracebackhide__ = True
    pruefe_evaluate(evaluate, device, faelle=((23, [0, 5, 22], 7), (30, list(range(0, 30, 3)), 30)), leise=True)
    bilder, labels = _test_bilder()
    voll = _mnist(train=True)
    n_val = len(voll) // 6
    teil, _ = torch.utils.data.random_split(
        range(len(voll)), [len(voll) - n_val, n_val], generator=torch.Generator().manual_seed(0)
    )
    ind = torch.tensor(teil.indices[:1000])  # the first 1000 images of mnist_train
    x, y = voll.data[ind].float().div(255).flatten(1), voll.targets[ind]
    mittel = torch.stack([x[y == k].mean(dim=0) for k in range(10)])
    with torch.random.fork_rng():
        referenz = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
        torch.manual_seed(3)
        anderes = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    with torch.no_grad():  # each digit compared with the mean image of its class
        referenz[1].weight.copy_(mittel)
        referenz[1].bias.copy_(-0.5 * (mittel**2).sum(dim=1))
    for model, start, stop, batch_size in (
        (referenz, 0, 400, 16),
        (referenz, 400, 903, 7),
        (referenz, 0, 200, 200),
        (anderes, 0, 300, 10),
    ):
        teilmenge = student_module("torch").utils.data.Subset(mnist_test, range(start, stop))
        wert = _evaluate(evaluate, model, teilmenge, batch_size, device)
        with torch.no_grad():
            soll = (model(bilder[start:stop]).argmax(dim=1) == labels[start:stop]).sum().item() / (stop - start)
        if abs(wert - soll) >= 0.5 / (stop - start):
            _fail(
                "`evaluate` liefert für echte Ziffern nicht den Anteil der richtig erkannten Bilder",
                zahl_text(soll, 4),
                zahl_text(wert, 4),
            )


# ----------------------------------------------------------------------------------------------- accuracy_per_epoch


def pruefe_accuracy_pro_epoche(acc_hist, n_epoch, better_net, net, device) -> None:
    """Task ``accuracy_per_epoch``: one fraction per epoch, the last one the accuracy of ``better_net`` on all
    validation images, and ``better_net`` not worse than ``net`` (at most one percentage point)."""
    __tracebackhide__ = True
    werte = [_als_zahl(a, "Ein Eintrag von `acc_hist`") for a in acc_hist]
    if len(werte) != n_epoch:
        _fail("`acc_hist` hat nicht einen Eintrag pro Epoche", str(n_epoch), str(len(werte)))
    if not all(0 <= a <= 1 for a in werte):
        _fail("Die Werte in `acc_hist` müssen Anteile zwischen 0 und 1 sein (nicht Prozent)")
    if not isinstance(better_net, torch.nn.Module):
        _fail("`better_net` ist kein `torch.nn.Module`")
    if better_net is net:
        _fail("`better_net` soll ein neues Netz sein, nicht dasselbe Objekt wie `net`")
    bilder, labels = _validierung()
    zuletzt = _accuracy(better_net, bilder, labels, device)
    if abs(werte[-1] - zuletzt) >= 0.5 / len(labels):
        _fail(
            f"Der letzte Wert von `acc_hist` ist {zahl_text(werte[-1], 4)}, das ist nicht der Anteil der "
            "Validierungsbilder, die `better_net` richtig erkennt",
            tipp="Misst du nach jeder Epoche auf allen Bildern von `mnist_val` (nicht auf den Test- oder "
            "Trainingsdaten), mit Zählern, die du in jeder Epoche neu auf 0 setzt?",
        )
    vorher = _accuracy(net, bilder, labels, device)
    # The accuracy varies by about one percentage point from epoch to epoch.
    if zuletzt < vorher - 0.01:
        _fail(
            f"`better_net` erkennt {_prozent(zuletzt)} der Validierungsbilder, `net` von oben aber {_prozent(vorher)}",
            tipp="Verbessere die Architektur oder die Hyperparameter (erlaubt ist höchstens ein Prozentpunkt weniger).",
        )
    bestanden(f"`better_net` erkennt {_prozent(zuletzt)} der Validierungsbilder.")


def pruefe_accuracy_pro_epoche_genauer(acc_hist, better_net, mnist_val, device) -> None:
    """Hidden part of ``accuracy_per_epoch``: one number per epoch, a trained net, no validation loader that
    drops images (``drop_last=True``)."""
    __tracebackhide__ = True
    tensoren = [a for a in acc_hist if isinstance(a, torch.Tensor)]
    if len({identity(t) for t in tensoren}) != len(tensoren):
        _fail("`acc_hist` enthält mehrmals denselben Tensor", tipp="Speichere nach jeder Epoche eine Zahl (`.item()`).")
    bilder, labels = _validierung()
    if not _accuracy(better_net, bilder, labels, device) > 0.5:
        _fail("`better_net` erkennt kaum Ziffern: Wird es wirklich trainiert?")
    main = student_module("__main__")
    for name in dir(main):
        if name.startswith("__"):  # no dunder attribute crosses the channel
            continue
        objekt = getattr(main, name)
        if isinstance(objekt, torch.utils.data.DataLoader) and objekt.dataset is mnist_val:
            if objekt.drop_last or getattr(objekt.batch_sampler, "drop_last", False):
                _fail(
                    f"`{name}` lässt den letzten, unvollständigen Batch der Validierungsdaten weg (drop_last=True)",
                    tipp="Dann misst `acc_hist` nicht auf allen Validierungsbildern. Lass `drop_last` beim Auswerten "
                    "weg.",
                )
