"""The CUDA path (issue 15, item 5). Runs only where CUDA is present; CI has none, so nothing here is
required there. ``benchmarks/gpu.sh`` runs this file on a lent GPU.

The comparison: every registered defence under every threat model, and every attack (AutoAttack aside:
its torchattacks components draw from the device's RNG), evaluated on the CPU and on CUDA with the *same*
trained weights (the CUDA engine trains on the CPU, ``Engine(train_device="cpu")``, so both read one
cache entry) and the same batch size. What remains is float noise: an iterate that crosses a decision
boundary on one device and not the other. The bound: a rate metric may move by at most
``FLIPS`` examples of ``N``, any other metric by ``REL`` relative. Set ``ROBUSTCHECK_CUDA_REPORT`` to a
file path to get every compared value as JSON (the GPU script keeps it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os

import pytest
import torch

from robustcheck import Attack, Defence, Scale, Suite
from robustcheck.attacks import ATTACKS, accepted_params_of
from robustcheck.defences import DEFENCES
from robustcheck.engine import Engine
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.suite import SCALE_NAMES

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

N = 64
FLIPS = 3  # examples of N that float noise may flip (an iterate on a decision boundary)
REL = 0.05  # relative change allowed for metrics that are not rates (norms, thresholds)
SCALE = {
    s: Scale(n_samples=N, train_limit=1200, classifier_epochs=3, defence_epochs=3, attack_steps=10)
    for s in SCALE_NAMES
}
#: smaller settings for the slow defences (the device contract is the same)
SMALL = {
    "cvae-detector": {"zdim": 8},
    "vae-purifier": {"zdim": 8, "iterations": 4},
    "perceptual-dae": {"pgd_steps": 2, "loss_net_epochs": 1},
}
ALL_DEFENCES = [Defence(n, **SMALL.get(n, {})) for n in DEFENCES.list()]
ALL_ATTACKS = [n for n in ATTACKS.list() if n != "autoattack"]
EPS = {"linf": 0.1, "l2": 1.5, "l1": 10.0}


def _attack(name: str) -> Attack:
    params = {"steps": 200} if "steps" in accepted_params_of(name) and ATTACKS.get(name).gradient_free else {}
    return Attack(name, eps=EPS[ATTACKS.get(name).norm], **params)


def _suites() -> list[Suite]:
    common = {"dataset": "mnist-embedded", "classifier": "mnist-cnn", "scales": SCALE, "batch_size": 64}
    return [
        Suite(
            name="cuda-defences",
            defences=ALL_DEFENCES,
            attacks=[Attack("fgsm", eps=0.1), Attack("pgd-linf", eps=0.1, steps=10)],
            threat_models=["grey-box", "white-box", "black-box"],
            **common,
        ),
        Suite(
            name="cuda-attacks",
            defences=["none", "ae-kl"],
            attacks=[_attack(n) for n in ALL_ATTACKS],
            threat_models=["grey-box", "white-box"],
            **common,
        ),
    ]


#: counts of examples: float noise may flip FLIPS of them
COUNTS = ("n_successful", "blackbox_rows")
#: perturbation sizes; not compared for L∞ gradient attacks (below)
SIZES = ("l0_", "l1_", "l2_", "linf_")
SIGN_STEP = {n for n in ATTACKS.list() if ATTACKS.get(n).norm == "linf" and not ATTACKS.get(n).gradient_free}


def _compared(case_id: str, metric: str) -> bool:
    """Whether a metric is held to the bound. Not the perturbation sizes of L∞ gradient attacks: their step
    is sign(∇), and a pixel whose gradient is exactly 0 on one device and ±1e-12 on the other moves by ε
    on one only (measured on an H100: L0 of FGSM through the perceptual DAE 118 vs 255 pixels, with the
    success counts 0 vs 2 of 64). The decisions those x′ lead to (every rate and AUC) are compared."""
    attack = case_id.split("|")[2]
    return not (metric.startswith(SIZES) and attack in SIGN_STEP)


def _within(metric: str, a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if metric in COUNTS:
        return abs(a - b) <= FLIPS
    if 0.0 <= a <= 1.0 and 0.0 <= b <= 1.0 and not metric.startswith((*SIZES, "threshold")):
        return abs(a - b) <= FLIPS / N + 1e-9  # a rate or an AUC over at most N examples
    return abs(a - b) <= REL * max(abs(a), abs(b)) + 1e-6


def _differences(cpu: dict, cuda: dict) -> tuple[list[dict], list[dict]]:
    """(every compared value, the ones outside the float-noise bound)."""
    rows, bad = [], []
    for case_id, m_cpu in cpu.items():
        m_cuda = cuda[case_id]
        for k in sorted(set(m_cpu) | set(m_cuda)):
            a, b = m_cpu.get(k), m_cuda.get(k)
            if not isinstance(a, (int, float)) and not isinstance(b, (int, float)):
                continue
            row = {"case": case_id, "metric": k, "cpu": a, "cuda": b, "held": _compared(case_id, k)}
            rows.append(row)
            ok = (a is b) if a is None or b is None else _within(k, float(a), float(b))
            if row["held"] and not ok:
                bad.append(row)
    return rows, bad


def test_cuda_metrics_equal_cpu_within_float_noise(tmp_path):
    cache = str(tmp_path / "cache")
    cpu_engine = Engine(device="cpu", scale="smoke", cache_dir=cache)
    cuda_engine = Engine(device="cuda", train_device="cpu", scale="smoke", cache_dir=cache)
    cpu, cuda = {}, {}
    for suite in _suites():
        for case in suite.cases():
            cid = f"{suite.name}|{case.id}"
            cpu[cid] = evaluate_case(cpu_engine, case).metrics
            cuda[cid] = evaluate_case(cuda_engine, case).metrics
    rows, bad = _differences(cpu, cuda)
    report = os.environ.get("ROBUSTCHECK_CUDA_REPORT")
    if report:
        with open(report, "w") as f:
            json.dump({"compared": rows, "outside": bad, "cases": len(cpu)}, f, indent=1)
    assert len(cpu) >= 40 and len(rows) > 20 * len(cpu)
    assert not bad, f"{len(bad)} of {len(rows)} values differ by more than float noise: {bad[:20]}"


def test_cuda_engine_keeps_models_and_inputs_on_the_device(tmp_path):
    suite = _suites()[0]
    engine = Engine(device="cuda", scale="smoke", cache_dir=str(tmp_path))
    case = next(c for c in suite.cases() if c.defence.id == "ae-kl")
    evaluate_case(engine, case)
    clf = engine.classifier(suite).module
    d, _ = engine.defence(suite, case)
    assert {p.device.type for p in clf.parameters()} == {"cuda"}
    assert {p.device.type for p in d.parameters()} == {"cuda"}
    x, y, _ = engine.case_inputs(case)
    assert x.device.type == y.device.type == "cuda"
    assert engine.case_inputs(case)[0] is x  # moved once, then reused
    assert engine.batch_size(suite) == 64  # the suite's own
    assert engine.batch_size(dataclasses.replace(suite, batch_size=None)) == 1024  # the CUDA default


def test_training_on_cuda_is_a_different_cache_entry(tmp_path):
    """Training is not bit-reproducible across devices: a CUDA-trained classifier never answers a CPU run."""
    suite = _suites()[0]
    cpu = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    gpu = Engine(device="cuda", scale="smoke", cache_dir=str(tmp_path))
    shared = Engine(device="cuda", train_device="cpu", scale="smoke", cache_dir=str(tmp_path))
    assert cpu.classifier(suite).key != gpu.classifier(suite).key
    assert cpu.classifier(suite).key == shared.classifier(suite).key


def test_plugin_runs_a_suite_on_cuda(pytester):
    from tests.helpers import run_suite_subprocess

    src = (
        "from robustcheck import Attack, Suite\n"
        "SUITE = Suite(name='cuda-plugin', defences=['none', 'ae-kl'],\n"
        "              attacks=[Attack('fgsm', eps=0.1), Attack('pgd-linf', eps=0.1, steps=10)],\n"
        "              threat_models=['grey-box', 'white-box'])\n"
    )
    result, records = run_suite_subprocess(pytester, src, "cuda", "--robustcheck-device=cuda")
    assert result.ret == 0, result.stdout.str()[-3000:]
    record = json.loads(records[-1].read_text())
    assert "cuda" in json.dumps(record.get("environment", record))
