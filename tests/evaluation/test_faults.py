"""Faults (issue 14, item 4): cache locks whose holder is suspended, hung or gone; cache entries that load
but are not what the caller needs; cache and results folders that cannot be used."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from torch import nn

from robustcheck.cache import (
    CacheLockTimeout,
    DiskCache,
    check_entry,
    expect_tensors,
    lock_timeout_from_env,
    state_dict_validator,
)
from robustcheck.errors import ConfigError
from robustcheck.evaluate import evaluate as evaluate_case

# ------------------------------------------------------------------------------------------ locks
HOLDER = textwrap.dedent("""
    import os, sys, time
    from robustcheck.cache import DiskCache

    root, hold, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    lock = DiskCache(root, lock_timeout=float(sys.argv[4])).lock("k", "key")
    lock.acquire()
    if mode == "fork-and-die":  # the child inherits the locked file; the holder named in it exits
        child = os.fork()
        if child == 0:
            time.sleep(hold)
            os._exit(0)
        print(f"locked {child}", flush=True)
        os._exit(0)
    print("locked", flush=True)
    time.sleep(hold)
    lock.release()
""")


def _holder(root, hold: float, mode: str = "hold", timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), str(hold), mode, str(timeout)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline()
    assert line.startswith("locked"), line
    return p, line


def test_suspended_holder_makes_the_waiter_fail_within_the_timeout_naming_it(tmp_path):
    holder, _ = _holder(tmp_path, hold=120)
    try:
        os.kill(holder.pid, signal.SIGSTOP)
        cache = DiskCache(tmp_path, lock_timeout=1.5)
        calls = []
        start = time.monotonic()
        with pytest.raises(CacheLockTimeout) as err:
            cache.get_or_compute("k", "key", lambda: calls.append(1) or {"v": 1})
        waited = time.monotonic() - start
    finally:
        holder.kill()
        os.kill(holder.pid, signal.SIGCONT)
        holder.wait()
    msg = str(err.value)
    lock = cache.path("k", "key").with_suffix(".lock")
    # gave up after the 1.5 s of silence, not when the holder would have released (120 s); the upper
    # bound is loose so a loaded CI machine cannot make it flaky
    assert 1.4 < waited < 60, waited
    assert calls == []
    assert f"cache entry k/{cache.path('k', 'key').name} is locked by pid {holder.pid} " in msg
    assert "(cmd: " in msg and "robustcheck.cache" in msg and " since " in msg
    assert "ROBUSTCHECK_LOCK_TIMEOUT" in msg and f"if that process is gone delete {lock}" in msg


def test_a_live_holder_is_waited_for_beyond_the_timeout(tmp_path):
    """The timeout is about signs of life (the holder touches its lock file), not about a long training."""
    holder, _ = _holder(tmp_path, hold=2.5, timeout=1.0)
    try:
        start = time.monotonic()
        out = DiskCache(tmp_path, lock_timeout=1.0).get_or_compute("k", "key", lambda: {"v": 2})
        waited = time.monotonic() - start
    finally:
        holder.wait(timeout=30)
    assert out == {"v": 2} and waited > 1.5


def test_lock_of_a_dead_holder_is_broken(tmp_path):
    """The holder named in the lock file is gone, but a forked child still holds the lock: broken."""
    holder, line = _holder(tmp_path, hold=60, mode="fork-and-die")
    child = int(line.split()[1])
    try:
        holder.wait(timeout=30)
        cache = DiskCache(tmp_path, lock_timeout=30)
        start = time.monotonic()
        assert cache.get_or_compute("k", "key", lambda: {"v": 3}) == {"v": 3}
        assert time.monotonic() - start < 5
    finally:
        os.kill(child, signal.SIGKILL)
    [event] = cache.drain_events()
    assert "broke the stale lock of cache entry k/" in event and f"pid {holder.pid}" in event


def test_lock_file_that_is_a_symlink_or_folder_is_replaced(tmp_path):
    cache = DiskCache(tmp_path)
    lock = cache.path("k", "key").with_suffix(".lock")
    lock.parent.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("keep me")
    lock.symlink_to(elsewhere)
    assert cache.get_or_compute("k", "key", lambda: {"v": 1}) == {"v": 1}
    assert elsewhere.read_text() == "keep me" and not lock.is_symlink()
    cache2 = DiskCache(tmp_path)
    lock.unlink()
    lock.mkdir()
    assert cache2.get_or_compute("k", "other", lambda: {"v": 1}) == {"v": 1}  # another entry: no clash
    cache2.path("k", "key").unlink()
    assert cache2.get_or_compute("k", "key", lambda: {"v": 2}) == {"v": 2}
    assert lock.is_file()
    assert any("is a folder; removed it" in e for e in cache2.events)


def test_lock_timeout_setting(monkeypatch):
    monkeypatch.delenv("ROBUSTCHECK_LOCK_TIMEOUT", raising=False)
    assert lock_timeout_from_env() == 120
    monkeypatch.setenv("ROBUSTCHECK_LOCK_TIMEOUT", "7.5")
    assert lock_timeout_from_env() == 7.5 and DiskCache(None).lock_timeout == 7.5
    for bad in ("abc", "0", "-3", "inf", "nan"):
        monkeypatch.setenv("ROBUSTCHECK_LOCK_TIMEOUT", bad)
        with pytest.raises(ConfigError, match=r"ROBUSTCHECK_LOCK_TIMEOUT=.*must be a number of seconds > 0"):
            lock_timeout_from_env()


# ------------------------------------------------------------------------------------------ entries
def _plant_empty(p):
    torch.save({}, p)


def _plant_folder(p):
    p.mkdir()
    (p / "inside").write_text("x")


def _plant_truncated(p):
    torch.save({"weight": torch.randn(50, 50)}, p)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _plant_list(p):
    torch.save([torch.ones(2)], p)


def _plant_int_keys(p):
    torch.save({1: torch.ones(2)}, p)


def _plant_garbage(p):
    p.write_bytes(b"\x00not a torch file")


def _plant_symlink(p):
    target = p.parent.parent / "foreign.pt"
    torch.save({"weight": torch.ones(2, 2), "bias": torch.ones(2)}, target)
    p.symlink_to(target)


PLANTS = {
    "empty dict": (_plant_empty, "it is an empty dict"),
    "folder": (_plant_folder, "is a folder"),
    "truncated": (_plant_truncated, "cannot be loaded"),
    "list": (_plant_list, "it is a list, not a dict"),
    "int keys": (_plant_int_keys, "key 1 is not a string"),
    "garbage": (_plant_garbage, "cannot be loaded"),
    "symlink": (_plant_symlink, "is not a regular file"),
}


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_malformed_entry_is_dropped_recomputed_and_reported(tmp_path, plant):
    make, reason = PLANTS[plant]
    cache = DiskCache(tmp_path / "c")
    path = cache.path("classifiers", "key")
    path.parent.mkdir(parents=True)
    make(path)
    good = {"weight": torch.full((2, 2), 0.5), "bias": torch.zeros(2)}
    calls = []
    out = cache.get_or_compute("classifiers", "key", lambda: calls.append(1) or good)
    assert calls == [1] and out is good
    [event] = cache.drain_events()
    assert f"cache entry classifiers/{path.name} " in event and reason in event
    assert event.endswith("dropped it and computed it again")
    again = DiskCache(tmp_path / "c").get_or_compute("classifiers", "key", lambda: calls.append(1) or good)
    assert calls == [1] and torch.equal(again["weight"], good["weight"])  # the recomputed entry is kept


def test_entry_of_the_wrong_structure_for_the_caller_is_dropped(tmp_path):
    """A loadable dict that does not fit: the caller's validator (what load_state_dict needs) says so."""
    module = nn.Linear(3, 2)
    validate = state_dict_validator(module)
    cache = DiskCache(tmp_path)
    for planted in (
        {"weight": torch.zeros(5, 5), "bias": torch.zeros(2)},  # wrong shape
        {"weight": torch.zeros(2, 3)},  # a key missing
        {"weight": torch.zeros(2, 3, dtype=torch.float64), "bias": torch.zeros(2)},  # wrong dtype
        {"weight": "zeros", "bias": torch.zeros(2)},
    ):  # not a tensor
        cache.path("defences", "k").parent.mkdir(parents=True, exist_ok=True)
        torch.save(planted, cache.path("defences", "k"))
        calls: list[int] = []

        def compute(calls=calls):
            calls.append(1)
            return module.state_dict()

        out = cache.get_or_compute("defences", "k", compute, validate)
        assert calls == [1]
        nn.Linear(3, 2).load_state_dict(out)
        [event] = cache.drain_events()
        assert "does not have the expected structure" in event and "dropped it and computed it again" in event
        cache.path("defences", "k").unlink()
    shapes = expect_tensors(x_adv=(4, 1, 28, 28))
    cache.path("adversarial", "a").parent.mkdir(parents=True)
    torch.save({"x_adv": torch.zeros(3, 1, 28, 28)}, cache.path("adversarial", "a"))
    out = cache.get_or_compute("adversarial", "a", lambda: {"x_adv": torch.zeros(4, 1, 28, 28)}, shapes)
    assert out["x_adv"].shape[0] == 4
    assert "'x_adv' has shape (3, 1, 28, 28), expected (4, 1, 28, 28)" in cache.drain_events()[0]


def test_a_computed_result_that_fails_the_check_is_returned_but_not_cached(tmp_path):
    cache = DiskCache(tmp_path)
    assert cache.get_or_compute("k", "key", dict) == {}
    assert not cache.path("k", "key").exists()
    assert "not cached" in cache.drain_events()[0]
    with pytest.raises(TypeError, match="holds a object"):
        check_entry({"x": object()})


def test_a_file_in_place_of_a_kind_folder_is_removed(tmp_path):
    cache = DiskCache(tmp_path)
    (tmp_path / "classifiers").write_text("not a folder")
    assert cache.get_or_compute("classifiers", "k", lambda: {"v": 1}) == {"v": 1}
    assert (tmp_path / "classifiers").is_dir()
    assert any("was a file; removed it" in e for e in cache.events)


# ------------------------------------------------------------------------------------------ through pytest
SUITE = """
from robustcheck import Attack, Scale, Suite

TINY = {s: Scale(n_samples=16, train_limit=64, classifier_epochs=1, defence_epochs=1, attack_steps=2)
        for s in ("smoke", "default", "paper")}
SUITE = Suite(name="tiny", defences=["none"], attacks=[Attack("fgsm", eps=0.1)], threat_models=["grey-box"],
              scales=TINY, indicators=False)
"""


pytestmark = pytest.mark.usefixtures("_preimport_optimizer_modules")


@pytest.fixture
def project(pytester):
    pytester.mkdir("mysuites")
    pytester.path.joinpath("mysuites", "tiny.py").write_text(SUITE)
    pytester.makeini("[pytest]\nrobustcheck_suite_files = mysuites/*.py\n")
    return pytester


def test_planted_entries_are_reported_in_the_terminal_summary(project):
    cache = project.path / "cache"
    args = [
        "--robustcheck",
        "--robustcheck-scale=smoke",
        f"--robustcheck-cache-dir={cache}",
        "-p",
        "no:cacheprovider",
    ]
    project.runpytest(*args).assert_outcomes(passed=1)
    [clf] = (cache / "classifiers").glob("*.pt")
    [adv] = (cache / "metrics").glob("*.pt")  # the stored case: a warm run reads only this (and the models)
    torch.save({}, clf)
    adv.unlink()
    adv.mkdir()
    result = project.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            (
                f"robustcheck: cache entry classifiers/{clf.name} does not have the expected structure "
                f"(it is an empty dict); dropped it and computed it again"
            ),
            (
                f"robustcheck: cache entry metrics/{adv.name} is a folder, not a file; dropped it and "
                f"computed it again"
            ),
        ]
    )
    assert clf.is_file() and adv.is_file() and len(torch.load(clf, weights_only=True)) > 0


# ------------------------------------------------------------------------------------------ folders
def test_cache_or_results_folder_that_is_a_file_is_one_usage_error(project):
    (project.path / "afile").write_text("x")
    for opt in (
        "--robustcheck-cache-dir=afile",
        "--robustcheck-cache-dir=afile/sub",
        "--robustcheck-results-dir=afile",
    ):
        result = project.runpytest("--robustcheck", opt, "-p", "no:cacheprovider")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        what = "results" if "results" in opt else "cache"
        it = "it" if opt.endswith("=afile") else "*/afile"
        result.stderr.fnmatch_lines(
            [
                (
                    f"ERROR: the robustcheck {what} folder */{opt.split('=')[1]} cannot be used: "
                    f"{it} is a file, not a folder; remove or rename */afile or point "
                    f"--robustcheck-{what}-dir at another folder"
                )
            ]
        )
        assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_unwritable_folders_are_one_usage_error_in_process(project, monkeypatch):
    """Permissions simulated (root ignores them): creating a file in the folder fails with EACCES."""
    import errno

    import robustcheck.safefiles as sf

    real = sf.make_temp

    def make_temp(folder, target):
        if "ro" in str(folder):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(folder, target)

    monkeypatch.setattr(sf, "make_temp", make_temp)
    (project.path / "ro").mkdir()
    result = project.runpytest("--robustcheck", "--robustcheck-cache-dir=ro", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            (
                "ERROR: the robustcheck cache folder */ro cannot be used (Permission denied); make "
                "it readable and writable (chmod -R u+rwX */ro) or point --robustcheck-cache-dir at "
                "another folder"
            )
        ]
    )


def _unprivileged(tmp_path) -> list[str]:
    """A command prefix under which file permissions apply (root: drop the capabilities that bypass them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    probe = tmp_path / "probe-ro"
    probe.mkdir(mode=0o500)
    r = subprocess.run(
        [*prefix, sys.executable, "-c", f"open({str(probe / 'x')!r}, 'w')"], capture_output=True, check=False
    )
    if r.returncode == 0:
        pytest.skip("cannot drop the root capabilities that bypass file permissions here")
    return prefix


@pytest.mark.parametrize("which, mode", [("cache", 0o500), ("results", 0o300)])
def test_read_only_or_unreadable_folder_is_one_clear_error(tmp_path, which, mode):
    """Real permissions, through a pytest subprocess: read-only cache folder, unreadable results folder."""
    prefix = _unprivileged(tmp_path)
    proj = tmp_path / "proj"
    (proj / "mysuites").mkdir(parents=True)
    (proj / "mysuites" / "tiny.py").write_text(SUITE)
    (proj / "pytest.ini").write_text("[pytest]\nrobustcheck_suite_files = mysuites/*.py\n")
    folder = proj / which
    folder.mkdir(mode=mode)
    folder.chmod(mode)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    try:
        r = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-m",
                "pytest",
                "--robustcheck",
                f"--robustcheck-{which}-dir={which}",
                "-p",
                "no:cacheprovider",
            ],
            cwd=proj,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    finally:
        folder.chmod(0o700)
    out = r.stdout + r.stderr
    assert r.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert (
        f"ERROR: the robustcheck {which} folder {folder} cannot be used (Permission denied); make it "
        f"readable and writable (chmod -R u+rwX {folder}) or point --robustcheck-{which}-dir at another "
        f"folder" in out
    )
    assert "Traceback" not in out and "INTERNALERROR" not in out and out.count("ERROR: ") == 1


def test_engine_drops_a_planted_state_dict_of_the_wrong_shape(tmp_path):
    """A loadable classifier/defence entry whose tensors do not fit the network (a wrong shape planted
    under the right key) is dropped, recomputed and reported, not raised from load_state_dict forever."""
    import torch

    from robustcheck import Attack, Scale, Suite
    from robustcheck.engine import Engine

    tiny = {
        s: Scale(n_samples=16, train_limit=100, classifier_epochs=1, defence_epochs=1, attack_steps=2)
        for s in ("smoke", "default", "paper")
    }
    suite = Suite(
        name="planted",
        dataset="digits-8x8",
        classifier="shape-cnn",
        defences=["ae-kl"],
        attacks=[Attack("fgsm", eps=0.1)],
        scales=tiny,
        indicators=False,
    )
    case = suite.cases()[0]
    cold = evaluate_case(Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path)), case).metrics
    for kind in ("classifiers", "defences"):
        [entry] = list((tmp_path / kind).glob("*.pt"))
        state = torch.load(entry, weights_only=True)
        name = next(iter(state))
        state[name] = torch.zeros(3, 3)  # the wrong shape under the right key
        torch.save(state, entry)
    eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    warm = evaluate_case(eng, case).metrics
    assert warm == pytest.approx(cold, nan_ok=True)
    events = " ".join(map(str, eng.cache.drain_events()))
    assert "classifiers" in events and "defences" in events, events
