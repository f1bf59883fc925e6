"""Cache and memo keys cover everything that changes their value (issue 12, items 3 and 11): change the
thing, the key changes, the numbers are recomputed. Tiny models on the embedded MNIST."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
import torch
from torch import nn

from robustcheck import Attack, Defence, Scale, Suite
from robustcheck.cache import DiskCache, code_version, module_fingerprint
from robustcheck.data import load_dataset
from robustcheck.defences import BaseDefence, FitContext
from robustcheck.engine import Engine
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.models import train_classifier
from robustcheck.suite import SCALE_NAMES, FamilyCase
from tests.helpers import fake_mnist

TINY = {
    s: Scale(n_samples=16, train_limit=64, classifier_epochs=1, defence_epochs=1, attack_steps=3)
    for s in SCALE_NAMES
}
_TRAINED: dict[str, dict[str, torch.Tensor]] = {}


def _linear_state() -> dict[str, torch.Tensor]:
    """A linear classifier trained once (seeded) on 600 embedded-MNIST digits."""
    if not _TRAINED:
        data = load_dataset("mnist-embedded")
        with torch.random.fork_rng():
            torch.manual_seed(0)
            m = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
            train_classifier(m, data.train.subset(600), epochs=2, seed=0)
        # dyadic values: per-tensor float sums are exact, so they cannot tell a row swap apart by rounding
        _TRAINED.update({k: torch.round(v.detach() * 1024) / 1024 for k, v in m.state_dict().items()})
    return _TRAINED


def linear_clf() -> nn.Module:
    m = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    m.load_state_dict(_linear_state())
    return m


def swapped_clf() -> nn.Module:
    """The same weights with output rows 0 and 1 swapped: every per-tensor sum is unchanged."""
    m = linear_clf()
    with torch.no_grad():
        m[1].weight[[0, 1]] = m[1].weight[[1, 0]].clone()
        m[1].bias[[0, 1]] = m[1].bias[[1, 0]].clone()
    return m


def factory(swap: bool):
    """Two factories with one qualname (``factory.<locals>.classifier``), as a user's would have."""

    def classifier() -> nn.Module:
        return swapped_clf() if swap else linear_clf()

    return classifier


class Toy(BaseDefence):
    """A parameter-free-looking detector + purifier whose behaviour lives in one weight ``w``."""

    name = "toy"
    is_detector = True
    is_purifier = True

    def __init__(self, w: float = 1.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.full((1,), float(w)))

    def score(self, x):
        return (x * self.w).flatten(1).mean(1)

    def purify(self, x):
        return (x * self.w).clamp(0, 1)


class TrainedToy(Toy):
    name = "trained-toy"
    trainable = True

    def fit(self, ctx: FitContext) -> None:
        with torch.no_grad():
            self.w.fill_(0.9)


def tiny(**kw) -> Suite:
    base = {
        "name": "keys",
        "classifier": linear_clf,
        "defences": ["none"],
        "attacks": [Attack("fgsm", eps=0.2)],
        "scales": TINY,
        "indicators": False,
    }
    base.update(kw)
    return Suite(**base)


def engine(tmp_path, sub: str = "c") -> Engine:
    return Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path / sub))


def entries(tmp_path, kind: str, sub: str = "c") -> int:
    folder = tmp_path / sub / kind
    return len(list(folder.glob("*.pt"))) if folder.exists() else 0


# ---------------------------------------------------------------------------------------- weights
def test_fingerprint_is_bytes_not_a_summary():
    a, b = linear_clf(), swapped_clf()
    assert all(float(a.state_dict()[k].sum()) == float(b.state_dict()[k].sum()) for k in a.state_dict())
    assert module_fingerprint(a) != module_fingerprint(b)
    assert module_fingerprint(a) == module_fingerprint(linear_clf())
    c = linear_clf()
    c.register_buffer("extra", torch.zeros(2))
    assert module_fingerprint(c) != module_fingerprint(a)  # buffers count


def test_swapped_classifier_rows_get_their_own_key_and_adversarial_set(tmp_path):
    e1 = engine(tmp_path)
    s1 = tiny(classifier=factory(False))
    r1 = evaluate_case(e1, s1.cases()[0])
    e2 = engine(tmp_path)  # a warm cache: only the key can tell the two classifiers apart
    s2 = tiny(classifier=factory(True))
    r2 = evaluate_case(e2, s2.cases()[0])
    assert e1.classifier(s1).key != e2.classifier(s2).key
    assert entries(tmp_path, "adversarial") == 2  # x′ recomputed against the swapped classifier
    assert r1.metrics["clean_accuracy"] != r2.metrics["clean_accuracy"]
    # and what was reported for the swapped classifier is what a fresh, cache-less engine computes
    assert evaluate_case(Engine(device="cpu", scale="smoke"), s2.cases()[0]).metrics == r2.metrics


# ---------------------------------------------------------------------------------------- thresholds
def test_fpr_changes_defence_key_attack_keys_and_clean_memo(tmp_path):
    eng = engine(tmp_path)
    atts = [
        Attack("square", eps=0.2, steps=10, threats=["black-box"]),  # queries D: its output depends on t
        Attack("pgd-linf", eps=0.2, steps=3, threats=["white-box"]),
    ]  # through C∘P
    sa = tiny(defences=[Defence(Toy)], attacks=atts, threat_models=["black-box", "white-box"], fpr=0.05)
    sb = tiny(defences=[Defence(Toy)], attacks=atts, threat_models=["black-box", "white-box"], fpr=0.4)
    ca, cb = sa.cases(), sb.cases()
    da, ka = eng.defence(sa, ca[0])
    db, kb = eng.defence(sb, cb[0])
    assert da.threshold != db.threshold and ka != kb
    for x, y in zip(ca, cb, strict=True):
        assert eng.attack_target(x)[1] != eng.attack_target(y)[1], x.id
    ra = {c.id: evaluate_case(eng, c) for c in ca}
    rb = {c.id: evaluate_case(eng, c) for c in cb}
    assert entries(tmp_path, "adversarial") == 2 * len(ca)
    assert len(eng._clean) == 2
    # the clean-side numbers of the second FPR are those of its own threshold
    data = eng.data(sb)
    x, y = data.test.x[:16], data.test.y[:16]
    with torch.no_grad():
        expected = (db.predict(x) == y).double().mean().item()
        fpr_b = (db.score(x) > db.threshold).double().mean().item()
    for cid, r in rb.items():
        assert r.metrics["defended_clean_accuracy"] == pytest.approx(expected), cid
        assert r.metrics["false_positive_rate"] == pytest.approx(fpr_b), cid
        assert r.metrics["threshold"] == db.threshold
    assert {r.metrics["threshold"] for r in ra.values()} == {da.threshold}


def test_cvae_p_threshold_is_in_the_evaluated_key_not_in_the_training_key(tmp_path):
    eng = engine(tmp_path)
    kw = {"attacks": [Attack("cw-detector", eps=0.1, steps=2)], "threat_models": ["white-box"]}
    sa = tiny(defences=[Defence("cvae-detector", zdim=8, p_threshold=0.05)], **kw)
    sb = tiny(defences=[Defence("cvae-detector", zdim=8, p_threshold=0.5)], **kw)
    da, ka = eng.defence(sa, sa.cases()[0])
    db, kb = eng.defence(sb, sb.cases()[0])
    assert entries(tmp_path, "defences") == 1  # trained once: p only sets the threshold
    assert da.threshold != db.threshold and ka != kb
    assert eng.attack_target(sa.cases()[0])[1] != eng.attack_target(sb.cases()[0])[1]


# ---------------------------------------------------------------------------------------- defence weights
def test_two_instances_with_different_weights_do_not_share_x_adv(tmp_path):
    eng = engine(tmp_path)
    one, half = Toy(1.0), Toy(0.5)
    s = tiny(
        defences=[Defence(one, id="one"), Defence(half, id="half")],
        attacks=[Attack("pgd-linf", eps=0.2, steps=3)],
        threat_models=["white-box"],
    )
    c1, c2 = s.cases()
    (_, k1), (_, k2) = eng.defence(s, c1), eng.defence(s, c2)
    assert k1 != k2
    r1, r2 = evaluate_case(eng, c1), evaluate_case(eng, c2)
    assert entries(tmp_path, "adversarial") == 2
    assert r1.metrics["l2_mean"] != r2.metrics["l2_mean"]
    # the user's objects are not calibrated in place: the engine works on copies
    assert one.threshold is None and half.threshold is None
    # a factory-built defence with weights: the parameters change the weights, hence the key
    s2 = tiny(defences=[Defence(Toy, id="f1", w=1.0), Defence(Toy, id="f2", w=0.25)])
    assert eng.defence(s2, s2.cases()[0])[1] != eng.defence(s2, s2.cases()[1])[1]
    # mutating an instance's weights between suites gives it a new key in the same engine
    with torch.no_grad():
        one.w.fill_(0.75)
    assert eng.defence(s, c1)[1] not in (k1, k2)


def test_trained_defence_is_keyed_by_the_weights_it_loaded(tmp_path):
    s = tiny(
        defences=[Defence(TrainedToy)],
        attacks=[Attack("pgd-linf", eps=0.2, steps=3)],
        threat_models=["white-box"],
    )
    case = s.cases()[0]
    e1 = engine(tmp_path)
    k1 = e1.defence(s, case)[1]
    evaluate_case(e1, case)
    assert entries(tmp_path, "defences") == 1 and entries(tmp_path, "adversarial") == 1
    # another run wrote other weights under the same training key (e.g. another machine, other code)
    [entry] = (tmp_path / "c" / "defences").glob("*.pt")
    state = torch.load(entry, weights_only=True)
    state["w"] = torch.full((1,), 0.6)
    torch.save(state, entry)
    e2 = engine(tmp_path)
    d2, k2 = e2.defence(s, case)
    assert float(d2.w) == pytest.approx(0.6) and k2 != k1
    evaluate_case(e2, case)
    assert entries(tmp_path, "adversarial") == 2


# ---------------------------------------------------------------------------------------- data
def test_torchvision_hash_covers_every_image(tmp_path):
    pytest.importorskip("torchvision")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    labels = np.arange(200) % 10
    fake_mnist(tmp_path / "a", images, labels)
    changed = images.copy()
    changed[150, 3, 3] ^= 1  # one pixel of one image past the 64 the old hash read
    fake_mnist(tmp_path / "b", changed, labels)
    test_changed = images.copy()
    test_changed[20, 0, 0] ^= 1  # the test split (first 30 here) too
    fake_mnist(tmp_path / "c", test_changed, labels)
    ha = load_dataset("mnist", root=tmp_path / "a").content_hash
    assert ha == load_dataset("mnist", root=tmp_path / "a").content_hash
    assert ha != load_dataset("mnist", root=tmp_path / "b").content_hash
    assert ha != load_dataset("mnist", root=tmp_path / "c").content_hash
    assert ha != load_dataset("mnist", root=tmp_path / "a", seed=1).content_hash


# ---------------------------------------------------------------------------------------- versions
def test_every_disk_key_holds_code_and_library_versions(tmp_path, monkeypatch):
    import torchattacks

    import robustcheck.cache as C

    v = code_version()
    assert v["torch"] == torch.__version__ and v["torchattacks"] == torchattacks.__version__
    assert v["robustcheck"] and v["source"]
    calls = []
    DiskCache(tmp_path).get_or_compute("k", "key", lambda: calls.append(1) or {"v": 1})
    DiskCache(tmp_path).get_or_compute("k", "key", lambda: calls.append(1) or {"v": 1})
    assert calls == [1]
    for part in ("robustcheck", "torch", "torchattacks", "source"):
        other = DiskCache(tmp_path, version={**v, part: "something else"})
        assert other.path("k", "key") != DiskCache(tmp_path).path("k", "key")
        other.get_or_compute("k", "key", lambda: calls.append(1) or {"v": 2})
    assert len(calls) == 5
    # a source change reaches the engine's cache: the version is computed from the files
    monkeypatch.setattr(C, "_source_digest", lambda: "edited")
    C.code_version.cache_clear()
    try:
        assert Engine(device="cpu", cache_dir=str(tmp_path)).cache.version["source"] == "edited"
    finally:
        monkeypatch.undo()
        C.code_version.cache_clear()
    assert code_version() == v


# ---------------------------------------------------------------------------------------- item 11: memo keys
def test_metrics_key_is_content_not_name_or_id(tmp_path):
    eng = engine(tmp_path)
    a, b = tiny(n_samples=8), tiny(n_samples=12)
    assert a.name == b.name and [c.id for c in a.cases()] == [c.id for c in b.cases()]
    assert eng.metrics_key(a.cases()[0]) != eng.metrics_key(b.cases()[0])
    assert eng.metrics_key(a.cases()[0]) == eng.metrics_key(tiny(n_samples=8).cases()[0])  # content, not id
    assert eng.metrics_key(tiny(fpr=0.2).cases()[0]) != eng.metrics_key(tiny().cases()[0])
    assert eng.metrics_key(tiny(seed=3).cases()[0]) != eng.metrics_key(tiny().cases()[0])


def test_dropped_suite_does_not_lend_its_metrics_to_the_next(tmp_path):
    eng = engine(tmp_path)
    first = tiny(n_samples=8)
    old_id = id(first)
    res = evaluate_case(eng, first.cases()[0])
    assert res.metrics["n_successful"] <= 8
    del first, res
    gc.collect()
    kept = []
    for _ in range(200):  # try to get the freed id for the next suite (CPython reuses freed memory)
        second = tiny(n_samples=16)
        if id(second) == old_id:
            break
        kept.append(second)
    r2 = evaluate_case(eng, second.cases()[0])
    fresh = evaluate_case(Engine(device="cpu", scale="smoke"), tiny(n_samples=16).cases()[0])
    assert r2.metrics == fresh.metrics


def test_memo_keys_in_engine_hold_no_object_ids(tmp_path):
    eng = engine(tmp_path)
    s = tiny()
    evaluate_case(eng, s.cases()[0])
    ids = {id(s), id(s.classifier), id(linear_clf)}
    for key in eng._memo:
        flat = key if isinstance(key, tuple) else (key,)
        assert not any(isinstance(p, int) and p in ids for p in flat), key
    for key in list(eng._classifiers) + list(eng._defences):
        assert not any(isinstance(p, int) and p in ids for p in key), key


# ---------------------------------------------------------------------------------------- family ε (item 13)
def test_family_eps_matched_with_isclose_is_found_for_minimisation_members(tmp_path):
    eps = 0.1 + 0.2  # 0.30000000000000004
    assert eps != 0.3 and math.isclose(eps, 0.3)
    s = tiny(
        attacks=[Attack("fgsm-l2", eps=eps), Attack("deepfool", eps=0.3, steps=3)],
        families={"l2": ["fgsm-l2", "deepfool"]},
    )
    fam = next(c for c in s.cases() if isinstance(c, FamilyCase))
    res = evaluate_case(engine(tmp_path), fam)
    assert res.metrics["budget_violations"] == 0
    assert res.metrics["worst_case_corrected_accuracy"] is not None


def test_trained_weights_and_adversarial_sets_are_keyed_by_the_device(tmp_path, monkeypatch):
    """Training and attacks are not bit-reproducible across devices (or GPU models): a value computed on
    one never answers a run on another. Simulated on the CPU by changing what the device identifies as."""
    import robustcheck.engine as engine_module

    suite = tiny(classifier="mnist-cnn", defences=[Defence("ae-mse")])
    case = suite.cases()[0]

    def keys() -> tuple[str, str, str]:
        eng = engine(tmp_path)  # a new process: nothing memoised
        clf = eng.classifier(suite)
        _, defence_key = eng.defence(suite, case)
        x, _, _ = eng.case_inputs(case)
        return clf.key, defence_key, eng._adversarial_key(case, "one model key", x)

    on_cpu = keys()
    monkeypatch.setattr(engine_module, "device_identity", lambda device: "cuda:Some GPU")
    elsewhere = keys()
    for a, b, what in zip(on_cpu, elsewhere, ("classifier", "defence", "adversarial set"), strict=True):
        assert a != b, what
    assert entries(tmp_path, "classifiers") == 2 and entries(tmp_path, "defences") == 2


def test_defence_epochs_are_what_training_gets_and_in_its_key(tmp_path):
    """``Defence(epochs=...)`` reaches the defence's FitContext and its training key (a defence trained
    10 epochs never answers for one trained 30)."""
    seen: list[int] = []

    class CountingToy(TrainedToy):
        name = "counting-toy"

        def fit(self, ctx: FitContext) -> None:
            seen.append(ctx.epochs)
            super().fit(ctx)

    eng = engine(tmp_path)
    keys = []
    for epochs in (None, {"smoke": 3}, 5):
        suite = tiny(defences=[Defence(CountingToy, epochs=epochs)])
        _, key = eng.defence(suite, suite.cases()[0])
        keys.append(key)
        record = eng.provenance(suite.cases()[0])
        assert record["defence"]["epochs"] == seen[-1]
    assert seen == [TINY["smoke"].defence_epochs, 3, 5]
    assert len(set(keys)) == 3 and entries(tmp_path, "defences") == 3


# ---------------------------------------------------------------------------------------- user code
_USER_DEFENCE = '''
import torch
from robustcheck.defences import BaseDefence


class Dim(BaseDefence):
    """A purifier a user edits between two runs: the constant below is its only setting."""

    name = "dim"
    is_purifier = True

    def purify(self, x):
        return (x * FACTOR).clamp(0, 1)


FACTOR = {factor}
'''

_USER_MODEL = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def forward(self, x):
        return self.body(x * {gain})
"""


def _user_module(tmp_path, monkeypatch, name: str, text: str):
    """Write ``text`` as module ``name`` under ``tmp_path`` and import (or reload) it."""
    import importlib
    import sys

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"{name}.py").write_text(text)
    importlib.invalidate_caches()
    if name in sys.modules:
        return importlib.reload(sys.modules[name])
    return importlib.import_module(name)


def test_edited_user_defence_code_crafts_a_new_adversarial_set(tmp_path, monkeypatch):
    """The metrics key held the user's source digest, the adversarial sets did not: after editing a user
    defence, a shared cache served the x′ crafted against the old code (a stale number)."""
    results = {}
    for run, (factor, cache) in enumerate([(0.9, "shared"), (0.6, "shared"), (0.6, "fresh")]):
        mod = _user_module(tmp_path, monkeypatch, "rc_user_dim", _USER_DEFENCE.format(factor=factor))
        s = tiny(
            defences=[Defence(mod.Dim)],
            attacks=[Attack("pgd-linf", eps=0.2, steps=3)],
            threat_models=["white-box"],
        )
        results[run] = evaluate_case(engine(tmp_path, cache), s.cases()[0]).metrics
    assert entries(tmp_path, "adversarial", "shared") == 2  # the edit missed the adversarial cache
    assert entries(tmp_path, "defences", "shared") == 0  # (nothing trained: not trainable)
    assert results[1] == results[2]  # the edited code on the shared cache = a cold run


def test_edited_user_model_code_gets_a_new_classifier_key(tmp_path, monkeypatch):
    state = {k: v.clone() for k, v in _linear_state().items()}
    keys = []
    for gain in (1.0, 0.5):
        mod = _user_module(tmp_path, monkeypatch, "rc_user_net", _USER_MODEL.format(gain=gain))

        def factory(mod=mod):
            net = mod.Net()
            net.body.load_state_dict(state)
            return net

        keys.append(engine(tmp_path).classifier(tiny(classifier=factory)).key)
    assert keys[0] != keys[1]  # same qualname, same weights, same repr: only the source differs


class Setting(Toy):
    """Settings outside ``state_dict``: a plain tensor attribute (not a buffer) and a dict of options."""

    name = "setting"

    def __init__(self, alpha: float = 0.5, k: int = 3) -> None:
        super().__init__(1.0)
        self.alpha = torch.tensor(alpha)
        self.options = {"k": k, "mode": "dim"}

    def purify(self, x):
        return (x * self.alpha * self.options["k"] / 3).clamp(0, 1)


def test_tensor_and_dict_settings_are_in_the_evaluated_key(tmp_path):
    eng = engine(tmp_path)
    base, tensor, options = Setting(), Setting(alpha=0.9), Setting(k=5)
    s = tiny(
        defences=[Defence(base, id="base"), Defence(tensor, id="tensor"), Defence(options, id="options")]
    )
    keys = [eng.defence(s, c)[1] for c in s.cases()]
    assert len(set(keys)) == 3, keys
    # an in-place change of the tensor attribute is a new setting too
    with torch.no_grad():
        base.alpha.fill_(0.25)
    assert eng.defence(s, s.cases()[0])[1] not in keys


def test_stored_metrics_follow_the_eps_list_of_the_attack(tmp_path):
    """``eps_nonmonotone`` compares a case with the attack's next smaller ε; the case's stored metrics must
    not be reused when that ε changes (the metrics key leaves the suite's attack list out)."""
    for eps in ([0.2], [0.1, 0.2], [0.15, 0.2]):
        s = tiny(attacks=[Attack("fgsm", eps=eps)], indicators=True)
        [case] = [c for c in s.cases() if c.eps == 0.2]
        evaluate_case(engine(tmp_path), case)
    # the ε = 0.2 case is stored once per next smaller ε (none, 0.1, 0.15): three entries, not one hit
    # (the smaller-ε siblings are engine-internal, not stored cases)
    assert entries(tmp_path, "metrics") == 3


def test_every_registered_defence_has_one_evaluated_key_cold_and_warm(tmp_path):
    """The evaluated-defence key holds the defence's settings outside ``state_dict`` by content (tensors,
    arrays and dicts too, since 2026-11-27). A setting that ``fit`` leaves behind but loading the cached
    weights does not would give a warm run another key, and it would recompute every attack: for each
    registered defence, the key after training (cold) equals the key after loading (warm)."""
    from robustcheck.defences import DEFENCES

    scales = {
        s: Scale(n_samples=16, train_limit=200, classifier_epochs=1, defence_epochs=1, attack_steps=2)
        for s in SCALE_NAMES
    }
    for name in sorted(DEFENCES):
        s = Suite(name="warm-keys", defences=[name], attacks=[Attack("fgsm", eps=0.1)], scales=scales)
        case = s.cases()[0]
        cold = engine(tmp_path).defence(s, case)[1]
        warm = engine(tmp_path).defence(s, case)[1]
        assert cold == warm, name
