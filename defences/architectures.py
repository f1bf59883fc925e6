"""Networks sized from the data, shared by the trainable defences, and the ``architecture=`` plumbing.

Every trainable built-in defence builds its networks in :meth:`robustcheck.defences.base.BaseDefence.build`
from the input shape C×H×W and the number of classes. Its ``architecture`` argument is one of

- ``"auto"`` (default): the paper's architecture where one matches the shape (A.1 for 1×28×28, A.3 for
  3×32×32, Table 6.1 for c×28×28 / c×32×32 …, per defence), else the generic one below;
- the name of a paper architecture, which must fit the data (a :class:`~robustcheck.errors.ConfigError`
  otherwise);
- a callable returning the network(s); its signature is documented per defence (``docs/extending.md``,
  "Architectures"). Its ``__module__`` + ``__qualname__`` enter the defence's ``config()``, so the cache
  key changes with it.

Generic convolutional autoencoder (:func:`generic_encoder`, :func:`generic_decoder`): the smallest number
d ≥ 1 of stride-2 stages that brings the feature map to at most 4 on its longer side (8×8 → 4×4: d = 1;
12×20 → 2×3: d = 3; 28×28 → 4×4: d = 3). Encoder: d conv 3×3 stride 2 padding 1 (32, 64, 128, 256 …
channels, capped at 256) + ReLU, flatten, linear → code. Decoder: linear → the encoder's last feature
map + ReLU, d transposed conv 4×4 stride 2 padding 1 (mirrored channels, ReLU between), which give
2^d·⌈H/2^d⌉ ≥ H rows (likewise columns), a top-left crop to H×W, then the defence's output activation.
Works for any C×H×W, square or not, down to 1×1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.errors import ConfigError

Shape = tuple[int, int, int]


def fmt_shape(shape: tuple[int, ...] | None) -> str:
    """``(1, 28, 28)`` → ``"1×28×28"``."""
    return "an unknown shape" if shape is None else "×".join(str(int(s)) for s in shape)


def as_shape(defence: str, input_shape: Any) -> Shape:
    """``input_shape`` as a C×H×W tuple of positive ints, or a ConfigError in a whole sentence."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) <= 0:
        raise ConfigError(
            f"Defence {defence!r} takes images of shape C×H×W (three positive sizes), "
            f"but the data's input shape is {input_shape!r}."
        )
    return shape


def check_architecture(defence: str, architecture: Any, names: tuple[str, ...]) -> None:
    """At construction: ``architecture`` is ``"auto"``, one of ``names`` or a callable."""
    if callable(architecture) or (isinstance(architecture, str) and architecture in ("auto", *names)):
        return
    known = ", ".join(repr(n) for n in ("auto", *names))
    raise ConfigError(
        f"Defence {defence!r} got architecture={architecture!r}; use one of {known} or pass a "
        f"callable that returns the network."
    )


def architecture_id(architecture: Any) -> str:
    """A name as itself; a callable as ``module.qualname`` (what enters ``config()``)."""
    if isinstance(architecture, str):
        return architecture
    module = getattr(architecture, "__module__", None) or type(architecture).__module__
    qualname = getattr(architecture, "__qualname__", None) or type(architecture).__qualname__
    return f"{module}.{qualname}"


def with_architecture(
    cfg: dict[str, Any],
    built: str | None,
    architecture: Any,
    paper: str,
    input_shape: Shape | None,
    default_shape: Shape = (1, 28, 28),
) -> dict[str, Any]:
    """``cfg`` plus the architecture and input shape when they differ from the paper default (so the
    default keeps its cache key and any other network or shape changes it)."""
    built = built or architecture_id(architecture)
    if built != paper:
        cfg["architecture"] = built
    if input_shape != default_shape:
        cfg["input_shape"] = list(input_shape) if input_shape is not None else None
    return cfg


def shape_mismatch(defence: str, architecture: str, takes: str, got: tuple[int, ...]) -> ConfigError:
    """The error of a named architecture that does not fit the data, as one sentence."""
    return ConfigError(
        f"Defence {defence!r}: the {architecture!r} architecture takes {takes} inputs, but the "
        f"data has {fmt_shape(got)} inputs; set architecture='auto' (the generic network for "
        f"this shape) or pass a callable that builds one."
    )


def call_architecture(defence: str, architecture: Callable[..., Any], *args: Any, count: int = 1) -> Any:
    """Call a user's architecture callable and check that it returned ``count`` modules."""
    out = architecture(*args)
    items = out if count > 1 and isinstance(out, (tuple, list)) else (out,)
    if len(items) != count or not all(isinstance(m, nn.Module) for m in items):
        what = "an nn.Module" if count == 1 else f"a tuple of {count} nn.Modules"
        raise ConfigError(
            f"Defence {defence!r}: the architecture callable {architecture_id(architecture)} "
            f"must return {what}, but it returned {type(out).__name__}."
        )
    return out


class Unbuilt(nn.Module):
    """Stands for a network that :meth:`BaseDefence.build` has not created yet (a callable architecture
    is only called once the input shape is known)."""

    def __init__(self, defence: str) -> None:
        super().__init__()
        self.defence = defence

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(
            f"Defence {self.defence!r} has no network yet; call build(input_shape, num_classes) "
            f"or fit(ctx) first."
        )


class CropTo(nn.Module):
    """Keeps the top-left H×W of a feature map (the generic decoder may overshoot by a few pixels)."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: Tensor) -> Tensor:
        return x[..., : self.height, : self.width]

    def extra_repr(self) -> str:
        return f"{self.height}, {self.width}"


def _stages(height: int, width: int) -> list[tuple[int, int]]:
    """Feature-map sizes after each stride-2 stage (module doc)."""
    sizes: list[tuple[int, int]] = []
    h, w = height, width
    while not sizes or max(h, w) > 4:
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.append((h, w))
    return sizes


def _channels(depth: int) -> list[int]:
    return [min(32 * 2**i, 256) for i in range(depth)]


def generic_encoder(input_shape: Shape, out_features: int) -> nn.Sequential:
    """Generic convolutional encoder C×H×W → ``out_features`` (module doc)."""
    c, h, w = input_shape
    sizes = _stages(h, w)
    chans = _channels(len(sizes))
    layers: list[nn.Module] = []
    for c_in, c_out in zip([c, *chans[:-1]], chans, strict=True):
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
    fh, fw = sizes[-1]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(chans[-1] * fh * fw, out_features))


def _output(activation: str | None) -> list[nn.Module]:
    if activation is None:
        return []
    return [{"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]()]


def generic_decoder(latent: int, input_shape: Shape, activation: str | None = None) -> nn.Sequential:
    """Generic convolutional decoder ``latent`` → C×H×W, output ``activation`` None (linear),
    ``"sigmoid"`` or ``"tanh"`` (module doc)."""
    c, h, w = input_shape
    sizes = _stages(h, w)
    chans = _channels(len(sizes))
    fh, fw = sizes[-1]
    layers: list[nn.Module] = [
        nn.Linear(latent, chans[-1] * fh * fw),
        nn.ReLU(),
        nn.Unflatten(1, (chans[-1], fh, fw)),
    ]
    outs = [*reversed(chans[:-1]), c]
    for i, (c_in, c_out) in enumerate(zip(reversed(chans), outs, strict=True)):
        layers.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
        if i < len(outs) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, CropTo(h, w), *_output(activation))


def generic_autoencoder(input_shape: Shape, latent_dim: int, activation: str | None = None) -> nn.Sequential:
    """:func:`generic_encoder` to a ``latent_dim`` code, then :func:`generic_decoder` (one Sequential)."""
    encoder, decoder = (
        generic_encoder(input_shape, latent_dim),
        generic_decoder(latent_dim, input_shape, activation),
    )
    return nn.Sequential(*encoder, *decoder)


def pad_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Zero-pad the last two dims of ``x`` to ``size``, centred (extra pixel at the bottom/right)."""
    dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
    if dh < 0 or dw < 0:
        raise ConfigError(
            f"An input of {x.shape[-2]}×{x.shape[-1]} pixels does not fit a network built for "
            f"{size[0]}×{size[1]}; build the defence for this input shape."
        )
    if dh == dw == 0:
        return x
    return F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))


def crop_to(x: Tensor, size: tuple[int, ...]) -> Tensor:
    """The centred ``size`` (H, W) window of the last two dims of ``x`` (the inverse of :func:`pad_to`)."""
    h, w = int(size[-2]), int(size[-1])
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    return x[..., top : top + h, left : left + w]
