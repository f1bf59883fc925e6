"""Bad models and defences are caught before work starts, one error each (issue 14, item 5): a purifier
of the wrong shape or outside [0, 1], scores that are not a 1-d float tensor, a defence or a classifier
that is not deterministic without saying so (EOT), NaN and integer logits; built-ins pass the contract."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck import Defence, Scale
from robustcheck.api import build_case
from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, BaseDefence
from robustcheck.defences.base import FitContext, check_defence
from robustcheck.engine import Engine
from robustcheck.errors import ModelContractError
from robustcheck.evaluate import evaluate as evaluate_case
from tests.helpers import tiny_cnn

TINY = {
    s: Scale(n_samples=16, train_limit=100, classifier_epochs=1, defence_epochs=1, attack_steps=2)
    for s in ("smoke", "default", "paper")
}


class WrongShapePurifier(BaseDefence):
    name = "wrong-shape"
    is_purifier = True

    def purify(self, x):
        return x[:, :, :-1]


class OutOfBoxPurifier(BaseDefence):
    name = "out-of-box"
    is_purifier = True

    def purify(self, x):
        return x * 3 - 1


class ZeroDScore(BaseDefence):
    name = "zero-d"
    is_detector = True

    def score(self, x):
        return x.mean()


class NumpyScore(BaseDefence):
    name = "numpy-score"
    is_detector = True

    def score(self, x):
        return x.flatten(1).mean(1).numpy()

    def calibrate(self, x_val, fpr, batch_size=500):  # a user's detector that sets its own threshold
        self._threshold.fill_(0.5)
        return 0.5


class IntScore(BaseDefence):
    name = "int-score"
    is_detector = True

    def score(self, x):
        return (x.flatten(1).mean(1) * 100).long()

    def calibrate(self, x_val, fpr, batch_size=500):
        self._threshold.fill_(0.5)
        return 0.5


class RandomPurifier(BaseDefence):
    """Random without declaring stochastic = True."""

    name = "undeclared-random"
    is_purifier = True

    def purify(self, x):
        return (x + 0.3 * torch.randn_like(x)).clamp(0, 1)


class DeclaredRandom(RandomPurifier):
    name = "declared-random"
    stochastic = True


BAD = [
    (WrongShapePurifier, "purify must return a tensor of the input's shape"),
    (OutOfBoxPurifier, r"purify returned values in \[-1, 2\], outside \[0, 1\]"),
    (ZeroDScore, r"score must return a 1-d float tensor of shape \(32,\)"),
    (NumpyScore, "score must return a 1-d float tensor"),
    (IntScore, "score must return a 1-d float tensor"),
    (RandomPurifier, "not deterministic.*stochastic = True"),
]


@pytest.mark.parametrize("cls,message", BAD, ids=[c.name for c, _ in BAD])
def test_bad_defence_one_clear_error_before_any_attack(cls, message, tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    with pytest.raises(ModelContractError, match=message) as info:
        evaluate_case(engine, build_case(Defence(cls), "fgsm", eps=0.1, scales=TINY))
    assert len(str(info.value).splitlines()) == 1
    assert not list(tmp_path.glob("adversarial/*")), "an attack ran before the contract check"


def test_declared_stochastic_defence_passes(tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    m = evaluate_case(engine, build_case(Defence(DeclaredRandom), "fgsm", eps=0.1, scales=TINY)).metrics
    assert 0.0 <= m["corrected_accuracy"] <= 1.0


def test_every_builtin_defence_meets_the_contract():
    """The check cannot be passing by accident: every registered defence, trained for one epoch."""
    from tests.evaluation.test_determinism import SMALL

    data = load_dataset("mnist-embedded")
    torch.manual_seed(0)
    model = tiny_cnn().eval()
    for name in DEFENCES.list():
        with torch.random.fork_rng():
            torch.manual_seed(0)
            d = DEFENCES.get(name)(**SMALL.get(name, {}))
            d.build((1, 28, 28), 10)
            d.bind(model)
            if getattr(d, "trainable", False):
                d.fit(
                    FitContext(
                        model,
                        data.train.subset(64),
                        data.val,
                        10,
                        epochs=1,
                        seed=0,
                        device=torch.device("cpu"),
                    )
                )
            d.eval()
            if d.is_detector:
                d.calibrate(data.val.x[:64], 0.05)
            check_defence(d, data.val.x[:16])


class Dropout(nn.Module):
    """A classifier random in eval mode (functional dropout with training=True)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(nn.functional.dropout(x.flatten(1), 0.5, training=True))


class NaNLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1)) * float("nan")


@pytest.mark.parametrize(
    "factory,message",
    [(Dropout, "not deterministic.*EOT"), (NaNLogits, "NaN or inf")],
    ids=["random classifier", "NaN logits"],
)
def test_bad_classifier_one_clear_error(factory, message, tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    with pytest.raises(ModelContractError, match=message):
        evaluate_case(engine, build_case("none", "fgsm", eps=0.1, scales=TINY, classifier=factory))
