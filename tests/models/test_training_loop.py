"""The one seeded training loop (robustcheck.models.training.train_loop) of classifiers and defences."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.data import Split
from robustcheck.errors import ConfigError
from robustcheck.models import training
from robustcheck.models.training import seeded, train_classifier, train_loop


def _data(n: int = 64) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(123)
    return torch.rand(n, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def _net() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def _train(seed: int, epochs: int = 2, **kw) -> dict[str, Tensor]:
    """Initialisation, dropout, shuffling and a noise draw from the shuffling generator, all seeded."""
    g = seeded(seed)
    net = _net()
    x, y = _data()

    def loss(batch: tuple[Tensor, ...]) -> Tensor:
        xb, yb = batch
        noisy = xb + 0.1 * torch.randn(xb.shape, generator=g)
        return F.cross_entropy(net(noisy), yb)

    train_loop(net, loss, (x, y), epochs=epochs, batch_size=16, lr=1e-2, seed=g, desc="test", **kw)
    return net.state_dict()


def _equal(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_gives_identical_weights_twice():
    torch.manual_seed(999)  # process history must not matter
    first = _train(0)
    torch.rand(10)
    assert _equal(first, _train(0))


def test_a_different_seed_gives_different_weights():
    assert not _equal(_train(0), _train(1))


def test_an_int_seed_trains_as_seeded_generator():
    """``seed=s`` seeds the global RNG and the shuffling as ``seed=seeded(s)`` does."""
    x, y = _data()

    def run(by_generator: bool) -> dict[str, Tensor]:
        torch.manual_seed(5)
        net = _net()  # the same initial weights for both
        train_loop(
            net,
            lambda b: F.cross_entropy(net(b[0]), b[1]),
            (x, y),
            epochs=2,
            batch_size=16,
            lr=1e-2,
            seed=seeded(7) if by_generator else 7,
            desc="test",
        )
        return net.state_dict()

    assert _equal(run(False), run(True))


def test_train_classifier_is_the_loop_with_cross_entropy():
    x, y = _data()
    split = Split(x.view(-1, 1, 2, 3), y)

    def net() -> nn.Module:
        torch.manual_seed(3)
        return nn.Sequential(nn.Flatten(), nn.Linear(6, 3))

    a = train_classifier(net(), split, epochs=2, batch_size=16, lr=1e-2, seed=4)
    b = net()
    train_loop(
        b,
        lambda batch: F.cross_entropy(b(batch[0]), batch[1]),
        (split.x, split.y),
        epochs=2,
        batch_size=16,
        lr=1e-2,
        seed=4,
        desc="x",
        device="cpu",
    )
    assert _equal(a.state_dict(), b.state_dict())
    assert not a.training and not b.training  # eval mode after training


def test_progress_is_reported_per_epoch(monkeypatch):
    seen: list[tuple[str, str, int]] = []

    def fake_progress(it, *, desc, unit="it"):
        items = list(it)
        seen.append((desc, unit, len(items)))
        return items

    monkeypatch.setattr(training, "progress", fake_progress)
    _train(0, epochs=3)
    assert seen == [("train test", "epoch", 3)]


def test_on_epoch_end_params_and_milestones(monkeypatch):
    x, y = _data()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.Linear(8, 3))
    frozen = {k: v.clone() for k, v in net[0].state_dict().items()}
    made: list[torch.optim.Optimizer] = []
    real_sgd = torch.optim.SGD

    def spy_sgd(*a, **kw):
        made.append(real_sgd(*a, **kw))
        return made[-1]

    monkeypatch.setattr(torch.optim, "SGD", spy_sgd)
    seen: list[tuple[int, float]] = []
    train_loop(
        net,
        lambda b: F.cross_entropy(net(b[0]), b[1]),
        (x, y),
        epochs=3,
        batch_size=32,
        lr=0.5,
        seed=0,
        desc="t",
        params=net[1].parameters,
        optimizer="sgd",
        milestones=(1, 2),
        on_epoch_end=lambda e: seen.append((e, made[0].param_groups[0]["lr"])),
    )
    assert [e for e, _ in seen] == [1, 2, 3]
    assert [lr for _, lr in seen] == pytest.approx([0.05, 0.005, 0.005])  # /10 after epochs 1 and 2
    assert _equal(frozen, net[0].state_dict())  # only ``params`` are trained


@pytest.mark.parametrize(
    ("argument", "kwargs"),
    [
        ("epochs", {"epochs": -1}),
        ("epochs", {"epochs": 1.5}),
        ("batch_size", {"batch_size": 0}),
        ("lr", {"lr": 0.0}),
        ("lr", {"lr": float("nan")}),
        ("seed", {"seed": "0"}),
        ("optimizer", {"optimizer": "rmsprop"}),
        ("weight_decay", {"weight_decay": -1e-3}),
        ("momentum", {"momentum": 1.0}),
        ("milestones", {"milestones": (0,)}),
        ("data", {"data": ()}),
        ("data", {"data": (torch.zeros(4, 2), torch.zeros(5))}),
    ],
)
def test_bad_arguments_raise_one_config_error_naming_them(argument, kwargs):
    x, y = _data()
    net = nn.Linear(6, 3)
    args = {"epochs": 1, "batch_size": 8, "lr": 1e-3, "seed": 0, "desc": "t"} | kwargs
    data = args.pop("data", (x, y))
    with pytest.raises(ConfigError, match=rf"^training t: {argument} must be"):
        train_loop(net, lambda b: net(b[0]).sum(), data, **args)


def test_train_classifier_rejects_an_unknown_optimizer_before_training():
    split = Split(*_data())
    net = nn.Linear(6, 3)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ConfigError, match="optimizer"):
        train_classifier(net, split, epochs=1, optimizer="rmsprop")
    assert _equal(before, net.state_dict())
