"""AutoAttack is the standard AutoAttack (Croce & Hein 2020): its components carry the standard settings,
and on the same model and digits its robust accuracy matches the reference implementation
(``pyautoattack``, the authors' code repackaged) within 0.5 points at two ε."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from robustcheck.attacks import build_attack
from robustcheck.attacks.autoattack import AutoAttackLinf
from robustcheck.errors import ConfigError
from robustcheck.metrics import budget_violations

N = 64  # digits attacked; one digit is 1.6 points, so "within 0.5 points" means the same count here


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread is fastest, and two threads on a busy 2-core machine crawl."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    """An MLP trained for a fraction of a second on sklearn's 8×8 digits, and N held-out digits."""
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    y = torch.tensor(d.target, dtype=torch.long)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        perm = torch.randperm(1400, generator=gen)
        for i in range(0, 1400, 100):
            b = perm[i : i + 100]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, x[1400 : 1400 + N], y[1400 : 1400 + N]


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def reference_robust_accuracy(model, x, y, eps: float, version: str = "standard") -> float:
    pyautoattack = pytest.importorskip("pyautoattack")
    ref = pyautoattack.AutoAttack(model, norm="Linf", eps=eps, version=version, seed=0, device="cpu")
    ref.verbose = False
    x_adv, _ = ref.run_standard_evaluation(x, y, batch_size=N)
    assert (x_adv - x).abs().max().item() <= eps + 1e-5
    return accuracy(model, x_adv, y)


def test_components_have_the_standard_settings():
    """A regression to torchattacks' 10 iterations (or its rescaled Square schedule) fails here."""
    stages = AutoAttackLinf(seed=3).components(nn.Linear(4, 10), 0.1, n_classes=10)
    assert [s for s, _ in stages] == ["apgd-ce", "apgd-t", "fab-t", "square"]
    apgd, apgdt, fabt, square = (a for _, a in stages)
    assert (apgd.steps, apgd.n_restarts, apgd.loss, apgd.eot_iter, apgd.thr_decr) == (100, 1, "ce", 1, 0.75)
    assert (apgdt.steps, apgdt.n_restarts, apgdt.n_target_classes, apgdt.thr_decr) == (100, 1, 9, 0.75)
    assert (fabt.steps, fabt.n_restarts, fabt.multi_targeted, fabt.n_target_classes) == (100, 1, True, 9)
    assert (fabt.alpha_max, fabt.eta, fabt.beta) == (0.1, 1.05, 0.9)
    assert (square.n_queries, square.n_restarts, square.p_init, square.loss) == (5000, 1, 0.8, "margin")
    assert square.rescale_schedule is False  # the reference AutoAttack's setting
    assert all(a.eps == 0.1 and a.norm == "Linf" and a.seed == 3 for _, a in stages)


@pytest.mark.parametrize(("n_classes", "n_target"), [(5, 4), (10, 9), (100, 9)])
def test_target_classes_follow_the_logits(n_classes, n_target):
    """n_classes − 1 target classes, at most 9 (the reference's standard); the class count is read from
    the model's logits, not assumed to be 10."""
    stages = dict(AutoAttackLinf().components(nn.Linear(4, n_classes), 0.1, n_classes=n_classes))
    assert stages["apgd-t"].n_target_classes == n_target
    assert stages["fab-t"].n_target_classes == n_target
    seen = {}
    original = AutoAttackLinf.components

    def spy(self, model, eps, n_classes):
        seen["n"] = n_classes
        original(self, model, eps, n_classes)
        return []  # recorded: skip the attack itself

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, n_classes)).eval()
    x = torch.rand(4, 1, 4, 4)
    y = model(x).argmax(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AutoAttackLinf, "components", spy)
        AutoAttackLinf()(model, x, y, [0.01])
    assert seen["n"] == n_classes


def test_too_few_classes_is_a_config_error():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).eval()
    x, y = torch.rand(4, 1, 4, 4), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ConfigError, match="at least 4"):
        AutoAttackLinf()(model, x, y, [0.1])
    with pytest.raises(ConfigError, match="version 'fast' unknown"):
        build_attack("autoattack", {"version": "fast"}, seed=0)


@pytest.mark.parametrize("eps", [0.05, 0.1])
def test_matches_reference_autoattack(digits, eps):
    model, x, y = digits
    attack = build_attack("autoattack", {}, seed=0, batch_size=N)
    [res] = attack(model, x, y, [eps])
    assert budget_violations(x, res.x_adv, eps, "linf") == 0
    ours = accuracy(model, res.x_adv, y)
    ref = reference_robust_accuracy(model, x, y, eps)
    clean = accuracy(model, x, y)
    assert 0 < ref < clean  # the comparison is not vacuous at this ε
    assert abs(ours - ref) <= 0.005, (eps, ours, ref)
    assert torch.equal(res.success, ~(model(res.x_adv).argmax(1) == y))
    # the cascade: each stage only sees what the previous ones left robust
    stages = attack.last_breakdown
    assert [s for s, _ in stages] == ["clean", "apgd-ce", "apgd-t", "fab-t", "square"]
    counts = [c for _, c in stages]
    assert counts == sorted(counts, reverse=True) and counts[-1] == round(ours * N)
    # each stage that ran is timed (benchmarks/autoattack.py --stages prints them beside the reference's)
    assert [s for s, _ in attack.last_seconds] == ["apgd-ce", "apgd-t", "fab-t", "square"][
        : len(attack.last_seconds)
    ]
    assert all(sec > 0 for _, sec in attack.last_seconds) and len(attack.last_seconds) >= 1


def test_flat_inputs_are_attacked_as_images(digits):
    """A model on flat (N, 64) inputs gets the same attack as on (N, 1, 8, 8) (Square needs H and W)."""
    model, x, y = digits
    x, y = x[:8], y[:8]
    flat_model = model[1:]  # the MLP without its Flatten
    [img] = build_attack("autoattack", {}, seed=0)(model, x, y, [0.1])
    [flat] = build_attack("autoattack", {}, seed=0)(flat_model, x.flatten(1), y, [0.1])
    assert flat.x_adv.shape == (8, 64)
    assert torch.equal(flat.success, img.success)
    assert torch.allclose(flat.x_adv, img.x_adv.flatten(1))
    with pytest.raises(ConfigError, match="cannot be laid out as images"):
        build_attack("autoattack", {}, seed=0)(nn.Linear(63, 10), x.flatten(1)[:, :63], y, [0.1])


@pytest.mark.parametrize("version", ["plus", "rand"])
def test_other_versions_match_reference(digits, version):
    model, x, y = digits
    x, y = x[:24], y[:24]
    attack = build_attack("autoattack", {"version": version}, seed=0)
    [res] = attack(model, x, y, [0.1])
    assert budget_violations(x, res.x_adv, 0.1, "linf") == 0
    expected = {
        "plus": ["apgd-ce", "apgd-dlr", "fab", "square", "apgd-t", "fab-t"],
        "rand": ["apgd-ce", "apgd-dlr"],
    }
    assert [s for s, _ in attack.last_breakdown][1:] == expected[version]
    ours = accuracy(model, res.x_adv, y)
    ref = reference_robust_accuracy(model, x, y, 0.1, version)
    assert 0 < ref < accuracy(model, x, y)
    assert abs(ours - ref) <= 0.005, (version, ours, ref)
