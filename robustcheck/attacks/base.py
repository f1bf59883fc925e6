"""The attack base class: the loop lives here, subclasses implement one ``run()``.

``__call__`` validates inputs (in [0, 1], finite), handles ε lists (fixed-ε attacks run once per ε,
minimisation attacks run once and are projected onto each ε-ball), batches, seeds, clips to [0, 1]
and returns the adversarial points with their success masks. The engine independently re-checks
every output against the budget, [0, 1] and NaN (``metrics.budget_violations``).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, final

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from robustcheck.errors import ConfigError, ModelContractError
from robustcheck.models.contract import looks_like_probabilities
from robustcheck.norms import Norm, project
from robustcheck.progress import Stage
from robustcheck.validation import check_eps

NORMS = tuple(n.value for n in Norm)  # the names a norm is given by


@dataclass
class AttackResult:
    eps: float
    x_adv: Tensor
    success: Tensor  # bool per example: misclassified (untargeted) or reached the target (targeted)
    unbounded_success: Tensor | None = None  # minimisation attacks: success before projection


class BaseAttack(ABC):
    """Base of every attack.

    Subclasses declare what they are with the class attributes below (the engine, the threat models and
    the integrity indicators read them; nothing looks an attack up by name) and implement :meth:`run`.
    Keyword-only constructor arguments are the attack's parameters (validated against the signature by
    the registry).
    """

    name: ClassVar[str] = "attack"
    #: The perturbation norm of the budget ε.
    norm: ClassVar[Norm] = Norm.LINF
    #: Minimises the perturbation (CW, DeepFool): runs once, unbounded, and is projected onto each ε.
    minimization: ClassVar[bool] = False
    #: Queries outputs only, never gradients: runs on the defended pipeline's outputs in black-box, and
    #: its ``steps`` are queries (the scale's cap on gradient iterations does not apply).
    gradient_free: ClassVar[bool] = False
    #: One gradient step (FGSM-like).
    single_step: ClassVar[bool] = False
    #: Registered name of the single-step attack this iterative attack must be at least as strong as
    #: (the ``iterative_weaker`` indicator), or None.
    single_step_version: ClassVar[str | None] = None
    #: Detector-aware (adaptive): needs the defence's parts, an :class:`~robustcheck.attacks.targets.
    #: AdaptiveTarget`, instead of a plain model; has no black-box form.
    detector_aware: ClassVar[bool] = False
    #: Draws random perturbations with no objective (a baseline, e.g. ``random-noise``): the
    #: ``noise_as_strong`` indicator compares the other attacks against such noise, not noise against itself.
    noise: ClassVar[bool] = False
    supports_targeted: ClassVar[bool] = True

    def __init__(self, *, targeted: bool = False, seed: int = 0, batch_size: int = 250) -> None:
        self.targeted = bool(targeted)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        if self.batch_size <= 0:
            raise ConfigError(f"attack {self.name!r}: batch_size must be positive, got {batch_size!r}")
        if self.targeted and not self.supports_targeted:
            raise ConfigError(f"attack {self.name!r} has no targeted variant; drop targeted=True")

    @abstractmethod
    def run(self, model: nn.Module, x: Tensor, y: Tensor, eps: float | None, target: Tensor | None) -> Tensor:
        """Return adversarial points for one batch (``eps`` is None for minimisation attacks)."""

    @final
    def __call__(
        self,
        model: nn.Module,
        x: Tensor,
        y: Tensor,
        eps: float | Sequence[float],
        *,
        target: Tensor | None = None,
    ) -> list[AttackResult]:
        eps_list = check_eps(eps, f"attack {self.name!r}")
        model = hookable(model)  # a TorchScript model: in a module that takes the guard's hook
        self._check_inputs(x, y, target)
        self._refuse_probabilities(model, x)
        results: dict[float, list[Tensor]] = {e: [] for e in eps_list}
        unbounded: list[Tensor] = []
        # Third-party attack code (torchattacks restores the *wrapper's* training flag, recursively) may
        # flip train/eval modes; every module's own flag is restored on the way out, else dropout stays on.
        modes = [(m, m.training) for m in model.modules()]
        guard = _FiniteGuard(model)
        with (
            torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []),
            _restore_modes(modes),
            guard,
        ):
            torch.manual_seed(self.seed)
            batches = range(0, x.shape[0], self.batch_size)
            # one progress line per stage (robustcheck.progress): quiet in CI, under -q, on xdist workers
            stage = Stage(
                f"attack {self.name} ε={','.join(f'{e:g}' for e in eps_list)}",
                len(batches) * (1 if self.minimization else len(eps_list)),
                "batch",
            )
            for start in batches:
                xb = x[start : start + self.batch_size]
                yb = y[start : start + self.batch_size]
                tb = None if target is None else target[start : start + self.batch_size]
                if self.minimization:
                    x_free = self.run(model, xb, yb, None, tb).detach().clamp(0, 1)
                    unbounded.append(self._success(model, x_free, yb, tb))
                    for e in eps_list:
                        results[e].append((xb + project(x_free - xb, e, self.norm)).clamp(0, 1))
                    stage.step()
                else:
                    for e in eps_list:
                        x_adv = self.run(model, xb, yb, e, tb).detach().clamp(0, 1)
                        results[e].append(x_adv)
                        stage.step()
            successes = {
                e: self._success(model, torch.cat(results[e]) if results[e] else x.clone(), y, target)
                for e in eps_list
            }
        guard.raise_if_bad(self.name)
        out = []
        for e in eps_list:
            x_adv = torch.cat(results[e]) if results[e] else x.clone()
            out.append(
                AttackResult(
                    eps=e,
                    x_adv=x_adv,
                    success=successes[e],
                    unbounded_success=torch.cat(unbounded) if unbounded else None,
                )
            )
        return out

    def _check_inputs(self, x: Tensor, y: Tensor, target: Tensor | None) -> None:
        if not torch.is_floating_point(x):
            raise ConfigError(f"attack {self.name!r}: inputs must be floating point in [0, 1], got {x.dtype}")
        if not torch.isfinite(x).all():
            raise ConfigError(f"attack {self.name!r}: inputs contain NaN or inf")
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ConfigError(
                f"attack {self.name!r}: inputs must lie in [0, 1] (got min {x.min().item():.3g}, "
                f"max {x.max().item():.3g}); put normalisation inside the model"
            )
        if y.shape[0] != x.shape[0]:
            raise ConfigError(f"attack {self.name!r}: {x.shape[0]} inputs but {y.shape[0]} labels")
        if self.targeted and target is None:
            raise ConfigError(f"attack {self.name!r} is targeted: pass target labels")

    @torch.no_grad()
    def _refuse_probabilities(self, model: nn.Module, x: Tensor) -> None:
        """Margin losses (CW, DeepFool, best-iterate tracking) and KL scores need logits: a model that
        returns probabilities makes the attack weak, so it is an error (EVALUATION.md)."""
        if x.shape[0] == 0:
            return
        out = query_model(model, x[: min(32, x.shape[0])])[0]
        if isinstance(out, Tensor) and out.dim() == 2 and looks_like_probabilities(out.float().cpu()):
            raise ModelContractError(
                f"attack {self.name!r}: the model returns probabilities (rows in [0, 1] summing to 1), not "
                f"logits; margin losses would be invalid and the attack weak. Return logits, or wrap the "
                f"model in robustcheck.models.LogProbabilities (Suite(outputs='probabilities') does it "
                f"for you)"
            )

    @torch.no_grad()
    def _success(self, model: nn.Module, x_adv: Tensor, y: Tensor, target: Tensor | None) -> Tensor:
        """Misclassified (or on target) **and** not flagged, where the model is a black-box oracle that
        reports flags (:func:`query_model`)."""
        preds, flags = [], []
        for i in range(0, x_adv.shape[0], self.batch_size):
            logits, flagged = query_model(model, x_adv[i : i + self.batch_size])
            preds.append(logits.argmax(1))
            if flagged is not None:
                flags.append(flagged)
        pred = torch.cat(preds) if preds else torch.empty(0, dtype=torch.long, device=x_adv.device)
        ok = pred == target if self.targeted and target is not None else pred != y
        return ok & ~torch.cat(flags) if flags else ok

    def loss_sign(self) -> float:
        """+1 to ascend the loss of the true class (untargeted), -1 to descend towards the target."""
        return -1.0 if self.targeted else 1.0


class HookableScript(nn.Module):
    """A TorchScript module (``torch.jit.script`` / ``torch.jit.load``), which refuses Python forward hooks,
    inside an ordinary module that takes them; same outputs and gradients."""

    def __init__(self, scripted: nn.Module) -> None:
        super().__init__()
        self.scripted = scripted

    def forward(self, x: Tensor) -> Any:
        return self.scripted(x)


def hookable(model: nn.Module) -> nn.Module:
    """``model``, or a TorchScript ``model`` wrapped in :class:`HookableScript` (the attacks' NaN guard and
    the integrity checks hook the attacked model)."""
    return HookableScript(model) if isinstance(model, torch.jit.ScriptModule) else model


def query_model(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor | None]:
    """(logits, flagged or None): a black-box oracle (``robustcheck.threat.DefendedLogits``) reports
    whether its detector flagged each input; a plain model reports nothing (None)."""
    query = getattr(model, "query", None)
    if callable(query):
        logits, flagged = query(x)
        return logits, flagged
    return model(x), None


class _FiniteGuard:
    """Counts attack queries whose model output held NaN or inf (a forward hook on the attacked model);
    such an attack's result is not a number to report (the model breaks off the data manifold). A
    TorchScript module takes no Python hooks: the caller passes it through :func:`hookable` first."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.bad, self.calls = model, 0, 0
        self._handle: RemovableHandle | None = None

    def _hook(self, module: nn.Module, args: Any, out: Any) -> None:
        if isinstance(out, Tensor):
            self.calls += 1
            if not bool(torch.isfinite(out.detach()).all()):
                self.bad += 1

    def __enter__(self) -> _FiniteGuard:
        self._handle = self.model.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._handle is not None:
            self._handle.remove()

    def raise_if_bad(self, attack: str) -> None:
        if self.bad:
            raise ModelContractError(
                f"attack {attack!r}: the attacked model returned NaN or inf logits on {self.bad} of "
                f"{self.calls} forward passes during the attack (off the data manifold); the attack's "
                f"result is meaningless. Make the model finite on every input in [0, 1] (e.g. clamp before "
                f"log/div)"
            )


@torch.no_grad()
def batched_predict(model: nn.Module, x: Tensor, batch_size: int = 500) -> Tensor:
    outs = [model(x[i : i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(outs) if outs else torch.empty(0, dtype=torch.long, device=x.device)


def margin(logits: Tensor, y: Tensor) -> Tensor:
    """max_{j≠y} z_j − z_y: positive exactly when the example is misclassified."""
    true = logits.gather(1, y.view(-1, 1)).squeeze(1)
    other = logits.clone()
    other.scatter_(1, y.view(-1, 1), -math.inf)
    return other.amax(1) - true


def params_with_source(cls: type) -> dict[str, tuple[inspect.Parameter, Any]]:
    """{keyword parameter: (parameter, the ``__init__`` declaring it)} of an attack class, its own and its
    bases' (a subclass's declaration wins)."""
    out: dict[str, tuple[inspect.Parameter, Any]] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind is inspect.Parameter.KEYWORD_ONLY:
                out[p.name] = (p, init)
    return out


def accepted_params(cls: type) -> dict[str, inspect.Parameter]:
    """Keyword parameters accepted by an attack class (its own and the base's)."""
    return {k: p for k, (p, _) in params_with_source(cls).items()}


def check_positive(name: str, value: object, *, integer: bool = False, allow_zero: bool = False) -> None:
    """Raise one clear :class:`ConfigError` unless ``value`` is a positive (or ≥ 0) int / number."""
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    ok = ok_type and not isinstance(value, bool) and math.isfinite(value)  # type: ignore[arg-type]
    if not ok or not (value >= 0 if allow_zero else value > 0):  # type: ignore[operator]
        kind = "int" if integer else "number"
        raise ConfigError(
            f"{name} must be a {'non-negative' if allow_zero else 'positive'} {kind}, got {value!r}"
        )


def eps_to_float(eps: Any) -> float:
    e = float(eps)
    if math.isnan(e) or e < 0:
        raise ConfigError(f"eps must be a non-negative number, got {eps!r}")
    return e


@contextlib.contextmanager
def _restore_modes(modes: list[tuple[nn.Module, bool]]) -> Iterator[None]:
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
