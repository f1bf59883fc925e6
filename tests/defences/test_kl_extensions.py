"""ae-kl extensions of 001 §3.3: temperature scaling (eq 9) and the hidden-layer term (eq 7–8)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.defences.kl_autoencoder import kl_divergence, random_shift, temperature_scaled
from robustcheck.errors import ConfigError
from tests.helpers import trained_tiny


class _Zeros(nn.Module):
    """An 'autoencoder' that outputs black images (so M(AE(x)) = softmax(bias))."""

    def forward(self, x):
        return x * 0.0


def _linear_classifier(log_probs: list[float]) -> tuple[nn.Module, torch.Tensor]:
    """A 784→3 linear classifier with zero bias and an input whose logits are ``log_probs``."""
    clf = nn.Sequential(nn.Flatten(), nn.Linear(784, 3))
    with torch.no_grad():
        clf[1].weight.zero_()
        clf[1].bias.zero_()
        clf[1].weight[:, 0] = torch.tensor(log_probs)
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 0, 0] = 1.0
    for p in clf.parameters():
        p.requires_grad_(False)
    return clf.eval(), x


def test_temperature_formula_by_hand():
    p = torch.tensor([[0.5, 0.25, 0.25]])
    # eq 9 with T = 0.5: p^2 / Σ p^2 = [0.25, 0.0625, 0.0625] / 0.375
    assert torch.allclose(temperature_scaled(p.log(), 0.5).exp(), torch.tensor([[2 / 3, 1 / 6, 1 / 6]]))
    # T = 1 is no scaling at all
    logits = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(temperature_scaled(logits, 1.0), torch.log_softmax(logits, 1))


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        (1.0, 0.5 * math.log(1.5) + 0.5 * math.log(0.75)),  # KL([.5,.25,.25] ‖ uniform)
        (0.5, math.log(2) / 3),  # KL([2/3,1/6,1/6] ‖ uniform) = 2/3 ln 2 − 1/3 ln 2
    ],
)
def test_training_loss_hand_computed(temperature, expected):
    clf, x = _linear_classifier([math.log(0.5), math.log(0.25), math.log(0.25)])
    d = DEFENCES.get("ae-kl")(temperature=temperature).bind(clf)
    d.ae = _Zeros()
    assert d.training_loss(x).item() == pytest.approx(expected, abs=1e-6)


def test_temperature_one_equals_plain_ae_kl():
    model, x, _ = trained_tiny(n=200, epochs=1)
    torch.manual_seed(0)
    a = DEFENCES.get("ae-kl")().bind(model)
    b = DEFENCES.get("ae-kl")(temperature=1.0).bind(model)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        assert torch.equal(a.training_loss(x), b.training_loss(x))
    assert a.config() == b.config()  # same cache key as the skeleton's ae-kl
    assert DEFENCES.get("ae-kl")(temperature=0.5).config() != a.config()


def test_hidden_layer_loss_is_eq8():
    clf, x = _linear_classifier([math.log(0.5), math.log(0.25), math.log(0.25)])
    d = DEFENCES.get("ae-kl")(hidden_layer="0", hidden_dim=2, lam=0.5).bind(clf)
    d.ae = _Zeros()
    with torch.no_grad():
        d.head[0].weight.zero_()
        d.head[0].bias.zero_()
        d.head[0].weight[0, 0] = math.log(
            3.0
        )  # y_ψ(x) = softmax([ln 3, 0]) = [3/4, 1/4]; y_ψ(0) = [1/2, 1/2]
    hidden = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    base = 0.5 * math.log(1.5) + 0.5 * math.log(0.75)
    assert d.training_loss(x).item() == pytest.approx(base + 0.5 * hidden, abs=1e-6)
    assert kl_divergence(torch.tensor([[math.log(3.0), 0.0]]), torch.zeros(1, 2)).item() == pytest.approx(
        hidden
    )


def test_hidden_layer_head_gets_gradients_and_changes(tmp_path):
    model, x, _ = trained_tiny(n=200, epochs=1)
    d = DEFENCES.get("ae-kl")(hidden_layer="1", hidden_dim=8, lam=1.0).bind(model)
    assert d.head[0].in_features == 8 * 14 * 14
    d.training_loss(x[:16]).backward()
    assert d.head[0].weight.grad is not None and d.head[0].weight.grad.abs().sum() > 0
    d.zero_grad()
    before = d.head[0].weight.detach().clone()
    data = load_dataset("mnist-embedded")
    d.fit(
        FitContext(model, data.train.subset(128), data.val, 10, epochs=1, seed=0, device=torch.device("cpu"))
    )
    assert not torch.equal(before, d.head[0].weight)
    d.calibrate(data.val.x[:200], 0.1)
    torch.save(d.state_dict(), tmp_path / "hl.pt")
    d2 = DEFENCES.get("ae-kl")(hidden_layer="1", hidden_dim=8, lam=1.0).bind(model)
    d2.load_state_dict(torch.load(tmp_path / "hl.pt", weights_only=True))
    d2.eval()
    with torch.no_grad():
        assert torch.equal(d.score(x), d2.score(x))
        assert torch.equal(d.training_loss(x), d2.training_loss(x))
    assert d2.threshold == d.threshold


def test_bad_options():
    model, _, _ = trained_tiny(n=100, epochs=1)
    with pytest.raises(ConfigError, match="temperature"):
        DEFENCES.get("ae-kl")(temperature=0)
    with pytest.raises(ConfigError, match="lam"):
        DEFENCES.get("ae-kl")(lam=-1)
    with pytest.raises(ConfigError, match="not a submodule"):
        DEFENCES.get("ae-kl")(hidden_layer="fc9").bind(model)


@pytest.mark.parametrize("params", [{}, {"temperature": 0.5}])
def test_fixed_targets_give_the_per_batch_loss(params):
    """The classifier's logits on the training digits are computed once before training (fit): the loss
    with them equals the loss that computes them per batch; MSE and the hidden-layer head need none."""
    model, _, _ = trained_tiny(n=200, epochs=1)
    x = load_dataset("mnist-embedded").train.x[:64]
    d = DEFENCES.get("ae-kl")(**params).bind(model)
    t = d.fixed_targets(x, "cpu")
    assert t is not None and t.shape == (64, 10)
    torch.testing.assert_close(d.training_loss(x[:32], t[:32]), d.training_loss(x[:32]))
    assert DEFENCES.get("ae-mse")().bind(model).fixed_targets(x, "cpu") is None


# ------------------------------------------------- training options the paper leaves open (issue 19)
def test_random_shift_matches_a_loop_reference():
    x = torch.arange(3 * 2 * 4 * 5, dtype=torch.float).view(3, 2, 4, 5) + 1
    y = random_shift(x, 2, torch.Generator().manual_seed(3))
    offsets = torch.randint(-2, 3, (3, 2), generator=torch.Generator().manual_seed(3))
    assert offsets.abs().sum() > 0  # the seed moves something
    for i, (dy, dx) in enumerate(offsets.tolist()):
        ref = torch.zeros(2, 4, 5)
        for r in range(4):
            for c in range(5):
                if 0 <= r - dy < 4 and 0 <= c - dx < 5:
                    ref[:, r, c] = x[i, :, r - dy, c - dx]
        assert torch.equal(y[i], ref), i


def test_augment_shifts_then_corrupts_the_input_only():
    model, _, _ = trained_tiny(n=100, epochs=1)
    x = load_dataset("mnist-embedded").train.x[:16]
    d = DEFENCES.get("ae-kl")(shift=2, train_noise=0.3).bind(model)
    x_in, target = d.augment(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(target, random_shift(x, 2, torch.Generator().manual_seed(0)))
    assert not torch.equal(target, x)  # moved
    assert x_in.min() >= 0 and x_in.max() <= 1
    noise = (x_in - target).abs()
    assert 0.1 < noise.mean() < 0.3  # clipped N(0, 0.3²): about 0.3·√(2/π) where not clipped
    plain = DEFENCES.get("ae-kl")().bind(model)
    assert plain.augment(x, torch.Generator())[0] is x
    # the denoising loss reads the noisy input and aims at the clean one
    plain.ae = d.ae = nn.Identity()
    with torch.no_grad():
        assert plain.training_loss(target).item() == 0  # AE(x) = x: nothing to learn
        assert plain.training_loss(target, None, x_in).item() > 0  # AE(x̃) = x̃ is not M(x)'s


def test_training_options_are_in_the_cache_key_only_when_set():
    base = DEFENCES.get("ae-kl")().config()
    assert DEFENCES.get("ae-kl")(shift=0, train_noise=0.0).config() == base
    assert DEFENCES.get("ae-kl")(shift=1).config() == {**base, "shift": 1}
    assert DEFENCES.get("ae-mse")(train_noise=0.2).config()["train_noise"] == 0.2


@pytest.mark.parametrize("params", [{"shift": 1}, {"train_noise": 0.3}])
def test_augmented_training_is_seeded_and_changes_the_result(params):
    model, _, _ = trained_tiny(n=100, epochs=1)
    data = load_dataset("mnist-embedded")

    def fitted(**kw):
        torch.manual_seed(123)  # what ran before in the process must not matter
        d = DEFENCES.get("ae-kl")(latent_dim=4, **kw).bind(model)
        d.fit(
            FitContext(
                model, data.train.subset(64), data.val, 10, epochs=1, seed=5, device=torch.device("cpu")
            )
        )
        return torch.cat([p.detach().flatten() for p in d.ae.parameters()])

    first = fitted(**params)
    torch.manual_seed(999)
    assert torch.equal(first, fitted(**params))
    assert not torch.equal(first, fitted())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"shift": -1}, "shift"),
        ({"shift": True}, "shift"),
        ({"shift": 1.5}, "shift"),
        ({"shift": 9}, "shift"),
        ({"train_noise": -0.1}, "train_noise"),
        ({"train_noise": "0.1"}, "train_noise"),
        ({"train_noise": float("nan")}, "train_noise"),
        ({"train_noise": float("inf")}, "train_noise"),
    ],
)
def test_bad_training_options(params, field):
    for name in ("ae-kl", "ae-mse"):
        with pytest.raises(ConfigError, match=rf"^defence '{name}': {field} must be"):
            DEFENCES.get(name)(**params)
