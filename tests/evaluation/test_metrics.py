"""Metric functions against sklearn/hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from robustcheck import metrics as M


def sk_auc(neg, pos):
    y = np.r_[np.zeros(len(neg)), np.ones(len(pos))]
    return roc_auc_score(y, np.r_[neg, pos])


def test_auc_hand_worked():
    # pairs (neg, pos): 0.1<0.35 ✓, 0.1<0.8 ✓, 0.4>0.35 ✗, 0.4<0.8 ✓  → 3/4
    assert M.roc_auc(torch.tensor([0.1, 0.4]), torch.tensor([0.35, 0.8])) == pytest.approx(0.75)


def test_auc_ties_count_half():
    assert M.roc_auc(torch.tensor([1.0, 1.0]), torch.tensor([1.0])) == pytest.approx(0.5)


def test_auc_empty_is_nan():
    assert math.isnan(M.roc_auc(torch.tensor([]), torch.tensor([1.0])))


@given(
    st.lists(st.integers(0, 20), min_size=1, max_size=40),
    st.lists(st.integers(0, 20), min_size=1, max_size=40),
)
def test_auc_matches_sklearn_with_ties(neg, pos):
    got = M.roc_auc(torch.tensor(neg, dtype=torch.float32), torch.tensor(pos, dtype=torch.float32))
    assert got == pytest.approx(sk_auc(neg, pos), abs=1e-12)


def test_auc_matches_sklearn_random():
    g = np.random.default_rng(0)
    neg, pos = g.normal(0, 1, 500), g.normal(0.7, 1, 300)
    assert M.roc_auc(torch.tensor(neg), torch.tensor(pos)) == pytest.approx(sk_auc(neg, pos), abs=1e-12)


def test_threshold_at_fpr_bounds_false_positives():
    scores = torch.arange(100, dtype=torch.float32)
    t = M.threshold_at_fpr(scores, 0.05)
    assert M.rate_above(scores, t) <= 0.05
    assert t == 94.0  # 95..99 are above: exactly 5 %
    assert M.rate_above(scores, M.threshold_at_fpr(scores, 0.0)) == 0.0


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=200), st.floats(0, 0.99))
def test_threshold_never_exceeds_fpr(scores, fpr):
    s = torch.tensor(scores, dtype=torch.float64)
    assert M.rate_above(s, M.threshold_at_fpr(s, fpr)) <= fpr + 1e-12


def test_threshold_rejects_bad_fpr():
    with pytest.raises(ValueError, match="fpr"):
        M.threshold_at_fpr(torch.ones(3), 1.5)


def test_accuracy_and_success():
    y = torch.tensor([0, 1, 2, 3])
    clean = torch.tensor([0, 1, 2, 0])  # 3 correct
    adv = torch.tensor([1, 1, 0, 0])  # flips the first and the third
    assert M.accuracy(clean, y) == 0.75
    assert M.success_mask(clean, adv, y).tolist() == [True, False, True, False]
    assert M.attack_success_rate(clean, adv, y) == pytest.approx(2 / 3)


def test_defended_rate_magnet_convention():
    y = torch.tensor([0, 0, 0, 0])
    pred = torch.tensor([0, 1, 1, 1])
    scores = torch.tensor([0.0, 5.0, 0.0, 5.0])
    # defended: correct (1st) or flagged (2nd, 4th) → 3/4
    assert M.defended_rate(scores, 1.0, pred, y) == 0.75
    assert M.defended_rate(None, None, pred, y) == 0.25


def test_perturbation_norms_hand_worked():
    x = torch.zeros(2, 1, 2, 2)
    xa = x.clone()
    xa[0, 0, 0, 0] = 0.3
    xa[0, 0, 1, 1] = -0.4
    norms = M.perturbation_norms(x, xa)
    assert norms["l0_max"] == 2 and norms["l0_mean"] == 1
    assert norms["l1_max"] == pytest.approx(0.7)
    assert norms["l2_max"] == pytest.approx(0.5)
    assert norms["linf_max"] == pytest.approx(0.4)
    assert norms["linf_mean"] == pytest.approx(0.2)


def test_budget_violations_catch_each_kind():
    x = torch.full((4, 1, 2, 2), 0.5)
    xa = x.clone()
    xa[1, 0, 0, 0] = 0.5 + 0.2  # outside eps=0.1
    xa[2, 0, 0, 0] = 1.2 - 0.5 + 0.5  # outside [0,1]
    xa[3, 0, 0, 0] = float("nan")
    assert M.budget_violations(x, xa, 0.1, "linf") == 3
    assert M.budget_violations(x, x, 0.0, "linf") == 0


def test_every_metric_has_a_direction():
    for info in M.METRICS.values():
        assert isinstance(info.higher_is_better, bool)
    assert M.METRICS["corrected_accuracy"].higher_is_better
    assert not M.METRICS["clean_accuracy_drop"].higher_is_better
