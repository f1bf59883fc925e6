"""The user's classifier in any form ``Suite(classifier=...)`` accepts, and declared preprocessing.

Forms: a registered name; a factory (no arguments) returning an ``nn.Module``; an ``nn.Module``
instance (used as it is; robustcheck works on a private copy); a model file — a TorchScript archive
(``torch.jit.save``), a ``torch.export`` program (``torch.export.save``, ``.pt2``), or a state dict plus
the factory that builds the module (:class:`ModelFile`). Files are read with ``weights_only=True``: a
pickled module (``torch.save(model)``) is refused, as loading it would run arbitrary code.

Preprocessing is part of the model contract: every attack works in [0, 1] pixel space so that ε keeps
its meaning, and a model trained on normalised inputs declares it with ``Suite(normalize=(mean, std))``
(:class:`Normalized` wraps the model so it receives ``(x - mean) / std``).
"""

from __future__ import annotations

import copy
import io
import math
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from robustcheck.errors import ConfigError, ModelContractError

MODEL_SUFFIXES = (".pt", ".pth", ".pt2", ".ts", ".torchscript", ".ckpt", ".bin")


@dataclass(frozen=True)
class ModelFile:
    """A classifier saved to a file: TorchScript or ``torch.export`` (``factory=None``), or a state dict
    loaded into ``factory()``.

    Example::

        Suite(..., classifier=ModelFile("artifacts/model.pt"))                  # TorchScript / export
        Suite(..., classifier=ModelFile("artifacts/weights.pt", factory=Net))    # state dict + class
    """

    path: str | os.PathLike[str]
    factory: Callable[[], nn.Module] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)):
            raise ConfigError(f"ModelFile: path must be a str or os.PathLike, got {self.path!r}.")
        if self.factory is not None and (not callable(self.factory) or isinstance(self.factory, nn.Module)):
            raise ConfigError(
                f"ModelFile({os.fspath(self.path)!r}): factory must be a callable building the module "
                f"(a class or function), got {self.factory!r}."
            )

    @property
    def identity(self) -> str:
        f = self.factory
        fac = (
            ""
            if f is None
            else f", factory={getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', '?')}"
        )
        return f"file:{os.fspath(self.path)}{fac}"

    def load(self) -> nn.Module:
        path = Path(self.path)
        if not path.is_file():
            raise ConfigError(
                f"classifier file {str(path)!r} does not exist (relative paths are resolved from the "
                f"working directory {os.getcwd()!r})."
            )
        raw = path.read_bytes()
        if self.factory is not None:
            return self._state_dict_into_factory(raw)
        kind = _archive_kind(raw)
        if kind == "export":
            try:
                return _Exported(torch.export.load(io.BytesIO(raw)).module())
            except Exception as exc:
                raise ConfigError(
                    f"classifier file {str(path)!r}: cannot load the torch.export program: {exc}"
                ) from None
        if kind == "torchscript":
            try:
                return torch.jit.load(io.BytesIO(raw), map_location="cpu")
            except Exception as exc:
                raise ConfigError(
                    f"classifier file {str(path)!r}: cannot load the TorchScript archive: {exc}"
                ) from None
        state = _weights_only(raw, path)
        if isinstance(state, dict):
            raise ConfigError(
                f"classifier file {str(path)!r} holds a state dict, which needs the module it belongs "
                f"to: give ModelFile({str(path)!r}, factory=<the class or function building the "
                f"model>)."
            )
        raise ConfigError(
            f"classifier file {str(path)!r} is neither TorchScript, a torch.export program nor a state "
            f"dict (it holds {type(state).__name__})."
        )

    def _state_dict_into_factory(self, raw: bytes) -> nn.Module:
        path = Path(self.path)
        state = _weights_only(raw, path)
        if isinstance(state, dict):
            for k in ("state_dict", "model_state_dict", "model"):  # common checkpoint layouts
                if k in state and isinstance(state[k], dict):
                    state = state[k]
                    break
        if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
            raise ConfigError(
                f"classifier file {str(path)!r} does not hold a state dict of tensors; save it with "
                f"torch.save(model.state_dict(), path)."
            )
        assert self.factory is not None
        module = self.factory()
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"ModelFile({str(path)!r}): the factory returned {type(module).__name__}, not an nn.Module."
            )
        try:
            module.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise ConfigError(
                f"classifier file {str(path)!r} does not fit the module its factory builds: "
                f"{' '.join(line.strip() for line in first[:4])}"
            ) from None
        return module


class _Exported(nn.Module):
    """A ``torch.export`` program's module (which refuses ``train()``/``eval()``: it is always in the mode it
    was exported in) as an ordinary module."""

    def __init__(self, program_module: nn.Module) -> None:
        super().__init__()
        self.program = program_module

    def train(self, mode: bool = True) -> _Exported:
        self.training = mode  # the exported graph keeps the mode it was exported in
        return self

    def forward(self, x: Tensor) -> Tensor:
        return self.program(x)


def _archive_kind(raw: bytes) -> str | None:
    if not zipfile.is_zipfile(io.BytesIO(raw)):
        return None
    names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    if any("serialized_exported_program" in n or n.endswith("models/model.json") for n in names):
        return "export"
    if any(n.endswith("constants.pkl") for n in names) and any("/code/" in n for n in names):
        return "torchscript"
    return None


def _weights_only(raw: bytes, path: Path) -> Any:
    """``torch.load(weights_only=True)``; the error says which case it is from the file itself (a
    ``torch.save`` archive holding Python objects, or not a ``torch.save`` file at all), not from the
    wording of torch's message."""
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception:
        pass
    is_archive = zipfile.is_zipfile(io.BytesIO(raw)) and any(
        n.endswith("data.pkl") for n in zipfile.ZipFile(io.BytesIO(raw)).namelist()
    )
    if is_archive:
        raise ConfigError(
            f"classifier file {str(path)!r} holds pickled Python objects, not only tensors (saved "
            f"with torch.save(model)?); robustcheck loads files with weights_only=True and will not "
            f"unpickle code. Save the state dict and give ModelFile(path, factory=...), or save "
            f"TorchScript (torch.jit.save) or a torch.export program."
        )
    raise ConfigError(
        f"classifier file {str(path)!r} is not a file torch.save, torch.jit.save or torch.export.save wrote."
    )


def looks_like_path(spec: str) -> bool:
    return spec.endswith(MODEL_SUFFIXES) or os.sep in spec or "/" in spec


class Normalized(nn.Module):
    """``model((x - mean) / std)``: the declared preprocessing of a model trained on normalised inputs.
    Attacks see this module, so they perturb [0, 1] pixels and ε keeps its meaning."""

    mean: Tensor  # buffers (registered in __init__)
    std: Tensor

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor([float(m) for m in mean]).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor([float(s) for s in std]).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.model((x - self.mean) / self.std)


def check_normalize(normalize: object, where: str) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """Validate ``normalize=(mean, std)``: numbers or per-channel sequences, std > 0."""
    if normalize is None:
        return None
    if not isinstance(normalize, (tuple, list)) or len(normalize) != 2:
        raise ConfigError(
            f"{where}: normalize must be (mean, std), each a number or a per-channel sequence; got "
            f"{normalize!r}."
        )
    out = []
    for what, v in zip(("mean", "std"), normalize, strict=True):
        vals = (v,) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        if (
            not isinstance(vals, (tuple, list))
            or not vals
            or not all(
                isinstance(e, (int, float)) and not isinstance(e, bool) and math.isfinite(e) for e in vals
            )
        ):
            raise ConfigError(
                f"{where}: normalize {what} must be a finite number or a sequence of them (one per "
                f"channel); got {v!r}."
            )
        out.append(tuple(float(e) for e in vals))
    if any(s <= 0 for s in out[1]):
        raise ConfigError(f"{where}: normalize std must be > 0; got {out[1]}.")
    if len(out[0]) != len(out[1]) and 1 not in (len(out[0]), len(out[1])):
        raise ConfigError(
            f"{where}: normalize mean has {len(out[0])} values and std {len(out[1])}; give one per "
            f"channel, or one for all."
        )
    return out[0], out[1]


def private_module(module: nn.Module) -> nn.Module:
    """A copy of a user's module (eval mode and frozen parameters must not change the user's object)."""
    try:
        return copy.deepcopy(module)
    except Exception as exc:
        raise ModelContractError(
            f"the classifier instance cannot be copied ({exc}); give a factory instead, "
            f"Suite(classifier=lambda: model)."
        ) from None
