"""Registry of reference classifiers: a factory plus the training hyper-parameters of the paper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from robustcheck.registry import Registry


@dataclass(frozen=True)
class ClassifierInfo:
    """A reference classifier: ``factory()`` builds it untrained (``factory(input_shape, num_classes)`` when
    ``sized``: any data shape); ``train`` holds its hyper-parameters."""

    name: str
    factory: Callable[..., nn.Module]
    train: dict[str, Any] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    sized: bool = False

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        return self.factory(tuple(input_shape), int(num_classes)) if self.sized else self.factory()


CLASSIFIERS: Registry[Callable[[], ClassifierInfo]] = Registry("classifier")


def register_classifier(
    name: str, *, train: dict[str, Any], datasets: tuple[str, ...], sized: bool = False
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def deco(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        info = ClassifierInfo(name, factory, dict(train), datasets, sized)
        CLASSIFIERS.register(name)(lambda: info)
        return factory

    return deco
