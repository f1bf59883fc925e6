"""The attacked function is the evaluated one (issue 12 items 1 and 2, EVALUATION.md).

- For every registered defence, the argmax of what a white-box attacker differentiates
  (``attack_model``) and of what a black-box attacker queries (``DefendedLogits``) equals
  ``predict(x)``, on clean and on perturbed inputs; a detector-aware attacker's label model
  (``AdaptiveTarget``) equals ``predict(x)`` on every unflagged input.
- A query attack succeeds only on inputs that are misclassified **and** not flagged: being flagged is
  a failure for the attacker (the old oracle's "rejected" column made Square stop at the first
  flagged query and return it).
"""

from __future__ import annotations

import pytest
import torch
import torchattacks
from torch import Tensor

from robustcheck.attacks import build_attack
from robustcheck.defences import DEFENCES, BaseDefence, FitContext
from robustcheck.threat import AdaptiveTarget, DefendedLogits
from tests.helpers import trained_tiny


@pytest.fixture(scope="module")
def tiny():
    return trained_tiny(n=1200, epochs=3)


def _fitted(name: str, model, data) -> BaseDefence:
    d = DEFENCES.get(name)().bind(model)
    if d.trainable:
        d.fit(
            FitContext(
                model, data.train.subset(300), data.val, 10, epochs=1, seed=0, device=torch.device("cpu")
            )
        )
    d.eval()
    for p in d.parameters():
        p.requires_grad_(False)
    d.calibrate(data.val.x[:300], 0.3)  # a high FPR so that both flagged and unflagged inputs occur
    return d


@pytest.mark.parametrize("name", DEFENCES.list())
def test_attackers_see_the_evaluated_label(name, tiny, data):
    model, x, _ = tiny
    d = _fitted(name, model, data)
    g = torch.Generator().manual_seed(1)
    noisy = (x + 0.25 * (torch.rand(x.shape, generator=g) * 2 - 1)).clamp(0, 1)
    for inputs in (x[:48], noisy[:48]):
        with torch.no_grad():
            pred = d.predict(inputs)
            assert torch.equal(d.defended_logits(inputs).argmax(1), pred), "defended_logits ≠ predict"
            assert torch.equal(d.attack_model()(inputs).argmax(1), pred), "white-box target ≠ predict"
            assert torch.equal(DefendedLogits(d)(inputs).argmax(1), pred), "black-box oracle ≠ predict"
            logits, flagged = DefendedLogits(d).query(inputs)
            assert torch.equal(logits.argmax(1), pred) and torch.equal(flagged, d.flagged(inputs))
            target = AdaptiveTarget(d, model)
            unflagged = ~d.flagged(inputs)
            assert torch.equal(target(inputs).argmax(1)[unflagged], pred[unflagged]), (
                "detector-aware target ≠ predict on unflagged inputs"
            )


def test_magnet_label_path_is_the_reformer(tiny, data):
    """MagNet reforms every input: the label path attackers see is C(AE(x)), flagged or not (it was C(x)
    for unflagged inputs, a function that is not scored)."""
    model, x, _ = tiny
    d = _fitted("magnet", model, data)
    with torch.no_grad():
        reformed = model(d.ae(x)).argmax(1)
        assert bool((reformed != model(x).argmax(1)).any()), (
            "test needs inputs where reforming changes the label"
        )
        assert torch.equal(AdaptiveTarget(d, model)(x).argmax(1), reformed)
        assert torch.equal(DefendedLogits(d)(x).argmax(1), reformed)


class _FlagsEveryMistake(BaseDefence):
    """A canary detector that flags exactly the inputs the classifier does not label ``keep``: on digits of
    class ``keep``, no misclassified input is unflagged, so no black-box attack can succeed."""

    name = "flags-every-mistake"
    is_detector = True

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def score(self, x: Tensor) -> Tensor:
        return 1.0 - torch.softmax(self.classifier(x), 1)[:, self.keep]


@pytest.mark.parametrize("attack,eps", [("square", 0.3), ("square-l2", 3.0)])
def test_square_treats_flagged_as_failure(attack, eps, tiny, data):
    model, _, _ = tiny
    keep = 3
    mask = data.test.y == keep
    x, y = data.test.x[mask], data.test.y[mask]
    with torch.no_grad():
        right = model(x).argmax(1) == y
    x, y = x[right][:32], y[right][:32]
    d = _FlagsEveryMistake(keep).bind(model).eval()
    d._threshold.fill_(0.5)  # flagged ⟺ p(keep) < 0.5 ⟸ argmax ≠ keep
    [res] = build_attack(attack, {"steps": 200}, seed=0, batch_size=32)(DefendedLogits(d), x, y, [eps])
    with torch.no_grad():
        fooled_unflagged = (d.predict(res.x_adv) != y) & ~d.flagged(res.x_adv)
    assert not bool(fooled_unflagged.any())
    assert not bool(res.success.any()), "a flagged x′ was counted as the attacker's success"
    # against the bare classifier the same attack does succeed: the canary is not just a weak setting
    [plain] = build_attack(attack, {"steps": 200}, seed=0, batch_size=32)(model, x, y, [eps])
    assert plain.success.float().mean() > 0.3


def test_square_success_is_misclassified_and_unflagged(tiny, data):
    model, x, y = tiny
    d = _fitted("feature-squeezing", model, data)
    oracle = DefendedLogits(d)
    [res] = build_attack("square", {"steps": 150}, seed=0, batch_size=50)(oracle, x, y, [0.2])
    with torch.no_grad():
        expect = (d.predict(res.x_adv) != y) & ~d.flagged(res.x_adv)
    assert torch.equal(res.success, expect)
    assert res.success.any()


@pytest.mark.parametrize("attack,ta_norm,eps", [("square", "Linf", 0.15), ("square-l2", "L2", 1.5)])
def test_square_agrees_with_torchattacks_on_a_plain_model(attack, ta_norm, eps, tiny):
    """Our Square against torchattacks' Square (same budget, p_init, margin loss) on the same digits."""
    model, x, y = tiny
    [res] = build_attack(attack, {"steps": 300}, seed=0, batch_size=100)(model, x, y, [eps])
    ta = torchattacks.Square(
        model, norm=ta_norm, eps=eps, n_queries=300, n_restarts=1, p_init=0.8, loss="margin", seed=0
    )
    with torch.no_grad():
        ref = (model(ta(x, y)).argmax(1) != y).float().mean().item()
    ours = res.success.float().mean().item()
    assert abs(ours - ref) <= 0.08, (ours, ref)
    d = (res.x_adv - x).flatten(1)
    norms = d.abs().amax(1) if ta_norm == "Linf" else d.norm(dim=1)
    assert float(norms.max()) <= eps + 1e-5 and res.x_adv.min() >= 0 and res.x_adv.max() <= 1


def test_white_box_gradient_of_a_flag_selected_defence_is_the_correctors(tiny, data):
    """ae-kl labels C(AE(x)) when flagged, C(x) otherwise. Following only the selected branch (C(x) on a
    clean, unflagged input, what a ``torch.where`` differentiates) is myopic: white-box FGSM then equals
    grey-box FGSM and is scored on C(AE(x)) once flagged. The white-box gradient is that of C(AE(x))."""
    model, x, y = tiny
    d = _fitted("ae-kl", model, data)
    xs, ys = x[:32], y[:32]
    unflagged = ~d.flagged(xs)
    assert bool(unflagged.any())
    xr = xs.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(
        torch.nn.functional.cross_entropy(d.attack_model()(xr), ys, reduction="sum"), xr
    )
    xb = xs.clone().requires_grad_(True)
    rec = model(d.ae(xb))
    (g_rec,) = torch.autograd.grad(torch.nn.functional.cross_entropy(rec, ys, reduction="sum"), xb)
    xc = xs.clone().requires_grad_(True)
    (g_c,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(xc), ys, reduction="sum"), xc)
    # rows where C(AE(x))'s argmax already is the defended label carry no lift (logits_with_labels)
    rows = unflagged & (rec.argmax(1) == model(xs).argmax(1))
    assert bool(rows.any())
    assert torch.allclose(g[rows], g_rec[rows], atol=1e-6)
    assert not torch.allclose(g[rows], g_c[rows], atol=1e-6)
