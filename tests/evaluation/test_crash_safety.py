"""Crash safety (issue 14, item 3): real ``pytest --robustcheck`` subprocesses killed with SIGKILL at chosen
points, rerun to completion; the run record must equal, bit for bit, that of an uninterrupted cold run,
no temp file of an interrupted write may remain, and a killed run leaves no record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from robustcheck import history, safefiles

SUITE = """
from robustcheck import Attack, Scale, Suite

TINY = {s: Scale(n_samples=16, train_limit=64, classifier_epochs=1, defence_epochs=1, attack_steps=2)
        for s in ("smoke", "default", "paper")}
SUITE = Suite(name="tiny", defences=["none", "ae-kl"], attacks=[Attack("fgsm", eps=0.1)],
              threat_models=["grey-box"], scales=TINY, indicators=False)
"""

# Pauses at points a timed kill rarely hits, chosen by RC_CRASH_PAUSE; RC_CRASH_MARK appears when paused.
CONFTEST = """
import os, time
from pathlib import Path

_PAUSE = os.environ.get("RC_CRASH_PAUSE", "")


def _pause():
    Path(os.environ["RC_CRASH_MARK"]).write_text(str(os.getpid()))
    time.sleep(600)


if _PAUSE == "entry-write":  # a cache entry half written to its temp file
    import io, torch

    _save = torch.save

    def _half_save(obj, f, *args, **kwargs):
        if hasattr(f, "write"):
            buf = io.BytesIO()
            _save(obj, buf, *args, **kwargs)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            _pause()
        return _save(obj, f, *args, **kwargs)

    torch.save = _half_save
elif _PAUSE in ("record", "markdown"):  # the complete record / summary in its temp file, not yet in place
    _link, _replace = os.link, os.replace

    def _paused_link(src, dst, *args, **kwargs):
        if _PAUSE == "record" and str(dst).endswith(".json"):
            _pause()
        return _link(src, dst, *args, **kwargs)

    def _paused_replace(src, dst, *args, **kwargs):
        if _PAUSE == "markdown" and str(dst).endswith("summary.md"):
            _pause()
        return _replace(src, dst, *args, **kwargs)

    os.link, os.replace = _paused_link, _paused_replace
"""

ARGS = [
    "--robustcheck",
    "--robustcheck-scale=smoke",
    "--robustcheck-cache-dir=cache",
    "--robustcheck-markdown=summary.md",
    "-p",
    "no:cacheprovider",
    "-q",
]


def _project(root: Path) -> Path:
    (root / "mysuites").mkdir(parents=True)
    (root / "mysuites" / "tiny.py").write_text(SUITE)
    (root / "pytest.ini").write_text("[pytest]\nrobustcheck_suite_files = mysuites/*.py\n")
    (root / "conftest.py").write_text(CONFTEST)
    return root


ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    """This worktree's robustcheck, no pytest settings of the calling run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "RC_CRASH_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


def _start(project: Path, log: str, **env: str) -> subprocess.Popen:
    out = open(project / log, "wb")  # noqa: SIM115  closed with the process
    p = subprocess.Popen(
        [sys.executable, "-m", "pytest", *ARGS],
        cwd=project,
        env=_env(**env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    p.log = project / log  # type: ignore[attr-defined]
    out.close()
    return p


def _exists(project: Path, pattern: str) -> Callable[[], bool]:
    return lambda: any(project.glob(pattern))


def _kill_when(
    p: subprocess.Popen, ready: Callable[[], bool], delay: float = 0.0, limit: float = 240
) -> None:
    """SIGKILL ``p`` ``delay`` s after ``ready()`` holds; it must not have finished by then."""
    deadline = time.monotonic() + limit
    try:
        while not ready():
            assert p.poll() is None, f"finished before the kill point:\n{p.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "kill point not reached"
            time.sleep(0.01)
        time.sleep(delay)
    finally:
        p.send_signal(signal.SIGKILL)
        rc = p.wait(timeout=60)
    assert rc == -signal.SIGKILL, p.log.read_text()[-3000:]


def _temps(project: Path) -> list[Path]:
    return [p for p in project.rglob("*") if p.name.endswith(".tmp")]


def test_reruns_after_kill_9_give_the_uninterrupted_run_bit_for_bit(tmp_path):
    cold = _project(tmp_path / "cold")
    chain = _project(tmp_path / "chain")
    started = time.monotonic()
    reference = _start(cold, "cold.log")  # uninterrupted, cold cache; runs alongside the chain
    mark = str(chain / "paused.mark")
    results = chain / ".robustcheck" / "results"

    # each run below resumes from what the killed ones left in the cache
    kills = [  # (what, extra environment, kill point, delay)
        ("training the classifier", {}, _exists(chain, "cache/classifiers/*.lock"), 0.3),
        (
            "writing a cache entry (half written)",
            {"RC_CRASH_PAUSE": "entry-write", "RC_CRASH_MARK": mark},
            _exists(chain, "paused.mark"),
            0.0,
        ),
        ("just after the first adversarial entry", {}, _exists(chain, "cache/adversarial/*.pt"), 0.0),
        ("training the defence", {}, _exists(chain, "cache/defences/*.lock"), 0.1),
        (
            "items passed, record written but not in place",
            {"RC_CRASH_PAUSE": "record", "RC_CRASH_MARK": mark},
            _exists(chain, "paused.mark"),
            0.0,
        ),
        (
            "record in place, Markdown summary not",
            {"RC_CRASH_PAUSE": "markdown", "RC_CRASH_MARK": mark},
            _exists(chain, "paused.mark"),
            0.0,
        ),
    ]
    left: dict[str, list[str]] = {}
    try:
        for i, (what, env, ready, delay) in enumerate(kills):
            _kill_when(_start(chain, f"run{i}.log", **env), ready, delay)
            Path(mark).unlink(missing_ok=True)
            left[what] = sorted(p.name for p in _temps(chain))
            # a run killed before its record was in place has none (the last one was killed after it)
            assert len(history.list_runs(results)) == (i == len(kills) - 1), what
        # the kills hit where they were meant to: a half-written cache entry, a complete record in a temp file
        assert any(".pt." in n for n in left["writing a cache entry (half written)"])
        assert any(".run.json." in n for n in left["items passed, record written but not in place"])
        assert any(".summary.md." in n for n in left["record in place, Markdown summary not"])

        final = _start(chain, "final.log")
        assert final.wait(timeout=300) == 0, final.log.read_text()[-3000:]
        assert reference.wait(timeout=300) == 0, reference.log.read_text()[-3000:]
    finally:
        reference.kill()
        reference.wait()
    elapsed = time.monotonic() - started

    log = final.log.read_text()
    assert "temp file(s) left by interrupted runs" in log  # the Markdown temp of the last kill
    assert _temps(chain) == [] and _temps(cold) == []
    assert (chain / "summary.md").is_file()
    [ref_path] = history.list_runs(cold / ".robustcheck" / "results")
    ref, ref_scores = json.loads(ref_path.read_text()), history.load_scores(ref_path)
    assert set(ref["suites"]["tiny"]) == {"none|fgsm|eps=0.1|grey-box", "ae-kl|fgsm|eps=0.1|grey-box"}
    runs = history.list_runs(results)
    assert len(runs) == 2  # the run killed while writing its Markdown summary, and the final one
    # nothing partial: each record complete with its score file, nothing else
    assert sorted(p.name for p in results.iterdir()) == sorted(
        n for r in runs for n in (r.name, f"{r.stem}.npz")
    )
    for path in runs:
        rec, scores = json.loads(path.read_text()), history.load_scores(path)
        assert rec["suites"] == ref["suites"]  # metrics, weight hashes, thresholds, outcomes: bit-identical
        assert scores.keys() == ref_scores.keys()
        # per-sample detector scores are NaN where a defence has none: NaN equals NaN here
        assert all(
            np.array_equal(scores[k], ref_scores[k], equal_nan=scores[k].dtype.kind == "f") for k in scores
        )
    print(f"{len(kills)} kills + rerun and a cold run: {elapsed:.0f} s")


def test_stale_temp_policy(tmp_path):
    """Removed: temp files of dead writers on this host, and those of other hosts or older versions once
    untouched for an hour. Kept: those of live writers on this host however old, fresh ones of other hosts
    (shared folders) and older versions, and other files."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = safefiles.HOST_TAG
    other = "0" * 8 if host != "0" * 8 else "1" * 8
    names = {
        f".0001_x.json.{dead.pid}-{host}-abcd1234.tmp": True,  # dead writer
        f".entry.pt.{os.getpid()}-{host}-abcd1234.tmp": False,  # live writer (this process)
        f".entry.pt.{dead.pid}-{other}-abcd1234.tmp": False,  # another host's, fresh
        ".rc-abcd1234.tmp": False,  # an older version's, fresh
        "0001_x.json": False,
        "notes.tmp": False,
    }
    for n in names:
        (tmp_path / n).write_text("x")
    old = {
        f".entry.pt.{os.getpid()}-{other}-old12345.tmp": True,
        ".rc-old12345.tmp": True,
        ".a.pt.old12345.tmp": True,
    }
    for n in old:
        (tmp_path / n).write_text("x")
        os.utime(tmp_path / n, (time.time() - 2 * safefiles.STALE_AGE_S,) * 2)
    names.update(old)
    if safefiles.process_start_epoch(os.getpid()) is not None:  # Linux: a pid reused since the write
        reused = f".c.pt.{os.getpid()}-{host}-reused12.tmp"
        (tmp_path / reused).write_text("x")
        os.utime(tmp_path / reused, (safefiles.process_start_epoch(os.getpid()) - 60,) * 2)
        names[reused] = True
        since_start = f".d.pt.{os.getpid()}-{host}-written1.tmp"  # written by this (live) process
        (tmp_path / since_start).write_text("x")
        os.utime(tmp_path / since_start, (safefiles.process_start_epoch(os.getpid()) + 5,) * 2)
        names[since_start] = False
    removed = {p.name for p in safefiles.clean_stale_temps(tmp_path)}
    assert removed == {n for n, gone in names.items() if gone}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, gone in names.items() if not gone)


def test_save_run_leaves_no_temp_and_removes_stale_ones(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".run.json.{dead.pid}-{safefiles.HOST_TAG}-abcd1234.tmp"
    tmp_path.mkdir(exist_ok=True)
    stale.write_text('{"suites": {}}')
    path = history.save_run(tmp_path, {"suites": {}}, {"s/c/clean": [0.5, 0.25]})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, path.with_suffix(".npz").name])
    assert history.load_scores(path)["s/c/clean"].tolist() == [0.5, 0.25]


@pytest.mark.parametrize("what", ["cache", "results"])
def test_startup_removes_stale_temps(pytester, what):
    """Through pytest: the temp files a killed run left are gone after the next run starts."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = pytester.path / ("cache/classifiers" if what == "cache" else ".robustcheck/results")
    folder.mkdir(parents=True)
    stale = folder / f".x.{dead.pid}-{safefiles.HOST_TAG}-abcd1234.tmp"
    stale.write_text("half")
    live = folder / f".y.{os.getpid()}-{safefiles.HOST_TAG}-abcd1234.tmp"
    live.write_text("being written")
    result = pytester.runpytest("--robustcheck", "--robustcheck-cache-dir=cache", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert not stale.exists() and live.exists()
    assert "removed 1 temp file(s) left by interrupted runs" in result.stdout.str()
