"""Tiny models and data shared by the tests."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robustcheck.evaluate import evaluate as evaluate_case


def tiny_cnn(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, num_classes)
    )


def trained_tiny(
    n: int = 600, epochs: int = 3, seed: int = 0
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A tiny CNN trained on the first ``n`` embedded-MNIST training digits; returns
    (model, x_test, y_test)."""
    from robustcheck.data import load_dataset
    from robustcheck.models import train_classifier
    from robustcheck.models.contract import frozen_eval

    data = load_dataset("mnist-embedded")
    torch.manual_seed(seed)
    model = tiny_cnn()
    train_classifier(model, data.train.subset(n), epochs=epochs, seed=seed)
    return frozen_eval(model), data.test.x[:100], data.test.y[:100]


def evaluate_suite(cache_dir, suite):
    """Evaluate every case of ``suite`` on a CPU engine at scale smoke with its disk cache in ``cache_dir``:
    ``(engine, suite, {case id: (case, result)}, cache_dir)``, the shape the engine tests share."""
    from robustcheck.engine import Engine

    engine = Engine(device="cpu", scale="smoke", cache_dir=str(cache_dir))
    return engine, suite, {c.id: (c, evaluate_case(engine, c)) for c in suite.cases()}, cache_dir


def run_suite_subprocess(
    pytester, suite_source: str, name: str, *extra: str, scale: str = "smoke", cache_dir=None, subprocess=True
):
    """Run ``pytest --robustcheck`` (at ``scale``, smoke by default) on a suite file ``gates/suite.py``
    holding ``suite_source``, with its results folder named after ``name`` and its own cache folder (a cold
    run, as on another machine) unless ``cache_dir`` is given; in a subprocess unless ``subprocess`` is
    False: ``(result, sorted record paths)``."""
    pytester.path.joinpath("gates").mkdir(exist_ok=True)
    pytester.path.joinpath("gates", "suite.py").write_text(suite_source)
    pytester.makeini("[pytest]\nrobustcheck_suite_files = gates/*.py\n")
    results = pytester.path / f"results-{name}"
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    r = run(
        "--robustcheck",
        f"--robustcheck-scale={scale}",
        "-p",
        "no:cacheprovider",
        f"--robustcheck-cache-dir={cache_dir or pytester.path / f'cache-{name}'}",
        f"--robustcheck-results-dir={results}",
        *extra,
    )
    return r, sorted(results.glob("*.json"))


def write_idx(path, arr: np.ndarray) -> None:
    """``arr`` as an IDX file of unsigned bytes (the torchvision MNIST format)."""
    dims = arr.shape
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def fake_mnist(root, images: np.ndarray, labels: np.ndarray, n_test: int = 30) -> None:
    """A torchvision MNIST root under ``root``: ``images`` / ``labels`` as the training set, their first
    ``n_test`` as the test set."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", images)
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    write_idx(raw / "t10k-images-idx3-ubyte", images[:n_test])
    write_idx(raw / "t10k-labels-idx1-ubyte", labels[:n_test])
