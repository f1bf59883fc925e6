"""Cross-checks of robustcheck's attacks against independent implementations (foolbox, torchattacks) on
the same tiny model and the same 64 digits, plus the CW margin on negative logits and the bad-input
warnings/errors of the attack library. Small budgets keep the file to a few seconds."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from robustcheck.attacks import build_attack
from robustcheck.attacks.base import batched_predict
from robustcheck.errors import ConfigError
from tests.helpers import trained_tiny

N = 64


@pytest.fixture(scope="module")
def tiny():
    model, x, y = trained_tiny()
    return model, x[:N], y[:N]


@pytest.fixture(scope="module")
def fmodel(tiny):
    fb = pytest.importorskip("foolbox")
    return fb.PyTorchModel(tiny[0], bounds=(0, 1))


def _norms(x_adv, x, p):
    return (x_adv - x).flatten(1).norm(p=p, dim=1)


def test_cw_l2_matches_foolbox(tiny, fmodel):
    """Same c, rounds, steps, lr, κ: success rates within 0.05 and median L2 (over the digits both fooled
    and the model had right) within 15 %; ours must not be weaker by more than 0.02."""
    fb = pytest.importorskip("foolbox")
    model, x, y = tiny
    p = {"steps": 50, "search_steps": 5, "initial_const": 1.0, "lr": 0.1, "confidence": 0.0}
    [ours] = build_attack("cw-l2", p, seed=0)(model, x, y, [1e6])
    ref = fb.attacks.L2CarliniWagnerAttack(
        binary_search_steps=5, steps=50, stepsize=0.1, confidence=0.0, initial_const=1.0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw, _, ref_success = ref(fmodel, x, y, epsilons=None)
    ref_success = ref_success.cpu()
    assert torch.equal(ours.unbounded_success, ours.success)  # ε = 1e6 projects nothing
    s_ours, s_ref = ours.success.float().mean().item(), ref_success.float().mean().item()
    assert abs(s_ours - s_ref) <= 0.05, (s_ours, s_ref)
    assert s_ours >= s_ref - 0.02
    right = batched_predict(model, x) == y
    both = ours.success & ref_success & right
    assert both.sum() >= 20
    m_ours = _norms(ours.x_adv, x, 2)[both].median().item()
    m_ref = _norms(raw, x, 2)[both].median().item()
    assert abs(m_ours - m_ref) <= 0.15 * m_ref, (m_ours, m_ref)


def test_slide_matches_foolbox_sparse_l1(tiny, fmodel):
    """q = 80, 10 steps, step = 0.5 ε in L1 (foolbox's rel_stepsize): success within 0.05,
    ours ≥ theirs − 0.02, both inside the L1 ball."""
    fb = pytest.importorskip("foolbox")
    model, x, y = tiny
    eps = 10.0
    [ours] = build_attack("slide", {"q": 80.0, "steps": 10, "rel_stepsize": 0.5}, seed=0)(model, x, y, [eps])
    ref = fb.attacks.SparseL1DescentAttack(quantile=0.8, rel_stepsize=0.5, steps=10)
    _, clipped, ref_success = ref(fmodel, x, y, epsilons=[eps])
    s_ours, s_ref = ours.success.float().mean().item(), ref_success[0].float().mean().item()
    assert abs(s_ours - s_ref) <= 0.05, (s_ours, s_ref)
    assert s_ours >= s_ref - 0.02
    assert (_norms(ours.x_adv, x, 1) <= eps * (1 + 1e-5)).all()
    assert (_norms(clipped[0], x, 1) <= eps * (1 + 1e-5)).all()


def test_deepfool_matches_foolbox(tiny, fmodel):
    """Same overshoot and steps: same success, median L2 within 10 %."""
    fb = pytest.importorskip("foolbox")
    model, x, y = tiny
    [ours] = build_attack("deepfool", {"steps": 50, "overshoot": 0.02}, seed=0)(model, x, y, [1e6])
    raw, _, ref_success = fb.attacks.L2DeepFoolAttack(steps=50, overshoot=0.02)(fmodel, x, y, epsilons=None)
    assert abs(ours.success.float().mean().item() - ref_success.float().mean().item()) <= 0.03
    right = batched_predict(model, x) == y
    both = ours.success & ref_success & right
    m_ours, m_ref = _norms(ours.x_adv, x, 2)[both].median().item(), _norms(raw, x, 2)[both].median().item()
    assert abs(m_ours - m_ref) <= 0.10 * m_ref, (m_ours, m_ref)


def test_pgd_l2_matches_torchattacks(tiny):
    torchattacks = pytest.importorskip("torchattacks")
    model, x, y = tiny
    eps = 1.5
    [ours] = build_attack("pgd-l2", {"steps": 20, "alpha": 0.2}, seed=0)(model, x, y, [eps])
    torch.manual_seed(0)
    ref = torchattacks.PGDL2(model, eps=eps, alpha=0.2, steps=20, random_start=True)(x, y)
    acc_ours = (batched_predict(model, ours.x_adv) == y).float().mean().item()
    acc_ref = (batched_predict(model, ref) == y).float().mean().item()
    assert abs(acc_ours - acc_ref) <= 0.06, (acc_ours, acc_ref)
    assert acc_ours <= acc_ref + 0.02  # best iterate never loses a success


class _Shift(nn.Module):
    """Adds a constant to every logit: same argmax, same margins, all logits negative."""

    def __init__(self, model: nn.Module, shift: float) -> None:
        super().__init__()
        self.model, self.shift = model, shift

    def forward(self, x):
        return self.model(x) + self.shift


def test_cw_margin_is_right_on_negative_logits(tiny):
    """CW's margin z_y − max_{j≠y} z_j is shift-invariant; an implementation that masks the true class by
    multiplying with (1 − onehot) takes max(0, …) on negative logits and fails here."""
    model, x, y = tiny
    shifted = _Shift(model, -1000.0).eval()
    with torch.no_grad():
        assert (shifted(x) < 0).all()
    p = {"steps": 30, "search_steps": 3, "initial_const": 1.0}
    [a] = build_attack("cw-l2", p, seed=0)(model, x, y, [1e6])
    [b] = build_attack("cw-l2", p, seed=0)(shifted, x, y, [1e6])
    right = batched_predict(model, x) == y
    assert a.success[right].float().mean() > 0.5
    assert (a.success == b.success).float().mean() >= 0.95
    assert abs(_norms(a.x_adv, x, 2).median() - _norms(b.x_adv, x, 2).median()) <= 0.05


def test_probability_output_is_an_error_with_an_opt_in(tiny):
    """Probabilities break margin losses (DeepFool/CW success changes): an error naming the fix, not a
    warning; LogProbabilities (the opt-in) gives the attacks valid logits with the same labels."""
    from robustcheck.errors import ModelContractError
    from robustcheck.models import LogProbabilities

    model, x, y = tiny
    probs = nn.Sequential(model, nn.Softmax(dim=1)).eval()
    for name in ("fgsm", "deepfool", "cw-l2"):
        with pytest.raises(ModelContractError, match=r"returns probabilities.*LogProbabilities"):
            build_attack(name, {}, seed=0)(probs, x[:8], y[:8], [0.1])
    wrapped = LogProbabilities(probs).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        [a] = build_attack("deepfool", {"steps": 50}, seed=0)(wrapped, x, y, [2.0])
        [b] = build_attack("deepfool", {"steps": 50}, seed=0)(model, x, y, [2.0])
        build_attack("fgsm", {}, seed=0)(model, x, y, [0.1])  # logits: no warning
    # log-softmax differs from the logits by a per-row constant: the same attack, the same result
    assert (a.success == b.success).float().mean() >= 0.95


def test_bad_attack_configs(tiny):
    model, x, y = tiny
    with pytest.raises(ConfigError, match=r"works in linf only.*fgsm-l2"):
        build_attack("fgsm", {"norm": "l2"}, seed=0)
    with pytest.raises(ConfigError, match="no targeted variant"):
        build_attack("deepfool", {"targeted": True}, seed=0)
    with pytest.raises(ConfigError, match="search_steps must be a positive int"):
        build_attack("cw-l2", {"search_steps": 0}, seed=0)
    with pytest.raises(ConfigError, match="q is a percentile"):
        build_attack("slide", {"q": 120}, seed=0)
    with pytest.raises(ConfigError, match=r"alpha=0.3 exceeds eps=0.1"):
        build_attack("r-fgsm", {"alpha": 0.3}, seed=0)(model, x, y, [0.1])
    with pytest.raises(ConfigError, match="version 'fast' unknown"):
        build_attack("autoattack", {"version": "fast"}, seed=0)
    with pytest.raises(ConfigError, match="has no parameter 'iterations'"):
        build_attack("cw-l2", {"iterations": 10}, seed=0)
