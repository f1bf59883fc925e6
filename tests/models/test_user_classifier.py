"""Classifiers from the user (issue 13, item 2): registered name, factory, nn.Module instance, TorchScript
and torch.export files, a state dict plus its factory; declared preprocessing (normalize); one clear error
for each bad model, before any training or attack."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from robustcheck import Attack, Scale, Suite
from robustcheck.data import load_dataset
from robustcheck.engine import Engine
from robustcheck.errors import ConfigError, ModelContractError
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.models import ModelFile
from robustcheck.suite import SCALE_NAMES

TINY = {
    s: Scale(n_samples=64, train_limit=120, classifier_epochs=1, defence_epochs=1, attack_steps=2)
    for s in SCALE_NAMES
}
DIGITS = load_dataset("digits-8x8")


class Net(nn.Module):
    """A user's 8×8 digits model (a one-hidden-layer MLP on the flattened image)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.fc(x.flatten(1))))


def trained(pre=lambda x: x) -> Net:
    """Net trained on ``pre(x)`` of the digits' training split (full-batch Adam, ~1 s)."""
    g = torch.Generator().manual_seed(0)
    net = Net()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    x, y = pre(DIGITS.train.x), DIGITS.train.y
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def plain() -> Net:
    return trained()


def _suite(classifier, **kw) -> Suite:
    return Suite(
        name="user",
        dataset="digits-8x8",
        classifier=classifier,
        scales=TINY,
        attacks=[Attack("fgsm", eps=0.1)],
        indicators=False,
        **kw,
    )


def _clean(tmp_path, suite) -> float:
    eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    return evaluate_case(eng, suite.cases()[0]).metrics["clean_accuracy"]


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_every_classifier_form_gives_the_same_numbers(plain, tmp_path):
    state = tmp_path / "weights.pt"
    torch.save(plain.state_dict(), state)
    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"model_state_dict": plain.state_dict(), "epoch": 3}, ckpt)
    ts = tmp_path / "model.ts"
    torch.jit.save(torch.jit.script(plain), ts)
    ep = tmp_path / "model.pt2"
    batch = torch.export.Dim("batch", min=1)  # exported with a dynamic batch size, as a user must
    torch.export.save(torch.export.export(plain, (DIGITS.val.x[:2],), dynamic_shapes={"x": {0: batch}}), ep)
    instance = copy.deepcopy(plain)
    forms = {
        "factory": lambda: plain,
        "instance": instance,
        "torchscript path": str(ts),
        "export path": ModelFile(ep),
        "state dict": ModelFile(state, factory=Net),
        "checkpoint": ModelFile(ckpt, factory=Net),
    }
    results = {k: _clean(tmp_path / k, _suite(v)) for k, v in forms.items()}
    assert len(set(results.values())) == 1, results
    assert results["factory"] > 0.85
    # the instance was not changed by the run (eval/frozen happen on a private copy)
    assert all(p.requires_grad for p in instance.parameters())


def test_instance_is_used_as_given_not_called(tmp_path):
    class NeedsInput(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(64, 10)

        def forward(self, x):  # calling it with no argument (as a factory) would raise
            return self.fc(x.flatten(1))

    m = NeedsInput()
    assert 0.0 <= _clean(tmp_path, _suite(m)) <= 1.0


class Expects(nn.Module):
    """A model that expects ``(x - mean) / std``: ``plain`` after undoing that map (so under the right
    declaration it is exactly ``plain``)."""

    def __init__(self, plain: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.plain, self.mean, self.std = plain, mean, std

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.plain(z * self.std + self.mean)


def test_declared_normalisation(plain, tmp_path):
    reference = _clean(tmp_path / "ref", _suite(plain))
    for (mean, std), expects in (
        ((0.3, 0.4), "inputs standardised"),
        ((0.5, 0.5), r"inputs in \[-1, 1\]"),
        ((0.0, 1 / 255), "inputs in 0–255"),
    ):
        net = Expects(plain, mean, std)
        # undeclared: one clear error naming what the model expects and what to declare
        with pytest.raises(ModelContractError, match=rf"expects {expects}.*declare Suite\(normalize="):
            _clean(tmp_path / f"u{std}", _suite(net))
        # declared: the model gets its preprocessing and the numbers are the plain model's
        assert _clean(tmp_path / f"d{std}", _suite(net, normalize=(mean, std))) == pytest.approx(reference)
    # a wrong declaration on a [0, 1] model is caught the other way round
    with pytest.raises(ModelContractError, match="drop normalize"):
        _clean(tmp_path / "e", _suite(plain, normalize=(0.5, 0.5)))


def test_preprocessing_check_can_be_switched_off(plain, tmp_path):
    """The startup check is a heuristic: a model that really takes [0, 1] pixels can score higher under
    another scale (an undertrained model on low-contrast data). The error names the way out, and
    ``preprocessing_check=False`` takes the declaration at the user's word."""
    net = Expects(plain, 0.5, 0.5)  # scores clearly higher with inputs in [-1, 1]
    with pytest.raises(ModelContractError, match=r"Suite\(preprocessing_check=False\)"):
        _clean(tmp_path / "on", _suite(net))
    undeclared = _clean(tmp_path / "off", _suite(net, preprocessing_check=False))
    declared = _clean(tmp_path / "declared", _suite(net, normalize=(0.5, 0.5)))
    assert undeclared < declared - 0.05  # it really ran on [0, 1] pixels, as the user said
    with pytest.raises(ConfigError, match="preprocessing_check must be True or False"):
        _suite(net, preprocessing_check="no")


def test_normalize_in_the_cache_key(plain, tmp_path):
    eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    a = eng.classifier(_suite(lambda: plain))
    b = eng.classifier(_suite(lambda: plain, normalize=(0.0, 1.0)))
    assert a.key != b.key


def test_untrained_and_weak_models_are_not_flagged(tmp_path):
    assert 0.0 <= _clean(tmp_path, _suite(Net)) <= 1.0  # random weights: no preprocessing helps it


BAD_MODELS = [
    (
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
        r"cannot take a batch of the suite's data: shape N×1×8×8",
    ),
    (lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 7)), r"returned shape \(8, 7\).*10 classes"),
    (lambda: _Tuple(), "returned tuple"),
    (lambda: _IntLogits(), "floating point"),
    ("mnist-cnn", r"'mnist-cnn', untrained\) cannot take .*N×1×8×8"),
]


class _Tuple(nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :10], None


class _IntLogits(nn.Module):
    def forward(self, x):
        return (x.flatten(1)[:, :10] * 10).long()


@pytest.mark.parametrize(
    "factory,message", BAD_MODELS, ids=["input shape", "classes", "tuple", "int", "registered"]
)
def test_bad_model_one_clear_error_before_any_work(factory, message, tmp_path):
    eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    with pytest.raises(ModelContractError, match=message) as info:
        eng.classifier(_suite(factory))
    assert len(str(info.value).splitlines()) == 1
    assert not list(tmp_path.rglob("*.pt"))  # nothing was trained or cached before the error


def test_bad_files_one_clear_error(plain, tmp_path):
    pickled = tmp_path / "pickled.pt"
    torch.save(plain, pickled)  # a whole pickled module: never unpickled
    state = tmp_path / "state.pt"
    torch.save(plain.state_dict(), state)
    other = tmp_path / "other.pt"
    torch.save(nn.Linear(3, 2).state_dict(), other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    cases = [
        (str(tmp_path / "missing.pt"), "does not exist"),
        (str(pickled), "pickled Python objects.*weights_only=True"),
        (str(state), r"holds a state dict.*factory="),
        (ModelFile(other, factory=Net), "does not fit the module"),
        (str(junk), "is not a file torch.save"),
    ]
    for spec, message in cases:
        with pytest.raises(ConfigError, match=message):
            Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path / "c")).classifier(_suite(spec))


def test_suite_checks_classifier_and_normalize_fields():
    with pytest.raises(ConfigError, match="normalize std must be > 0"):
        _suite(Net, normalize=(0.5, 0.0))
    with pytest.raises(ConfigError, match=r"normalize must be \(mean, std\)"):
        _suite(Net, normalize=0.5)
    with pytest.raises(ConfigError, match="registered classifier 'mnist-cnn' is trained by robustcheck"):
        Suite(name="s", classifier="mnist-cnn", normalize=(0.5, 0.5), attacks=[Attack("fgsm", eps=0.1)])
    with pytest.raises(ConfigError, match="unknown classifier 'no-such-net'"):
        _suite("no-such-net")
    with pytest.raises(ConfigError, match="classifier must be a registered name"):
        _suite(3)
    with pytest.raises(ConfigError, match="factory must be a callable"):
        ModelFile("x.pt", factory=Net())


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_torchscript_classifier_runs_every_integrity_check(plain, tmp_path):
    """A TorchScript model refuses Python forward hooks; the attacks' NaN guard and the probes hook the
    attacked model. With the integrity indicators on (the default) the TorchScript file must give the same
    metrics and indicators as the module it was scripted from (it raised RuntimeError before)."""
    ts = tmp_path / "model.ts"
    torch.jit.save(torch.jit.script(plain), ts)
    out = {}
    for name, clf in {"instance": copy.deepcopy(plain), "torchscript": str(ts)}.items():
        suite = Suite(
            name="user-ts",
            dataset="digits-8x8",
            classifier=clf,
            scales=TINY,
            attacks=[Attack("pgd-linf", eps=0.1, steps=5)],
        )
        eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path / name))
        out[name] = evaluate_case(eng, suite.cases()[0]).metrics
    assert out["torchscript"]["unbounded_accuracy"] is not None  # the probes ran
    assert out["torchscript"] == out["instance"]


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_attacks_take_a_scripted_model_directly(plain):
    from robustcheck.attacks import build_attack

    x, y = DIGITS.val.x[:16], DIGITS.val.y[:16]
    scripted = torch.jit.script(copy.deepcopy(plain))
    for name in ("fgsm", "pgd-linf", "square"):
        params = {"steps": 3} if name != "fgsm" else {}
        [a] = build_attack(name, params, seed=0, batch_size=8)(plain, x, y, [0.1])
        [b] = build_attack(name, params, seed=0, batch_size=8)(scripted, x, y, [0.1])
        assert torch.equal(a.x_adv, b.x_adv), name
