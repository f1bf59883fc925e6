"""The eq 10 weighted vote on constructed cases, and the ensemble defence end to end on a tiny model."""

from __future__ import annotations

import pytest
import torch

from robustcheck.data import load_dataset
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.defences.kl_autoencoder import mnist_autoencoder
from robustcheck.defences.kl_ensemble import weighted_vote
from robustcheck.errors import ConfigError
from tests.helpers import trained_tiny


def _vote(members, clf, weights, k=4):
    return weighted_vote(torch.tensor(members), torch.tensor(clf), torch.tensor(weights), k).tolist()


def test_vote_majority_and_classifier_weight():
    # members say 1, 1, 2; classifier says 2. Equal member weights 0.2 → votes: 1: 0.4, 2: 0.2 + 0.4 = 0.6
    assert _vote([[1], [1], [2]], [2], [0.2, 0.2, 0.2]) == [2]
    # the same members with weights 0.3 each → classifier weight 0.1: 1: 0.6, 2: 0.4
    assert _vote([[1], [1], [2]], [2], [0.3, 0.3, 0.3]) == [1]
    # classifier weight 0 (Σ w = 1): the classifier cannot outvote a single member
    assert _vote([[3]], [0], [1.0]) == [3]
    # batch of independent examples: (0: 0.4, 1: 0.6) and (1: 0.2, 2: 0.8)
    assert _vote([[0, 1], [0, 2]], [1, 2], [0.2, 0.2]) == [1, 2]


def test_vote_ties():
    # primary (row 0) says 3, the other member 1, classifier 2, all weight 1/3: three-way tie → primary
    assert _vote([[3], [1]], [2], [1 / 3, 1 / 3]) == [3]
    # primary says 3 (0.2), member says 1 (0.4), classifier says 2 (0.4): tie 1 vs 2, the primary is
    # not among them → the smallest tied class
    assert _vote([[3], [1]], [2], [0.2, 0.4]) == [1]
    # tie between the primary and the classifier
    assert _vote([[0]], [2], [0.5]) == [0]


def test_bad_ensemble_options():
    with pytest.raises(ConfigError, match="checkpoints"):
        DEFENCES.get("ae-kl-ensemble")(checkpoints=[0])
    with pytest.raises(ConfigError, match="architectures"):
        DEFENCES.get("ae-kl-ensemble")(architectures=["vae"])
    with pytest.raises(ConfigError, match="weights"):
        DEFENCES.get("ae-kl-ensemble")(checkpoints=[1.0], weights=[0.7, 0.7])
    d = DEFENCES.get("ae-kl-ensemble")(checkpoints=[5])
    with pytest.raises(ConfigError, match="exceeds"):
        d.checkpoint_epochs(2)


def test_ensemble_members_are_checkpoints_and_vote_is_used(tmp_path):
    model, x, _ = trained_tiny(n=200, epochs=1)
    data = load_dataset("mnist-embedded")
    ctx = FitContext(
        model, data.train.subset(128), data.val, 10, epochs=2, seed=0, device=torch.device("cpu")
    )
    d = DEFENCES.get("ae-kl-ensemble")(checkpoints=[1, 2], architectures=["conv", "dense"]).bind(model)
    assert d.checkpoint_epochs(2) == [2, 1]
    d.fit(ctx)
    # the primary member equals a plain ae-kl trained the same way (same seed, same loss)
    ref = DEFENCES.get("ae-kl")().bind(model)
    torch.manual_seed(0)  # the ensemble seeds each architecture's init with ctx.seed + its index
    ref.ae = mnist_autoencoder(10)
    ref.fit(ctx)
    with torch.no_grad():
        assert torch.allclose(d.members[0](x), ref.ae(x), atol=1e-5)
        assert not torch.allclose(d.members[1](x), d.members[0](x))  # the epoch-1 checkpoint differs
    d.calibrate(data.val.x[:200], 0.2)
    with torch.no_grad():
        pred, score = d.predict_and_score(x)
        flagged = score > d.threshold
        vote = weighted_vote(d.member_labels(x), model(x).argmax(1), d.weights, 10)
        assert torch.equal(pred, torch.where(flagged, vote, model(x).argmax(1)))
    torch.save(d.state_dict(), tmp_path / "e.pt")
    d2 = DEFENCES.get("ae-kl-ensemble")(checkpoints=[1, 2], architectures=["conv", "dense"]).bind(model)
    d2.load_state_dict(torch.load(tmp_path / "e.pt", weights_only=True))
    with torch.no_grad():
        assert torch.equal(d2.eval().predict_and_score(x)[1], score)
    xg = x[:4].clone().requires_grad_(True)
    d.attack_model()(xg).sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0
