"""A user's repository, black-box through pytest (issue 13): its own Dataset, its own model file with
declared normalisation, a suite over both under grey-box and white-box; the run record names what was
measured; a bad model is one clear line, never a traceback."""

from __future__ import annotations

import json

import pytest
import torch

MYDATA = '''
import numpy as np
import torch
from sklearn.datasets import load_digits


class Digits(torch.utils.data.Dataset):
    """The team's loader: 8×8 digits as uint8 H×W arrays (as a PIL-free image pipeline would give)."""

    def __init__(self):
        b = load_digits()
        self.images = (b.images * 255 / 16).round().astype(np.uint8)
        self.labels = b.target.tolist()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]
'''

MYMODEL = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 32)
        self.out = nn.Linear(32, 10)

    def forward(self, x):
        return self.out(torch.relu(self.fc(x.flatten(1))))
"""

SUITE = """
from pathlib import Path

from robustcheck import Attack, Scale, Suite, Thresholds
from robustcheck.models import ModelFile
from mydata import Digits
from mymodel import Net

HERE = Path(__file__).resolve().parent.parent
TINY = {{s: Scale(n_samples=64, train_limit=200, classifier_epochs=1, defence_epochs=1, attack_steps=3)
        for s in ("smoke", "default", "paper")}}

SUITE = Suite(
    name="team",
    dataset=Digits,                       # a callable returning the team's Dataset
    classifier={classifier},
    normalize={normalize},
    defences=["none", "feature-squeezing"],
    attacks=[Attack("fgsm", eps=0.1)],
    threat_models=["grey-box", "white-box"],
    scales=TINY,
    thresholds=[Thresholds(clean_accuracy=0.8)],
)
"""

MEAN, STD = 0.5, 0.5  # the model was trained on [-1, 1] inputs


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """The team's trained model file: Net trained on (x - 0.3) / 0.4 (normalised inputs)."""
    import sys

    from sklearn.datasets import load_digits

    ns: dict = {}
    exec(MYMODEL, ns)
    b = load_digits()
    x = (torch.from_numpy(b.images).float() / 16 - MEAN) / STD
    y = torch.from_numpy(b.target).long()
    g = torch.Generator().manual_seed(0)
    net = ns["Net"]()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x[:1400]), y[:1400]).backward()
        opt.step()
    path = tmp_path_factory.mktemp("model") / "weights.pt"
    torch.save(net.state_dict(), path)
    sys.modules.pop("mymodel", None)
    return path


def _repo(pytester, weights, classifier: str, normalize: str) -> list[str]:
    pytester.path.joinpath("mydata.py").write_text(MYDATA)
    pytester.path.joinpath("mymodel.py").write_text(MYMODEL)
    pytester.path.joinpath("weights.pt").write_bytes(weights.read_bytes())
    pytester.mkdir("gates")
    pytester.path.joinpath("gates", "team.py").write_text(
        SUITE.format(classifier=classifier, normalize=normalize)
    )
    pytester.makeini("[pytest]\nrobustcheck_suite_files = gates/*.py\npythonpath = .\n")
    return [
        "--robustcheck",
        "--robustcheck-scale=smoke",
        f"--robustcheck-cache-dir={pytester.path / 'cache'}",
        "-p",
        "no:cacheprovider",
    ]


def test_team_repository_gates_its_model_on_its_data(pytester, weights):
    args = _repo(pytester, weights, 'ModelFile(HERE / "weights.pt", factory=Net)', f"({MEAN}, {STD})")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=4)
    rec = json.loads(sorted((pytester.path / ".robustcheck" / "results").glob("*.json"))[-1].read_text())
    cases = rec["suites"]["team"]
    assert set(cases) == {
        f"{d}|fgsm|eps=0.1|{t}" for d in ("none", "feature-squeezing") for t in ("grey-box", "white-box")
    }
    for case in cases.values():
        m = case["measured"]
        assert m["dataset"]["id"] == "mydata.Digits" and m["dataset"]["input_shape"] == [1, 8, 8]
        assert m["dataset"]["num_classes"] == 10 and len(m["dataset"]["content_hash"]) == 16
        assert m["classifier"]["id"].startswith("file:") and m["classifier"]["id"].endswith(
            "factory=mymodel.Net"
        )
        assert m["classifier"]["normalize"] == [[MEAN], [STD]] and len(m["classifier"]["weights"]) >= 16
        assert case["metrics"]["clean_accuracy"] >= 0.8
    assert (
        cases["feature-squeezing|fgsm|eps=0.1|grey-box"]["measured"]["defence"]["name"] == "feature-squeezing"
    )


@pytest.mark.parametrize(
    "classifier,normalize,message",
    [
        ('ModelFile(HERE / "weights.pt", factory=Net)', "None", r"expects inputs in [-1, 1]"),
        (
            (
                "lambda: __import__('torch').nn.Sequential(__import__('torch').nn.Flatten(), "
                "__import__('torch').nn.Linear(784, 10))"
            ),
            "None",
            "cannot take a batch of the suite's data: shape N×1×8×8",
        ),
        ('"missing.pt"', "None", "does not exist"),
    ],
    ids=["undeclared normalisation", "wrong input shape", "missing file"],
)
def test_bad_model_is_one_clear_line(pytester, weights, classifier, normalize, message):
    args = _repo(pytester, weights, classifier, normalize)
    result = pytester.runpytest_subprocess(*args)
    out = result.stdout.str() + result.stderr.str()
    assert message in out, out
    assert "Traceback" not in out and "INTERNALERROR" not in out, out
    assert result.ret != 0
