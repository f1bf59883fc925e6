"""Measured bars as data (robustcheck.bars): the loader, its one-error-per-problem checks, the bar tool's
``--write`` (benchmarks/bars_from_run.py), and the data files of suites/ (each loads, each bar is read
by its suite and selects at least one of its cases)."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from robustcheck import ConfigError, Suite
from robustcheck.bars import (
    BarsFile,
    MeasuredBar,
    bars_path,
    format_bars_file,
    measured_bars,
    read_bars_file,
)

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "suites"

BARS = (
    MeasuredBar(
        metric="corrected_accuracy",
        bar=0.84,
        measured=0.898,
        margin=0.05,
        scale="default",
        defence="ae-kl",
        attack="fgsm",
        eps=0.1,
        threat="grey-box",
    ),
    MeasuredBar(
        metric="worst_case_corrected_accuracy",
        bar=0.49,
        measured=0.54,
        margin=0.05,
        scale="default",
        defence="ae-kl",
        family="linf",
        eps=0.1,
        threat="white-box",
    ),
    MeasuredBar(
        metric="detection_auc",
        bar=0.89,
        measured=0.924,
        margin=0.03,
        scale="default",
        defence="ae-kl",
        note="lowest over the defence's cases",
    ),
    MeasuredBar(
        metric="adaptive_success_rate", bar=0.07, scale="default", defence="ae-kl", threat="white-box"
    ),
)
SOURCE = {"records": ["0001_x.json"], "date": "2026-11-26", "command": "c", "torch": "2.14.1", "threads": 2}


def _write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def _doc(**bar: Any) -> dict[str, Any]:
    one = {"scale": "default", "defence": "ae-kl", "metric": "corrected_accuracy", "bar": 0.8, **bar}
    return {
        "format": 1,
        "suite": "s",
        "source": {},
        "bars": [{k: v for k, v in one.items() if v is not None}],
    }


def test_round_trip(tmp_path: Path) -> None:
    suite_file = tmp_path / "mine.py"
    assert bars_path(suite_file) == tmp_path / "mine.bars.json"
    assert bars_path(tmp_path / "mine.bars.json") == tmp_path / "mine.bars.json"
    doc = BarsFile(suite="mnist-x", bars=BARS, source=SOURCE)
    text = format_bars_file(doc)
    bars_path(suite_file).write_text(text, encoding="utf-8")
    back = read_bars_file(suite_file)
    assert back == doc and format_bars_file(back) == text
    assert [line.startswith('    {"') for line in text.splitlines()].count(True) == len(
        BARS
    )  # a line per bar
    ths = measured_bars(suite_file)
    assert [th.bars for th in ths] == [{b.metric: b.bar} for b in BARS]
    assert (ths[0].defence, ths[0].attack, ths[0].eps, ths[0].threat, ths[0].scale) == (
        "ae-kl",
        "fgsm",
        0.1,
        "grey-box",
        "default",
    )
    assert ths[1].attack == "linf"  # a family's bar selects its worst-case case by the family's name
    assert (ths[2].attack, ths[2].eps, ths[2].threat) == (None, None, None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("{not json", "not valid JSON: Expecting property name"),
        ("[]", "must be a JSON object"),
        ('{"format": 1, "suite": "s", "bars": [], "bars": []}', "key 'bars' appears twice"),
        ({"format": 1, "suite": "s", "bars": [], "extra": 1}, "unknown key 'extra'"),
        ({"format": 1, "suite": "s"}, "missing key 'bars'"),
        ({"format": 2, "suite": "s", "bars": []}, "format 2 unknown"),
        ({"format": 1, "suite": "", "bars": []}, "suite must be the suite's name"),
        ({"format": 1, "suite": "s", "bars": {}}, "bars must be a list"),
        ({"format": 1, "suite": "s", "source": {"who": 1}, "bars": []}, "source: unknown key 'who'"),
        ({"format": 1, "suite": "s", "source": {"threads": "2"}, "bars": []}, "source.threads must be"),
        ({"format": 1, "suite": "s", "bars": [1]}, "bars[0]: must be an object"),
        (_doc(defense="ae-kl"), "bars[0]: unknown key 'defense'"),
        (_doc(metric=None), "bars[0]: missing key 'metric'"),
        (_doc(metric="accuracy"), "bars[0]: unknown metric 'accuracy'"),
        (_doc(bar="0.8"), "bars[0]: bar must be a finite number, got '0.8'"),
        (_doc(bar=True), "bars[0]: bar must be a finite number, got True"),
        (
            '{"format": 1, "suite": "s", "bars": [{"metric": "corrected_accuracy", "bar": NaN}]}',
            "bar must be",
        ),
        (_doc(measured="high"), "bars[0]: measured must be null or a finite number"),
        (_doc(margin=[0.05]), "bars[0]: margin must be null or a finite number"),
        (_doc(eps="0.1"), "bars[0]: eps must be"),
        (_doc(threat="grey"), "bars[0]: threat 'grey' unknown"),
        (_doc(scale="huge"), "bars[0]: scale 'huge' unknown"),
        (_doc(defence=3), "bars[0]: defence must be a non-empty string"),
        (_doc(attack="fgsm", family="linf"), "bars[0]: give attack or family, not both"),
        (_doc(bar=1.5), "bars[0] (scale=default defence=ae-kl corrected_accuracy): "),
        (_doc(eps=-0.1), "bars[0] (scale=default defence=ae-kl eps=-0.1 corrected_accuracy): "),
    ],
)
def test_bad_file_is_one_clear_error(tmp_path: Path, content: Any, message: str) -> None:
    path = tmp_path / "suite.bars.json"
    if content is not None:
        _write(path, content)
    with pytest.raises(ConfigError) as info:
        measured_bars(tmp_path / "suite.py")
    text = str(info.value)
    assert text.startswith(f"bars file {path}: ") and message in text and "\n" not in text


def test_repeated_bar_is_an_error(tmp_path: Path) -> None:
    doc = _doc(attack="fgsm")
    doc["bars"].append({**doc["bars"][0], "bar": 0.7})
    with pytest.raises(
        ConfigError, match=r"bars\[1\] repeats bars\[0\] \(scale=default defence=ae-kl attack=fgsm"
    ):
        measured_bars(_write(tmp_path / "x.bars.json", doc))


def test_bar_far_from_measured_still_loads(tmp_path: Path) -> None:
    """The file records what was decided; the loader does not second-guess bar against measured ± margin."""
    path = _write(tmp_path / "x.bars.json", _doc(measured=0.2, margin=0.05))
    assert measured_bars(path)[0].bars == {"corrected_accuracy": 0.8}


# --- the bar tool -------------------------------------------------------------------------------------------


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bars_from_run", ROOT / "benchmarks" / "bars_from_run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(path: Path, ae_kl_pgd: float, scale: str = "default") -> str:
    def case(**metrics: float) -> dict[str, Any]:
        return {"metrics": metrics, "measured": {"torch_threads": 1}}

    cases = {
        "none|fgsm|eps=0.1|grey-box": case(corrected_accuracy=0.83, defended_clean_accuracy=0.97),
        "none|pgd-linf|eps=0.1|grey-box": case(corrected_accuracy=0.05, defended_clean_accuracy=0.97),
        "ae-kl|fgsm|eps=0.1|grey-box": case(
            corrected_accuracy=0.9, detection_auc=0.95, defended_clean_accuracy=0.963
        ),
        "ae-kl|pgd-linf|eps=0.1|grey-box": case(
            corrected_accuracy=ae_kl_pgd, detection_auc=0.91, defended_clean_accuracy=0.963
        ),
    }
    record = {
        "scale": scale,
        "started": "2026-11-26T18:00:00+00:00",
        "finished": "2026-11-26T18:09:44+00:00",
        "machine": {"torch": "2.14.1+cu130"},
        "packages": {"torch": "2.14.1"},
        "suites": {"tiny": cases},
    }
    path.write_text(json.dumps(record))
    return str(path)


def test_tool_writes_and_rewrites_the_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = _tool()
    suite_file = tmp_path / "tiny.py"
    first = _record(tmp_path / "0001_a.json", ae_kl_pgd=0.85)
    tool.main(["tiny", first, "--margin", "0.05", "--write", str(suite_file)])
    out = capsys.readouterr().out
    assert (
        "added    scale=default defence=ae-kl attack=fgsm eps=0.1 threat=grey-box corrected_accuracy" in out
    )
    assert "tiny.bars.json: 0 changed, 6 added, 0 removed" in out
    doc = read_bars_file(suite_file)
    assert doc.suite == "tiny"
    assert doc.source["records"] == ["0001_a.json"] and doc.source["date"] == "2026-11-26"
    assert doc.source["torch"] == "2.14.1" and doc.source["threads"] == 1
    assert doc.source["command"].startswith("python benchmarks/bars_from_run.py tiny ")
    assert doc.source["margins"]["corrected_accuracy"] == 0.05
    assert doc.source["margins"]["detection_auc"] == 0.03
    by_label = {b.label: b for b in doc.bars}
    pgd = by_label["scale=default defence=ae-kl attack=pgd-linf eps=0.1 threat=grey-box corrected_accuracy"]
    assert (pgd.bar, pgd.measured, pgd.margin) == (0.8, 0.85, 0.05)
    auc = by_label["scale=default defence=ae-kl detection_auc"]
    assert (auc.bar, auc.measured, auc.margin) == (0.88, 0.91, 0.03)  # lowest AUC − 0.03
    assert (
        "scale=default defence=none attack=pgd-linf eps=0.1 threat=grey-box corrected_accuracy"
        not in by_label
    )
    assert len(measured_bars(suite_file)) == 6

    # a bar set by hand in the file is kept; a new record moves one bar, and the tool says which
    raw = json.loads(bars_path(suite_file).read_text())
    hand = {"scale": "default", "defence": "ae-kl", "metric": "clean_accuracy_drop", "bar": 0.02}
    raw["bars"].append({**hand, "measured": -0.002, "margin": 0.02, "note": "set by hand"})
    bars_path(suite_file).write_text(json.dumps(raw))
    second = _record(tmp_path / "0002_b.json", ae_kl_pgd=0.70)
    tool.main(["tiny", second, "--margin", "0.05", "--write", str(bars_path(suite_file))])
    out = capsys.readouterr().out
    assert (
        "changed  scale=default defence=ae-kl attack=pgd-linf eps=0.1 threat=grey-box corrected_accuracy: "
        "0.8 → 0.65 (measured 0.850 → 0.700)" in out
    )
    assert "tiny.bars.json: 1 changed, 0 added, 0 removed, 5 unchanged" in out and "1 kept" in out
    doc = read_bars_file(suite_file)
    assert doc.source["records"] == ["0002_b.json"]
    assert [b.metric for b in doc.bars].count("clean_accuracy_drop") == 1
    assert bars_path(suite_file).read_text() == format_bars_file(doc)  # the tool's canonical layout


def test_tool_refuses_records_of_another_scale(tmp_path: Path) -> None:
    smoke = _record(tmp_path / "0001_a.json", ae_kl_pgd=0.85, scale="smoke")
    with pytest.raises(SystemExit, match="measured at scale 'smoke', not --scale 'default'"):
        _tool().main(["tiny", smoke, "--write", str(tmp_path / "tiny.py")])
    assert not (tmp_path / "tiny.bars.json").exists()


def test_tool_refuses_another_suites_file(tmp_path: Path) -> None:
    _write(tmp_path / "tiny.bars.json", {"format": 1, "suite": "other", "bars": []})
    rec = _record(tmp_path / "0001_a.json", ae_kl_pgd=0.85)
    with pytest.raises(SystemExit, match="holds the bars of suite 'other', not 'tiny'"):
        _tool().main(["tiny", rec, "--write", str(tmp_path / "tiny.py")])


# --- the data files of suites/ ------------------------------------------------------------------------------


def _data_files() -> list[Path]:
    return sorted(SUITES.glob("*.bars.json"))


def test_every_data_file_has_its_suite_file() -> None:
    assert _data_files(), "suites/ has no measured bars"
    for path in _data_files():
        assert (SUITES / path.name.replace(".bars.json", ".py")).is_file(), f"{path.name}: no suite file"


@pytest.mark.parametrize("path", _data_files(), ids=lambda p: p.name)
def test_suite_data_file_loads_and_every_bar_selects_a_case(path: Path) -> None:
    doc = read_bars_file(path)
    assert path.read_text(encoding="utf-8") == format_bars_file(doc), "not in the tool's layout"
    module = importlib.import_module(f"suites.{path.name.removesuffix('.bars.json')}")
    suites = {s.name: s for s in vars(module).values() if isinstance(s, Suite)}
    assert doc.suite in suites, f"{path.name}: suite {doc.suite!r} is not defined in its suite file"
    suite = suites[doc.suite]
    cases = suite.cases()
    attack_ids = {a.id for a in suite.attacks}
    read = list(suite.thresholds)
    stale = []
    for bar, th in zip(doc.bars, measured_bars(path), strict=True):
        assert th in read, f"{bar.label}: the suite does not read it (measured_bars(__file__))"
        if bar.family is not None:
            assert bar.family in suite.families, f"{bar.label}: no family {bar.family!r}"
        elif bar.attack is not None:
            assert bar.attack in attack_ids, f"{bar.label}: {bar.attack!r} is a family; write family="
        if not any(th.matches(c, th.scale or "default") for c in cases):
            stale.append(bar.label)
        assert bar.measured is not None and bar.margin is not None, f"{bar.label}: provenance missing"
    assert not stale, f"{path.name}: stale bars (they match no case): {stale}"


def test_tool_skips_aucs_over_too_few_successful_examples(tmp_path: Path) -> None:
    """--min-auc-examples: a per-case AUC over 1 successful x′ (004's random noise) gets no bar, and the
    fewest successful x′ over the records decide."""
    tool = _tool()

    def record(name: str, n_noise: float) -> str:
        cases = {
            "cvae|random-noise|eps=0.1|grey-box": {
                "metrics": {"corrected_accuracy": 0.94, "detection_auc": 0.97, "n_successful": n_noise},
                "measured": {"torch_threads": 1},
            },
            "cvae|fgsm|eps=0.15|grey-box": {
                "metrics": {"corrected_accuracy": 0.7, "detection_auc": 0.96, "n_successful": 53.0},
                "measured": {"torch_threads": 1},
            },
        }
        path = tmp_path / name
        path.write_text(json.dumps({"scale": "default", "suites": {"tiny": cases}}))
        return str(path)

    a, b = record("0001_a.json", 30.0), record("0002_b.json", 1.0)
    args = ["tiny", a, b, "--auc-attacks", "fgsm", "--auc-margin", "0.05"]
    for extra, noise_bar in (([], True), (["--min-auc-examples", "20"], False)):
        tool.main([*args, *extra, "--write", str(tmp_path / "tiny.py")])
        labels = {x.label: x for x in read_bars_file(tmp_path / "tiny.bars.json").bars}
        noise = "scale=default defence=cvae attack=random-noise eps=0.1 threat=grey-box detection_auc"
        assert (noise in labels) == noise_bar
        assert labels["scale=default defence=cvae attack=fgsm detection_auc"].bar == 0.91
    assert read_bars_file(tmp_path / "tiny.bars.json").source["margins"]["min_auc_examples"] == 20
