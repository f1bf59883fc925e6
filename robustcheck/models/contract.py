"""The model contract: inputs in [0, 1], logits out, eval mode, deterministic, right number of classes."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

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
    return bool(
        ((out >= 0) & (out <= 1)).all() and torch.allclose(out.sum(1), torch.ones(out.shape[0]), atol=1e-4)
    )


@torch.no_grad()
def check_classifier(model: nn.Module, x: Tensor, num_classes: int, *, name: str = "classifier") -> None:
    """Run the contract checks on a small batch; raise :class:`ModelContractError` on a breach."""
    out = model(x)
    if not isinstance(out, Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ModelContractError(f"{name} must return logits of shape (N, {num_classes}); got {shape}")
    if out.shape[1] != num_classes:
        raise ModelContractError(f"{name} outputs {out.shape[1]} classes but the dataset has {num_classes}")
    if not torch.isfinite(out).all():
        raise ModelContractError(f"{name} outputs NaN or inf on clean inputs")
    if looks_like_probabilities(out.float().cpu()):
        raise ModelContractError(
            f"{name} returns probabilities (rows in [0, 1] summing to 1), not logits: margin losses (CW, "
            f"DeepFool), best-iterate tracking and KL scores would be wrong. Return logits, or declare it "
            f"with Suite(outputs='probabilities') (library API: wrap it in "
            f"robustcheck.models.LogProbabilities)"
        )
    again = model(x)
    if not torch.allclose(out, again, atol=1e-5, rtol=1e-4):
        raise ModelContractError(
            f"{name} is not deterministic: two forward passes in eval mode over the same inputs differ. "
            f"Attacks on a randomized model need EOT (averaged gradients): make the classifier deterministic "
            f"and put the randomness in a defence that declares stochastic = True."
        )


def _shape(t: Tensor) -> str:
    return "×".join(map(str, t.shape[1:]))


@torch.no_grad()
def check_input_fits(
    model: nn.Module,
    x: Tensor,
    num_classes: int,
    *,
    name: str = "classifier",
    normalize: tuple[Sequence[float], Sequence[float]] | None = None,
) -> None:
    """One forward pass on a batch of the suite's data, before any training or attack: a model that does
    not take the data's shape, or does not return ``num_classes`` logits, gets one error naming the input
    it was given, the classes the data has and what the model did."""
    expected = (
        f"a batch of the suite's data: shape N×{_shape(x)}, float in [0, 1]"
        + ("" if normalize is None else " before the declared normalize")
        + f"; the data has {num_classes} classes (labels 0–{num_classes - 1})"
    )
    if normalize is not None:
        from robustcheck.models.sources import Normalized

        model = Normalized(model, *normalize)
    try:
        out = model(x.to(next(iter(model.parameters()), x).device))
    except Exception as exc:
        detail = " ".join(str(exc).strip().split())[:300]
        raise ModelContractError(
            f"{name} cannot take {expected}. The forward pass raised {type(exc).__name__}: {detail}"
        ) from None
    if not isinstance(out, Tensor):
        raise ModelContractError(
            f"{name} returned {type(out).__name__} for {expected}; it must return a tensor of "
            f"logits of shape (N, {num_classes})."
        )
    if out.dim() != 2 or out.shape[0] != x.shape[0] or out.shape[1] != num_classes:
        raise ModelContractError(
            f"{name} returned shape {tuple(out.shape)} for {expected}; expected logits of "
            f"shape ({x.shape[0]}, {num_classes})."
        )
    if not out.is_floating_point():
        raise ModelContractError(f"{name} returned {out.dtype} values; logits must be floating point.")


#: candidate preprocessings a model trained elsewhere may expect: (what, normalize)
def _candidates(x: Tensor) -> list[tuple[str, tuple[tuple[float, ...], tuple[float, ...]]]]:
    dims = [0, 2, 3]
    mean = tuple(float(m) for m in x.mean(dims))
    std = tuple(max(float(s), 1e-3) for s in x.std(dims))
    return [
        ("inputs in 0–255", ((0.0,), (1 / 255,))),
        ("inputs in [-1, 1]", ((0.5,), (0.5,))),
        (
            "inputs standardised with the data's per-channel mean and std",
            (tuple(round(m, 4) for m in mean), tuple(round(s, 4) for s in std)),
        ),
    ]


@torch.no_grad()
def check_preprocessing(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    *,
    name: str = "classifier",
    normalize: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
    margin: float = 0.05,
) -> None:
    """A user's model fed the wrong pixel scale runs silently at lower accuracy. On a validation batch,
    compare its accuracy on what it is given (``[0, 1]`` pixels, or the declared ``normalize``) with its
    accuracy under the usual alternatives; if one is better by ``margin`` or more, the declared
    preprocessing is wrong: one error saying which and what to declare. A weak or untrained model is not
    flagged (no alternative helps it clearly)."""
    from robustcheck.models.sources import Normalized

    model = model.eval()
    dev = next(iter(model.parameters()), x).device
    x, y = x.to(dev), y.to(dev)

    def acc(m: nn.Module) -> float:
        return float((m(x).argmax(1) == y).float().mean())

    base = acc(model)
    inner = model.model if isinstance(model, Normalized) else model  # the user's module, undeclared
    options: list[tuple[str, Any]] = [] if normalize is None else [("inputs in [0, 1] (no normalize)", None)]
    options += [(w, n) for w, n in _candidates(x) if normalize is None or n != normalize]
    scored = [(acc(inner if n is None else Normalized(inner, *n)), what, n) for what, n in options]
    if not scored:
        return
    alt, what, n = max(scored, key=lambda t: t[0])  # the preprocessing the model does best under
    # clearly better: by ``margin`` and with at most 60 % of the errors (a weak or random model whose
    # accuracy merely wobbles under another scale is not flagged)
    if alt >= base + margin and (1 - alt) <= 0.6 * (1 - base):
        declared = "[0, 1] pixels" if normalize is None else f"normalize={_fmt(normalize)}"
        fix = "drop normalize" if n is None else f"declare Suite(normalize={_fmt(n)})"
        raise ModelContractError(
            f"{name}: accuracy on a validation batch is {base:.2f} when given {declared} but {alt:.2f} with "
            f"{what}, so the model expects {what}. Attacks work in [0, 1] pixel space so that ε keeps its "
            f"meaning: {fix} and the model receives its preprocessing as part of the model. If the model "
            f"really takes {declared} (an undertrained model can score higher under another scale by "
            f"chance), set Suite(preprocessing_check=False)."
        )


def _fmt(normalize: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    def one(v: tuple[float, ...]) -> str:
        if len(v) == 1:
            return "1 / 255" if abs(v[0] - 1 / 255) < 1e-12 else f"{v[0]:g}"
        return "(" + ", ".join(f"{e:g}" for e in v) + ")"

    return f"({one(normalize[0])}, {one(normalize[1])})"
