"""The results table: indicator flags and worst-case family rows."""

from __future__ import annotations

import math

from robustcheck.report import flags, format_table


def test_flags_name_raised_indicators_only():
    assert flags({}) == "n/a"  # nothing computed
    assert flags({"budget_violations": 0.0, "silent_success": 0.0}) == "-"
    assert (
        flags({"budget_violations": 2.0, "blackbox_beats_whitebox": 1.0, "silent_success": 0.0})
        == "budget,bb>wb"
    )
    assert flags({"shattered_gradients": math.nan}) == "shattered"  # not measurable counts as raised


def test_family_rows_show_worst_case_columns():
    rows = [
        {
            "case": "ae-kl|family=linf|eps=0.1|white-box",
            "outcome": "passed",
            "metrics": {
                "worst_case_corrected_accuracy": 0.464,
                "worst_case_defended_rate": 0.812,
                "clean_accuracy": 0.968,
                "budget_violations": 0.0,
            },
        },
        {
            "case": "ae-kl|fgsm|eps=0.1|white-box",
            "outcome": "FAILED",
            "metrics": {
                "corrected_accuracy": 0.63,
                "worst_case_corrected_accuracy": 0.1,
                "unbounded_not_zero": 1.0,
            },
        },
    ]
    table = format_table(rows).splitlines()
    header = table[0].split()
    family = dict(zip(header, table[2].split(), strict=True))
    single = dict(zip(header, table[3].split(), strict=True))
    assert family["corrected"] == "0.464" and family["defended"] == "0.812" and family["flags"] == "-"
    assert (
        single["corrected"] == "0.630" and single["flags"] == "unbounded>0" and single["result"] == "FAILED"
    )
