"""The one seeded training loop of robustcheck: classifiers and trainable defences use :func:`train_loop`.

A run is deterministic for a given seed (on one torch thread count): the global RNG (initialisation,
dropout, noise drawn from it) and the shuffling generator are seeded, each epoch visits the examples in
the order of one ``torch.randperm`` of that generator, and the loss of a batch is whatever the caller's
``batch_loss`` computes (it may draw from the same generator). Epochs write progress lines
(:mod:`robustcheck.progress`: ``robustcheck: train <desc>: epoch i/n``).

Example:
    >>> model = nn.Linear(4, 2)
    >>> x, y = torch.rand(32, 4), torch.randint(0, 2, (32,))
    >>> _ = train_loop(model, lambda b: F.cross_entropy(model(b[0]), b[1]), (x, y), epochs=1, batch_size=8,
    ...         lr=1e-2, seed=0, desc="demo")
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.data import Split
from robustcheck.errors import ConfigError
from robustcheck.progress import progress

#: the optimisers :func:`train_loop` builds
OPTIMIZERS = ("adam", "sgd")


def seeded_batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Index tensors of one epoch: a ``torch.randperm(n)`` of ``generator`` cut into ``batch_size`` pieces."""
    perm = torch.randperm(n, generator=generator)
    return list(perm.split(batch_size))


def seeded(seed: int) -> torch.Generator:
    """Seed the global RNG with ``seed`` and return a new generator seeded with it: for a caller that
    initialises a network (from the global RNG) between seeding and :func:`train_loop`, or whose loss
    draws from the shuffling generator. ``train_loop(..., seed=seeded(s))`` trains as
    ``train_loop(..., seed=s)``."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _check(ok: bool, name: str, wanted: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"{name} must be {wanted}, got {value!r}")


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _check_arguments(
    data: Sequence[Tensor],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int | torch.Generator,
    optimizer: str,
    weight_decay: float,
    momentum: float,
    milestones: Sequence[int],
) -> int:
    """One :class:`ConfigError` naming the first bad argument; the number of examples otherwise."""
    _check(_is_int(epochs) and epochs >= 0, "epochs", "an int >= 0", epochs)
    _check(_is_int(batch_size) and batch_size >= 1, "batch_size", "an int >= 1", batch_size)
    _check(_is_number(lr) and lr > 0, "lr", "a finite number > 0", lr)
    _check(_is_int(seed) or isinstance(seed, torch.Generator), "seed", "an int or a torch.Generator", seed)
    _check(optimizer in OPTIMIZERS, "optimizer", f"one of {', '.join(map(repr, OPTIMIZERS))}", optimizer)
    _check(_is_number(weight_decay) and weight_decay >= 0, "weight_decay", "a number >= 0", weight_decay)
    _check(_is_number(momentum) and 0 <= momentum < 1, "momentum", "a number in [0, 1)", momentum)
    _check(
        isinstance(milestones, (tuple, list)) and all(_is_int(m) and m > 0 for m in milestones),
        "milestones",
        "a tuple of epoch numbers > 0",
        milestones,
    )
    _check(
        isinstance(data, (tuple, list)) and len(data) > 0 and all(isinstance(t, Tensor) for t in data),
        "data",
        "a non-empty tuple of tensors",
        [type(t).__name__ for t in data] if isinstance(data, (tuple, list)) else type(data).__name__,
    )
    rows = sorted({t.shape[0] if t.dim() else 0 for t in data})
    _check(len(rows) == 1 and rows[0] > 0, "data", "tensors with the same number (> 0) of rows", rows)
    return rows[0]


def train_loop(
    module: nn.Module,
    batch_loss: Callable[[tuple[Tensor, ...]], Tensor],
    data: Sequence[Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int | torch.Generator,
    desc: str,
    params: Callable[[], Iterable[nn.Parameter]] | None = None,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    milestones: Sequence[int] = (),
    device: torch.device | str | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
) -> nn.Module:
    """Train ``module`` by minimising ``batch_loss`` over shuffled mini-batches of ``data``; deterministic
    for a given seed. Returns ``module``, in eval mode.

    Args:
        module: what is trained; moved to ``device`` and put in train mode for the loop, eval mode after.
        batch_loss: the scalar loss of one batch: ``batch_loss((x_batch, y_batch, ...))``, the rows of
            each tensor of ``data`` at the batch's indices, on ``device``.
        data: tensors with one row per example (e.g. ``(x, y)`` or ``(x,)``); each stays where it is and
            only its batches move.
        epochs, batch_size, lr: the loop's length, the batch size and the learning rate.
        seed: an int seeds the global RNG and the shuffling generator; a ``torch.Generator`` (see
            :func:`seeded`) is the shuffling generator of a caller that seeded the global RNG itself.
        desc: the progress lines read ``train <desc>``.
        params: returns the parameters the optimiser updates, called once the module is on ``device``
            (default: ``module.parameters``).
        optimizer: ``"adam"`` or ``"sgd"`` (with ``momentum``); ``weight_decay`` for both.
        milestones: the learning rate is divided by 10 after each of these epochs.
        device: where the module and the batches go (None: leave the module where it is, batches on the
            data's device).
        on_epoch_end: called with the 1-based epoch number after each epoch (checkpoints).

    Raises:
        ConfigError: one sentence naming the first bad argument.
    """
    try:
        n = _check_arguments(
            data, epochs, batch_size, lr, seed, optimizer, weight_decay, momentum, milestones
        )
    except ConfigError as exc:
        raise ConfigError(f"training {desc}: {exc}") from None
    g = seed if isinstance(seed, torch.Generator) else seeded(int(seed))
    if device is not None:
        module.to(device)
    module.train()
    trained = list((module.parameters if params is None else params)())
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(trained, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(trained, lr=lr, momentum=momentum, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(milestones), gamma=0.1)
    for epoch in progress(range(epochs), desc=f"train {desc}", unit="epoch"):
        for idx in seeded_batches(n, batch_size, g):
            batch = tuple(t[idx.to(t.device)] for t in data)
            if device is not None:
                batch = tuple(t.to(device) for t in batch)
            opt.zero_grad(set_to_none=True)
            batch_loss(batch).backward()
            opt.step()
        sched.step()
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1)
    module.eval()
    return module


def train_classifier(
    model: nn.Module,
    train: Split,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    desc: str = "classifier",
    optimizer: str = "adam",
    momentum: float = 0.9,
    milestones: tuple[int, ...] = (),
) -> nn.Module:
    """Train ``model`` with cross-entropy on ``train`` (:func:`train_loop`); deterministic for a given seed.

    ``optimizer`` is ``"adam"`` (default) or ``"sgd"`` (with ``momentum``); the learning rate is divided
    by 10 at each epoch of ``milestones`` (ResNet-56 of 001 A.3: SGD 0.9, lr 0.01, /10 at 91, 136, 182).
    """
    return train_loop(
        model,
        lambda b: F.cross_entropy(model(b[0]), b[1]),
        (train.x, train.y),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        desc=desc,
        optimizer=optimizer,
        momentum=momentum,
        milestones=milestones,
        device=device,
    )
