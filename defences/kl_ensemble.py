"""``ae-kl-ensemble``: KL autoencoders combined with the classifier in a weighted majority vote
(Vacanti & Van Looveren, seed 001 §4.3, eq 10–11).

White-box attacks on C∘AE_N transfer poorly to the same AE at an earlier checkpoint (001 §4.3), so the
members are checkpoints of one AE saved at chosen epochs and/or AEs of different architectures. For an
input flagged by the adversarial score (eq 6, computed with the primary member: the first architecture
at its last checkpoint) the label is the weighted vote

    y = argmax_i ( Σ_j w_j 1(h_j(x) = i) + (1 − Σ_j w_j) 1(C(x) = i) ),  h_j = C(AE_j(x))   (eq 10, 11)

Unflagged inputs get C(x). Ties (the paper is silent) go to the primary member's label when it is among
the tied classes, else to the smallest tied class index.

Architectures: ``"conv"`` is A.1 for 1×28×28, A.3's conv AE for 3×32×32 and otherwise the generic
convolutional AE of :mod:`robustcheck.defences.architectures`; ``"dense"`` is A.3's dense AE (one hidden layer
of 512 each side) sized from C×H×W; a callable ``architecture(input_shape: tuple[int, int, int]) ->
nn.Module`` returns one fresh autoencoder per call (called once per checkpoint when built, and once more,
under the seed ``ctx.seed + index``, for the network that is trained). :meth:`build` sizes the members from
the data.

White-box target (``attack_target``): ``"ensemble"`` (default, adaptive) differentiates the weighted
mean of the members' and the classifier's softmax outputs, a smooth surrogate of the vote;
``"primary"`` attacks C∘AE_primary only — the paper's transfer setting.

Example:
    >>> Defence("ae-kl-ensemble", checkpoints=[0.5, 1.0], architectures=["conv", "dense"])  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from robustcheck.defences.architectures import Shape, Unbuilt, architecture_id, as_shape, call_architecture
from robustcheck.defences.base import BaseDefence, FitContext, logits_with_labels
from robustcheck.defences.kl_autoencoder import AutoencoderKL, autoencoder_for, kl_divergence
from robustcheck.defences.registry import DEFENCES
from robustcheck.errors import ConfigError


def dense_autoencoder(latent_dim: int = 10, input_shape: Shape = (1, 28, 28)) -> nn.Module:
    """The dense AE of appendix A.3 (one hidden layer of 512 each side) sized for ``input_shape``."""
    n = math.prod(input_shape)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(n, 512),
        nn.ReLU(),
        nn.Linear(512, latent_dim),
        nn.Linear(latent_dim, 512),
        nn.ReLU(),
        nn.Linear(512, n),
        nn.Unflatten(1, tuple(input_shape)),
    )


def conv_autoencoder(latent_dim: int = 10, input_shape: Shape = (1, 28, 28)) -> nn.Module:
    """A.1 for 1×28×28, A.3's conv AE for 3×32×32, the generic conv AE otherwise."""
    return autoencoder_for(input_shape, latent_dim)


#: name → factory(latent_dim, input_shape)
ARCHITECTURES: dict[str, Callable[[int, Shape], nn.Module]] = {
    "conv": conv_autoencoder,
    "dense": dense_autoencoder,
}
DEFAULT_SHAPE: Shape = (1, 28, 28)
#: one member architecture: a name in :data:`ARCHITECTURES` or a callable ``(input_shape) -> nn.Module``
Architecture = str | Callable[[Shape], nn.Module]


def _returning(ae: nn.Module) -> Callable[[Shape], nn.Module]:
    """An architecture callable that hands over an autoencoder made (and seeded) elsewhere."""
    return lambda _shape: ae


def weighted_vote(
    member_labels: Tensor, classifier_labels: Tensor, weights: Tensor, num_classes: int
) -> Tensor:
    """Eq 10 for a batch.

    Args:
        member_labels: (M, N) labels h_j(x) of the M ensemble members; row 0 is the primary member.
        classifier_labels: (N,) labels C(x).
        weights: (M,) member weights w_j ≥ 0 with Σ w_j ≤ 1; the classifier gets 1 − Σ w_j.
        num_classes: number of classes.

    Returns:
        (N,) voted labels; ties go to the primary member's label if tied, else the smallest class.
    """
    m, n = member_labels.shape
    votes = torch.zeros(n, num_classes, dtype=torch.float64, device=member_labels.device)
    w = weights.to(votes)
    for j in range(m):
        votes.scatter_add_(1, member_labels[j].view(-1, 1), w[j].expand(n, 1))
    votes.scatter_add_(1, classifier_labels.view(-1, 1), (1.0 - w.sum()).expand(n, 1))
    top = votes.max(1, keepdim=True).values
    tied = votes >= top - 1e-9
    primary = member_labels[0]
    primary_tied = tied.gather(1, primary.view(-1, 1)).squeeze(1)
    first = tied.to(torch.int8).argmax(1)
    return torch.where(primary_tied, primary, first)


class _EnsembleTarget(nn.Module):
    """log of the weighted mean of softmax outputs: a differentiable surrogate of the eq 10 vote."""

    def __init__(self, defence: AutoencoderKLEnsemble) -> None:
        super().__init__()
        self.defence = defence

    def forward(self, x: Tensor) -> Tensor:
        d = self.defence
        clf = d.classifier
        probs = (1.0 - float(d.weights.sum())) * torch.softmax(clf(x), 1)
        for w, ae in zip(d.weights.tolist(), d.members, strict=True):
            probs = probs + w * torch.softmax(clf(ae(x)), 1)
        return probs.clamp_min(1e-12).log()


@DEFENCES.register("ae-kl-ensemble")
class AutoencoderKLEnsemble(BaseDefence):
    """Ensemble of KL autoencoders (checkpoints × architectures) with the eq 10 vote on flagged inputs.

    Args:
        checkpoints: epochs at which each architecture's AE is saved as a member: ints ≥ 1 are epochs,
            floats in (0, 1] fractions of the training epochs (rounded up). The last one is the primary.
        architectures: AE architectures, each trained once with the eq 5 loss: ``"conv"`` (A.1 / A.3 /
            generic conv AE, by shape), ``"dense"`` (A.3's dense AE sized from C×H×W) or a callable
            ``architecture(input_shape: tuple[int, int, int]) -> nn.Module`` (see the module docstring).
        weights: member weights w_j (ordered architecture-major, checkpoints from last to first);
            the classifier's weight is 1 − Σ w_j. Default: the members share 1 − ``classifier_weight``.
        classifier_weight: the classifier's weight when ``weights`` is not given.
        attack_target: ``"ensemble"`` or ``"primary"`` (see the module docstring).
        latent_dim, lr, temperature: as for ``ae-kl``.
    """

    name = "ae-kl-ensemble"
    is_detector = True
    is_purifier = True
    trainable = True
    purify_range = None  # members are A.1/A.3 autoencoders with a linear output

    weights: Tensor  # buffer: the member weights w_j
    members: nn.ModuleList

    def __init__(
        self,
        *,
        checkpoints: Sequence[float] = (0.5, 1.0),
        architectures: Architecture | Sequence[Architecture] = ("conv",),
        weights: Sequence[float] | None = None,
        classifier_weight: float = 0.25,
        attack_target: str = "ensemble",
        latent_dim: int = 10,
        lr: float = 1e-3,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.checkpoints = self._check_checkpoints(checkpoints)
        self.architectures: tuple[Architecture, ...]
        if isinstance(architectures, str) or callable(architectures):
            self.architectures = (architectures,)
        else:
            self.architectures = tuple(architectures)
        if not self.architectures or any(
            not callable(a) and a not in ARCHITECTURES for a in self.architectures
        ):
            raise ConfigError(
                f"defence {self.name!r}: architectures must be a non-empty list of "
                f"{', '.join(ARCHITECTURES)} or callables, got {architectures!r}"
            )
        if attack_target not in ("ensemble", "primary"):
            raise ConfigError(
                f"defence {self.name!r}: attack_target must be 'ensemble' or 'primary', got {attack_target!r}"
            )
        self.attack_target = attack_target
        n = len(self.checkpoints) * len(self.architectures)
        if weights is None:
            if not (isinstance(classifier_weight, (int, float)) and 0 <= classifier_weight < 1):
                raise ConfigError(
                    f"defence {self.name!r}: classifier_weight must be in [0, 1), got {classifier_weight!r}"
                )
            w = [(1.0 - classifier_weight) / n] * n
        else:
            w = [float(v) for v in weights]
            if len(w) != n or min(w) < 0 or sum(w) > 1 + 1e-9:
                raise ConfigError(
                    f"defence {self.name!r}: weights must be {n} numbers >= 0 summing to <= 1 "
                    f"(one per checkpoint × architecture), got {list(weights)!r}"
                )
        self.register_buffer("weights", torch.tensor(w, dtype=torch.float32))
        self.trainer_args: dict[str, Any] = {"latent_dim": latent_dim, "lr": lr, "temperature": temperature}
        AutoencoderKL(**self.trainer_args)  # validates them
        #: the shape the members were built for (None: a callable is not built yet; see build())
        self.input_shape: Shape | None = (
            None if any(callable(a) for a in self.architectures) else DEFAULT_SHAPE
        )
        self.members = nn.ModuleList(
            [
                self.make(a, DEFAULT_SHAPE) if self.input_shape else Unbuilt(self.name)
                for a in self.architectures
                for _ in self.checkpoints
            ]
        )

    def make(self, architecture: Architecture, shape: Shape) -> nn.Module:
        """One fresh autoencoder of ``architecture`` for ``shape``."""
        if callable(architecture):
            return call_architecture(self.name, architecture, shape)
        return ARCHITECTURES[architecture](self.trainer_args["latent_dim"], shape)

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """Build every member for ``input_shape`` unless they were built for it already."""
        shape = as_shape(self.name, input_shape)
        if shape == self.input_shape:
            return
        self.members = nn.ModuleList(
            [self.make(a, shape) for a in self.architectures for _ in self.checkpoints]
        )
        self.input_shape = shape

    def _check_checkpoints(self, checkpoints: Sequence[float]) -> tuple[float, ...]:
        cps = tuple(checkpoints) if isinstance(checkpoints, (list, tuple)) else ()
        ok = bool(cps) and all(
            (isinstance(c, int) and not isinstance(c, bool) and c >= 1)
            or (isinstance(c, float) and 0 < c <= 1)
            for c in cps
        )
        if not ok:
            raise ConfigError(
                f"defence {self.name!r}: checkpoints must be a non-empty list of epochs (int >= 1) "
                f"or fractions of the training epochs (float in (0, 1]), got {checkpoints!r}"
            )
        return cps

    def config(self) -> dict[str, Any]:
        cfg = {
            "checkpoints": list(self.checkpoints),
            "architectures": [architecture_id(a) for a in self.architectures],
            "weights": self.weights.tolist(),
            "attack_target": self.attack_target,
            **self.trainer_args,
        }
        if self.input_shape != DEFAULT_SHAPE:  # the default keeps its cache key
            cfg["input_shape"] = list(self.input_shape) if self.input_shape is not None else None
        return cfg

    def checkpoint_epochs(self, epochs: int) -> list[int]:
        """Resolve ``checkpoints`` against the number of training epochs, last (primary) first."""
        out = []
        for c in self.checkpoints:
            e = c if isinstance(c, int) else max(1, math.ceil(c * epochs))
            if e > epochs:
                raise ConfigError(
                    f"defence {self.name!r}: checkpoint epoch {e} exceeds the {epochs} training "
                    f"epochs of this scale; use fractions in (0, 1]"
                )
            out.append(e)
        return sorted(out, reverse=True)

    def fit(self, ctx: FitContext) -> None:
        """Train each architecture once on eq 5 and keep copies of its AE at the checkpoint epochs."""
        shape = as_shape(self.name, ctx.train.x.shape[1:])
        self.build(shape, ctx.num_classes)
        epochs = self.checkpoint_epochs(ctx.epochs)
        for a_idx, arch in enumerate(self.architectures):
            torch.manual_seed(ctx.seed + a_idx)  # seeded initialisation of each architecture
            ae = self.make(arch, shape)
            trainer = AutoencoderKL(architecture=_returning(ae), **self.trainer_args)
            trainer.name = f"{self.name}:{architecture_id(arch)}"
            trainer.build(shape, ctx.num_classes)
            trainer.bind(ctx.classifier)
            saved: dict[int, dict[str, Tensor]] = {}

            def keep(epoch: int, trainer: AutoencoderKL = trainer, saved: dict = saved) -> None:
                if epoch in epochs:
                    saved[epoch] = {k: v.detach().clone() for k, v in trainer.ae.state_dict().items()}

            trainer.fit(ctx, on_epoch_end=keep)
            for c_idx, e in enumerate(epochs):
                self.members[a_idx * len(epochs) + c_idx].load_state_dict(saved[e])
        self.to(ctx.device).eval()

    def purify(self, x: Tensor) -> Tensor:
        return self.members[0](x)

    def score(self, x: Tensor) -> Tensor:
        """Eq 6 with the primary member."""
        return kl_divergence(self.classifier(x), self.classifier(self.members[0](x)))

    def member_labels(self, x: Tensor) -> Tensor:
        return torch.stack([self.classifier(ae(x)).argmax(1) for ae in self.members])

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.classifier(x)
        rec_logits = [self.classifier(ae(x)) for ae in self.members]
        score = kl_divergence(logits, rec_logits[0])
        base = logits.argmax(1)
        t = self.threshold
        if t is None:
            return base, score
        vote = weighted_vote(
            torch.stack([r.argmax(1) for r in rec_logits]), base, self.weights, logits.shape[1]
        )
        return torch.where(score > t, vote, base), score

    def predict(self, x: Tensor) -> Tensor:
        return self.predict_and_score(x)[0]

    def defended_logits(self, x: Tensor) -> Tensor:
        """The eq 10 vote is not differentiable: the gradient is that of a surrogate of the vote
        (``attack_target``: the log of the weighted mean of softmax outputs, or C∘AE of the primary member;
        as :func:`robustcheck.defences.base.flag_selected_logits`), and the logits are lifted so that their
        argmax is exactly ``predict``."""
        base = self.classifier(x)
        if self.threshold is None:
            return base
        surrogate = (
            _EnsembleTarget(self)(x)
            if self.attack_target == "ensemble"
            else self.classifier(self.members[0](x))
        )
        return logits_with_labels(surrogate, self.predict(x))
