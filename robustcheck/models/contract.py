"""The model contract: inputs in [0, 1], logits out, eval mode, deterministic, right number of classes."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from robustcheck.errors import ModelContractError


def frozen_eval(model: nn.Module, *, name: str = "classifier") -> nn.Module:
    """Put ``model`` in eval mode with frozen parameters; warn if the user left it training."""
    if model.training:
        warnings.warn(f"robustcheck: {name} was in training mode; switching it to eval()", stacklevel=2)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class LogProbabilities(nn.Module):
    """Wraps a classifier that returns softmax probabilities: outputs log p (clamped at 1e-30), which are
    valid logits — same argmax, softmax(log p) = p, and margin/CE losses are the ones the attacks expect.
    ``Suite(outputs="probabilities")`` applies it; use it directly with the library API."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x).clamp_min(1e-30).log()


def looks_like_probabilities(out: Tensor) -> bool:
    """Rows in [0, 1] that sum to 1: the model returns probabilities, not logits."""
    return bool(((out >= 0) & (out <= 1)).all() and torch.allclose(out.sum(1), torch.ones(out.shape[0]), atol=1e-4))


@torch.no_grad()
def check_classifier(model: nn.Module, x: Tensor, num_classes: int, *, name: str = "classifier") -> None:
    """Run the contract checks on a small batch; raise :class:`ModelContractError` on a breach."""
    out = model(x)
    if not isinstance(out, Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ModelContractError(f"{name} must return logits of shape (N, {num_classes}); got {shape}")
    if out.shape[1] != num_classes:
        raise ModelContractError(
            f"{name} outputs {out.shape[1]} classes but the dataset has {num_classes}"
        )
    if not torch.isfinite(out).all():
        raise ModelContractError(f"{name} outputs NaN or inf on clean inputs")
    if looks_like_probabilities(out.float().cpu()):
        raise ModelContractError(
            f"{name} returns probabilities (rows in [0, 1] summing to 1), not logits: margin losses (CW, "
            f"DeepFool), best-iterate tracking and KL scores would be wrong. Return logits, or declare it with "
            f"Suite(outputs='probabilities') (library API: wrap it in robustcheck.models.LogProbabilities)"
        )
    again = model(x)
    if not torch.allclose(out, again, atol=1e-5, rtol=1e-4):
        warnings.warn(
            f"robustcheck: {name} is not deterministic (two forward passes differ); gradients need EOT",
            stacklevel=2,
        )
