"""004 ch. 7 VAE purification: every §7.5 variant lowers the reconstruction error; BPDA target; params."""

from __future__ import annotations

import pytest
import torch

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.defences.vae_purification import VARIANTS, random_rotate_resize
from robustcheck.errors import ConfigError
from tests.helpers import tiny_cnn


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    clf = tiny_cnn().eval()
    data = load_dataset("mnist-embedded")
    d = DEFENCES.get("vae-purifier")().bind(clf)
    d.fit(
        FitContext(
            clf,
            data.train.subset(300),
            data.val.subset(200),
            10,
            epochs=1,
            seed=0,
            device=torch.device("cpu"),
        )
    )
    x = data.test.x[:16]
    with torch.no_grad():  # push every pixel away from its reconstruction: d(x') > d(x) by construction
        x_pert = (x + 0.3 * torch.sign(x - d.recon(x))).clamp(0, 1)
    return d, x, x_pert


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_lowers_reconstruction_error_of_a_perturbed_input(fitted, variant):
    d, x, x_pert = fitted
    d.variant = variant
    with torch.inference_mode():  # the engine calls the defence in inference mode
        before = d.distance(x_pert)
        assert (before > d.err_mean).all()  # the one-sided variants have something to do
        out = d.purify(x_pert)
        after = d.distance(out)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert after.mean() < before.mean(), f"variant {variant}: {after.mean():.2f} !< {before.mean():.2f}"
    d.variant = "E"


def test_one_sided_variant_leaves_low_error_inputs_alone(fitted):
    d, x, _ = fitted
    d.variant = "E"
    with torch.no_grad():
        low = d.distance(x) < d.err_mean
        out = d.purify(x)
    assert low.any()
    assert torch.equal(out[low], x[low])  # zero loss, zero gradient, no step


def test_zero_iterations_is_identity_and_purification_is_seeded(fitted):
    d, _, x_pert = fitted
    d.iterations = 0
    assert torch.equal(d.purify(x_pert), x_pert)
    d.iterations, d.variant = 3, "H"
    assert torch.equal(d.purify(x_pert), d.purify(x_pert))
    d.iterations, d.variant = 10, "E"


def test_bpda_straight_through_target(fitted):
    d, _, x_pert = fitted
    target = d.attack_model()
    xg = x_pert[:4].clone().requires_grad_(True)
    out = target(xg)
    with torch.no_grad():
        assert torch.allclose(out, d.classifier(d.purify(x_pert[:4])))  # forward: C(purify(x))
    out[:, 0].sum().backward()
    xp = d.purify(x_pert[:4]).requires_grad_(True)
    d.classifier(xp)[:, 0].sum().backward()
    assert torch.allclose(xg.grad, xp.grad)  # backward: the gradient of C at the purified point


def test_random_transform_identity_at_zero_and_bad_parameters():
    x = torch.rand(3, 1, 28, 28)
    same = random_rotate_resize(x, 0.0, 0.0, torch.Generator().manual_seed(0))
    assert torch.allclose(same, x, atol=1e-5)
    with pytest.raises(ConfigError, match="variant"):
        DEFENCES.get("vae-purifier")(variant="Z")
    with pytest.raises(ConfigError, match="iterations"):
        DEFENCES.get("vae-purifier")(iterations=-1)
    with pytest.raises(ConfigError, match="max_resize"):
        DEFENCES.get("vae-purifier")(max_resize=1.5)
