"""003 purifier family: ELBO terms, contractive penalty, noise injection, inference scaling, white-box
target."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from robustcheck.defences import DEFENCES
from robustcheck.defences.ae_purifiers import bce_per_example, contractive_penalty
from robustcheck.defences.vae_purifiers import elbo_terms, gaussian_kl
from robustcheck.errors import ConfigError
from tests.helpers import tiny_cnn

FAMILY = ["ae", "dae", "cae", "vae", "dvae", "cvae-contractive"]


def test_elbo_terms_match_hand_computation():
    x = torch.tensor([[1.0, 0.0, 1.0, 0.5]])
    recon = torch.tensor([[0.9, 0.2, 0.5, 0.5]])
    mu = torch.tensor([[0.5, -1.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    bce, kl = elbo_terms(x, recon, mu, logvar)
    hand_bce = -(math.log(0.9) + math.log(0.8) + math.log(0.5) + 0.5 * math.log(0.5) + 0.5 * math.log(0.5))
    # ½[(1 + 0.25 − 1 − 0) + (4 + 1 − 1 − log 4)]
    hand_kl = 0.5 * (0.25 + 4.0 - math.log(4.0))
    assert bce.item() == pytest.approx(hand_bce, rel=1e-6)
    assert kl.item() == pytest.approx(hand_kl, rel=1e-6)
    assert gaussian_kl(torch.zeros(3, 5), torch.zeros(3, 5)).abs().max() == 0
    assert bce_per_example(x, x).item() == pytest.approx(-2 * 0.5 * math.log(0.5) * 1, rel=1e-6)


def _tiny_encoder():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 3 * 3, 4)
    )


def test_contractive_penalty_exact_matches_autograd_jacobian():
    enc = _tiny_encoder()
    x = torch.rand(3, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    ref = torch.stack(
        [
            torch.autograd.functional.jacobian(lambda v: enc(v.unsqueeze(0))[0], x[i]).pow(2).sum()
            for i in range(3)
        ]
    ).mean()
    ours = contractive_penalty(enc, x)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    assert ours.requires_grad  # differentiable for training
    # Hutchinson estimate: unbiased, close with many projections
    est = contractive_penalty(enc, x, projections=4000, generator=torch.Generator().manual_seed(0))
    assert est.item() == pytest.approx(ref.item(), rel=0.1)


def test_contractive_penalty_is_zero_for_constant_encoder():
    enc = nn.Sequential(nn.Flatten(), nn.Linear(36, 4))
    with torch.no_grad():
        enc[1].weight.zero_()
    assert contractive_penalty(enc, torch.rand(2, 1, 6, 6)).item() == 0.0


def test_denoising_target_and_noise_level():
    d, a = DEFENCES.get("dae")(stp=0.4), DEFENCES.get("ae")(stp=0.4)
    x = torch.full((64, 1, 28, 28), 0.5)
    xt = DEFENCES.get("dae")(stp=0.1).corrupt(x, torch.Generator().manual_seed(0))
    assert (xt - x).std().item() == pytest.approx(0.1, rel=0.02)  # 5 std from the clip at 0 and 1
    assert d.corrupt(x).min() >= 0 and d.corrupt(x).max() <= 1
    assert d.denoising and not a.denoising
    assert torch.equal(DEFENCES.get("ae")(stp=0.0).corrupt(x), x)
    seen = {}
    a.reconstruction_loss = lambda x_in, target, g=None: seen.update(a=(x_in, target)) or torch.zeros(())
    d.reconstruction_loss = lambda x_in, target, g=None: seen.update(d=(x_in, target)) or torch.zeros(())
    a.training_loss(x, torch.Generator().manual_seed(0))
    d.training_loss(x, torch.Generator().manual_seed(0))
    assert torch.equal(seen["a"][0], seen["a"][1])  # plain: reconstructs its noisy input
    assert torch.equal(seen["d"][1], x) and not torch.equal(seen["d"][0], x)  # denoising: the clean one


@pytest.mark.parametrize("name", FAMILY)
def test_family_flags_and_output_range(name):
    d = DEFENCES.get(name)().bind(tiny_cnn()).eval()
    assert d.is_purifier and not d.is_detector and d.trainable
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        p = d.purify(x)
    assert p.shape == x.shape and p.min() >= 0 and p.max() <= 1


def test_vae_inference_scale_sampling_and_white_box_target():
    clf = tiny_cnn().eval()
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    d0 = DEFENCES.get("vae")(scale=0.0).bind(clf).eval()
    torch.manual_seed(0)
    d1 = DEFENCES.get("vae")(scale=1.0).bind(clf).eval()
    with torch.no_grad():
        mean_recon = d0.decoder(d0.encode(x)[0])
        assert torch.equal(d0.purify(x), mean_recon)  # s = 0: the posterior mean
        assert not torch.allclose(d1.purify(x), mean_recon)  # s = 1 samples
        assert torch.equal(d1.purify(x), d1.purify(x))  # seeded: reproducible
        # white-box target: exactly the evaluated pipeline C∘P (fixed noise), not the mean decoder
        assert torch.allclose(d1.attack_model()(x), clf(d1.purify(x)))


def test_bad_parameters():
    with pytest.raises(ConfigError, match="stp"):
        DEFENCES.get("dae")(stp=1.5)
    with pytest.raises(ConfigError, match="contractive"):
        DEFENCES.get("cae")(contractive=-1.0)
    with pytest.raises(ConfigError, match="scale"):
        DEFENCES.get("vae")(scale=-0.1)
    with pytest.raises(ConfigError, match="projections"):
        DEFENCES.get("cae")(projections=0)


@pytest.mark.parametrize("name", ["vae", "dvae", "cvae-contractive"])
def test_kl_weight_scales_the_kl_term_of_the_loss(name):
    """β = kl_weight: loss(β) = BCE + β·KL with the same draw; β = 1 is 003's ELBO."""
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    losses = {}
    for beta in (0.0, 0.25, 1.0):
        torch.manual_seed(0)  # the same initial weights for every β
        d = DEFENCES.get(name)(kl_weight=beta)
        d.build((1, 28, 28), 10)
        losses[beta] = d.reconstruction_loss(x, x, torch.Generator().manual_seed(1)).item()
        assert d.config().get("kl_weight", 1.0) == beta and ("kl_weight" in d.config()) == (beta != 1.0)
    kl = losses[1.0] - losses[0.0]
    assert kl > 0
    assert losses[0.25] == pytest.approx(losses[0.0] + 0.25 * kl, rel=1e-5)
    with pytest.raises(ConfigError, match="kl_weight"):
        DEFENCES.get(name)(kl_weight=-1.0)
