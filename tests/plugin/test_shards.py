"""Sharding across machines (issue 15, item 6), simulated on one CPU: ``--robustcheck-shard=i/n`` runs a
deterministic, disjoint share of the cases by (suite, defence); ``robustcheck merge`` joins the shards'
records into one equal to a serial run's."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from robustcheck import cli, history
from robustcheck.plugin import shard_of
from tests.helpers import run_suite_subprocess

SUITE = """
from robustcheck import Attack, Scale, Suite

TINY = {s: Scale(n_samples=16, train_limit=200, classifier_epochs=1, defence_epochs=1, attack_steps=2)
        for s in ("smoke", "default", "paper")}

SUITE = Suite(name="sharded", defences=["none", "ae-kl", "feature-squeezing"],
              attacks=[Attack("fgsm", eps=0.1), Attack("pgd-linf", eps=0.1)], scales=TINY, indicators=False)
"""


def test_shards_are_disjoint_cover_everything_and_are_balanced():
    keys = [("s", f"d{i}") for i in range(7)] + [("t", "none")]
    parts = [shard_of(keys, (i, 3)) for i in (1, 2, 3)]
    assert set().union(*parts) == set(keys) and sum(map(len, parts)) == len(set(keys))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert shard_of(list(reversed(keys)), (2, 3)) == parts[1]  # independent of collection order


def _run(pytester, name: str, *extra: str):
    return run_suite_subprocess(pytester, SUITE, name, *extra)


def test_two_shards_merged_equal_a_serial_run(pytester, capsys):
    serial, [s_path] = _run(pytester, "serial")
    serial.assert_outcomes(passed=6)
    _a, [a_path] = _run(pytester, "a", "--robustcheck-shard=1/2")  # "another machine": its own cache
    _b, [b_path] = _run(pytester, "b", "--robustcheck-shard=2/2")
    a_cases = set(json.loads(a_path.read_text())["suites"]["sharded"])
    b_cases = set(json.loads(b_path.read_text())["suites"]["sharded"])
    assert a_cases and b_cases and not a_cases & b_cases and len(a_cases | b_cases) == 6
    assert json.loads(a_path.read_text())["shard"] == "1/2"
    assert cli.main(["merge", str(a_path), str(b_path), "--results-dir", str(pytester.path / "merged")]) == 0
    [m_path] = history.list_runs(pytester.path / "merged")
    merged, serial_rec = history.load_run(m_path), history.load_run(s_path)
    assert {c: r["metrics"] for c, r in merged["suites"]["sharded"].items()} == {
        c: r["metrics"] for c, r in serial_rec["suites"]["sharded"].items()
    }
    assert set(history.load_scores(m_path)) == set(history.load_scores(s_path))
    assert [m["shard"] for m in merged["merged_from"]] == ["1/2", "2/2"]
    # merging a run with itself is fine (same metrics); a conflicting case is one clear error
    other = json.loads(b_path.read_text())
    case = next(iter(other["suites"]["sharded"]))
    other["suites"]["sharded"][case]["metrics"]["clean_accuracy"] = 0.123
    bad = pytester.path / "bad.json"
    bad.write_text(json.dumps(other))
    assert cli.main(["merge", str(b_path), str(bad), "--results-dir", str(pytester.path / "m2")]) == 2
    assert "different metrics" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0/2", "3/2", "a/b", "1"])
def test_bad_shard_is_one_usage_error(pytester, value):
    r, _ = _run(pytester, "bad", f"--robustcheck-shard={value}")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "--robustcheck-shard must be I/N" in r.stderr.str() and "Traceback" not in r.stderr.str()


def test_each_xdist_worker_gets_one_gpu():
    """Simulated: the mapping from worker id and GPU count to CUDA_VISIBLE_DEVICES, and the controller
    hook that passes the count (CI has no GPU, so nothing here needs one)."""
    from robustcheck.plugin import assign_worker_gpu, pytest_configure_node

    assert [assign_worker_gpu(f"gw{k}", 2, {}) for k in range(4)] == ["0", "1", "0", "1"]
    assert (
        assign_worker_gpu("gw2", 4, {"CUDA_VISIBLE_DEVICES": "3,5,6,7"}) == "6"
    )  # the controller's own list
    assert assign_worker_gpu("gw1", 1, {}) is None and assign_worker_gpu(None, 4, {}) is None
    env: dict = {}
    assign_worker_gpu("gw3", 2, env)
    assert env == {"CUDA_VISIBLE_DEVICES": "1"}

    class Node:
        workerinput: ClassVar[dict] = {}

    pytest_configure_node(Node)
    assert isinstance(Node.workerinput["robustcheck_gpus"], int)
