"""Per-sample results (issue 17, item 4): per input of every case, the label, the predictions, the detector
scores, the flags and the perturbation norms; gallery images for failing cases. Checked against the case's
own metrics, on a cold and on a warm run (nothing recomputed), in the engine and in the run record's
companion ``.npz`` (read with numpy alone, ``allow_pickle=False``), serial and through xdist."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from robustcheck import Attack, Scale, Suite
from robustcheck.cache import code_version
from robustcheck.engine import GALLERY_KEYS, GALLERY_SIZE, PER_SAMPLE_KEYS, Engine, as_images
from robustcheck.evaluate import _check_single_case_entry
from robustcheck.evaluate import evaluate as evaluate_case
from tests.helpers import evaluate_suite

ROOT = Path(__file__).resolve().parents[2]
N = 40
TINY = {
    s: Scale(n_samples=N, train_limit=600, classifier_epochs=2, defence_epochs=1, attack_steps=5)
    for s in ("smoke", "default", "paper")
}
DTYPES = {
    "label": torch.int16,
    "pred_clean": torch.int16,
    "pred_adv": torch.int16,
    "defended_pred_clean": torch.int16,
    "defended_pred_adv": torch.int16,
    "score_clean": torch.float32,
    "score_adv": torch.float32,
    "flagged_clean": torch.bool,
    "flagged": torch.bool,
    "linf": torch.float32,
    "l2": torch.float32,
    "l0": torch.int32,
}


def per_sample_suite() -> Suite:
    # none: no detector, no purifier; ae-kl: detector and purifier; feature-squeezing: detector only
    return Suite(
        name="ps",
        defences=["none", "ae-kl", "feature-squeezing"],
        attacks=[Attack("fgsm", eps=[0.1, 0.3]), Attack("cw-l2", eps=[1.0], steps=5)],
        threat_models=["grey-box"],
        scales=TINY,
        indicators=False,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return evaluate_suite(tmp_path_factory.mktemp("cache"), per_sample_suite())


def _close(a: float, b: float | None, tol: float = 1e-6) -> bool:
    return b is not None and abs(a - b) <= tol * max(1.0, abs(b))


def test_per_sample_results_agree_with_the_case_metrics(run):
    engine, suite, results, _ = run
    assert set(results) == {
        f"{d}|{a}|eps={e}|grey-box"
        for d in ("none", "ae-kl", "feature-squeezing")
        for a, e in (("fgsm", "0.1"), ("fgsm", "0.3"), ("cw-l2", "1"))
    }
    for cid, (case, res) in results.items():
        s, m = res.samples, res.metrics
        assert set(PER_SAMPLE_KEYS) <= set(s), cid
        for k, dtype in DTYPES.items():
            assert s[k].dtype == dtype and s[k].shape == (N,) and s[k].device.type == "cpu", (cid, k)
        y = s["label"]
        x, y_in, _ = engine.case_inputs(case)
        assert torch.equal(y.long(), y_in.cpu())  # the labels, in input order

        def acc(p: torch.Tensor, y: torch.Tensor = y) -> float:
            return (p == y).double().mean().item()

        assert acc(s["pred_clean"]) == pytest.approx(m["clean_accuracy"], abs=1e-12), cid
        assert acc(s["defended_pred_clean"]) == pytest.approx(m["defended_clean_accuracy"], abs=1e-12), cid
        assert acc(s["pred_adv"]) == pytest.approx(m["adversarial_accuracy"], abs=1e-12), cid
        assert acc(s["defended_pred_adv"]) == pytest.approx(m["corrected_accuracy"], abs=1e-12), cid
        defended = (s["flagged"] | (s["defended_pred_adv"] == y)).double().mean().item()
        assert defended == pytest.approx(m["defended_rate"], abs=1e-12), cid
        success = (s["pred_clean"] == y) & (s["pred_adv"] != y)
        assert int(success.sum()) == m["n_successful"], cid
        assert 0 < acc(s["pred_clean"]) < 1, cid  # a mix of right and wrong labels: the checks bite

        defence, _ = engine.defence(suite, case)
        t = defence.threshold if defence.is_detector else None
        if t is None:  # no detector: NaN scores, nothing flagged
            assert torch.isnan(s["score_clean"]).all() and torch.isnan(s["score_adv"]).all(), cid
            assert not s["flagged"].any() and not s["flagged_clean"].any(), cid
            assert "clean" not in res.scores
        else:  # flagged is S > t (scores kept in float32: rows within float32 rounding of t skipped)
            for score, flag in ((s["score_adv"], s["flagged"]), (s["score_clean"], s["flagged_clean"])):
                assert torch.isfinite(score).all(), cid
                clear = (score.double() - t).abs() > 1e-6 * max(1.0, abs(t))
                assert clear.sum() >= N - 2
                assert torch.equal(flag[clear], (score.double() > t)[clear]), cid
            assert s["flagged_clean"].double().mean().item() == pytest.approx(m["false_positive_rate"])
            assert torch.equal(s["score_adv"], res.scores["adv"].float())
            assert torch.equal(success, res.scores["successful"])

        # norms of x' - x: per input, their mean / max are the case's norm metrics
        assert _close(s["linf"].max().item(), m["linf_max"]) and _close(s["l2"].mean().item(), m["l2_mean"])
        assert _close(s["l0"].double().mean().item(), m["l0_mean"]) and s["l0"].max() <= x[0].numel()
        if case.attack.name == "fgsm":
            assert (s["linf"] <= case.eps + 1e-5).all() and (s["linf"] > 0).any(), cid
        else:  # an L2 attack: within the L2 ball
            assert (s["l2"] <= case.eps * (1 + 1e-4)).all(), cid


def test_gallery_images_pick_the_broken_inputs_first(run):
    engine, suite, results, _ = run
    for cid, (case, res) in results.items():
        s = res.samples
        y = s["label"]
        wrong = (s["defended_pred_adv"] != y) & ~s["flagged"]
        broke = wrong & (s["defended_pred_clean"] == y)
        rank = [0 if broke[i] else 1 if wrong[i] else 2 for i in range(N)]
        expected = sorted(range(N), key=lambda i: (rank[i], i))[:GALLERY_SIZE]
        assert s["gallery_index"].dtype == torch.int32 and s["gallery_index"].tolist() == expected, cid
        x, _, _ = engine.case_inputs(case)
        clean, adv = s["gallery_clean"], s["gallery_adv"]
        assert clean.dtype == torch.uint8 and clean.shape == (GALLERY_SIZE, 1, 28, 28), cid
        assert adv.dtype == torch.uint8 and adv.shape == clean.shape
        assert torch.equal(clean, (x[expected].cpu() * 255).round().to(torch.uint8)), cid
        diff = (adv.int() - clean.int()).abs().flatten(1)
        if case.attack.name == "fgsm":  # x' within ε of x (one grey level of rounding), and moved
            assert (diff.amax(1) <= round(case.eps * 255) + 1).all() and diff.amax() > 0, cid
        defence, _ = engine.defence(suite, case)
        if defence.is_purifier:  # ae-kl: P(x'), an image that differs from x'
            p = s["gallery_purified"]
            assert p.dtype == torch.uint8 and p.shape == clean.shape and not torch.equal(p, adv), cid
        else:
            assert "gallery_purified" not in s, cid


def test_as_images_lays_inputs_out_as_nchw_uint8():
    assert as_images(torch.ones(2, 3, 4, 5)).shape == (2, 3, 4, 5)
    assert as_images(torch.zeros(2, 4, 5)).shape == (2, 1, 4, 5)
    flat = as_images(torch.linspace(0, 1, 64).repeat(3, 1))
    assert flat.shape == (3, 1, 8, 8) and flat.dtype == torch.uint8
    assert flat[0, 0, 0, 0] == 0 and flat[0, 0, 7, 7] == 255
    assert as_images(torch.full((2, 10), 2.0)).shape == (2, 1, 1, 10)  # not square: one row; clamped
    assert (as_images(torch.full((2, 10), 2.0)) == 255).all()


def test_warm_run_returns_the_same_per_sample_results_without_recomputing(run, monkeypatch):
    """A warm run reads each case from disk (no attack, no forward pass for metrics) and still has every
    per-sample array and the gallery, equal to the cold run's."""
    _engine, suite, results, cache = run

    def boom(*args, **kwargs):
        raise AssertionError("recomputed an unchanged case")

    monkeypatch.setattr(Engine, "_base_metrics", boom)
    monkeypatch.setattr(Engine, "adversarial", boom)
    monkeypatch.setattr(Engine, "compute_metrics", boom)
    fresh = Engine(device="cpu", scale="smoke", cache_dir=str(cache))
    for case in suite.cases():
        cold = results[case.id][1]
        warm = evaluate_case(fresh, case)
        assert set(warm.samples) == set(cold.samples), case.id
        for k, v in cold.samples.items():
            torch.testing.assert_close(warm.samples[k], v, rtol=0, atol=0, equal_nan=True)


def test_a_stored_case_without_per_sample_results_is_not_accepted():
    """An entry stored by code without per-sample results is dropped and recomputed, not read."""
    with pytest.raises(TypeError, match="no per-sample"):
        _check_single_case_entry({"m:corrected_accuracy": 0.5, "s:clean": torch.zeros(3)})
    arrays = {f"p:{k}": torch.zeros(3) for k in (*PER_SAMPLE_KEYS, *GALLERY_KEYS)}
    full = {"m:corrected_accuracy": 0.5} | arrays
    _check_single_case_entry(full)


# ---------------------------------------------------------------------------- the run record's companion file
SUITE_FILE = """
from robustcheck import Attack, Scale, Suite, Thresholds

TINY = {s: Scale(n_samples=24, train_limit=400, classifier_epochs=2, defence_epochs=1, attack_steps=3)
        for s in ("smoke", "default", "paper")}

SUITE = Suite(
    name="tiny",
    defences=["none", "ae-kl"],
    attacks=[Attack("fgsm", eps=0.2)],
    threat_models=["grey-box"],
    scales=TINY,
    indicators=False,
    thresholds=[Thresholds(defence="ae-kl", corrected_accuracy=1.0)],
)
"""
FAILING = "ae-kl|fgsm|eps=0.2|grey-box"
PASSING = "none|fgsm|eps=0.2|grey-box"


def _companion(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    [record] = sorted(folder.glob("*.json"))
    with np.load(record.with_suffix(".npz"), allow_pickle=False) as z:  # numpy alone, no pickles
        arrays = {k: z[k] for k in z.files}
    return json.loads(record.read_text()), arrays


def _check_companion(record: dict, arrays: dict[str, np.ndarray]) -> None:
    cases = record["suites"]["tiny"]
    assert cases[FAILING]["outcome"] == "FAILED" and cases[PASSING]["outcome"] == "passed"
    for cid, entry in cases.items():
        key = f"tiny/{cid}/"
        for k, dtype in DTYPES.items():
            a = arrays[key + k]
            assert a.shape == (24,) and a.dtype == np.dtype(str(dtype).removeprefix("torch.")), (cid, k)
        m = entry["metrics"]
        y = arrays[key + "label"]
        assert (arrays[key + "defended_pred_adv"] == y).mean() == pytest.approx(m["corrected_accuracy"])
        assert (arrays[key + "pred_clean"] == y).mean() == pytest.approx(m["clean_accuracy"])
        assert (arrays[key + "pred_adv"] == y).mean() == pytest.approx(m["adversarial_accuracy"])
        t = entry["measured"]["defence"]["threshold"]
        if t is None:
            assert np.isnan(arrays[key + "score_adv"]).all() and not arrays[key + "flagged"].any()
        else:
            s = arrays[key + "score_adv"].astype(np.float64)
            clear = np.abs(s - t) > 1e-6 * max(1.0, abs(t))
            assert np.array_equal(arrays[key + "flagged"][clear], (s > t)[clear])
        assert arrays[key + "linf"].max() == pytest.approx(m["linf_max"], rel=1e-6)
    # the gallery: for the failing case only, purified too (ae-kl purifies)
    gallery = {k for k in arrays if "/gallery_" in k}
    assert gallery == {f"tiny/{FAILING}/{k}" for k in GALLERY_KEYS}
    idx = arrays[f"tiny/{FAILING}/gallery_index"]
    assert idx.dtype == np.int32 and len(idx) == GALLERY_SIZE and len(set(idx.tolist())) == GALLERY_SIZE
    for k in ("gallery_clean", "gallery_adv", "gallery_purified"):
        img = arrays[f"tiny/{FAILING}/{k}"]
        assert img.dtype == np.uint8 and img.shape == (GALLERY_SIZE, 1, 28, 28), k
    # the detector's ROC arrays are still there, under their names
    assert arrays[f"tiny/{FAILING}/clean"].shape == (24,) and f"tiny/{PASSING}/clean" not in arrays


@pytest.mark.usefixtures("_preimport_optimizer_modules")
def test_companion_file_cold_serial_then_warm_through_xdist(pytester, tmp_path, monkeypatch):
    """Cold serial run, then a warm run through two xdist workers (arrays travel in the reports, read
    from the disk cache): the same companion file, readable with ``np.load(allow_pickle=False)``."""
    pytester.mkdir("gates")
    pytester.path.joinpath("gates", "suite.py").write_text(SUITE_FILE)
    pytester.makeini("[pytest]\nrobustcheck_suite_files = gates/*.py\n")
    args = ["--robustcheck", f"--robustcheck-cache-dir={tmp_path / 'cache'}", "-p", "no:cacheprovider"]
    code_version.cache_clear()  # this process's code digest as the subprocess will compute it
    cold = pytester.runpytest(*args, "--robustcheck-results-dir=cold")
    cold.assert_outcomes(passed=1, failed=1)
    rec_cold, arr_cold = _companion(pytester.path / "cold")
    _check_companion(rec_cold, arr_cold)

    pytest.importorskip("xdist")
    stored = sorted(p.relative_to(tmp_path) for p in (tmp_path / "cache").rglob("*.pt"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    warm = pytester.runpytest_subprocess(*args, "-n", "2", "--robustcheck-results-dir=warm")
    warm.assert_outcomes(passed=1, failed=1)
    rec_warm, arr_warm = _companion(pytester.path / "warm")
    _check_companion(rec_warm, arr_warm)
    assert set(arr_warm) == set(arr_cold)
    for k, a in arr_cold.items():
        same = np.array_equal(a, arr_warm[k], equal_nan=a.dtype.kind == "f")
        assert a.dtype == arr_warm[k].dtype and same, k
    # the warm run recomputed nothing: it stored no new model, adversarial set or case entry
    now = sorted(p.relative_to(tmp_path) for p in (tmp_path / "cache").rglob("*.pt"))
    assert now == stored
