"""Fixtures shared by the test modules (the project-wide pytest settings are in the root conftest.py)."""

from __future__ import annotations

import pytest

from tests.helpers import trained_tiny


@pytest.fixture(scope="module")
def tiny():
    """(model, x_test, y_test): a tiny CNN trained on embedded-MNIST digits (tests.helpers.trained_tiny),
    one per test module. Modules that need another size override this fixture by name."""
    return trained_tiny()


@pytest.fixture(scope="module")
def data():
    """The embedded MNIST-5k splits."""
    from robustcheck.data import load_dataset

    return load_dataset("mnist-embedded")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A robustcheck cache folder shared by one module's runs (a warm cache across its tests)."""
    return tmp_path_factory.mktemp("rc-cache")


@pytest.fixture(scope="module")
def _preimport_optimizer_modules():
    """The first Adam step imports torch's compiler stack; doing it outside pytester's sys.modules
    snapshot keeps inline runs from importing it twice. Modules running pytester in-process use it
    with ``pytestmark = pytest.mark.usefixtures("_preimport_optimizer_modules")``."""
    import torch

    m = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(m.parameters())
    m(torch.ones(1, 2)).sum().backward()
    opt.step()
