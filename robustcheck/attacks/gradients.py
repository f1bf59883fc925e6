"""Loss gradients for the gradient attacks, with Expectation over Transformation (EOT) done right.

EOT (Athalye et al. 2018) estimates E_r[∇ₓ L(f_r(x), y)] over the randomness r of a stochastic defence
by averaging the gradients of the *loss* of ``n`` independent forward passes. Averaging the logits first
and differentiating the loss of the mean (what a plain ``EOT`` forward gives an attack) is a different,
biased quantity: the loss is not linear in the logits.

- :func:`loss_gradient` ``(model, x, loss_fn) -> (grad, logits)``: one forward/backward pass, or, when
  ``model`` is an EOT wrapper (any module exposing an int ``eot_samples`` > 1 and the wrapped ``module``,
  see :class:`robustcheck.threat.EOT`), ``eot_samples`` passes of the loss on the wrapped module with
  their gradients averaged; ``logits`` is the mean of the per-pass logits (detached), for best-iterate
  tracking.
- :func:`eot_gradient` is the same for any per-pass function (the detector-aware attacks use it with
  their own objective).
- :func:`fresh_randomness`: every EOT pass runs inside this context. A defence whose randomness is
  seeded for reproducible predictions (``predict`` uses the draw of its seed) draws *fresh* randomness
  from the global generator while the context is active (:func:`fresh_randomness_active`), so the
  passes sample the defence's distribution instead of repeating its seeded draw. The attacks seed the
  global generator (``BaseAttack.seed``), so the draws are reproducible and never depend on process
  history.

This module imports nothing from ``robustcheck.threat`` or ``defences`` (no import cycle): the EOT
wrapper is recognised by its attributes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

_FRESH: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "robustcheck_eot_fresh_randomness", default=False
)


@contextmanager
def fresh_randomness() -> Iterator[None]:
    """Inside: stochastic defences draw fresh randomness (global RNG) instead of their seeded draw."""
    token = _FRESH.set(True)
    try:
        yield
    finally:
        _FRESH.reset(token)


def fresh_randomness_active() -> bool:
    """True inside :func:`fresh_randomness` (an EOT pass): a stochastic defence must sample afresh."""
    return _FRESH.get()


def eot_parts(model: nn.Module) -> tuple[nn.Module, int]:
    """(module of one random pass, number of passes): the wrapped module and ``eot_samples`` for an EOT
    wrapper, ``(model, 1)`` for anything else."""
    n = getattr(model, "eot_samples", None)
    inner = getattr(model, "module", None)
    if isinstance(n, int) and not isinstance(n, bool) and n > 1 and isinstance(inner, nn.Module):
        return inner, n
    return model, 1


def eot_gradient(
    fn: Callable[[Tensor], tuple[Tensor, Sequence[Tensor]]],
    x: Tensor,
    samples: int = 1,
    *,
    need_grad: bool = True,
) -> tuple[Tensor | None, list[Tensor]]:
    """Mean over ``samples`` passes of ∇ₓ loss and of the auxiliary outputs, for ``fn(x) -> (loss, aux)``.

    ``loss`` is a scalar (sum the per-example losses: examples are independent, so its gradient holds each
    example's own gradient). With ``samples`` > 1 every pass runs under :func:`fresh_randomness`.
    Returns ``(grad or None when need_grad is False, [mean of each aux tensor, detached])``.
    """
    grad: Tensor | None = None
    aux_sum: list[Tensor] = []
    for _ in range(samples):
        xr = x.detach().clone().requires_grad_(need_grad)
        with torch.enable_grad():
            if samples > 1:
                with fresh_randomness():
                    loss, aux = fn(xr)
            else:
                loss, aux = fn(xr)
            if need_grad:
                (g,) = torch.autograd.grad(loss, xr)
                grad = g if grad is None else grad + g
        aux_d = [a.detach() for a in aux]
        aux_sum = aux_d if not aux_sum else [s + a for s, a in zip(aux_sum, aux_d, strict=True)]
    if grad is not None and samples > 1:
        grad = grad / samples
    return grad, [a / samples for a in aux_sum] if samples > 1 else aux_sum


def loss_gradient(model: nn.Module, x: Tensor, loss_fn: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """``(∇ₓ loss_fn(model(x)), logits)``; for an EOT wrapper, both averaged over its passes (module doc).

    ``loss_fn`` maps a batch of logits to a scalar (e.g. ``cross_entropy(..., reduction="sum")``).
    """
    inner, n = eot_parts(model)

    def one_pass(xr: Tensor) -> tuple[Tensor, list[Tensor]]:
        logits = inner(xr)
        return loss_fn(logits), [logits]

    grad, (logits,) = eot_gradient(one_pass, x, n)
    assert grad is not None
    return grad, logits
