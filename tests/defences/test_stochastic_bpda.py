"""Issue 12 item 8: stochastic and non-differentiable steps.

The attacked function is the evaluated one (or EOT over exactly its randomness); EOT averages gradients
of the loss; every non-differentiable step has a declared BPDA surrogate; a gradient check per defence.
Also item 13's lexicographic best-iterate key of the adaptive attacks.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks.adaptive_base import AdaptiveAttack
from robustcheck.attacks.gradients import fresh_randomness, loss_gradient
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.defences.feature_squeezing import reduce_bit_depth
from robustcheck.errors import ConfigError
from robustcheck.threat import EOT, white_box_model
from tests.helpers import tiny_cnn

VAE_FAMILY = ["vae", "dvae", "cvae-contractive"]


def ce_sum(labels: Tensor):
    return lambda z: F.cross_entropy(z, labels, reduction="sum")


# --- VAE purifiers: fixed noise, the attacked function is the evaluated one ------------------------
@pytest.mark.parametrize("name", VAE_FAMILY)
def test_vae_purifier_is_batch_invariant(name):
    torch.manual_seed(0)
    clf = tiny_cnn().eval()
    d = DEFENCES.get(name)(scale=1.0).bind(clf).eval()
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        batch = d.purify(x)
        single = torch.cat([d.purify(x[i : i + 1]) for i in range(len(x))])
        reversed_ = d.purify(x.flip(0)).flip(0)
        assert torch.allclose(batch, single, atol=1e-6)  # noise does not depend on the position in a batch
        assert torch.allclose(batch, reversed_, atol=1e-6)
        assert torch.equal(d.predict(x), torch.cat([d.predict(x[i : i + 1]) for i in range(len(x))]))
        assert not torch.allclose(batch, d.decoder(d.encode(x)[0]))  # s = 1 still samples (a fixed draw)


@pytest.mark.parametrize("name", VAE_FAMILY)
def test_vae_attack_model_is_the_evaluated_pipeline(name):
    torch.manual_seed(0)
    clf = tiny_cnn().eval()
    d = DEFENCES.get(name)(scale=1.0).bind(clf).eval()
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    target = d.attack_model()
    with torch.no_grad():
        assert torch.allclose(target(x), clf(d.purify(x)), atol=1e-6)
        assert torch.equal(target(x).argmax(1), d.predict(x))
    # differentiable through μ and log σ² (the reparameterised sample)
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(target(xr)[:, 0].sum(), xr)
    assert torch.isfinite(g).all() and (g.flatten(1).abs().sum(1) > 0).all()
    assert not getattr(d, "stochastic", False)


@pytest.mark.parametrize("name", VAE_FAMILY)
def test_vae_fresh_noise_is_stochastic_under_eot_and_reproducible_outside(name):
    """fresh_noise (issue 19): labels from the fixed draw of sample_seed; EOT passes draw per example."""
    torch.manual_seed(0)
    clf = tiny_cnn().eval()
    fixed = DEFENCES.get(name)(scale=1.0).bind(clf).eval()
    fresh = DEFENCES.get(name)(scale=1.0, fresh_noise=True).bind(clf).eval()
    fresh.load_state_dict(fixed.state_dict())
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.manual_seed(5)  # process history must not matter outside an EOT pass
        assert torch.equal(fresh.purify(x), fixed.purify(x)) and torch.equal(
            fresh.predict(x), fixed.predict(x)
        )
        with fresh_randomness():
            torch.manual_seed(1)
            a = fresh.purify(x)
            torch.manual_seed(1)
            a_again = fresh.purify(x)
            b = fresh.purify(x)
        assert torch.equal(a, a_again)  # the attack's seeded generator decides the draws
        assert not torch.allclose(a, b) and not torch.allclose(a, fixed.purify(x))
        with fresh_randomness():  # one draw per example: identical inputs get different samples
            twins = fresh.purify(x[:1].expand(2, -1, -1, -1).contiguous())
        assert not torch.allclose(twins[0], twins[1])
    assert fresh.stochastic and not fixed.stochastic and isinstance(white_box_model(fresh, 4), EOT)
    assert fresh.config()["fresh_noise"] is True and "fresh_noise" not in fixed.config()
    assert not DEFENCES.get(name)(scale=0.0, fresh_noise=True).stochastic  # the mean: nothing to sample
    with pytest.raises(ConfigError, match="fresh_noise"):
        DEFENCES.get(name)(fresh_noise=1)


# --- feature squeezing: the bit-depth squeezer goes through BPDA ---------------------------------------
def test_bit_depth_squeezer_is_straight_through():
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    plain = torch.round(x * 7) / 7
    xr = x.clone().requires_grad_(True)
    q = reduce_bit_depth(xr, 3)
    assert torch.equal(q.detach(), plain)  # forward value unchanged, bit for bit
    (g,) = torch.autograd.grad((q * torch.arange(64.0).view(1, 1, 8, 8)).sum(), xr)
    assert torch.equal(g, torch.arange(64.0).view(1, 1, 8, 8).expand_as(x))  # backward: identity


def test_feature_squeezing_score_gradient_reaches_the_squeezed_branch(tiny):
    model, x, _ = tiny
    d = DEFENCES.get("feature-squeezing")(bits=1, median_size=None).bind(model).eval()
    xr = x[:8].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(d.score(xr).sum(), xr)
    # reference: BPDA-identity, ∂/∂x of ‖p(x) − p(q)‖₁ with q treated as x in the backward pass
    xa = x[:8].clone().requires_grad_(True)
    q = (torch.round(x[:8]) - x[:8]).detach() + xa
    ref = (torch.softmax(model(xa), 1) - torch.softmax(model(q), 1)).abs().sum(1)
    (g_ref,) = torch.autograd.grad(ref.sum(), xa)
    assert torch.allclose(g, g_ref, atol=1e-6)


# --- EOT averages gradients of the loss ------------------------------------------------------------------
class NoisyClassifier(nn.Module):
    """C(x + σ·n), n ~ N(0, I) from the global generator: a stochastic module."""

    def __init__(self, clf: nn.Module, sigma: float = 0.3) -> None:
        super().__init__()
        self.clf, self.sigma = clf, sigma

    def forward(self, x: Tensor) -> Tensor:
        return self.clf(x + self.sigma * torch.randn_like(x))


def test_loss_gradient_under_eot_is_the_mean_of_per_sample_loss_gradients(tiny):
    model, x, y = tiny
    noisy = NoisyClassifier(model)
    xb, yb = x[:6], y[:6]
    torch.manual_seed(5)
    grad, logits = loss_gradient(EOT(noisy, 4), xb, ce_sum(yb))
    torch.manual_seed(5)
    grads, outs = [], []
    for _ in range(4):
        xr = xb.clone().requires_grad_(True)
        out = noisy(xr)
        (g,) = torch.autograd.grad(F.cross_entropy(out, yb, reduction="sum"), xr)
        grads.append(g)
        outs.append(out.detach())
    assert torch.allclose(grad, torch.stack(grads).mean(0), atol=1e-6)
    assert torch.allclose(logits, torch.stack(outs).mean(0), atol=1e-5)
    # the gradient of the loss of averaged logits (the old EOT) is a different quantity
    torch.manual_seed(5)
    xr = xb.clone().requires_grad_(True)
    (g_old,) = torch.autograd.grad(F.cross_entropy(EOT(noisy, 4)(xr), yb, reduction="sum"), xr)
    assert not torch.allclose(grad, g_old, atol=1e-6)


def test_loss_gradient_without_eot_is_one_pass(tiny):
    model, x, y = tiny
    grad, logits = loss_gradient(model, x[:5], ce_sum(y[:5]))
    xr = x[:5].clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(F.cross_entropy(model(xr), y[:5], reduction="sum"), xr)
    assert torch.equal(grad, ref) and torch.allclose(logits, model(x[:5]))


def test_bim_step_follows_the_eot_loss_gradient(tiny):
    from robustcheck.attacks import build_attack

    model, x, y = tiny
    noisy = NoisyClassifier(model, sigma=1.0)
    eot = EOT(noisy, 3)
    attack = build_attack("bim-linf", {"steps": 1, "alpha": 0.05}, seed=0)
    torch.manual_seed(11)
    x_adv = attack.run(eot, x[:6], y[:6], 0.05, None)
    torch.manual_seed(11)
    grad, _ = loss_gradient(eot, x[:6], ce_sum(y[:6]))
    step = (x[:6] + 0.05 * grad.sign()).clamp(0, 1)
    moved = (x_adv - x[:6]).flatten(1).abs().sum(1) > 0  # best iterate: moved rows are the step
    assert moved.any()
    assert torch.allclose(x_adv[moved], step[moved], atol=1e-6)
    torch.manual_seed(11)  # not the sign of the gradient of the loss of averaged logits
    xr = x[:6].clone().requires_grad_(True)
    (g_old,) = torch.autograd.grad(F.cross_entropy(eot(xr), y[:6], reduction="sum"), xr)
    assert not torch.equal(grad.sign(), g_old.sign())


# --- vae-purifier F/G/H: genuinely random, seeded predictions, EOT over exactly that randomness -------
@pytest.fixture(scope="module")
def vae_purifier(tiny, data):
    model, _x, _y = tiny
    torch.manual_seed(0)
    d = DEFENCES.get("vae-purifier")(iterations=3, noise=0.2, max_rotation=20.0).bind(model)
    d.fit(
        FitContext(
            model,
            data.train.subset(64),
            data.val.subset(64),
            10,
            epochs=1,
            seed=0,
            device=torch.device("cpu"),
        )
    )
    return d.eval()


@pytest.mark.parametrize("variant", ["F", "G", "H"])
def test_random_variants_are_declared_seeded_and_batch_invariant(vae_purifier, tiny, variant):
    d = vae_purifier
    _model, x, _ = tiny
    d.variant = variant
    try:
        assert d.stochastic and not d.differentiable
        with torch.no_grad():  # push pixels away from the reconstruction: the one-sided loss has work to do
            xb = (x[:6] + 0.3 * torch.sign(x[:6] - d.recon(x[:6]))).clamp(0, 1)
            torch.manual_seed(1)
            a = d.purify(xb)
            torch.manual_seed(2)  # process history (the global generator) must not matter
            b = d.purify(xb)
            single = torch.cat([d.purify(xb[i : i + 1]) for i in range(len(xb))])
            assert torch.equal(a, b)
            assert torch.allclose(a, single, atol=1e-5)
            with fresh_randomness():  # an EOT pass samples the distribution afresh
                fresh = [d.purify(xb) for _ in range(2)]
            assert not torch.allclose(fresh[0], fresh[1])
            assert torch.equal(d.attack_model()(xb).argmax(1), d.predict(xb))
        assert isinstance(white_box_model(d, 4), EOT)
    finally:
        d.variant = "E"


def test_deterministic_variants_are_not_stochastic(vae_purifier):
    d = vae_purifier
    for v in "ABCDE":
        d.variant = v
        assert not d.stochastic
    d.variant = "F"
    d.noise = 0.0
    assert not d.stochastic
    d.variant, d.noise = "E", 0.2


def test_eot_on_a_random_variant_averages_loss_gradients_over_fresh_draws(vae_purifier, tiny):
    d = vae_purifier
    _model, x, y = tiny
    d.variant = "F"
    try:
        xb, yb = x[:4], y[:4]
        model = white_box_model(d, 3)
        torch.manual_seed(7)
        grad, _ = loss_gradient(model, xb, ce_sum(yb))
        torch.manual_seed(7)
        grads = []
        target = d.attack_model()
        for _ in range(3):
            xr = xb.clone().requires_grad_(True)
            with fresh_randomness():
                out = target(xr)
            (g,) = torch.autograd.grad(F.cross_entropy(out, yb, reduction="sum"), xr)
            grads.append(g)
        assert torch.allclose(grad, torch.stack(grads).mean(0), atol=1e-6)
        assert not torch.allclose(grads[0], grads[1])  # the passes saw different draws
    finally:
        d.variant = "E"


# --- adaptive attacks: lexicographic best iterate -------------------------------------------------------
class _Threshold(nn.Module):
    """Two classes decided by the mean pixel: logits (−s, s), s = mean(x) − 0.5."""

    def forward(self, x: Tensor) -> Tensor:
        s = x.flatten(1).mean(1) - 0.5
        return torch.stack([-s, s], 1)


class _HugeObjective(AdaptiveAttack):
    """An objective on a scale far above 1e6 that rises while the attack stops succeeding."""

    name = "huge-objective-test"

    def objective(self, target, x, y, tgt):
        logits = target(x)
        return 1e7 * (x.flatten(1).mean(1) - 0.5), logits, torch.zeros(x.shape[0])


def test_adaptive_best_iterate_is_success_first_then_objective():
    x = torch.full((2, 1, 4, 4), 0.45)
    y = torch.ones(2, dtype=torch.long)  # C(x₀) = 0 ≠ y: x₀ already succeeds
    out = _HugeObjective(steps=4, alpha=0.1).run(_Threshold(), x, y, 0.3, None)
    # the later iterates have a larger objective (by more than 1e6) but are classified y: not successes
    assert torch.allclose(out, x)
    assert (_Threshold()(out).argmax(1) != y).all()


# --- a gradient check per registered defence -------------------------------------------------------------
@pytest.mark.parametrize("name", DEFENCES.list())
def test_white_box_and_score_gradients_are_finite_and_not_masked(name, tiny, data):
    model, x, _y = tiny
    torch.manual_seed(0)
    d = DEFENCES.get(name)().bind(model)
    if d.trainable:
        if name == "perceptual-dae":
            d = DEFENCES.get(name)(pgd_steps=2).bind(model)
        d.fit(
            FitContext(
                model,
                data.train.subset(64),
                data.val.subset(100),
                10,
                epochs=1,
                seed=0,
                device=torch.device("cpu"),
            )
        )
    d.eval()
    d.calibrate(data.val.x[:200], 0.1)
    xb = x[:16]
    xr = xb.clone().requires_grad_(True)
    out = white_box_model(d, 2)(xr)
    (g,) = torch.autograd.grad(out.logsumexp(1).sum() - out[:, 0].sum(), xr)
    assert torch.isfinite(g).all()
    assert (g.flatten(1).abs().sum(1) > 0).float().mean() >= 0.75, f"{name}: attack-model gradient masked"
    if d.is_detector and getattr(d, "differentiable_score", True):
        xs = xb.clone().requires_grad_(True)
        (gs,) = torch.autograd.grad(d.score(xs).sum(), xs)
        assert torch.isfinite(gs).all()
        assert (gs.flatten(1).abs().sum(1) > 0).float().mean() >= 0.75, f"{name}: score gradient masked"
    if name in VAE_FAMILY or name == "vae-purifier":
        with torch.no_grad():
            assert torch.equal(d.attack_model()(xb).argmax(1), d.predict(xb))
