"""Same seed (and thread count) ⇒ bit-identical weights and metrics from a cold cache, whatever ran before
in the process (issue 12, item 4): for every trainable defence of the registry and a user classifier
factory that initialises its weights randomly. Tiny scale."""

from __future__ import annotations

import math

import pytest
import torch

from robustcheck import Attack, Defence, Scale, Suite
from robustcheck.defences import DEFENCES
from robustcheck.engine import Engine
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.suite import SCALE_NAMES
from tests.helpers import tiny_cnn

TINY = {
    s: Scale(n_samples=16, train_limit=48, classifier_epochs=1, defence_epochs=1, attack_steps=2)
    for s in SCALE_NAMES
}
#: smaller settings for the slow defences (the contract is the same)
SMALL = {
    "cvae-detector": {"zdim": 8},
    "vae-purifier": {"zdim": 8, "iterations": 2},
    "perceptual-dae": {"pgd_steps": 2, "loss_net_epochs": 1},
}
TRAINABLE = sorted(n for n in DEFENCES if getattr(DEFENCES.get(n), "trainable", False))


def _suite(name: str) -> Suite:
    return Suite(
        name="determinism",
        classifier=tiny_cnn,
        defences=[Defence(name, **SMALL.get(name, {}))],
        attacks=[Attack("fgsm", eps=0.1)],
        scales=TINY,
        indicators=False,
    )


def _cold_run(cache_dir) -> tuple:
    suite = _suite(_cold_run.name)  # type: ignore[attr-defined]
    eng = Engine(device="cpu", scale="smoke", cache_dir=str(cache_dir))
    case = suite.cases()[0]
    metrics = evaluate_case(eng, case).metrics
    d, key = eng.defence(suite, case)
    clf = eng.classifier(suite)
    return (
        {k: v.detach().clone() for k, v in clf.module.state_dict().items()},
        {k: v.detach().clone() for k, v in d.state_dict().items()},
        metrics,
        clf.key,
        key,
    )


def _bits(t: torch.Tensor) -> bytes:
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (isinstance(a[k], float) and isinstance(b[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
        or a[k] == b[k]
        for k in a
    )


def test_registry_has_trainable_defences():
    assert len(TRAINABLE) >= 10 and "ae-kl" in TRAINABLE


@pytest.mark.parametrize("name", TRAINABLE)
def test_two_cold_runs_are_bit_identical(name, tmp_path):
    _cold_run.name = name  # type: ignore[attr-defined]
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    clf1, def1, m1, ck1, dk1 = _cold_run(tmp_path / "first")
    # the engine leaves the caller's global RNG as it found it
    assert torch.equal(torch.get_rng_state(), before)
    torch.rand(1000)  # whatever else ran in between consumed the global RNG
    clf2, def2, m2, ck2, dk2 = _cold_run(tmp_path / "second")
    assert clf1.keys() == clf2.keys() and all(_bits(clf1[k]) == _bits(clf2[k]) for k in clf1)
    assert def1.keys() == def2.keys()
    diff = [k for k in def1 if _bits(def1[k]) != _bits(def2[k])]
    assert not diff, f"{name}: weights differ between two cold runs: {diff[:5]}"
    assert (ck1, dk1) == (ck2, dk2)
    assert _same(m1, m2), {k: (m1[k], m2.get(k)) for k in m1 if not _same({k: m1[k]}, {k: m2.get(k)})}
