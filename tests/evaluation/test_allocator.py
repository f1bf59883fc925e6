"""robustcheck.allocator: an engine makes glibc keep freed tensor memory; numbers stay bit-identical.

Each check runs in a fresh interpreter: the setting is process-wide, and this test process has built
engines already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from robustcheck.allocator import _glibc, check_malloc_setting
from robustcheck.errors import ConfigError
from tests.helpers import run_suite_subprocess

glibc_only = pytest.mark.skipif(_glibc() is None, reason="the setting applies to glibc only")

# page faults of 64 MiB allocated and freed five times, in the steady state (after five such rounds: glibc's
# heap takes a few to settle), before and after an engine is built
_FAULTS = textwrap.dedent(
    """
    import json, resource, sys
    import torch
    from robustcheck.allocator import malloc_setting
    from robustcheck.engine import Engine

    def rounds(n):
        for _ in range(n):
            t = torch.ones(16 * 1024 * 1024)  # 64 MiB, written in full
            del t

    def faults():
        rounds(5)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        rounds(5)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    out = {"before": faults(), "setting_before": malloc_setting()}
    Engine(device="cpu", scale="smoke", cache_dir=sys.argv[2], malloc=sys.argv[1])
    out.update(after=faults(), setting_after=malloc_setting())
    print(json.dumps(out))
    """
)


def _run(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@glibc_only
def test_an_engine_keeps_freed_memory_and_system_leaves_malloc_alone(tmp_path):
    pages = 5 * 64 * 1024 * 1024 // 4096  # 81,920 pages of 4 KiB, faulted in afresh on every allocation
    keep = _run(_FAULTS, "keep", str(tmp_path / "a"))
    assert keep["setting_before"] == "system" and keep["setting_after"] == "keep"
    assert keep["before"] > pages // 2  # glibc's defaults: mmap per allocation, each page faulted
    assert keep["after"] < pages // 10  # kept: the freed memory is reused
    system = _run(_FAULTS, "system", str(tmp_path / "b"))
    assert system["setting_after"] == "system"
    assert system["after"] > pages // 2


_ATTACK = textwrap.dedent(
    """
    import hashlib, json, sys
    import torch
    from robustcheck.allocator import keep_freed_memory, malloc_setting
    from robustcheck.attacks import build_attack
    from robustcheck.data import load_dataset
    from robustcheck.models import train_classifier
    from robustcheck.models.contract import frozen_eval
    from robustcheck.models.mnist import mnist_cnn

    if sys.argv[1] == "keep":
        keep_freed_memory()
    data = load_dataset("mnist-embedded")
    torch.manual_seed(0)
    model = mnist_cnn()  # the A.1 classifier: batch 128 of its activations is 25 MiB
    train_classifier(model, data.train.subset(512), epochs=1, seed=0)
    frozen_eval(model)
    x, y = data.test.x[:256], data.test.y[:256]
    (res,) = build_attack("pgd-linf", {"steps": 5}, seed=0, batch_size=128)(model, x, y, eps=0.1)
    adv = res.x_adv
    digest = hashlib.sha256(adv.numpy().tobytes() + model(adv).numpy().tobytes()).hexdigest()
    print(json.dumps({"setting": malloc_setting(), "digest": digest}))
    """
)


@glibc_only
def test_keeping_freed_memory_changes_no_number():
    """Training and an attack under either setting give bit-identical x′ and logits."""
    keep, system = _run(_ATTACK, "keep"), _run(_ATTACK, "system")
    assert (keep["setting"], system["setting"]) == ("keep", "system")
    assert keep["digest"] == system["digest"]


def test_a_bad_setting_is_one_error_naming_it():
    with pytest.raises(ConfigError, match=r"malloc must be one of keep, system; got 'fast'"):
        check_malloc_setting("fast")


_SUITE = textwrap.dedent(
    """
    from robustcheck import Attack, Scale, Suite

    SUITE = Suite(
        name="tiny",
        dataset="digits-8x8",
        classifier="shape-cnn",
        defences=["none"],
        attacks=[Attack("fgsm", eps=0.1)],
        threat_models=["grey-box"],
        scales={"smoke": Scale(n_samples=16, train_limit=200, classifier_epochs=1, defence_epochs=1)},
    )
    """
)


@glibc_only
@pytest.mark.parametrize(
    ("option", "expected"),
    [((), "keep"), (("--robustcheck-malloc=system",), "system"), (("-n", "2"), "keep")],
    ids=["default", "system", "xdist"],
)
def test_the_run_record_says_which_malloc_setting_was_in_force(pytester, option, expected):
    """Under xdist the controller, which writes the record, evaluates nothing: the workers' setting counts."""
    result, records = run_suite_subprocess(pytester, _SUITE, "-".join([expected, *option]), *option)
    result.assert_outcomes(passed=1)
    assert json.loads(records[-1].read_text())["machine"]["malloc"] == expected


def test_an_unknown_malloc_option_is_one_usage_error(pytester):
    result, records = run_suite_subprocess(
        pytester, _SUITE, "bad", "--robustcheck-malloc=fast", subprocess=False
    )
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--robustcheck-malloc 'fast' unknown; use keep or system*"])
    assert records == []
