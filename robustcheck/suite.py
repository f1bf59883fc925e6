"""Suite / Case / Thresholds: a declarative grid of evaluations, validated on construction.

Example:
    >>> from robustcheck import Suite, Attack, Defence, Thresholds
    >>> SUITE = Suite(
    ...     name="mnist-default",
    ...     dataset="mnist-embedded",
    ...     classifier="mnist-cnn",
    ...     defences=["none", "ae-kl"],
    ...     attacks=[Attack("fgsm", eps=[0.1, 0.3])],
    ...     threat_models=["grey-box"],
    ...     thresholds=[Thresholds(corrected_accuracy=0.1),
    ...                 Thresholds(defence="ae-kl", detection_auc=0.8)],
    ... )
    >>> [c.id for c in SUITE.cases()][:1]
    ['none|fgsm|eps=0.1|grey-box']
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robustcheck.errors import ConfigError
from robustcheck.metrics import METRICS, inconclusive_fixes
from robustcheck.validation import (
    as_float,
    check_bool,
    check_eps,
    check_int,
    check_metric_value,
    check_seed,
    describe,
    is_number,
    metric_applies,
    why_not,
)

THREAT_MODELS = ("black-box", "grey-box", "white-box")
SCALE_NAMES = ("smoke", "default", "paper")
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")  # whole string (fullmatch): no trailing newline
#: L∞ ε beyond the diameter of the [0, 1] box changes nothing (every point is reachable at ε = 1)
LINF_EPS_MAX = 1.0


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise ConfigError(
            f"{what} {describe(value)} is not a valid id: use letters, digits and '_.+-', starting "
            f"with a letter or digit (it keys the history)"
        )
    return value


def format_eps(eps: float) -> str:
    return f"{eps:g}"


@dataclass(frozen=True)
class Scale:
    """How big a run is. Suites read it to size samples, training and attack iterations.

    Args:
        n_samples: test examples attacked per case (None = the whole test split).
        train_limit: at most this many training examples (None = all).
        classifier_epochs: epochs to train the reference classifier.
        defence_epochs: epochs to train each defence.
        attack_steps: caps ``steps`` of gradient-iterative attacks (None = the attack's own setting); query
            attacks (Square) keep their query budget.
        dataset: the dataset this scale evaluates on instead of the suite's (None = the suite's): a
            registered name or an image folder, e.g. ``"mnist"`` (the 70,000 torchvision digits, read from
            the data root) for a replication suite whose smaller scales use ``"mnist-embedded"``. Without
            its data the cases are skipped with the reason (``--robustcheck-data-root``).
    """

    n_samples: int | None
    train_limit: int | None
    classifier_epochs: int
    defence_epochs: int
    attack_steps: int | None = None
    dataset: str | None = None

    def __post_init__(self) -> None:
        for f in ("n_samples", "train_limit", "attack_steps"):
            check_int("", f"Scale.{f}", getattr(self, f), minimum=1, none_ok=True)
        for f in ("classifier_epochs", "defence_epochs"):
            check_int("", f"Scale.{f}", getattr(self, f), minimum=1)
        if self.dataset is not None and (not isinstance(self.dataset, str) or not self.dataset):
            raise ConfigError(
                f"Scale.dataset must be a registered dataset name or an image folder (a non-empty str) "
                f"or None, got {describe(self.dataset)}"
            )


DEFAULT_SCALES: dict[str, Scale] = {
    "smoke": Scale(n_samples=64, train_limit=1200, classifier_epochs=3, defence_epochs=4, attack_steps=10),
    "default": Scale(n_samples=500, train_limit=None, classifier_epochs=20, defence_epochs=30),
    "paper": Scale(n_samples=None, train_limit=None, classifier_epochs=20, defence_epochs=50),
}


@dataclass(frozen=True)
class Attack:
    """An attack of a suite: registry name, ε list and parameters.

    Args:
        name: attack registry name, e.g. ``"pgd-linf"``.
        eps: one ε or a list of them (in the attack's norm).
        id: label used in case ids (defaults to ``name``).
        threats: the suite's threat models this attack runs under (default: all of them); e.g. a
            detector-aware attack has no black-box form: ``threats=["grey-box", "white-box"]``.
        **params: keyword arguments of the attack's constructor.
    """

    name: str
    eps: tuple[float, ...]
    id: str
    params: Mapping[str, Any]
    threats: tuple[str, ...] | None

    def __init__(
        self,
        name: str,
        eps: float | Sequence[float],
        *,
        id: str | None = None,
        threats: Sequence[str] | None = None,
        **params: Any,
    ):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"Attack name must be a non-empty string, got {describe(name)}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "eps", check_eps(eps, f"attack {name!r}"))
        object.__setattr__(self, "id", _check_id(name if id is None else id, "attack id"))
        object.__setattr__(self, "params", dict(params))
        if threats is not None:
            threats = tuple(_as_seq(threats, f"attack {name!r}: threats"))
            bad = [t for t in threats if not isinstance(t, str) or t not in THREAT_MODELS]
            if bad or not threats or len(set(threats)) != len(threats):
                raise ConfigError(
                    f"attack {name!r}: threats {describe(list(threats))} must be a non-empty list of "
                    f"distinct threat models among {', '.join(THREAT_MODELS)}"
                )
        object.__setattr__(self, "threats", threats)
        # the registered attack: its parameters by its signature and its own checks, ε by its norm
        from robustcheck.attacks import ATTACKS, validate_params

        validate_params(name, self.params)
        if getattr(ATTACKS.get(name), "norm", None) == "linf":
            big = [e for e in self.eps if e > LINF_EPS_MAX]
            if big:
                raise ConfigError(
                    f"attack {name!r}: eps {big[0]:g} exceeds {LINF_EPS_MAX:g}, the L∞ diameter of "
                    f"the [0, 1] pixel box (an L∞ eps must be in [0, 1])"
                )

    def runs_under(self, threat: str) -> bool:
        return self.threats is None or threat in self.threats


@dataclass(frozen=True)
class Defence:
    """A defence of a suite: a registry name, a class or factory, or a ready instance, plus parameters.

    Examples:
        ``Defence("ae-kl", temperature=2.0)``, ``Defence(MyDefence, id="mine", strength=3)``,
        ``Defence(my_trained_defence)``. Plain names, classes and instances are also accepted directly
        in ``Suite(defences=[...])``.

    ``epochs`` sets this defence's training epochs instead of the scale's ``defence_epochs``: a mapping
    ``{scale name: epochs}`` (scales not named keep the scale's), or an int for every scale. E.g.
    ``Defence("ae-kl", epochs={"default": 10})``: a defence whose curve saturates early trains less at
    ``default`` and keeps the smoke and paper budgets.
    """

    name: str
    id: str
    params: Mapping[str, Any]
    factory: Callable[..., Any] | None = None
    instance: Any = None
    epochs: Mapping[str, int] | int | None = None

    def epochs_at(self, scale_name: str, scale: Scale) -> int:
        """Training epochs of this defence at scale ``scale_name`` (whose settings are ``scale``)."""
        if isinstance(self.epochs, int):
            return self.epochs
        if self.epochs is not None and scale_name in self.epochs:
            return self.epochs[scale_name]
        return scale.defence_epochs

    def detector(self) -> bool | None:
        """Whether this defence is a detector; None when unknown (a factory function, an unregistered
        name)."""
        if self.instance is not None:
            return bool(getattr(self.instance, "is_detector", False))
        src: Any = self.factory
        if src is None:
            try:
                from robustcheck.defences import DEFENCES

                src = DEFENCES.get(self.name)
            except ConfigError:
                return None
        if inspect.isclass(src):
            flag = getattr(src, "is_detector", None)
            return flag if isinstance(flag, bool) else None
        return None

    def __init__(
        self,
        name: Any,
        *,
        id: str | None = None,
        epochs: Mapping[str, int] | int | None = None,
        **params: Any,
    ):
        factory = instance = None
        if not isinstance(name, str):
            if inspect.isclass(name) or inspect.isfunction(name) or inspect.ismethod(name):
                factory = name
            elif hasattr(name, "predict") and hasattr(name, "attack_model"):
                instance = name
                if params:
                    raise ConfigError(
                        f"Defence({type(name).__name__} instance): parameters {sorted(params)} "
                        f"cannot be applied to an instance; pass the class instead"
                    )
            else:
                raise ConfigError(
                    f"Defence must be a registry name, a BaseDefence class or factory, or a defence "
                    f"instance; got {name!r}"
                )
            src = factory if factory is not None else type(instance)
            name = (
                getattr(instance, "name", None)
                or getattr(src, "name", None)
                or getattr(src, "__name__", "custom")
            )
            if not isinstance(name, str) or name in ("defence", ""):
                name = getattr(src, "__name__", "custom")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"Defence name must be a non-empty string, got {describe(name)}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "id", _check_id(name if id is None else id, "defence id"))
        if factory is not None and params:
            from robustcheck.validation import check_params

            check_params(f"defence {name!r}", factory, params)
        object.__setattr__(self, "params", dict(params))
        object.__setattr__(self, "factory", factory)
        object.__setattr__(self, "instance", instance)
        object.__setattr__(self, "epochs", _check_epochs(epochs, self.id))


def _check_epochs(epochs: Any, defence_id: str) -> Mapping[str, int] | int | None:
    def positive(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    what = f"Defence {defence_id!r}: epochs"
    if epochs is None or positive(epochs):
        return epochs
    if isinstance(epochs, Mapping):
        unknown = [k for k in epochs if k not in SCALE_NAMES]
        if unknown:
            raise ConfigError(f"{what}: unknown scale(s) {unknown}; known: {', '.join(SCALE_NAMES)}")
        bad = {k: v for k, v in epochs.items() if not positive(v)}
        if bad:
            raise ConfigError(f"{what}: each value must be an int >= 1, got {bad}")
        return dict(epochs)
    raise ConfigError(f"{what} must be an int >= 1 or a mapping {{scale name: int}}, got {describe(epochs)}")


def _selected(sel: Any, case: Case) -> bool:
    """Whether the case selector of a :class:`Thresholds` or :class:`Reference` (defence, attack, ε, threat
    model; None = any) selects ``case``."""
    return (
        (sel.defence is None or sel.defence == case.defence.id)
        and (sel.attack is None or sel.attack == case.attack.id)
        and (sel.eps is None or math.isclose(sel.eps, case.eps, rel_tol=1e-9, abs_tol=1e-12))
        and (sel.threat is None or sel.threat == case.threat)
    )


def _specificity(sel: Any) -> int:
    """How many of the selector's fields are set: the most specific match wins."""
    return sum(v is not None for v in (sel.defence, sel.attack, sel.eps, sel.threat))


def _selector_text(sel: Any, *extra: tuple[str, Any]) -> list[str]:
    """``key=value`` for every set field of the selector (and ``extra``), for messages."""
    fields = (
        ("defence", sel.defence),
        ("attack", sel.attack),
        ("eps", sel.eps),
        ("threat", sel.threat),
        *extra,
    )
    return [f"{k}={v!r}" for k, v in fields if v is not None]


@dataclass(frozen=True)
class Thresholds:
    """Bars for metrics, scoped by optional selectors. The most specific matching bar wins.

    Selectors: ``defence`` / ``attack`` (ids), ``eps``, ``threat``, ``scale``; each is one value or None
    (a list is an error: write one ``Thresholds`` per ε, defence, ...). Bars: any metric of
    :data:`robustcheck.metrics.METRICS`, a finite number inside the metric's range (accuracies and rates
    in [0, 1]); metrics where higher is better get a minimum, the others a maximum (e.g.
    ``corrected_accuracy=0.8`` means ≥ 0.8, ``clean_accuracy_drop=0.02`` means ≤ 0.02). The suite checks
    that every ``Thresholds`` matches at least one of its cases and that each bar's metric is measured on
    at least one of the cases it matches (``detection_auc`` needs a detector, ``worst_case_*`` a family).

    ``allow_inconclusive``: a case whose integrity indicators are raised
    (:data:`robustcheck.indicators.INCONCLUSIVE`) is *inconclusive* and fails by default. ``True`` lets
    the matching cases pass anyway (they show as ``inconclusive-allowed`` in the report and the run
    record); a list of indicator names allows only those; ``False`` restores the default for a more
    specific selection. The most specific matching ``allow_inconclusive`` wins, as for bars. E.g.
    ``Thresholds(defence="bitdepth", threat="white-box", allow_inconclusive=["unbounded_not_zero"])``.
    """

    bars: Mapping[str, float]
    defence: str | None = None
    attack: str | None = None
    eps: float | None = None
    threat: str | None = None
    scale: str | None = None
    allow_inconclusive: bool | frozenset[str] | None = None

    def __init__(
        self,
        *,
        defence: str | None = None,
        attack: str | None = None,
        eps: float | None = None,
        threat: str | None = None,
        scale: str | None = None,
        allow_inconclusive: bool | Sequence[str] | None = None,
        **bars: float,
    ) -> None:
        if not bars and allow_inconclusive is None:
            raise ConfigError(
                "Thresholds needs at least one metric bar, e.g. corrected_accuracy=0.8, or "
                "allow_inconclusive="
            )
        allow = _check_allow_inconclusive(allow_inconclusive)
        for metric, bar in bars.items():
            if metric not in METRICS:
                raise ConfigError(
                    f"threshold for unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}"
                )
            if not is_number(bar) or as_float(bar) is None:
                raise ConfigError(f"threshold {metric}={describe(bar)} must be a finite number")
            check_metric_value("Thresholds", metric, bar)
        for field_name, value in (("defence", defence), ("attack", attack)):
            if value is not None and not isinstance(value, str):
                raise ConfigError(
                    f"Thresholds.{field_name} must be one {field_name} id (a string) or None, got "
                    f"{describe(value)}; write one Thresholds per {field_name}"
                )
        if threat is not None and (not isinstance(threat, str) or threat not in THREAT_MODELS):
            raise ConfigError(
                f"Thresholds.threat {describe(threat)} unknown: one of {', '.join(THREAT_MODELS)} or None"
            )
        if scale is not None and (not isinstance(scale, str) or scale not in SCALE_NAMES):
            raise ConfigError(
                f"Thresholds.scale {describe(scale)} unknown: one of {', '.join(SCALE_NAMES)} or None"
            )
        if eps is not None:
            if isinstance(eps, (list, tuple, set, frozenset, dict)):
                raise ConfigError(
                    f"Thresholds.eps must be one number (a bar is scoped to one ε; write one "
                    f"Thresholds per ε), got {describe(eps)}"
                )
            eps = check_eps(eps, "Thresholds")[0]
        object.__setattr__(self, "bars", {k: float(v) for k, v in bars.items()})
        object.__setattr__(self, "defence", defence)
        object.__setattr__(self, "attack", attack)
        object.__setattr__(self, "eps", eps)
        object.__setattr__(self, "threat", threat)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "allow_inconclusive", allow)

    @property
    def specificity(self) -> int:
        return _specificity(self)

    def __str__(self) -> str:
        sel = _selector_text(self, ("scale", self.scale))
        bars = [f"{k}={v:g}" for k, v in self.bars.items()]
        allow = self.allow_inconclusive
        if allow is not None:
            bars.append(f"allow_inconclusive={sorted(allow) if isinstance(allow, frozenset) else allow!r}")
        return f"Thresholds({', '.join(sel + bars)})"

    def matches(self, case: Case, scale: str) -> bool:
        return _selected(self, case) and (self.scale is None or self.scale == scale)


@dataclass(frozen=True)
class Reference:
    """A published number to show beside ours: the paper's value of one metric, scoped like a bar.

    Selectors ``defence`` / ``attack`` (ids), ``eps`` and ``threat`` select cases exactly as in
    :class:`Thresholds` (each one value or None; per metric, the most specific matching reference wins).
    ``value`` is a finite number inside the metric's range (:data:`robustcheck.metrics.METRICS`);
    ``source`` says where it is printed (e.g. ``"001 Table 1"``). A reference never gates: the run record
    carries it per case (``"paper": {metric: {"value", "source"}}``) and the results table shows it with
    the difference ours − paper. The suite checks that each reference matches at least one case and that
    its metric is measured on one of them.

    Example: ``Reference(metric="corrected_accuracy", value=0.9928, defence="ae-kl", attack="fgsm",
    eps=0.1, threat="grey-box", source="001 Table 1")``.
    """

    metric: str
    value: float
    source: str = ""
    defence: str | None = None
    attack: str | None = None
    eps: float | None = None
    threat: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or self.metric not in METRICS:
            raise ConfigError(
                f"Reference: unknown metric {describe(self.metric)}; known: {', '.join(sorted(METRICS))}"
            )
        if not is_number(self.value) or as_float(self.value) is None:
            raise ConfigError(
                f"Reference {self.metric}={describe(self.value)}: value must be a finite number"
            )
        check_metric_value("Reference", self.metric, self.value)
        object.__setattr__(self, "value", float(self.value))
        if not isinstance(self.source, str):
            raise ConfigError(
                f"Reference.source must be a string (where the number is printed), got "
                f"{describe(self.source)}"
            )
        for field_name in ("defence", "attack"):
            value = getattr(self, field_name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(
                    f"Reference.{field_name} must be one {field_name} id (a string) or None, got "
                    f"{describe(value)}; write one Reference per {field_name}"
                )
        if self.threat is not None and (not isinstance(self.threat, str) or self.threat not in THREAT_MODELS):
            raise ConfigError(
                f"Reference.threat {describe(self.threat)} unknown: one of {', '.join(THREAT_MODELS)} or None"
            )
        if self.eps is not None:
            if isinstance(self.eps, (list, tuple, set, frozenset, dict)):
                raise ConfigError(
                    f"Reference.eps must be one number (a reference is scoped to one ε; write one "
                    f"Reference per ε), got {describe(self.eps)}"
                )
            object.__setattr__(self, "eps", check_eps(self.eps, "Reference")[0])

    @property
    def specificity(self) -> int:
        return _specificity(self)

    def __str__(self) -> str:
        sel = _selector_text(self)
        return f"Reference({', '.join([f'metric={self.metric!r}', f'value={self.value:g}', *sel])})"

    def matches(self, case: Case) -> bool:
        return _selected(self, case)


@dataclass(frozen=True)
class Bar:
    metric: str
    value: float
    higher_is_better: bool

    def passed(self, measured: float) -> bool:
        if measured is None or math.isnan(measured):
            return False
        return measured >= self.value if self.higher_is_better else measured <= self.value

    def describe(self) -> str:
        return f"{self.metric} {'>=' if self.higher_is_better else '<='} {self.value:g}"


@dataclass(frozen=True)
class Case:
    """One (defence × attack × ε × threat model) evaluation of a suite."""

    suite: Suite
    defence: Defence
    attack: Attack
    eps: float
    threat: str

    @property
    def id(self) -> str:
        return f"{self.defence.id}|{self.attack.id}|eps={format_eps(self.eps)}|{self.threat}"

    @property
    def nodeid_name(self) -> str:
        return f"{self.suite.name}[{self.id}]"

    def bars(self, scale: str) -> dict[str, Bar]:
        """Resolve the thresholds for this case: per metric, the most specific matching bar wins."""
        chosen: dict[str, tuple[int, int, float]] = {}
        for order, th in enumerate(self.suite.thresholds):
            if not th.matches(self, scale):
                continue
            rank = th.specificity * 2 + (1 if th.scale is not None else 0)
            for metric, value in th.bars.items():
                prev = chosen.get(metric)
                if prev is None or (rank, order) >= (prev[0], prev[1]):
                    chosen[metric] = (rank, order, value)
        return {m: Bar(m, v, METRICS[m].higher_is_better) for m, (_, _, v) in chosen.items()}

    def references(self) -> dict[str, Reference]:
        """The paper's values for this case: per metric, the most specific matching :class:`Reference`
        (the later one on a tie), in the order the suite declares the metrics."""
        chosen: dict[str, tuple[int, int, Reference]] = {}
        for order, ref in enumerate(self.suite.references):
            if not ref.matches(self):
                continue
            prev = chosen.get(ref.metric)
            if prev is None or (ref.specificity, order) >= (prev[0], prev[1]):
                chosen[ref.metric] = (ref.specificity, order, ref)
        return {m: r for m, (_, _, r) in chosen.items()}

    def allowed_inconclusive(self, scale: str) -> frozenset[str]:
        """Integrity indicators this case may raise and still pass: from the most specific matching
        ``Thresholds(allow_inconclusive=...)``; empty by default (an inconclusive case fails)."""
        chosen: tuple[int, int, bool | frozenset[str]] | None = None
        for order, th in enumerate(self.suite.thresholds):
            if th.allow_inconclusive is None or not th.matches(self, scale):
                continue
            rank = th.specificity * 2 + (1 if th.scale is not None else 0)
            if chosen is None or (rank, order) >= (chosen[0], chosen[1]):
                chosen = (rank, order, th.allow_inconclusive)
        if chosen is None or chosen[2] is False:
            return frozenset()
        if chosen[2] is True:
            return frozenset(inconclusive_fixes())
        return chosen[2]


@dataclass(frozen=True)
class FamilyCase(Case):
    """Per-example worst case over a family of attacks at one ε and threat model: an input counts as
    defended only if it survives every member (``worst_case_*`` metrics)."""

    family: str = ""
    members: tuple[Attack, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.defence.id}|family={self.family}|eps={format_eps(self.eps)}|{self.threat}"


@dataclass(frozen=True)
class Suite:
    """A declarative grid of cases; validated when built.

    Args:
        name: suite id (first part of every item id).
        dataset: the data: a registered name (``"mnist-embedded"``, ``"digits-8x8"``, torchvision's
            ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, or one added with ``register_dataset``), a path
            to an image folder (ImageFolder layout), tensors ``(x, y)``, a mapping of ``train``/``val``/
            ``test`` to ``(x, y)`` or Datasets, a map-style torch ``Dataset`` of (image, label), or a
            callable returning one of these. Missing splits are derived (stratified, from ``seed``);
            classes and input shape come from the data (:mod:`robustcheck.data.sources`).
        classifier: a registered classifier name (trained here on the suite's data), a factory returning
            a trained ``nn.Module``, an ``nn.Module``, or a model file: a path to TorchScript or a
            ``torch.export`` program, or ``ModelFile(path, factory=...)`` for a state dict
            (:mod:`robustcheck.models.sources`). It is checked on one batch of the data before any work.
        defences: names or :class:`Defence` specs.
        attacks: :class:`Attack` specs.
        threat_models: any of ``black-box``, ``grey-box``, ``white-box``.
        thresholds: :class:`Thresholds`, most specific wins.
        references: :class:`Reference` values published for the cases (a paper's table), shown beside
            ours in the run record and the results table; they never gate.
        seed: seeds data split, training and attacks.
        fpr: false-positive rate at which detector thresholds are set on clean validation data.
        data_root: root of torchvision datasets (not needed for ``mnist-embedded``).
        scales: per-scale overrides of :data:`DEFAULT_SCALES`.
        n_samples: fixes the number of attacked test examples, whatever the scale.
        batch_size: examples per attack batch; None picks 64 on CPU (2.2× faster than 250 per
            gradient step on the A.1 CNN, ``benchmarks/batch_size.py``) and 1024 on CUDA.
        eot_samples: forward passes averaged (EOT) by white-box attacks on ``stochastic`` defences.
        families: ``{name: [attack ids]}``; adds one worst-case case per defence, threat model and ε
            common to all members, id ``<defence>|family=<name>|eps=<ε>|<threat>``; select its bars with
            ``Thresholds(attack=<name>, worst_case_corrected_accuracy=...)``.
        indicators: compute the attack-failure indicators of :mod:`robustcheck.indicators` per case.
            ``False`` switches every integrity check off (no case can be inconclusive); each case then
            shows ``checks-off`` in the flags column and ``indicators_off = 1`` in its record.
        surrogate: the classifier black-box *transfer* attacks craft x′ on: a registered classifier name
            or a factory returning a trained ``nn.Module`` (never the target itself). Default: the
            suite's classifier architecture when it is a registered name, else the reference classifier
            of the data's input shape, trained on the suite's data from seed ``seed + 1``.
        normalize: ``(mean, std)`` (numbers or per-channel sequences): the user's model expects
            ``(x - mean) / std``. It becomes part of the model, so attacks perturb [0, 1] pixels and ε
            keeps its meaning. A model that does much better under another common preprocessing (0–255,
            [-1, 1], standardised) than under the declared one is an error at startup.
        preprocessing_check: ``False`` skips that startup check and takes ``normalize`` (or its absence:
            [0, 1] pixels) at the user's word. For a model that really takes the declared pixels yet scores
            clearly higher under another scale, which an undertrained model on low-contrast data can.
        outputs: ``"logits"`` (default; a classifier returning probabilities is an error) or
            ``"probabilities"``: the classifier returns softmax probabilities, and every attack and
            score sees their log (valid logits: same argmax, margins in log space).
    """

    name: str
    attacks: Sequence[Attack]
    defences: Sequence[Defence | str] = ("none",)
    dataset: Any = "mnist-embedded"
    classifier: Any = "mnist-cnn"
    threat_models: Sequence[str] = ("grey-box",)
    thresholds: Sequence[Thresholds] = ()
    references: Sequence[Reference] = ()
    seed: int = 0
    fpr: float = 0.05
    data_root: str | os.PathLike[str] | None = None
    scales: Mapping[str, Scale] = field(default_factory=dict)
    n_samples: int | None = None
    batch_size: int | None = None
    eot_samples: int = 8
    families: Mapping[str, Sequence[str]] = field(default_factory=dict)
    indicators: bool = True
    surrogate: str | Callable[[], Any] | None = None
    outputs: str = "logits"
    normalize: Any = None
    preprocessing_check: bool = True

    def __post_init__(self) -> None:
        _check_id(self.name, "suite name")
        where = f"suite {self.name!r}"
        defs = tuple(
            d if isinstance(d, Defence) else Defence(d)
            for d in _as_seq(self.defences, f"{where}: defences", one_str=True)
        )
        if not defs:
            raise ConfigError(
                f"{where}: defences is empty; a suite needs at least one defence ('none' evaluates "
                f"the undefended classifier)"
            )
        object.__setattr__(self, "defences", defs)
        atts = _as_seq(self.attacks, f"{where}: attacks")
        for a in atts:
            if not isinstance(a, Attack):
                raise ConfigError(f"{where}: attacks must be robustcheck.Attack(...), got {describe(a)}")
        if not atts:
            raise ConfigError(f"{where}: attacks is empty; a suite needs at least one Attack(...)")
        object.__setattr__(self, "attacks", tuple(atts))
        threats = tuple(_as_seq(self.threat_models, f"{where}: threat_models"))
        for t in threats:
            if not isinstance(t, str) or t not in THREAT_MODELS:
                raise ConfigError(
                    f"{where}: threat model {describe(t)} unknown; known: {', '.join(THREAT_MODELS)}"
                )
        if not threats:
            raise ConfigError(
                f"{where}: threat_models is empty; give one or more of {', '.join(THREAT_MODELS)}"
            )
        if len(set(threats)) != len(threats):
            raise ConfigError(f"{where}: threat_models {list(threats)} lists a threat model twice")
        object.__setattr__(self, "threat_models", threats)
        ths = tuple(_as_seq(self.thresholds, f"{where}: thresholds"))
        for th in ths:
            if not isinstance(th, Thresholds):
                raise ConfigError(f"{where}: thresholds must be Thresholds(...), got {describe(th)}")
        object.__setattr__(self, "thresholds", ths)
        refs = tuple(_as_seq(self.references, f"{where}: references"))
        for ref in refs:
            if not isinstance(ref, Reference):
                raise ConfigError(f"{where}: references must be Reference(...), got {describe(ref)}")
        object.__setattr__(self, "references", refs)
        check_seed(where, "seed", self.seed)
        if self.surrogate is not None and not (isinstance(self.surrogate, str) or callable(self.surrogate)):
            raise ConfigError(
                f"{where}: surrogate must be a registered classifier name or a factory "
                f"returning an nn.Module, got {describe(self.surrogate)}"
            )
        from robustcheck.models.sources import check_normalize

        try:
            normalize = check_normalize(self.normalize, where)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"{where}: normalize must be (mean, std), numbers or per-channel sequences of "
                f"finite numbers, std > 0; got {describe(self.normalize)} ({exc})"
            ) from None
        object.__setattr__(self, "normalize", normalize)
        if not isinstance(self.preprocessing_check, bool):
            raise ConfigError(
                f"{where}: preprocessing_check must be True or False, got "
                f"{describe(self.preprocessing_check)}"
            )
        if not isinstance(self.outputs, str) or self.outputs not in ("logits", "probabilities"):
            raise ConfigError(
                f"{where}: outputs must be 'logits' or 'probabilities', got {describe(self.outputs)}"
            )
        fpr = as_float(self.fpr) if is_number(self.fpr) else None
        if fpr is None or not 0 <= fpr < 1:
            raise ConfigError(f"{where}: fpr must be a number in [0, 1), got {describe(self.fpr)}")
        if self.data_root is not None and not isinstance(self.data_root, (str, os.PathLike)):
            raise ConfigError(
                f"{where}: data_root must be a path (str or os.PathLike) or None, "
                f"got {describe(self.data_root)}"
            )
        check_int(where, "n_samples", self.n_samples, minimum=1, none_ok=True)
        if not isinstance(self.scales, Mapping):
            raise ConfigError(
                f"{where}: scales must map one of {', '.join(SCALE_NAMES)} to Scale(...), "
                f"got {describe(self.scales)}"
            )
        for k, v in self.scales.items():
            if not isinstance(k, str) or k not in SCALE_NAMES or not isinstance(v, Scale):
                raise ConfigError(
                    f"{where}: scales must map one of {', '.join(SCALE_NAMES)} to Scale(...); "
                    f"got {describe(k)}: {describe(v)}"
                )
        check_int(where, "eot_samples", self.eot_samples, minimum=1)
        check_int(where, "batch_size", self.batch_size, minimum=1, none_ok=True)
        check_bool(where, "indicators", self.indicators)
        self._check_families(atts)
        self._check_names()
        cases = self.cases()
        ids = [c.id for c in cases]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ConfigError(f"{where}: duplicate case ids {dup}; give attacks/defences distinct id=")
        defence_ids = {d.id for d in defs}
        attack_ids = {a.id for a in atts} | set(self.families)
        for th in ths:
            if th.defence is not None and th.defence not in defence_ids:
                raise ConfigError(
                    f"{where}: Thresholds(defence={th.defence!r}) matches no defence; "
                    f"known: {', '.join(sorted(defence_ids))}"
                )
            if th.attack is not None and th.attack not in attack_ids:
                raise ConfigError(
                    f"{where}: Thresholds(attack={th.attack!r}) matches no attack; "
                    f"known: {', '.join(sorted(attack_ids))}"
                )
            self._check_bar_applies(th, cases)
        for ref in refs:
            self._check_reference_applies(ref, cases)

    def _check_reference_applies(self, ref: Reference, cases: Sequence[Case]) -> None:
        """A Reference matches at least one case and its metric is measured on one of them (else the paper's
        number would be shown nowhere, silently)."""
        where = f"suite {self.name!r}"
        matched = [c for c in cases if ref.matches(c)]
        if not matched:
            defences = sorted({c.defence.id for c in cases})
            attacks = sorted({c.attack.id for c in cases})
            eps = sorted({c.eps for c in cases if ref.attack is None or ref.attack == c.attack.id})
            raise ConfigError(
                f"{where}: {ref} matches no case of the suite (defences: {', '.join(defences)}; attacks: "
                f"{', '.join(attacks)}; threat models: {', '.join(self.threat_models)}; ε of the selected "
                f"attacks: {', '.join(format_eps(e) for e in eps) or 'none'})"
            )
        if not any(metric_applies(ref.metric, c) for c in matched):
            shown = ", ".join(c.id for c in matched[:3]) + (", ..." if len(matched) > 3 else "")
            family = any(isinstance(c, FamilyCase) for c in matched)
            raise ConfigError(
                f"{where}: {ref}: {ref.metric} does not apply to the {len(matched)} case(s) it matches "
                f"({shown}): {why_not(ref.metric, family)}"
            )

    def _check_bar_applies(self, th: Thresholds, cases: Sequence[Case]) -> None:
        """A Thresholds matches at least one case, and each of its bars names a metric that at least one of
        the matched cases measures (else it would gate nothing, silently)."""
        where = f"suite {self.name!r}"
        matched = [c for c in cases if th.matches(c, th.scale or "default")]
        if not matched:
            eps = sorted({c.eps for c in cases if th.attack is None or th.attack == c.attack.id})
            raise ConfigError(
                f"{where}: {th} matches no case of the suite (its selectors together select "
                f"nothing; threat models: {', '.join(self.threat_models)}; ε of the selected "
                f"attacks: {', '.join(format_eps(e) for e in eps) or 'none'})"
            )
        for metric in th.bars:
            if not any(metric_applies(metric, c) for c in matched):
                shown = ", ".join(c.id for c in matched[:3]) + (", ..." if len(matched) > 3 else "")
                family = any(isinstance(c, FamilyCase) for c in matched)
                raise ConfigError(
                    f"{where}: {th}: {metric} does not apply to the {len(matched)} case(s) it "
                    f"matches ({shown}): {why_not(metric, family)}"
                )

    @property
    def dataset_id(self) -> str:
        """A short identity of the dataset spec (a registered name, ``folder:<path>``, ``tensors``, a
        Dataset's class, a callable's qualified name); the run record adds the content hash."""
        from robustcheck.data import describe

        return describe(self.dataset)

    def dataset_at(self, scale_name: str) -> object:
        """The dataset evaluated at scale ``scale_name``: the scale's ``dataset`` if it sets one, else the
        suite's."""
        override = self.scale(scale_name).dataset
        return self.dataset if override is None else override

    def dataset_id_at(self, scale_name: str) -> str:
        """:attr:`dataset_id` of :meth:`dataset_at`."""
        from robustcheck.data import describe

        return describe(self.dataset_at(scale_name))

    @property
    def classifier_id(self) -> str:
        """A short identity of the classifier spec (a name, a file, a factory's or a module's qualified
        name); the run record adds the weights' hash."""
        c = self.classifier
        if isinstance(c, str):
            return c
        identity = getattr(c, "identity", None)
        if isinstance(identity, str):  # ModelFile
            return identity
        obj = c if hasattr(c, "__qualname__") else type(c)
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"

    def _check_families(self, atts: Sequence[Attack]) -> None:
        if not isinstance(self.families, Mapping):
            raise ConfigError(
                f"suite {self.name!r}: families must map a name to a list of attack ids, got "
                f"{describe(self.families)}"
            )
        by_id = {a.id: a for a in atts}
        for fam, members in self.families.items():
            _check_id(fam, "family name")
            if fam in by_id:
                raise ConfigError(f"suite {self.name!r}: family {fam!r} has the id of an attack; rename it")
            members = list(_as_seq(members, f"suite {self.name!r}: family {fam!r}"))
            unknown = [m for m in members if not isinstance(m, str) or m not in by_id]
            known = [m for m in members if isinstance(m, str) and m in by_id]
            if len(set(known)) != len(known):
                raise ConfigError(f"suite {self.name!r}: family {fam!r} lists an attack twice: {members}")
            if len(members) < 2 or unknown:
                raise ConfigError(
                    f"suite {self.name!r}: family {fam!r} needs >= 2 attack ids of the suite; "
                    f"unknown: {unknown}; known: {', '.join(sorted(by_id))}"
                )
            if not self._family_eps(fam):
                raise ConfigError(f"suite {self.name!r}: family {fam!r}: its attacks share no ε")

    def _family_eps(self, fam: str) -> list[float]:
        by_id = {a.id: a for a in self.attacks}
        members = [by_id[m] for m in self.families[fam]]
        return [e for e in members[0].eps if all(any(math.isclose(e, f) for f in m.eps) for m in members[1:])]

    def _check_names(self) -> None:
        # Imported here: the registries live in higher layers that import this module.
        from torch import nn

        from robustcheck.attacks import validate_params
        from robustcheck.data import DATASETS, FORMS, is_dataset_spec
        from robustcheck.defences import DEFENCES
        from robustcheck.models import CLASSIFIERS, ModelFile
        from robustcheck.models.sources import looks_like_path

        if isinstance(self.dataset, str) and self.dataset not in DATASETS and not Path(self.dataset).is_dir():
            raise ConfigError(
                f"suite {self.name!r}: dataset {self.dataset!r} is neither a registered name (known: "
                f"{', '.join(DATASETS)}) nor an existing image folder."
            )
        for scale_name, sc in self.scales.items():
            if sc.dataset is not None and sc.dataset not in DATASETS and not Path(sc.dataset).is_dir():
                raise ConfigError(
                    f"suite {self.name!r}: scale {scale_name!r}: dataset {sc.dataset!r} is neither a "
                    f"registered name (known: {', '.join(DATASETS)}) nor an existing image folder."
                )
        if not is_dataset_spec(self.dataset):
            raise ConfigError(
                f"suite {self.name!r}: dataset is {type(self.dataset).__name__}; accepted: {FORMS}."
            )
        registered = isinstance(self.classifier, str) and self.classifier in CLASSIFIERS
        if isinstance(self.classifier, str) and not registered and not looks_like_path(self.classifier):
            CLASSIFIERS.get(self.classifier)  # unknown name: the registry's error lists the known ones
        elif not isinstance(self.classifier, (str, ModelFile, nn.Module)) and not callable(self.classifier):
            raise ConfigError(
                f"suite {self.name!r}: classifier must be a registered name, a factory returning an "
                f"nn.Module, an nn.Module, a model file path or ModelFile(...); got "
                f"{type(self.classifier).__name__}."
            )
        if isinstance(self.surrogate, str):
            CLASSIFIERS.get(self.surrogate)
        if self.normalize is not None and registered:
            raise ConfigError(
                f"suite {self.name!r}: normalize declares the preprocessing of a user's model; the "
                f"registered classifier {self.classifier!r} is trained by robustcheck on [0, 1] "
                f"pixels and needs none."
            )
        if self.outputs == "probabilities" and registered:
            raise ConfigError(
                f"suite {self.name!r}: outputs='probabilities' declares a user classifier that returns "
                f"probabilities; the registered classifier {self.classifier!r} returns logits"
            )
        from robustcheck.defences.registry import check_defence_class

        for d in self._defence_specs():
            if d.instance is not None:
                check_defence_class(d.name, type(d.instance))
            elif d.factory is not None:
                check_defence_class(d.name, d.factory)
            else:
                cls = DEFENCES.get(d.name)
                if d.params:
                    _check_builtin_defence_params(d.name, cls, d.params)
        from robustcheck.attacks import ATTACKS

        for a in self.attacks:
            validate_params(a.name, a.params)
            unknown = [t for t in (a.threats or ()) if t not in self.threat_models]
            if unknown:
                raise ConfigError(
                    f"suite {self.name!r}: attack {a.id!r} lists threats {unknown} that the suite "
                    f"does not run; the suite's threat_models are {list(self.threat_models)}"
                )
            if (
                ATTACKS.get(a.name).detector_aware
                and a.runs_under("black-box")
                and "black-box" in self.threat_models
            ):
                raise ConfigError(
                    f"suite {self.name!r}: attack {a.id!r} is detector-aware and needs the "
                    f"defence's gradients, so it has no black-box form; give it "
                    f"threats=['grey-box', 'white-box']"
                )

    def _defence_specs(self) -> tuple[Defence, ...]:
        """``defences`` as :class:`Defence` specs (``__post_init__`` has made one of each name)."""
        return tuple(d if isinstance(d, Defence) else Defence(d) for d in self.defences)

    def scale(self, name: str) -> Scale:
        if name not in SCALE_NAMES:
            raise ConfigError(f"unknown scale {name!r}; known: {', '.join(SCALE_NAMES)}")
        return self.scales.get(name, DEFAULT_SCALES[name])

    def cases(self) -> list[Case]:
        cases = [
            Case(self, d, a, e, t)
            for d in self._defence_specs()
            for a in self.attacks
            for e in a.eps
            for t in self.threat_models
            if a.runs_under(t)
        ]
        by_id = {a.id: a for a in self.attacks}
        for fam, members in self.families.items():
            atts = tuple(by_id[m] for m in members)
            placeholder = Attack(atts[0].name, self._family_eps(fam), id=fam)
            # a family's threat models are those every member runs under
            threats = [t for t in self.threat_models if all(a.runs_under(t) for a in atts)]
            cases += [
                FamilyCase(self, d, placeholder, e, t, family=fam, members=atts)
                for d in self._defence_specs()
                for e in self._family_eps(fam)
                for t in threats
            ]
        return cases


_CHECKED_DEFENCE_PARAMS: set[str] = set()


def _check_builtin_defence_params(name: str, cls: Any, params: Mapping[str, Any]) -> None:
    """Parameters of a registered defence by its signature; a built-in one (``defences.*``) is also built
    once with them, so its own range checks run now rather than when the item runs (global RNG untouched)."""
    from robustcheck.validation import check_params

    where = f"defence {name!r}"
    check_params(where, cls, params)
    if not inspect.isclass(cls) or not getattr(cls, "__module__", "").startswith("robustcheck.defences."):
        return
    try:
        key: str | None = f"{name}:{sorted(params.items())!r}"
    except Exception:
        key = None
    if key in _CHECKED_DEFENCE_PARAMS:
        return
    import torch

    try:
        with torch.random.fork_rng(devices=[]):
            cls(**params)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.lower().startswith(where.lower()) else f"{where}: {msg}") from None
    except Exception as exc:
        raise ConfigError(
            f"{where}: parameters {describe(dict(params))} rejected: {type(exc).__name__}: {exc}"
        ) from None
    if key is not None:
        _CHECKED_DEFENCE_PARAMS.add(key)


def _check_allow_inconclusive(value: Any) -> bool | frozenset[str] | None:
    if value is None or isinstance(value, bool):
        return value
    known = inconclusive_fixes()
    names = list(_as_seq(value, "Thresholds.allow_inconclusive"))
    unknown = [n for n in names if not isinstance(n, str) or n not in known]
    if unknown or not names:
        raise ConfigError(
            f"Thresholds.allow_inconclusive must be True, False or a non-empty list of indicators; "
            f"unknown {unknown}; known: {', '.join(known)}"
        )
    return frozenset(names)


def _as_seq(value: Any, what: str, *, one_str: bool = False) -> Sequence[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        if one_str and isinstance(value, str):
            return [value]
        raise ConfigError(f"{what} must be a list, got {describe(value)}")
    return list(value)
