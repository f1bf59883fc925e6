"""benchmarks/seed_spread.py: per case and metric, each seed's value, mean, sd and spread over records."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("seed_spread", ROOT / "benchmarks" / "seed_spread.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(path: Path, seed: int, cases: dict[str, float]) -> str:
    suites = {"s": {cid: {"metrics": {"corrected_accuracy": v}} for cid, v in cases.items()}}
    path.write_text(json.dumps({"seeds": {"s": seed}, "suites": suites}))
    return str(path)


def test_values_per_seed_mean_sd_and_spread(tmp_path, capsys):
    tool = _tool()
    a = _record(tmp_path / "a.json", 0, {"x|fgsm|eps=0.1|grey-box": 0.80})
    b = _record(tmp_path / "b.json", 1, {"x|fgsm|eps=0.1|grey-box": 0.70})
    c = _record(tmp_path / "c.json", 1, {"y|fgsm|eps=0.1|grey-box": 0.5})  # a -k run completing seed 1
    seeds = tool.by_seed("s", [a, b, c])
    assert sorted(seeds) == [0, 1] and len(seeds[1]) == 2
    [row_x, row_y] = tool.rows(seeds, ["corrected_accuracy"])
    assert row_x[2:] == ["0.800", "0.700", "0.750", "0.071", "0.100"]
    assert row_y[2:] == ["–", "0.500", "0.500", "–", "0.000"]
    tool.main(["s", a, b, "--metrics", "corrected_accuracy"])
    assert "x|fgsm|eps=0.1|grey-box" in capsys.readouterr().out


def test_a_case_twice_at_one_seed_is_an_error(tmp_path):
    tool = _tool()
    a = _record(tmp_path / "a.json", 0, {"x|fgsm|eps=0.1|grey-box": 0.80})
    b = _record(tmp_path / "b.json", 0, {"x|fgsm|eps=0.1|grey-box": 0.79})
    with pytest.raises(SystemExit, match="more than one record"):
        tool.by_seed("s", [a, b])
