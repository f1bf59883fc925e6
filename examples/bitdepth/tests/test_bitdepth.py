"""The example defence's own tests: unit tests, plus one robustness test through the fixture."""

from __future__ import annotations

import pytest
import torch
from bitdepth_defence import BitDepthPurifier
from torch import nn

from robustcheck import ConfigError


def test_purify_quantises_to_levels():
    d = BitDepthPurifier(bits=2)
    x = torch.tensor([0.0, 0.1, 0.2, 0.5, 0.9, 1.0]).view(1, 1, 2, 3)
    out = d.purify(x)
    assert torch.allclose(out.view(-1), torch.tensor([0.0, 0.0, 1 / 3, 2 / 3, 1.0, 1.0]))


def test_bpda_gradient_is_the_identity_gradient():
    torch.manual_seed(0)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).eval()
    d = BitDepthPurifier(bits=1).bind(clf)
    x = torch.rand(2, 1, 2, 2, requires_grad=True)
    d.attack_model()(x).sum().backward()
    x2 = x.detach().clone().requires_grad_(True)
    clf(x2).sum().backward()
    assert torch.allclose(x.grad, x2.grad)  # backward as if P were the identity
    with torch.no_grad():  # forward is the real quantised pipeline
        assert torch.allclose(d.attack_model()(x), clf(d.purify(x)))


def test_bad_bits():
    with pytest.raises(ConfigError, match=r"bits must be an int in 1..8"):
        BitDepthPurifier(bits=0)


@pytest.mark.robustcheck_thresholds(clean_accuracy_drop=0.02)
def test_whitebox_bpda_pgd(robustcheck_evaluate):
    m = robustcheck_evaluate(
        BitDepthPurifier, "pgd-linf", eps=0.1, threat="white-box", defence_params={"bits": 2}
    )
    # the defence must beat the undefended classifier on the same attack
    none = robustcheck_evaluate("none", "pgd-linf", eps=0.1, threat="white-box")
    assert m.corrected_accuracy > none.corrected_accuracy
