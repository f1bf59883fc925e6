"""Order-independent results (issue 14, item 2): a case gives bit-identical metrics alone, inside a full
run, serially and on any xdist worker with any ``--dist`` mode, each from a cold cache; the thread count
is in the run record and in the training cache keys."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_suite_subprocess

SUITE = """
from robustcheck import Attack, Scale, Suite

TINY = {s: Scale(n_samples=16, train_limit=200, classifier_epochs=1, defence_epochs=1, attack_steps=2)
        for s in ("smoke", "default", "paper")}

SUITE = Suite(name="order", defences=["none", "ae-kl", "feature-squeezing"],
              attacks=[Attack("pgd-linf", eps=0.1)],
              threat_models=["grey-box", "white-box"], scales=TINY, indicators=False)
"""


def _run(pytester, name: str, *extra: str) -> dict:
    r, records = run_suite_subprocess(pytester, SUITE, name, *extra)
    assert r.ret == 0, r.stdout.str()[-3000:]
    return dict(json.loads(records[-1].read_text())["suites"]["order"])


def test_serial_xdist_modes_and_single_case_are_bit_identical(pytester):
    pytest.importorskip("xdist")
    serial = _run(pytester, "serial")
    assert len(serial) == 6
    metrics = {c: r["metrics"] for c, r in serial.items()}
    threads = {r["measured"]["torch_threads"] for r in serial.values()}
    assert len(threads) == 1 and threads.pop() >= 1  # recorded with every case
    for mode in ("load", "loadgroup", "worksteal"):
        other = _run(pytester, mode, "-n", "2", "--dist", mode)
        assert {c: r["metrics"] for c, r in other.items()} == metrics, mode  # JSON floats: bit-identical
    # one case alone, cold, selected last in the file order
    alone = _run(pytester, "alone", "-k", "ae-kl and white")
    ((case, rec),) = alone.items()
    assert rec["metrics"] == metrics[case]
