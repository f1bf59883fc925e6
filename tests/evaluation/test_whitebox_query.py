"""A query attack in white-box is never weaker than in black-box on a detector (found 2026-11-27 by an
outside audit: white-box Square attacked the defended label and ignored the flag, while black-box Square is
told it, so MagNet's white-box row reported the higher defended rate and the lower evasion)."""

from __future__ import annotations

from robustcheck import Attack, Scale, Suite
from robustcheck.engine import Engine
from robustcheck.evaluate import evaluate as evaluate_case


def _suite() -> Suite:
    return Suite(
        name="wb-query",
        dataset="digits-8x8",
        classifier="shape-cnn",
        defences=["magnet"],
        attacks=[Attack("square", eps=0.1, steps=150)],
        threat_models=["white-box", "black-box"],
        fpr=0.3,
        indicators=False,
        scales={"smoke": Scale(n_samples=200, train_limit=None, classifier_epochs=3, defence_epochs=10)},
    )


def test_white_box_square_is_at_least_as_strong_as_black_box_on_a_detector(tmp_path):
    engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    res = {c.threat: evaluate_case(engine, c).metrics for c in _suite().cases()}
    white, black = res["white-box"], res["black-box"]
    assert white["adaptive_success_rate"] >= black["adaptive_success_rate"]
    assert white["corrected_accuracy"] <= black["corrected_accuracy"]
    assert white["defended_rate"] <= black["defended_rate"]
