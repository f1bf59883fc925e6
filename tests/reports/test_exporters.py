"""The run-finished hook and the optional exporters (MLflow, Weights & Biases): keys, parameters and
artefacts, black-box through pytester runs of a tiny suite with the exporter registered in its conftest.
MLflow is read back from its local file store, W&B from its offline run folder; each test skips when its
package is not installed (CI installs only ``.[test]``)."""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from robustcheck.exporters import case_metrics, companion_files, metric_key, run_params, run_summary

SUITE = """
from robustcheck import Attack, Scale, Suite

TINY = {s: Scale(n_samples=32, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=3)
        for s in ("smoke", "default", "paper")}

SUITE = Suite(
    name="tiny",
    defences=["none", "ae-kl"],
    attacks=[Attack("fgsm", eps=[0.1, 0.3])],
    threat_models=["grey-box"],
    scales=TINY,
)
"""
CASES = {"none|fgsm|eps=0.1|grey-box", "ae-kl|fgsm|eps=0.1|grey-box"}  # -k 0.1

pytestmark = pytest.mark.usefixtures("_preimport_optimizer_modules", "_preimport_trackers")


@pytest.fixture(scope="module")
def _preimport_trackers():
    """pytester restores ``sys.modules`` after each test that uses it, and MLflow cannot be imported a
    second time in one process: the clients these tests read back with are imported once, before it.
    (The runs that export to a tracker run in a subprocess, which keeps the trackers' own lazy imports,
    background processes and exit handlers out of this one.)"""
    for name in ("mlflow.tracking", "mlflow.entities"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


@pytest.fixture
def make_suite(pytester, cache_dir):
    def make(conftest: str) -> list[str]:
        pytester.mkdir("mysuites")
        pytester.path.joinpath("mysuites", "tiny.py").write_text(SUITE)
        pytester.makeini("[pytest]\nrobustcheck_suite_files = mysuites/*.py\n")
        pytester.makeconftest(conftest)
        return [
            "--robustcheck",
            "--robustcheck-scale=smoke",
            f"--robustcheck-cache-dir={cache_dir}",
            "-p",
            "no:cacheprovider",
            "-k",
            "0.1",
        ]

    return make


def _record(pytester) -> tuple[dict, Path]:
    paths = sorted((pytester.path / ".robustcheck" / "results").glob("*.json"))
    assert len(paths) == 1
    return json.loads(paths[0].read_text()), paths[0]


def _git_commit(folder: Path) -> bool:
    """A commit in the pytester folder, so the run record (and the exported parameters) have one; False
    where git is missing."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    try:
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "suite"]):
            subprocess.run(git + cmd, cwd=folder, check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


# ---------------------------------------------------------------------------- keys and parameters
MLFLOW_NAME = re.compile(r"^[/\w.\- ]*$")  # MLflow's portable metric-name rule (its Windows one)
WANDB_PART = re.compile(r"^[_a-zA-Z0-9]+$")  # W&B: names that sort and filter in its UI, per '/' part


def test_metric_keys_are_sanitised_per_tracker():
    case = "ae-kl|fgsm|eps=0.3|grey-box"
    assert (
        metric_key("tiny", case, "corrected_accuracy")
        == "tiny/ae-kl/fgsm/eps_0.3/grey-box/corrected_accuracy"
    )
    assert metric_key("tiny", case, "corrected_accuracy", "wandb") == (
        "tiny/ae_kl/fgsm/eps_0_3/grey_box/corrected_accuracy"
    )
    odd = metric_key("s+1", "d|family=noise+blur|eps=8/255|white-box", "auc:x")
    assert MLFLOW_NAME.match(odd) and odd == "s_1/d/family_noise_blur/eps_8_255/white-box/auc_x"
    assert all(WANDB_PART.match(p) for p in metric_key("s", "a-b|c.d", "m=1", "wandb").split("/"))


def test_case_metrics_skip_missing_values_and_keep_colliding_cases_apart():
    record = {
        "suites": {
            "tiny": {
                "a-b|fgsm|eps=0.1|grey-box": {"metrics": {"acc": 0.5, "auc": None, "n": 3, "flag": True}},
                "a_b|fgsm|eps=0.1|grey-box": {"metrics": {"acc": 0.25, "inf": float("inf"), "s": "x"}},
            }
        }
    }
    assert case_metrics(record) == {
        "tiny/a-b/fgsm/eps_0.1/grey-box/acc": 0.5,
        "tiny/a-b/fgsm/eps_0.1/grey-box/flag": 1.0,
        "tiny/a-b/fgsm/eps_0.1/grey-box/n": 3.0,
        "tiny/a_b/fgsm/eps_0.1/grey-box/acc": 0.25,
    }
    # for W&B both ids sanitise to tiny/a_b/fgsm/eps_0_1/grey_box: the later one (sorted) gets _2
    assert case_metrics(record, "wandb") == {
        "tiny/a_b/fgsm/eps_0_1/grey_box/acc": 0.5,
        "tiny/a_b/fgsm/eps_0_1/grey_box/flag": 1.0,
        "tiny/a_b/fgsm/eps_0_1/grey_box/n": 3.0,
        "tiny/a_b/fgsm/eps_0_1/grey_box_2/acc": 0.25,
    }


def test_run_params_summary_and_companion_files(tmp_path):
    record = {
        "schema": 3,
        "scale": "smoke",
        "seed_override": None,
        "seeds": {"tiny": 0, "big": 1},
        "device": "cpu",
        "git": {"commit": "abc123", "branch": "main", "dirty": False},
        "compared_with": None,
        "shard": None,
        "suites": {"tiny": {"x": {"outcome": "FAILED", "status": "inconclusive"}}, "big": {"y": {}}},
    }
    path = tmp_path / "0001_x.json"
    path.write_text("{}")
    assert run_params(record, path) == {
        "suites": "big,tiny",
        "scale": "smoke",
        "seed": "big=1,tiny=0",
        "commit": "abc123",
        "branch": "main",
        "dirty": "False",
        "device": "cpu",
        "schema": "3",
        "record": "0001_x.json",
    }
    assert run_params({**record, "seed_override": 7})["seed"] == "7"
    assert run_params({**record, "seeds": {"tiny": 5}})["seed"] == "5"
    assert run_summary(record) == {"cases_total": 2.0, "cases_failed": 1.0, "cases_inconclusive": 1.0}
    assert companion_files(path) == [path]
    path.with_suffix(".npz").write_bytes(b"")
    assert companion_files(path) == [path, path.with_suffix(".npz")]


EXPORTERS = [
    ("robustcheck.exporters.mlflow", "MLflowExporter", "mlflow"),
    ("robustcheck.exporters.wandb", "WandbExporter", "wandb"),
]


@pytest.mark.parametrize(("module", "cls", "extra"), EXPORTERS)
def test_missing_tracker_package_names_the_extra(pytester, monkeypatch, tmp_path, module, cls, extra):
    exporter = getattr(importlib.import_module(module), cls)()  # built without the package
    monkeypatch.setitem(sys.modules, extra, None)  # as if not installed
    hint = re.escape(f'pip install "pytest-robustcheck[{extra}]"')
    with pytest.raises(pytest.UsageError, match=hint):
        exporter.pytest_configure(None)
    with pytest.raises(ModuleNotFoundError, match=hint):  # export() outside pytest
        exporter.export({"suites": {}}, tmp_path / "0001_x.json")

    # registered from a conftest: one usage error at the start, no INTERNALERROR traceback
    pytester.makeconftest(
        f"from {module} import {cls}\n\n"
        f"def pytest_configure(config):\n    config.pluginmanager.register({cls}(), 'rc-{extra}')\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: {cls} needs the '{extra}' package: pip install \"pytest-robustcheck[{extra}]\""]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# ---------------------------------------------------------------------------- the hook
HOOKS = """
import json

def pytest_robustcheck_run_finished(config, record, record_path):
    record["suites"].clear()  # each implementation gets its own copy
    raise RuntimeError("tracker unreachable\\nsecond line")

class Exporter:
    def pytest_robustcheck_run_finished(self, record, record_path):
        (record_path.parent.parent / "seen.json").write_text(json.dumps([str(record_path), record]))
        return "robustcheck: exported " + record_path.name

def pytest_configure(config):
    config.pluginmanager.register(Exporter(), "my-exporter")
"""


def test_run_finished_hook_sees_the_record_and_a_failing_one_is_one_summary_line(pytester, make_suite):
    args = make_suite(HOOKS)
    skipped = pytester.runpytest(*[a for a in args if a != "--robustcheck"])  # nothing evaluated: no call
    skipped.assert_outcomes(skipped=2, deselected=2)
    assert not (pytester.path / ".robustcheck" / "results").exists()

    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=2, deselected=2)
    assert result.ret == pytest.ExitCode.OK
    record, path = _record(pytester)
    result.stdout.fnmatch_lines(
        [f"*robustcheck run record: *{path.name}", f"robustcheck: exported {path.name}"]
    )
    result.stdout.fnmatch_lines(  # the other implementation ran all the same
        [
            (
                "robustcheck: pytest_robustcheck_run_finished of plugin '*conftest.py' failed: "
                f"RuntimeError: tracker unreachable (the run record *{path.name} is saved)"
            ),
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out and "second line" not in out and "INTERNALERROR" not in out
    seen_path, seen = json.loads((path.parent.parent / "seen.json").read_text())
    assert Path(seen_path) == path and seen == record and set(seen["suites"]["tiny"]) == CASES


# ---------------------------------------------------------------------------- MLflow
MLFLOW_CONFTEST = """
from robustcheck.exporters.mlflow import MLflowExporter

def pytest_configure(config):
    config.pluginmanager.register(
        MLflowExporter(experiment="robustness", tracking_uri={uri!r}, tags={{"team": "vision"}}), "rc-mlflow"
    )
    # a second one that cannot log (no such store): one summary line, the first one logs all the same
    config.pluginmanager.register(MLflowExporter(tracking_uri="nosuchscheme://x"), "rc-mlflow-broken")
"""


def test_mlflow_exporter_logs_case_metrics_params_and_the_record(pytester, make_suite, monkeypatch, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this
    uri = (tmp_path / "mlruns").as_uri()
    args = make_suite(MLFLOW_CONFTEST.format(uri=uri))
    committed = _git_commit(pytester.path)
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2, deselected=2)
    record, path = _record(pytester)

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("robustness")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    result.stdout.fnmatch_lines(
        [f"robustcheck: MLflow run {run.info.run_id} in experiment 'robustness' at {uri}"]
    )
    result.stdout.fnmatch_lines(
        [
            "robustcheck: pytest_robustcheck_run_finished of plugin 'rc-mlflow-broken' failed: "
            f"*Exception: *nosuchscheme* (the run record *{path.name} is saved)"
        ]
    )
    assert result.ret == pytest.ExitCode.OK and "Traceback" not in result.stdout.str()
    assert run.info.status == "FINISHED" and run.info.run_name == f"robustcheck {path.stem}"

    # every metric of every case, under its sanitised key, equal to the run record's value
    expected = 0
    for case_id in CASES:
        for metric, value in record["suites"]["tiny"][case_id]["metrics"].items():
            key = metric_key("tiny", case_id, metric)
            if value is None:
                assert key not in run.data.metrics
                continue
            expected += 1
            assert run.data.metrics[key] == pytest.approx(float(value), rel=1e-12, abs=0), key
    assert expected > 20 and "tiny/ae-kl/fgsm/eps_0.1/grey-box/corrected_accuracy" in run.data.metrics
    assert run.data.metrics["cases_total"] == 2 and run.data.metrics["cases_failed"] == 0
    assert len(run.data.metrics) == expected + 3

    params = run.data.params
    assert params["suites"] == "tiny" and params["scale"] == "smoke" and params["record"] == path.name
    assert params["seed"] == str(record["seeds"]["tiny"]) and params["device"] == record["device"]
    assert bool(record["git"]["commit"]) == committed
    if committed:
        assert params["commit"] == record["git"]["commit"]
        assert run.data.tags["mlflow.source.git.commit"] == record["git"]["commit"]
    assert run.data.tags["robustcheck.outcome"] == "passed" and run.data.tags["team"] == "vision"

    # the run record (and its companion .npz when the run wrote one) as artefacts, byte for byte
    logged = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "robustcheck")}
    assert logged == {f.name for f in companion_files(path)}
    for f in companion_files(path):
        local = client.download_artifacts(run.info.run_id, f"robustcheck/{f.name}", str(tmp_path / "dl"))
        assert Path(local).read_bytes() == f.read_bytes()


def test_mlflow_exporter_on_a_sqlite_store_outside_pytest(tmp_path):
    """MLflow 3's default backend (a database); ``export`` is usable on saved runs too."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from robustcheck.exporters.mlflow import MLflowExporter

    record = {
        "scale": "default",
        "seeds": {"s": 1},
        "finished": "2026-11-26T10:00:00+00:00",
        "suites": {
            "s": {"d|pgd|eps=0.03|white-box": {"metrics": {"acc": 0.75, "auc": None}, "outcome": "FAILED"}}
        },
    }
    path = tmp_path / "0007_run.json"
    path.write_text(json.dumps(record))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exporter = MLflowExporter(tracking_uri=uri, artifact_location=(tmp_path / "artifacts").as_uri())
    run_id, where = exporter.export(record, path)
    assert where == uri
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    assert run.data.metrics == {
        "s/d/pgd/eps_0.03/white-box/acc": 0.75,
        "cases_total": 1.0,
        "cases_failed": 1.0,
        "cases_inconclusive": 0.0,
    }
    assert run.data.tags["robustcheck.outcome"] == "failed" and run.data.params["seed"] == "1"
    history = MlflowClient(tracking_uri=uri).get_metric_history(run_id, "cases_total")
    assert [m.timestamp for m in history] == [1795687200000]  # the record's "finished" time
    assert (tmp_path / "artifacts" / run_id / "artifacts" / "robustcheck" / path.name).exists()


# ---------------------------------------------------------------------------- Weights & Biases
WANDB_CONFTEST = """
from robustcheck.exporters.wandb import WandbExporter

def pytest_configure(config):
    config.pluginmanager.register(WandbExporter(project="robustness", tags=["ci"]), "rc-wandb")
"""


def test_wandb_exporter_offline_run_has_the_metrics_and_the_record(
    pytester, make_suite, monkeypatch, tmp_path
):
    pytest.importorskip("wandb")
    for var, sub in [
        ("WANDB_DIR", "wandb-dir"),
        ("WANDB_CONFIG_DIR", "config"),
        ("WANDB_CACHE_DIR", "cache"),
    ]:
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    args = make_suite(WANDB_CONFTEST)
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2, deselected=2)
    record, path = _record(pytester)

    runs = list((tmp_path / "wandb-dir" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    run_dir = runs[0]
    run_id = run_dir.name.rsplit("-", 1)[1]
    result.stdout.fnmatch_lines([f"robustcheck: W&B run {run_id} in project 'robustness' ({run_dir})"])
    blob = (run_dir / f"run-{run_id}.wandb").read_bytes()  # W&B's own record log (protobuf records)
    keys = case_metrics(record, "wandb")
    assert "tiny/ae_kl/fgsm/eps_0_1/grey_box/corrected_accuracy" in keys and len(keys) > 20
    missing = [k for k in [*keys, "cases_total", "cases_failed"] if k.encode() not in blob]
    assert missing == []
    for text in ("robustcheck-run", path.name, record["scale"], "robustcheck " + path.stem):
        assert text.encode() in blob, text
