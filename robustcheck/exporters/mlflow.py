"""Log every finished robustcheck run as an MLflow run (extra ``mlflow``: ``pip install
"pytest-robustcheck[mlflow]"``).

Enable it in a ``conftest.py``::

    from robustcheck.exporters.mlflow import MLflowExporter

    def pytest_configure(config):
        config.pluginmanager.register(MLflowExporter(experiment="robustness"), "robustcheck-mlflow")

Each run becomes one MLflow run in ``experiment``: the metrics of every case (keys from
:func:`robustcheck.exporters.metric_key`, e.g. ``tiny/ae-kl/fgsm/eps_0.3/grey-box/corrected_accuracy``)
and the run-level counts (:func:`robustcheck.exporters.run_summary`), the parameters of
:func:`robustcheck.exporters.run_params`, tags (``robustcheck.outcome``, MLflow's
``mlflow.source.git.commit``) and the run record with its companion ``.npz`` as artefacts under
``robustcheck/``. See ``docs/exporters.md``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import time
import warnings
from pathlib import Path
from typing import Any

from robustcheck.exporters import (
    case_metrics,
    companion_files,
    require,
    require_for_pytest,
    run_params,
    run_summary,
)

__all__ = ["MLflowExporter"]


class MLflowExporter:
    """A pytest plugin object: register it and every finished run is logged to MLflow.

    Args:
        experiment: the MLflow experiment (created when missing).
        tracking_uri: where to log (``sqlite:///mlflow.db``, ``http://...``, a folder); None = MLflow's
            own default (``MLFLOW_TRACKING_URI``, else its local default).
        run_name: the MLflow run's name; None = ``robustcheck <record file stem>``.
        tags: more tags for every run.
        artifact_location: where a *new* experiment stores its artefacts (None = the server's default).

    Registered in pytest, it checks that the ``mlflow`` package is installed when pytest configures it
    (a missing extra is one usage error naming it, at the start of the run, not after the evaluation);
    ``mlflow`` itself is imported only when a run is exported.
    """

    def __init__(
        self,
        experiment: str = "robustcheck",
        *,
        tracking_uri: str | None = None,
        run_name: str | None = None,
        tags: dict[str, str] | None = None,
        artifact_location: str | None = None,
    ) -> None:
        self.experiment = experiment
        self.tracking_uri = tracking_uri
        self.run_name = run_name
        self.tags = dict(tags or {})
        self.artifact_location = artifact_location

    def pytest_configure(self, config: Any) -> None:
        """Registered from a ``conftest.py``: a missing ``mlflow`` package is a usage error now."""
        require_for_pytest("mlflow", "mlflow", "MLflowExporter")

    def pytest_robustcheck_run_finished(self, record: dict[str, Any], record_path: Path) -> str:
        run_id, uri = self.export(record, record_path)
        return f"robustcheck: MLflow run {run_id} in experiment {self.experiment!r} at {uri}"

    def export(self, record: dict[str, Any], record_path: Path) -> tuple[str, str]:
        """Log ``record`` (read from ``record_path``) as a new MLflow run; returns (run id, tracking URI).

        Usable outside pytest too, e.g. for saved runs: ``export(history.load_run(p), p)``. While it
        runs, deprecation warnings raised inside MLflow (its own use of SQLAlchemy, ...) and MLflow's INFO
        log lines (printed by its own handler, into pytest's progress line) are held back; its own
        warnings and errors are not.
        """
        require("mlflow", "mlflow", "MLflowExporter")  # first: importing mlflow sets up its logger
        logger = logging.getLogger("mlflow")
        level = logger.level
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if logger.getEffectiveLevel() == logging.INFO:  # MLflow's default; a chosen DEBUG stays
                logger.setLevel(logging.WARNING)
            try:
                return self._export(record, record_path)
            finally:
                logger.setLevel(level)

    def _export(self, record: dict[str, Any], record_path: Path) -> tuple[str, str]:
        tracking = require("mlflow.tracking", "mlflow", "MLflowExporter")
        entities = require("mlflow.entities", "mlflow", "MLflowExporter")
        client = tracking.MlflowClient(tracking_uri=self.tracking_uri)
        experiment = client.get_experiment_by_name(self.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(self.experiment, artifact_location=self.artifact_location)
        )
        path = Path(record_path)
        params = run_params(record, path)
        tags = {
            "robustcheck.outcome": "failed" if run_summary(record)["cases_failed"] else "passed",
            "robustcheck.record": path.name,
        }
        if "commit" in params:
            tags["mlflow.source.git.commit"] = params["commit"]
        tags.update(self.tags)
        run = client.create_run(
            experiment_id, run_name=self.run_name or f"robustcheck {path.stem}", tags=tags
        )
        run_id = run.info.run_id
        try:
            stamp = _timestamp_ms(record.get("finished"))
            metrics = {**case_metrics(record, "mlflow"), **run_summary(record)}
            client.log_batch(
                run_id,
                metrics=[entities.Metric(k, v, stamp, 0) for k, v in metrics.items()],
                params=[entities.Param(k, v) for k, v in params.items()],
            )
            for f in companion_files(path):
                client.log_artifact(run_id, str(f), artifact_path="robustcheck")
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status="FINISHED")
        return run_id, str(client.tracking_uri)


def _timestamp_ms(iso: Any) -> int:
    """Milliseconds since the epoch of the record's ``finished`` time (now if absent or unreadable)."""
    try:
        return int(_dt.datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except ValueError:
        return int(time.time() * 1000)
