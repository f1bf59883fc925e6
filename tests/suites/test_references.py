"""The paper's numbers beside ours (``Suite(references=[Reference(...)])``): one ConfigError per bad input,
selector matching as for Thresholds, the ``paper`` field of the case record and the ``paper`` / ``Δpaper``
columns of the results table and the Markdown summary."""

from __future__ import annotations

import json

import pytest

from robustcheck import Attack, ConfigError, Reference, Suite
from robustcheck.report import format_markdown, format_table


def suite(*refs: Reference, **kw) -> Suite:
    return Suite(
        name="refs",
        defences=["none", "ae-kl"],
        attacks=[Attack("fgsm", eps=[0.1, 0.3])],
        threat_models=["grey-box", "white-box"],
        references=list(refs),
        **kw,
    )


# ------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"metric": "corrected_acc", "value": 0.9}, "unknown metric 'corrected_acc'"),
        ({"metric": "corrected_accuracy", "value": 1.5}, "outside the range of corrected_accuracy"),
        ({"metric": "corrected_accuracy", "value": -0.1}, "outside the range"),
        ({"metric": "corrected_accuracy", "value": float("nan")}, "finite number"),
        ({"metric": "corrected_accuracy", "value": "0.9"}, "finite number"),
        ({"metric": "corrected_accuracy", "value": 0.9, "eps": [0.1, 0.3]}, "one number"),
        ({"metric": "corrected_accuracy", "value": 0.9, "threat": "grey"}, "Reference.threat"),
        ({"metric": "corrected_accuracy", "value": 0.9, "defence": ["ae-kl"]}, "one defence id"),
        ({"metric": "corrected_accuracy", "value": 0.9, "source": 1}, "source must be a string"),
    ],
)
def test_bad_reference_is_one_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Reference(**kwargs)


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        (Reference(metric="corrected_accuracy", value=0.9, defence="ae-mse"), "matches no case"),
        (Reference(metric="corrected_accuracy", value=0.9, attack="fgsm", eps=0.2), "matches no case"),
        (Reference(metric="detection_auc", value=0.99, defence="none"), "detection_auc does not apply"),
    ],
)
def test_reference_selecting_nothing_is_an_error(ref, match):
    with pytest.raises(ConfigError, match=match):
        suite(ref)


def test_references_must_be_reference_objects():
    with pytest.raises(ConfigError, match="references must be Reference"):
        suite({"metric": "corrected_accuracy", "value": 0.9})  # type: ignore[arg-type]


# -------------------------------------------------------------------------------------------- matching
def test_most_specific_reference_wins_per_metric_and_case():
    s = suite(
        Reference(metric="corrected_accuracy", value=0.5, source="generic"),
        Reference(metric="corrected_accuracy", value=0.99, defence="ae-kl", eps=0.1, source="001 Table 1"),
        Reference(metric="corrected_accuracy", value=0.98, defence="ae-kl", eps=0.1, threat="grey-box"),
        Reference(metric="clean_accuracy", value=0.9928),
    )
    by_id = {c.id: c.references() for c in s.cases()}
    assert by_id["ae-kl|fgsm|eps=0.1|grey-box"]["corrected_accuracy"].value == 0.98
    assert by_id["ae-kl|fgsm|eps=0.1|white-box"]["corrected_accuracy"].source == "001 Table 1"
    assert by_id["ae-kl|fgsm|eps=0.3|grey-box"]["corrected_accuracy"].source == "generic"
    assert by_id["none|fgsm|eps=0.1|grey-box"]["clean_accuracy"].value == 0.9928
    assert suite().cases()[0].references() == {}


def test_eps_selector_is_tolerant_like_thresholds():
    s = suite(Reference(metric="corrected_accuracy", value=0.9, eps=0.1 + 1e-15, defence="none"))
    assert [c.id for c in s.cases() if c.references()] == [
        "none|fgsm|eps=0.1|grey-box",
        "none|fgsm|eps=0.1|white-box",
    ]


# ------------------------------------------------------------------------------------------- the table
def record(case: str, ours: float | None, paper: float | None) -> dict:
    r = {"case": case, "metrics": {"corrected_accuracy": ours}, "outcome": "passed", "status": "passed"}
    if paper is not None:
        r["paper"] = {"corrected_accuracy": {"value": paper, "source": "001 Table 1"}}
    return r


def test_table_has_paper_columns_only_when_a_case_has_references():
    plain = format_table([record("none|fgsm|eps=0.1|grey-box", 0.8, None)])
    assert "paper" not in plain
    text = format_table(
        [
            record("ae-kl|fgsm|eps=0.1|grey-box", 0.894, 0.9928),
            record("none|fgsm|eps=0.1|grey-box", 0.8, None),
        ]
    )
    header, _, first, second = text.splitlines()[:4]
    assert "paper corrected" in header and "Δpaper" in header
    assert "0.993" in first and "-0.099" in first
    assert second.split()[-4:-2] == ["-", "-"]


def test_markdown_summary_has_paper_columns():
    run = {
        "suites": {
            "s": {
                "ae-kl|fgsm|eps=0.1|grey-box": record("ae-kl|fgsm|eps=0.1|grey-box", 0.894, 0.9928),
            },
            "t": {"none|fgsm|eps=0.1|grey-box": record("none|fgsm|eps=0.1|grey-box", 0.8, None)},
        }
    }
    md = format_markdown(run, [])
    s_part, t_part = md.split("### t")
    assert "Δpaper" in s_part and "| 0.993 | -0.099 |" in s_part
    assert "paper" not in t_part


# ----------------------------------------------------------------------------------- a run, end to end
SUITE = """
from robustcheck import Attack, Reference, Scale, Suite

TINY = {s: Scale(n_samples=32, train_limit=300, classifier_epochs=1, defence_epochs=1, attack_steps=3)
        for s in ("smoke", "default", "paper")}

SUITE = Suite(
    name="tiny",
    defences=["none", "ae-kl"],
    attacks=[Attack("fgsm", eps=[0.1])],
    threat_models=["grey-box"],
    scales=TINY,
    references=[
        Reference(metric="corrected_accuracy", value=0.9928, defence="ae-kl", attack="fgsm", eps=0.1,
                  threat="grey-box", source="001 Table 1"),
    ],
)
"""


@pytest.mark.usefixtures("_preimport_optimizer_modules")
def test_run_record_and_table_carry_the_paper_value(pytester, cache_dir):
    pytester.mkdir("mysuites")
    pytester.path.joinpath("mysuites", "tiny.py").write_text(SUITE)
    pytester.makeini("[pytest]\nrobustcheck_suite_files = mysuites/*.py\n")
    result = pytester.runpytest(
        "--robustcheck",
        f"--robustcheck-cache-dir={cache_dir}",
        "-p",
        "no:cacheprovider",
        "--robustcheck-scale=smoke",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*case*paper corrected*Δpaper*", "*ae-kl|fgsm|eps=0.1|grey-box*0.993*"])
    (path,) = (pytester.path / ".robustcheck" / "results").glob("*.json")
    cases = json.loads(path.read_text())["suites"]["tiny"]
    rec = cases["ae-kl|fgsm|eps=0.1|grey-box"]
    assert rec["paper"] == {"corrected_accuracy": {"value": 0.9928, "source": "001 Table 1"}}
    assert "paper" not in cases["none|fgsm|eps=0.1|grey-box"]


# ------------------------------------------------------------------------------ the replication suites
@pytest.mark.parametrize("seed", ["001", "002", "003", "004"])
def test_replication_suites_load_and_carry_the_papers_numbers(seed):
    """Each seed's replication suite builds (every Reference selects a case that measures its metric)
    and, except 003 (figures only, no readable number), shows a paper value on some case."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "suites" / f"replication_{seed}.py"
    spec = importlib.util.spec_from_file_location(f"_replication_{seed}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = module.SUITE.cases()
    assert module.SUITE.dataset == "mnist-embedded" and cases
    referenced = [c for c in cases if c.references()]
    assert (not referenced) if seed == "003" else referenced
