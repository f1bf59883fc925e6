"""What the attack benchmarks share: the default suite's classifier and test digits on a device, and a
device synchronisation for timers."""

from __future__ import annotations

import dataclasses

import torch


def sync() -> None:
    """Wait for queued CUDA work, so a timer reads finished work (a no-op on the CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def load_model_and_data(cache_dir: str, n: int, device: str = "cpu", malloc: str = "keep"):
    """The default suite's classifier (``mnist-cnn`` on embedded MNIST, scale ``default``; trained on
    ``device``, or read from the content-keyed cache) and the first ``n`` test digits, all on ``device``.
    ``malloc``: the engine's setting (robustcheck.allocator), process-wide from here on."""
    from robustcheck.engine import Engine
    from suites.default import SUITE

    engine = Engine(device=device, scale="default", cache_dir=cache_dir, malloc=malloc)
    model = engine.classifier(SUITE).module
    x, y = engine.test_inputs(dataclasses.replace(SUITE, n_samples=n))
    return model, x, y
