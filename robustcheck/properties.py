"""Hypothesis property tests for attacks and (detector) defences, as a library feature.

Strategies draw attack configurations (:class:`AttackConfig`) over the adaptive-attack
hyper-parameters — σ (``sigma-pgd``), β (``bim-recon``), κ (``cw-detector``), step size, iterations,
restarts, targeted or not, EOT samples and ε within a range. Checkers raise :class:`PropertyFailure`
(an ``AssertionError``) whose message contains the configuration as Python that rebuilds it; under
hypothesis a failing example shrinks to a minimal configuration, and the failure reported last ends with
``reproduce: from robustcheck.properties import AttackConfig; config = AttackConfig('sigma-pgd', eps=0.05,
steps=1, ...)`` (hypothesis' own header for it changes wording between versions).

Example (a user's own detector)::

    from hypothesis import given
    from robustcheck import properties as P

    @given(config=P.attack_configs(eps=(0.02, 0.2)))
    def test_adaptive_not_weaker(config):
        P.check_adaptive_at_least_oblivious(my_defence, x, y, config)

Properties: :func:`check_bounds` (budget, [0, 1], no NaN), :func:`check_adaptive_at_least_oblivious`
(defended rate of the detector-aware attack not higher than the oblivious one's, same threshold hence
same FPR), :func:`check_eps_monotone` (accuracy does not increase with ε) and
:func:`check_iterative_vs_single_step` (PGD no weaker than FGSM).
"""

from __future__ import annotations

from typing import Any

import torch
from hypothesis import strategies as st
from torch import Tensor, nn

from robustcheck import metrics as M
from robustcheck.attacks import ATTACKS, accepted_params_of, batched_predict, build_attack
from robustcheck.indicators import tolerance
from robustcheck.norms import norm_of
from robustcheck.threat import AdaptiveTarget

ADAPTIVE_ATTACKS = ("sigma-pgd", "bim-recon", "cw-detector")


class PropertyFailure(AssertionError):
    """A property did not hold; the message names the configuration that reproduces it."""


class AttackConfig:
    """One attack configuration; ``repr`` is Python that rebuilds it (``AttackConfig('fgsm', eps=0.1)``)."""

    def __init__(self, name: str, *, eps: float, eot_samples: int = 1, seed: int = 0, **params: Any) -> None:
        self.name, self.eps, self.eot_samples, self.seed = name, float(eps), int(eot_samples), int(seed)
        self.params = dict(params)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in sorted(self.params.items()))
        eot = f", eot_samples={self.eot_samples}" if self.eot_samples != 1 else ""
        seed = f", seed={self.seed}" if self.seed else ""
        return f"AttackConfig({self.name!r}, eps={self.eps!r}{eot}{seed}{extra})"

    def build(self) -> Any:
        params = {k: v for k, v in self.params.items() if k in accepted_params_of(self.name)}
        return build_attack(self.name, params, seed=self.seed, batch_size=256)

    @property
    def targeted(self) -> bool:
        return bool(self.params.get("targeted", False))


def _fail(what: str, config: AttackConfig, detail: str) -> PropertyFailure:
    return PropertyFailure(
        f"property '{what}' failed for {config!r}: {detail}\n"
        f"reproduce: from robustcheck.properties import AttackConfig; config = {config!r}"
    )


@st.composite
def attack_configs(
    draw: Any,
    attacks: tuple[str, ...] = ADAPTIVE_ATTACKS,
    eps: tuple[float, float] = (0.02, 0.3),
    max_steps: int = 10,
    max_restarts: int = 2,
    max_eot: int = 1,
    targeted: bool | None = False,
    num_classes: int = 10,
) -> AttackConfig:
    """Configurations of ``attacks`` (registry names) with ε in ``eps`` and the hyper-parameters each
    attack accepts; ``targeted=None`` draws it, ``max_eot > 1`` draws EOT samples."""
    name = draw(st.sampled_from(attacks))
    accepted = accepted_params_of(name)
    e = draw(st.floats(min_value=eps[0], max_value=eps[1], allow_nan=False).map(lambda v: round(v, 3)))
    params: dict[str, Any] = {}
    if "steps" in accepted:
        params["steps"] = draw(st.integers(1, max_steps))
    if "restarts" in accepted:
        params["restarts"] = draw(st.integers(1, max_restarts))
    if "alpha" in accepted:
        params["alpha"] = draw(st.none() | st.floats(0.1, 1.0).map(lambda f: round(f * e, 4)))
    if "sigma" in accepted:
        params["sigma"] = draw(st.floats(0.0, 1.0).map(lambda v: round(v, 2)))
    if "beta" in accepted:
        params["beta"] = draw(st.floats(0.0, 10.0).map(lambda v: round(v, 2)))
    if "kappa" in accepted:
        params["kappa"] = draw(st.floats(0.5, 50.0).map(lambda v: round(v, 1)))
    if ATTACKS.get(name).supports_targeted and (targeted or (targeted is None and draw(st.booleans()))):
        params["targeted"] = True
    eot = draw(st.integers(1, max_eot)) if max_eot > 1 else 1
    return AttackConfig(name, eps=e, eot_samples=eot, **params)


def targets_for(y: Tensor, num_classes: int = 10) -> Tensor:
    return (y + 1) % num_classes


def run_config(config: AttackConfig, model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    tgt = targets_for(y) if config.targeted else None
    [res] = config.build()(model, x, y, [config.eps], target=tgt)
    return res.x_adv


def check_bounds(model: nn.Module, x: Tensor, y: Tensor, config: AttackConfig) -> Tensor:
    """x′ within the ε-ball of the attack's norm, inside [0, 1] and finite; returns x′."""
    x_adv = run_config(config, model, x, y)
    n = M.budget_violations(x, x_adv, config.eps, ATTACKS.get(config.name).norm)
    if n:
        worst = norm_of(torch.nan_to_num(x_adv - x), ATTACKS.get(config.name).norm).max().item()
        raise _fail(
            "budget, bounds and NaN", config, f"{n} of {x.shape[0]} outputs violate (max norm {worst:.4g})"
        )
    return x_adv


def _defended_rate(defence: Any, x_adv: Tensor, y: Tensor) -> float:
    with torch.no_grad():
        pred, score = defence.predict_and_score(x_adv)
    return M.defended_rate(score, defence.threshold if defence.is_detector else None, pred, y)


def check_adaptive_at_least_oblivious(
    defence: Any, x: Tensor, y: Tensor, config: AttackConfig, oblivious: str = "pgd-linf"
) -> tuple[float, float]:
    """The detector-aware attack leaves a defended rate (threshold fixed ⇒ same FPR) no higher than the
    oblivious ``oblivious`` attack with the same ε, steps, restarts and targeting, crafted on C∘P
    (beyond :func:`~robustcheck.indicators.tolerance`). Returns (adaptive, oblivious) defended rates."""
    target = AdaptiveTarget(defence, defence.classifier, config.eot_samples)
    adv = run_config(config, target, x, y)
    keys = ("steps", "restarts", "targeted")
    obl = AttackConfig(
        oblivious, eps=config.eps, seed=config.seed, **{k: v for k, v in config.params.items() if k in keys}
    )
    obl_adv = run_config(obl, defence.attack_model(), x, y)
    a, o = _defended_rate(defence, adv, y), _defended_rate(defence, obl_adv, y)
    if a > o + tolerance((a + o) / 2, int(x.shape[0])):
        raise _fail(
            "adaptive at least as strong as oblivious",
            config,
            f"defended rate {a:.3f} under the adaptive attack > {o:.3f} under {obl!r}",
        )
    return a, o


def _accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return (batched_predict(model, x) == y).double().mean().item()


def check_eps_monotone(
    model: nn.Module, x: Tensor, y: Tensor, config: AttackConfig, larger_eps: float
) -> None:
    """Accuracy of ``model`` under the attack at ``larger_eps`` is not higher than at ``config.eps``."""
    small = _accuracy(model, run_config(config, model, x, y), y)
    big_cfg = AttackConfig(
        config.name, eps=larger_eps, eot_samples=config.eot_samples, seed=config.seed, **config.params
    )
    big = _accuracy(model, run_config(big_cfg, model, x, y), y)
    if big > small + tolerance((big + small) / 2, int(x.shape[0])):
        raise _fail(
            "accuracy does not increase with ε",
            config,
            f"accuracy {big:.3f} at ε={larger_eps} > {small:.3f} at ε={config.eps}",
        )


def check_iterative_vs_single_step(
    model: nn.Module, x: Tensor, y: Tensor, config: AttackConfig, single: str = "fgsm"
) -> None:
    """The iterative attack of ``config`` leaves accuracy no higher than ``single`` at the same ε."""
    it = _accuracy(model, run_config(config, model, x, y), y)
    one = _accuracy(model, run_config(AttackConfig(single, eps=config.eps, seed=config.seed), model, x, y), y)
    if it > one + tolerance((it + one) / 2, int(x.shape[0])):
        raise _fail(
            "iterative no weaker than single-step",
            config,
            f"accuracy {it:.3f} under the iterative attack > {one:.3f} under {single}",
        )
