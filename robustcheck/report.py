"""Tables (tabulate) and JSON run records."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

from tabulate import tabulate

from robustcheck.cache import atomic_write_bytes

TABLE_COLUMNS = [
    ("case", "case"),
    ("clean_accuracy", "clean"),
    ("defended_clean_accuracy", "def.clean"),
    ("adversarial_accuracy", "adv"),
    ("corrected_accuracy", "corrected"),
    ("detection_auc", "AUC"),
    ("n_successful", "n_succ"),
    ("tpr_at_fpr", "TPR@t"),
    ("false_positive_rate", "FPR"),
    ("defended_rate", "defended"),
    ("attack_success_rate", "ASR"),
    ("linf_max", "L∞max"),
    ("l2_mean", "L2mean"),
    ("outcome", "result"),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.3f}"
    return str(value)


def format_table(records: list[dict[str, Any]]) -> str:
    """One table of case records (``{"case", "metrics", "outcome"}``)."""
    rows = []
    for r in records:
        m = r.get("metrics", {})
        row = []
        for key, _ in TABLE_COLUMNS:
            if key == "case":
                row.append(r["case"])
            elif key == "outcome":
                row.append(r.get("outcome", "?"))
            elif key == "n_successful" and m.get(key) is not None:
                row.append(str(int(m[key])))
            else:
                row.append(_fmt(m.get(key)))
        rows.append(row)
    return tabulate(rows, headers=[h for _, h in TABLE_COLUMNS], tablefmt="simple", disable_numparse=True)


def git_info(cwd: str | os.PathLike[str]) -> dict[str, Any]:
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain")
    return {"commit": commit, "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(status) if status is not None else None}


def machine_info() -> dict[str, Any]:
    import numpy
    import torch

    info = {
        "node": platform.node(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import torchattacks

        info["torchattacks"] = torchattacks.__version__
    except Exception:  # torchattacks is optional at run time
        info["torchattacks"] = None
    return info


_RECORD_RE = re.compile(r"^(\d{4,})_.*\.json$")


def next_record_path(results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in results_dir.iterdir() if (m := _RECORD_RE.match(p.name))]
    n = max(numbers, default=0) + 1
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return results_dir / f"{n:04d}_{stamp}.json"


def write_run_record(results_dir: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Write ``record`` as the next numbered JSON file, atomically; returns its path."""
    path = next_record_path(Path(results_dir))
    blob = json.dumps(record, indent=2, sort_keys=True, default=_json_default).encode()
    atomic_write_bytes(path, lambda fh: fh.write(blob))
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    return repr(obj)
