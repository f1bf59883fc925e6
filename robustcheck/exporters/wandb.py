"""Log every finished robustcheck run as a Weights & Biases run (extra ``wandb``: ``pip install
"pytest-robustcheck[wandb]"``).

Enable it in a ``conftest.py``::

    from robustcheck.exporters.wandb import WandbExporter

    def pytest_configure(config):
        config.pluginmanager.register(WandbExporter(project="robustness"), "robustcheck-wandb")

Each run becomes one W&B run (``job_type="robustcheck"``): the metrics of every case, logged once (one
step, so they are also the run's summary; keys from :func:`robustcheck.exporters.metric_key` with W&B's
stricter characters, e.g. ``tiny/ae_kl/fgsm/eps_0_3/grey_box/corrected_accuracy``: the suite is the
panel section) and the run-level counts, :func:`robustcheck.exporters.run_params` as the run's config,
and the run record with its companion ``.npz`` as a versioned artefact (``robustcheck-run`` of type
``robustcheck-run``). ``WANDB_MODE=offline`` works as usual. See ``docs/exporters.md``.
"""

from __future__ import annotations

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

__all__ = ["WandbExporter"]


class WandbExporter:
    """A pytest plugin object: register it and every finished run is logged to W&B.

    Args:
        project: the W&B project.
        entity: the W&B entity (team or user); None = your default.
        name: the W&B run's name; None = ``robustcheck <record file stem>``.
        tags: tags of every run.
        artifact_name: the artefact holding the run record (a new version per run).
        **init_kwargs: passed on to ``wandb.init`` (``group``, ``mode``, ``dir``, ``settings``, ...).
            Without ``settings``, W&B neither captures the console nor prints
            (``Settings(console="off", silent=True)``): it would wrap pytest's output streams and write
            into pytest's own lines; the exporter's summary line says where the run went.

    Registered in pytest, it checks that the ``wandb`` package is installed when pytest configures it
    (a missing extra is one usage error naming it, at the start of the run, not after the evaluation);
    ``wandb`` itself is imported only when a run is exported.
    """

    def __init__(
        self,
        project: str = "robustcheck",
        *,
        entity: str | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        artifact_name: str = "robustcheck-run",
        **init_kwargs: Any,
    ) -> None:
        self.project = project
        self.entity = entity
        self.name = name
        self.tags = list(tags or [])
        self.artifact_name = artifact_name
        self.init_kwargs = init_kwargs

    def pytest_configure(self, config: Any) -> None:
        """Registered from a ``conftest.py``: a missing ``wandb`` package is a usage error now."""
        require_for_pytest("wandb", "wandb", "WandbExporter")

    def pytest_robustcheck_run_finished(self, record: dict[str, Any], record_path: Path) -> str:
        run_id, where = self.export(record, record_path)
        return f"robustcheck: W&B run {run_id} in project {self.project!r} ({where})"

    def export(self, record: dict[str, Any], record_path: Path) -> tuple[str, str]:
        """Log ``record`` (read from ``record_path``) as a new W&B run; returns (run id, the run's URL or,
        offline, its local folder).

        Usable outside pytest too, e.g. for saved runs: ``export(history.load_run(p), p)``.
        """
        wandb = require("wandb", "wandb", "WandbExporter")
        path = Path(record_path)
        params = run_params(record, path)
        kwargs: dict[str, Any] = {"job_type": "robustcheck", "reinit": "create_new", **self.init_kwargs}
        kwargs.setdefault("settings", wandb.Settings(console="off", silent=True))
        run = wandb.init(
            project=self.project,
            entity=self.entity,
            name=self.name or f"robustcheck {path.stem}",
            tags=self.tags or None,
            config=params,
            **kwargs,
        )
        exit_code = 1
        try:
            summary = run_summary(record)
            run.log({**case_metrics(record, "wandb"), **summary})
            run.summary["outcome"] = "failed" if summary["cases_failed"] else "passed"
            artifact = wandb.Artifact(self.artifact_name, type="robustcheck-run", metadata=params)
            for f in companion_files(path):
                artifact.add_file(str(f), name=f.name)
            run.log_artifact(artifact)
            exit_code = 0
            where = str(Path(run.dir).parent) if getattr(run, "offline", False) else run.url
            return str(run.id), str(where)
        finally:
            run.finish(exit_code=exit_code)
