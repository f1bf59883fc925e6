"""The robustcheck run: options, the evaluation engine, and the results gathered from reports.

One :class:`RobustcheckSession` lives in ``config.stash`` per pytest process. Evaluation happens
where the item runs (a worker under xdist); results reach the controller through the reports'
``user_properties`` and are aggregated and written there alone.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustcheck.engine import CaseResult, Engine
from robustcheck.suite import SCALE_NAMES, Case
from robustcheck.errors import ConfigError


@dataclass
class Options:
    enabled: bool = False
    device: str = "auto"
    seed: int | None = None
    scale: str = "default"
    cache_dir: Path | None = None
    results_dir: Path | None = None
    data_root: str | None = None

    def __post_init__(self) -> None:
        if self.scale not in SCALE_NAMES:
            raise ConfigError(f"--robustcheck-scale {self.scale!r} unknown; known: {', '.join(SCALE_NAMES)}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"--robustcheck-device {self.device!r} unknown; use auto, cpu or cuda")


@dataclass
class RobustcheckSession:
    options: Options
    records: list[dict[str, Any]] = field(default_factory=list)
    started: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat())
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            o = self.options
            self._engine = Engine(
                device=o.device, scale=o.scale, seed=o.seed, data_root=o.data_root,
                cache_dir=str(o.cache_dir) if o.cache_dir is not None else None,
            )
        return self._engine

    def evaluate(self, case: Case) -> CaseResult:
        return self.engine.evaluate(case)

    def add_record(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def by_suite(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.records:
            out.setdefault(r["suite"], []).append(r)
        return out
