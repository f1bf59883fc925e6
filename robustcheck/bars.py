"""Measured bars: the per-case :class:`~robustcheck.suite.Thresholds` a suite reads from a data file.

A suite file states intent: the grid and the few bars a person chose (clean accuracy, gates at 0,
``allow_inconclusive``). The bars set from measurements live beside it, ``suites/default.py`` →
``suites/default.bars.json``, written and rewritten by ``benchmarks/bars_from_run.py --write`` from run
records, and read back with :func:`measured_bars`::

    thresholds=[Thresholds(scale="default", clean_accuracy=0.93), *measured_bars(__file__)]

The file (JSON, one bar per line so a re-measurement reads as a small diff)::

    {
      "format": 1,
      "suite": "mnist-default",
      "source": {"records": ["0001_20261126T180944Z.json"], "date": "2026-11-26", "command": "...",
                 "scale": "default", "torch": "2.14.1", "threads": 2, "margins": {...}, "note": "..."},
      "bars": [
        {"scale": "default", "defence": "ae-kl", "attack": "fgsm", "eps": 0.1, "threat": "grey-box",
         "metric": "corrected_accuracy", "bar": 0.84, "measured": 0.898, "margin": 0.05},
        ...
      ]
    }

Per bar: the selector (``scale``, ``defence``, ``attack`` or, for a worst case over a family of attacks,
``family``, ``eps``, ``threat``; an absent one matches everything, as in ``Thresholds``), the ``metric``
and its ``bar`` (a minimum for higher-is-better metrics, else a maximum), the ``measured`` value it came
from and the ``margin`` used (either may be null: not recorded), and an optional ``note``. Every problem
with a file is one :class:`~robustcheck.errors.ConfigError` naming the file. Whether a bar agrees with
measured ± margin is not checked here: the file records what was decided.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustcheck.errors import ConfigError
from robustcheck.metrics import METRICS
from robustcheck.suite import SCALE_NAMES, THREAT_MODELS, Thresholds, format_eps
from robustcheck.validation import as_float, describe, is_number

#: a suite file ``x.py`` keeps its measured bars in ``x.bars.json`` beside it
SUFFIX = ".bars.json"
FORMAT = 1
TOP_KEYS = ("format", "suite", "source", "bars")
SOURCE_KEYS = ("records", "date", "command", "scale", "torch", "threads", "margins", "note")
SELECTOR_KEYS = ("scale", "defence", "attack", "family", "eps", "threat")
BAR_KEYS = (*SELECTOR_KEYS, "metric", "bar", "measured", "margin", "note")


@dataclass(frozen=True)
class MeasuredBar:
    """One bar of a data file: a selector, a metric, its bar and where the bar came from."""

    metric: str
    bar: float
    measured: float | None = None
    margin: float | None = None
    scale: str | None = None
    defence: str | None = None
    attack: str | None = None
    family: str | None = None
    eps: float | None = None
    threat: str | None = None
    note: str | None = None

    @property
    def key(self) -> tuple[Any, ...]:
        """What the bar applies to: two bars with one key are the same bar."""
        eps = None if self.eps is None else round(self.eps, 12)
        return (self.scale, self.defence, self.attack, self.family, eps, self.threat, self.metric)

    @property
    def label(self) -> str:
        """``defence=ae-kl attack=fgsm eps=0.1 threat=grey-box corrected_accuracy`` (for messages)."""
        parts = [
            f"{k}={format_eps(v) if k == 'eps' else v}"
            for k in SELECTOR_KEYS
            if (v := getattr(self, k)) is not None
        ]
        return " ".join([*parts, self.metric])

    def thresholds(self) -> Thresholds:
        bar: dict[str, Any] = {self.metric: self.bar}
        return Thresholds(
            scale=self.scale,
            defence=self.defence,
            attack=self.family if self.family is not None else self.attack,
            eps=self.eps,
            threat=self.threat,
            **bar,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in SELECTOR_KEYS if getattr(self, k) is not None}
        out.update(metric=self.metric, bar=self.bar, measured=self.measured, margin=self.margin)
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class BarsFile:
    """A data file of measured bars: the suite it belongs to, its provenance and its bars, in order."""

    suite: str
    bars: tuple[MeasuredBar, ...]
    source: Mapping[str, Any] = field(default_factory=dict)


def bars_path(path: str | os.PathLike[str]) -> Path:
    """The data file of a suite file (``suites/x.py`` → ``suites/x.bars.json``); a data file stays itself."""
    p = Path(path)
    return p.with_name(p.stem + SUFFIX) if p.suffix == ".py" else p


def measured_bars(path: str | os.PathLike[str]) -> list[Thresholds]:
    """The measured bars of a suite as ``Thresholds``, in file order, from ``path``: the suite file
    (``__file__``; its data file is found beside it) or the data file itself."""
    p = bars_path(path)
    return [_thresholds(p, i, b) for i, b in enumerate(read_bars_file(p).bars)]


def read_bars_file(path: str | os.PathLike[str]) -> BarsFile:
    """Read and check a data file (``path`` as for :func:`measured_bars`); one ConfigError per problem."""
    p = bars_path(path)
    where = f"bars file {p}"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{where}: not found (it holds the suite's measured bars; write it with "
            f"benchmarks/bars_from_run.py --write)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{where}: unreadable: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except _DuplicateKey as exc:
        raise ConfigError(f"{where}: key {exc.args[0]!r} appears twice in one object") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a JSON object ({', '.join(TOP_KEYS)}), got {describe(doc)}")
    _check_keys(where, doc, TOP_KEYS, required=("format", "suite", "bars"))
    if doc["format"] != FORMAT or isinstance(doc["format"], bool):
        raise ConfigError(f"{where}: format {describe(doc['format'])} unknown; robustcheck reads {FORMAT}")
    suite = doc["suite"]
    if not isinstance(suite, str) or not suite:
        raise ConfigError(f"{where}: suite must be the suite's name (a string), got {describe(suite)}")
    source = doc.get("source", {})
    _check_source(where, source)
    bars = doc["bars"]
    if not isinstance(bars, list):
        raise ConfigError(f"{where}: bars must be a list of objects, got {describe(bars)}")
    out = [_bar(f"{where}: bars[{i}]", b) for i, b in enumerate(bars)]
    seen: dict[tuple[Any, ...], int] = {}
    for i, b in enumerate(out):
        if b.key in seen:
            raise ConfigError(f"{where}: bars[{i}] repeats bars[{seen[b.key]}] ({b.label}); keep one")
        seen[b.key] = i
    return BarsFile(suite=suite, bars=tuple(out), source=source)


def format_bars_file(doc: BarsFile) -> str:
    """The text of a data file: readable provenance, then one bar per line (diffs show what moved)."""
    head = {"format": FORMAT, "suite": doc.suite, "source": dict(doc.source)}
    text = json.dumps(head, indent=2, ensure_ascii=False)[: -len("\n}")]
    rows = ",\n".join("    " + json.dumps(b.to_json(), ensure_ascii=False) for b in doc.bars)
    return text + ',\n  "bars": [\n' + rows + ("\n" if rows else "") + "  ]\n}\n"


class _DuplicateKey(Exception):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _check_keys(where: str, obj: Mapping[str, Any], known: Sequence[str], required: Sequence[str]) -> None:
    unknown = [k for k in obj if k not in known]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(known)}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")


def _is_str_or_list(value: Any, item: type) -> bool:
    if isinstance(value, list):
        return all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    return isinstance(value, item) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return is_number(value) and as_float(value) is not None


def _check_source(where: str, source: Any) -> None:
    if not isinstance(source, dict):
        raise ConfigError(f"{where}: source must be an object, got {describe(source)}")
    _check_keys(f"{where}: source", source, SOURCE_KEYS, required=())
    for k, v in source.items():
        if v is None:
            continue
        ok = {
            "records": isinstance(v, list) and _is_str_or_list(v, str),
            "torch": _is_str_or_list(v, str),
            "threads": _is_str_or_list(v, int),
            "margins": isinstance(v, dict) and all(_finite(m) for m in v.values()),
        }.get(k, isinstance(v, str))
        if not ok:
            expected = {
                "records": "a list of record file names",
                "torch": "a version or a list of versions",
                "threads": "a thread count or a list of them",
                "margins": "an object of finite numbers",
            }.get(k, "a string")
            raise ConfigError(f"{where}: source.{k} must be {expected}, got {describe(v)}")


def _bar(where: str, obj: Any) -> MeasuredBar:
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: must be an object, got {describe(obj)}")
    _check_keys(where, obj, BAR_KEYS, required=("metric", "bar"))
    metric = obj["metric"]
    if not isinstance(metric, str) or metric not in METRICS:
        raise ConfigError(f"{where}: unknown metric {describe(metric)}; known: {', '.join(sorted(METRICS))}")
    numbers: dict[str, float | None] = {}
    for k in ("bar", "measured", "margin", "eps"):
        v = obj.get(k)
        if v is None and k != "bar":
            numbers[k] = None
            continue
        f = as_float(v) if is_number(v) else None
        if f is None:
            what = "null or a finite number" if k != "bar" else "a finite number"
            raise ConfigError(f"{where}: {k} must be {what}, got {describe(v)}")
        numbers[k] = f
    texts: dict[str, str | None] = {}
    for k in ("scale", "defence", "attack", "family", "threat", "note"):
        v = obj.get(k)
        if v is not None and (not isinstance(v, str) or not v):
            raise ConfigError(f"{where}: {k} must be a non-empty string or absent, got {describe(v)}")
        texts[k] = v
    if texts["scale"] is not None and texts["scale"] not in SCALE_NAMES:
        raise ConfigError(f"{where}: scale {texts['scale']!r} unknown; known: {', '.join(SCALE_NAMES)}")
    if texts["threat"] is not None and texts["threat"] not in THREAT_MODELS:
        raise ConfigError(f"{where}: threat {texts['threat']!r} unknown; known: {', '.join(THREAT_MODELS)}")
    if texts["attack"] is not None and texts["family"] is not None:
        raise ConfigError(f"{where}: give attack or family, not both (a family's bar selects its worst case)")
    bar = numbers["bar"]
    assert bar is not None
    return MeasuredBar(
        metric=metric,
        bar=bar,
        measured=numbers["measured"],
        margin=numbers["margin"],
        scale=texts["scale"],
        defence=texts["defence"],
        attack=texts["attack"],
        family=texts["family"],
        eps=numbers["eps"],
        threat=texts["threat"],
        note=texts["note"],
    )


def _thresholds(path: Path, i: int, bar: MeasuredBar) -> Thresholds:
    try:
        return bar.thresholds()
    except ConfigError as exc:
        raise ConfigError(f"bars file {path}: bars[{i}] ({bar.label}): {exc}") from None


__all__ = ["BarsFile", "MeasuredBar", "bars_path", "format_bars_file", "measured_bars", "read_bars_file"]
