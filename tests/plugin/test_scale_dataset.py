"""``Scale(dataset=...)``: a scale that evaluates on another dataset (issue 19: the replication suites'
``paper`` scale reads the 70,000 torchvision MNIST digits from the data root), black-box through pytester,
plus the suite checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from robustcheck import Attack, Scale, Suite
from robustcheck.data import load_dataset
from robustcheck.errors import ConfigError
from tests.helpers import fake_mnist, run_suite_subprocess

SUITE = """
from robustcheck import Attack, Scale, Suite

TINY = dict(n_samples=16, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=2)
SUITE = Suite(
    name="scaled",
    dataset="mnist-embedded",
    defences=["none"],
    attacks=[Attack("fgsm", eps=[0.1])],
    threat_models=["grey-box"],
    scales={"smoke": Scale(**TINY), "paper": Scale(**TINY, dataset="mnist")},
)
"""

pytestmark = pytest.mark.usefixtures("_preimport_optimizer_modules")


@pytest.fixture
def mnist_root(tmp_path_factory):
    """A torchvision MNIST root holding 400 real digits (the embedded ones), so ``"mnist"`` differs from
    ``"mnist-embedded"`` in content but trains like it."""
    pytest.importorskip("torchvision")
    root = tmp_path_factory.mktemp("mnist-root")
    train = load_dataset("mnist-embedded").train
    images = (train.x[:400, 0].numpy() * 255).round().astype(np.uint8)
    fake_mnist(root, images, train.y[:400].numpy().astype(np.uint8), n_test=100)
    return root


def _run(pytester, cache_dir, scale: str, *extra: str):
    name = f"{scale}-{len(extra)}"
    r, records = run_suite_subprocess(
        pytester, SUITE, name, "-rs", *extra, scale=scale, cache_dir=cache_dir, subprocess=False
    )
    return r, [json.loads(p.read_text()) for p in records]


def _dataset_of(record: dict) -> dict:
    [case] = record["suites"]["scaled"].values()
    return case["measured"]["dataset"]


def test_the_scale_dataset_is_evaluated_and_recorded(pytester, cache_dir, mnist_root):
    r, [rec] = _run(pytester, cache_dir, "paper", f"--robustcheck-data-root={mnist_root}")
    r.assert_outcomes(passed=1)
    paper = _dataset_of(rec)
    assert paper["id"] == "mnist" and paper["name"] == "mnist"
    assert paper["sizes"]["test"] == 100  # the fake root's test set, not the embedded 1,000
    r, [rec] = _run(pytester, cache_dir, "smoke", f"--robustcheck-data-root={mnist_root}")
    r.assert_outcomes(passed=1)
    smoke = _dataset_of(rec)
    assert smoke["id"] == "mnist-embedded" and smoke["sizes"]["test"] == 1000
    assert smoke["content_hash"] != paper["content_hash"]


def test_without_the_data_root_the_scale_is_skipped_with_the_reason(pytester, cache_dir):
    r, _ = _run(pytester, cache_dir, "paper")
    r.assert_outcomes(skipped=1)
    r.stdout.fnmatch_lines(["*dataset 'mnist' needs a local root*--robustcheck-data-root*"])


def test_bad_scale_datasets_are_config_errors():
    with pytest.raises(ConfigError, match=r"Scale\.dataset"):
        Scale(n_samples=1, train_limit=None, classifier_epochs=1, defence_epochs=1, dataset="")
    with pytest.raises(ConfigError, match=r"Scale\.dataset"):
        Scale(n_samples=1, train_limit=None, classifier_epochs=1, defence_epochs=1, dataset=3)  # type: ignore[arg-type]
    bad = Scale(n_samples=1, train_limit=None, classifier_epochs=1, defence_epochs=1, dataset="mnits")
    with pytest.raises(ConfigError, match=r"scale 'paper': dataset 'mnits' is neither a registered name"):
        Suite(name="s", defences=["none"], attacks=[Attack("fgsm", eps=0.1)], scales={"paper": bad})


@pytest.mark.parametrize("n", ["001", "002", "003", "004"])
def test_replication_suites_read_full_mnist_at_paper_scale(n):
    import importlib

    suite = importlib.import_module(f"suites.replication_{n}").SUITE
    assert suite.dataset_at("paper") == "mnist"
    assert suite.dataset_at("default") == suite.dataset_at("smoke") == "mnist-embedded"
