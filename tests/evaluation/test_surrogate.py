"""Black-box transfer needs a real surrogate (issue 12 item 5): with a user classifier factory the old
"surrogate" was built by the same factory, i.e. it *was* the target, and transfer was grey-box."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck import Attack, Scale, Suite
from robustcheck.cache import module_fingerprint
from robustcheck.engine import Engine
from robustcheck.errors import ConfigError
from robustcheck.evaluate import evaluate as evaluate_case
from tests.helpers import tiny_cnn

TINY = {"smoke": Scale(n_samples=32, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=5)}

_PRETRAINED: dict[str, torch.Tensor] = {}


def pretrained_factory() -> nn.Module:
    """A user factory returning *loaded* weights (the same whatever the RNG): the realistic case."""
    if not _PRETRAINED:
        torch.manual_seed(123)
        _PRETRAINED.update(tiny_cnn().state_dict())
    m = tiny_cnn()
    m.load_state_dict(_PRETRAINED)
    return m


def _suite(**kw) -> Suite:
    base = {
        "name": "transfer",
        "classifier": pretrained_factory,
        "defences": ["none"],
        "attacks": [Attack("fgsm", eps=0.1)],
        "threat_models": ["black-box"],
        "scales": TINY,
    }
    base.update(kw)
    return Suite(**base)


def test_default_surrogate_of_a_user_factory_is_an_independent_reference_model(tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    suite = _suite()
    target = engine.classifier(suite)
    sur = engine.surrogate(suite)
    assert sur.key != target.key
    assert module_fingerprint(sur.module) != module_fingerprint(target.module)
    model, key = engine.attack_target(suite.cases()[0])
    assert model is sur.module and key == f"transfer:{sur.key}"


def test_surrogate_identical_to_the_target_is_refused(tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    suite = _suite(surrogate=pretrained_factory)
    with pytest.raises(ConfigError, match="same weights as the classifier under test"):
        evaluate_case(engine, suite.cases()[0])


class _Wrapped(nn.Module):
    """The target's weights under other parameter names (``inner.0.weight``, not ``0.weight``)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = pretrained_factory()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def test_surrogate_wrapping_the_target_weights_is_refused(tmp_path):
    """Found 2026-11-27 (an outside audit): a wrapper around the target's weights has another parameter
    fingerprint, and black-box transfer then reported the grey-box numbers exactly."""
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    suite = _suite(surrogate=_Wrapped)
    assert module_fingerprint(engine.classifier(suite, seed=1, spec=_Wrapped).module) != module_fingerprint(
        engine.classifier(suite).module
    )
    with pytest.raises(ConfigError, match="same weights as the classifier under test"):
        evaluate_case(engine, suite.cases()[0])


def test_user_surrogate_factory_is_used(tmp_path):
    def other() -> nn.Module:
        torch.manual_seed(7)
        return tiny_cnn()

    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    suite = _suite(surrogate=other)
    sur = engine.surrogate(suite)
    torch.manual_seed(7)
    assert module_fingerprint(sur.module) == module_fingerprint(tiny_cnn().eval())
    res = evaluate_case(engine, suite.cases()[0])
    assert res.metrics["clean_accuracy"] is not None


def test_bad_surrogate_and_outputs_settings():
    with pytest.raises(ConfigError, match="surrogate must be"):
        _suite(surrogate=3)
    with pytest.raises(ConfigError, match=r"unknown classifier|classifier 'nope'"):
        _suite(surrogate="nope")
    with pytest.raises(ConfigError, match="outputs must be"):
        _suite(outputs="softmax")
    with pytest.raises(ConfigError, match="returns logits"):
        _suite(classifier="mnist-cnn", outputs="probabilities")
