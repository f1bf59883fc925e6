"""004 ch. 6 CVAE detector: p-values (exact, uniform, monotone), p ≤ t rule, conditioning, save/load."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import kstest

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.defences.cvae_detector import p_values
from robustcheck.errors import ConfigError
from tests.helpers import tiny_cnn


def test_p_values_exact_on_constructed_example():
    ref = torch.tensor([4.0, 1.0, 3.0, 2.0])
    p = p_values(torch.tensor([0.0, 1.0, 2.5, 4.0, 5.0]), ref)
    # (1 + #{ref ≥ e}) / (N + 1)
    assert p.tolist() == pytest.approx([5 / 5, 5 / 5, 3 / 5, 2 / 5, 1 / 5])


def test_p_values_uniform_on_exchangeable_clean_errors():
    torch.manual_seed(0)
    ref = torch.distributions.Gamma(3.0, 1.0).sample((2000,))
    held_out = torch.distributions.Gamma(3.0, 1.0).sample((1000,))
    p = p_values(held_out, ref).numpy()
    assert kstest(p, "uniform").pvalue > 0.01
    # an adversarial-like shift gives small p-values
    assert kstest(p_values(held_out + 3.0, ref).numpy(), "uniform").pvalue < 1e-6


def test_p_values_non_increasing_in_the_score():
    ref = torch.rand(500)
    e = torch.sort(torch.rand(300) * 1.4 - 0.2).values
    p = p_values(e, ref)
    assert (p[1:] <= p[:-1]).all() and p.min() > 0 and p.max() <= 1


@pytest.fixture(scope="module")
def fitted():
    torch.manual_seed(0)
    clf = tiny_cnn().eval()
    data = load_dataset("mnist-embedded")
    d = DEFENCES.get("cvae-detector")(reference="val").bind(clf)
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
    return d, data


def test_fitted_reference_errors_and_pvalues_on_held_out_clean(fitted):
    d, data = fitted
    assert d.reference_errors.shape == (200,) and (d.reference_errors[1:] >= d.reference_errors[:-1]).all()
    with torch.no_grad():
        ref_again = d.recon_error(data.val.x[:200], data.val.y[:200])
        assert torch.allclose(torch.sort(ref_again).values, d.reference_errors, rtol=1e-5)
        p = d.p_value(data.val.x[200:400])
        s = d.score(data.val.x[200:400])
    order = torch.argsort(s)
    assert (p[order][1:] <= p[order][:-1]).all()  # monotone in the score
    assert p.min() > 0 and p.max() <= 1


def test_p_threshold_rule_equals_score_threshold(fitted):
    d, data = fitted
    x = data.val.x[200:500]
    for t in (0.05, 0.2, 0.5):
        d.p_threshold = t
        d.calibrate(data.val.x, 0.05)
        with torch.no_grad():
            assert torch.equal(d.flagged(x), d.p_value(x) <= t)
    d.p_threshold = None


def test_score_conditions_on_the_predicted_class(fitted):
    d, data = fitted
    x = data.val.x[:20]
    with torch.no_grad():
        pred = d.classifier(x).argmax(1)
        assert torch.equal(d.score(x), d.recon_error(x, pred))
        other = (pred + 1) % 10
        assert not torch.equal(d.recon_error(x, other), d.score(x))  # separate weights per class


def test_state_dict_roundtrip_keeps_reference_errors(fitted, tmp_path):
    d, data = fitted
    torch.save(d.state_dict(), tmp_path / "c.pt")
    d2 = DEFENCES.get("cvae-detector")(reference="val").bind(d.classifier)
    d2.load_state_dict(torch.load(tmp_path / "c.pt", weights_only=True))
    d2.eval()
    assert torch.equal(d2.reference_errors, d.reference_errors)
    with torch.no_grad():
        assert torch.equal(d2.p_value(data.val.x[:10]), d.p_value(data.val.x[:10]))


def test_onehot_variant_and_bad_parameters():
    d = DEFENCES.get("cvae-detector")(conditioning="onehot").bind(tiny_cnn()).eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        r, mu, _ = d.reconstruct(x, torch.tensor([0, 1, 2, 3]))
    assert r.shape == x.shape and mu.shape == (4, 128)
    with pytest.raises(ConfigError, match="fit"):
        d.p_value(x)
    with pytest.raises(ConfigError, match="conditioning"):
        DEFENCES.get("cvae-detector")(conditioning="film")
    with pytest.raises(ConfigError, match="p_threshold"):
        DEFENCES.get("cvae-detector")(p_threshold=1.5)
