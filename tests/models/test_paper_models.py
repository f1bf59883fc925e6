"""Appendix A.2/A.3 classifiers, the A.3 autoencoder, SGD schedules, and skipping suites without data."""

from __future__ import annotations

import pytest
import torch

from robustcheck.data import Split, load_dataset
from robustcheck.defences import DEFENCES
from robustcheck.errors import ConfigError, DataUnavailableError
from robustcheck.models import CLASSIFIERS, train_classifier
from robustcheck.models.cifar import PerImageStandardize


@pytest.mark.parametrize(
    ("name", "shape"),
    [("fashion-mnist-cnn", (1, 28, 28)), ("cifar10-cnn", (3, 32, 32)), ("cifar10-resnet56", (3, 32, 32))],
)
def test_classifier_shapes(name, shape):
    model = CLASSIFIERS.get(name)().factory().eval()
    assert model(torch.rand(2, *shape)).shape == (2, 10)


def test_resnet56_depth_and_standardisation():
    model = CLASSIFIERS.get("cifar10-resnet56")().factory()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) + 1 == 56  # 55 3×3 convolutions + the final dense layer
    x = torch.rand(3, 3, 32, 32) * 0.5 + 0.2
    z = PerImageStandardize()(x)
    assert torch.allclose(z.flatten(1).mean(1), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.flatten(1).std(1, unbiased=False), torch.ones(3), atol=1e-4)
    assert torch.equal(PerImageStandardize()(torch.full((1, 3, 4, 4), 0.3)), torch.zeros(1, 3, 4, 4))


def test_sgd_schedule_divides_lr_at_milestones():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    split = Split(torch.rand(8, 1, 2, 2), torch.randint(0, 2, (8,)))
    seen = []
    orig = torch.optim.SGD.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return orig(self, *a, **k)

    torch.optim.SGD.step = spy
    try:
        train_classifier(model, split, epochs=3, batch_size=8, lr=0.1, optimizer="sgd", milestones=(1, 2))
    finally:
        torch.optim.SGD.step = orig
    assert seen == pytest.approx([0.1, 0.01, 0.001])
    with pytest.raises(ConfigError, match="optimizer"):
        train_classifier(model, split, epochs=1, optimizer="rmsprop")


def test_cifar_autoencoder_and_paper_hidden_layers():
    from suites.paper_cifar10 import SUITE_CNN, SUITE_RESNET

    for suite in (SUITE_CNN, SUITE_RESNET):
        clf = CLASSIFIERS.get(suite.classifier)().factory().eval()
        [spec] = [s for s in suite.defences if "hidden_layer" in s.params]
        d = DEFENCES.get(spec.name)(**spec.params).bind(clf)  # the named layer exists; head built
        with torch.no_grad():
            assert d.purify(torch.rand(2, 3, 32, 32)).shape == (2, 3, 32, 32)
            assert torch.isfinite(d.training_loss(torch.rand(2, 3, 32, 32)))
    with pytest.raises(ConfigError, match="3×32×32"):
        DEFENCES.get("ae-kl")(architecture="cifar10").check_input_shape((1, 28, 28))


def test_missing_data_root_is_data_unavailable(tmp_path):
    with pytest.raises(DataUnavailableError, match="data-root"):
        load_dataset("cifar10")
    with pytest.raises(DataUnavailableError, match="does not exist"):
        load_dataset("fashion-mnist", root=tmp_path / "nope")
    assert issubclass(DataUnavailableError, ConfigError)
