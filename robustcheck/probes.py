"""The probes of one case: its attack-failure (integrity) indicators (:mod:`robustcheck.indicators`
says what each means) and the per-example worst case of a family. Functions take the
:class:`~robustcheck.engine.Engine` and use only its public methods; what kind of attack a case runs is
read from the attack class (``gradient_free``, ``single_step_version``, ``detector_aware``, ``noise``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from robustcheck import indicators as I
from robustcheck import metrics as M
from robustcheck.attacks import ATTACKS, accepted_params_of, build_attack
from robustcheck.attacks.gradients import eot_parts
from robustcheck.cache import content_key, expect_tensors
from robustcheck.engine import Engine
from robustcheck.suite import Attack, Case, FamilyCase

#: Examples and budgets of the per-case indicator probes (kept small: they run on every case).
PROBE_N = 64
UNBOUNDED_STEPS = 20
SQUARE_QUERIES = 200
#: The Square probe's first stage: its first rows. Square (200 queries per row) is the dearest probe, so it
#: runs on the rest of the ``PROBE_N`` rows only when it is ahead of the white-box attack on these.
SQUARE_STAGE_N = 16


def _sibling(case: Case, attack: Attack, eps: float) -> Case:
    return Case(case.suite, case.defence, attack, eps, case.threat)


def member_cases(case: FamilyCase) -> list[Case]:
    """The member cases of a family case: each member attack at the family's ε and threat model."""
    return [_sibling(case, attack, case.eps) for attack in case.members]


def _probe(engine: Engine, case: Case, key: tuple[Any, ...], fn: Any) -> float:
    """An attack probe's accuracy, memoised for the run and cached on disk across runs (the probes are
    attacks; a warm run must not repeat them)."""
    suite = case.suite
    data_hash = engine.data(suite).content_hash
    n = min(PROBE_N, suite.n_samples or engine.scale(suite).n_samples or PROBE_N)  # the rows probed
    ckey = content_key("probe", *key, data_hash, PROBE_N, n, engine.seed(suite), str(engine.device))
    return engine.memo(
        ckey,
        lambda: engine.cache.get_or_compute(
            "probes",
            ckey,
            lambda: {"accuracy": torch.tensor(fn(), dtype=torch.float64)},
            validate=expect_tensors(accuracy=()),
        )["accuracy"].item(),
    )


def _family_quantity(metrics: dict[str, Any], detector: bool, n: int) -> tuple[float | None, int, bool]:
    """(value, examples, higher_is_stronger) of the quantity the family indicators compare: the defended
    pipeline's accuracy (``corrected_accuracy``, lower = stronger attack) or, for a detector, the
    detector-aware success (``adaptive_success_rate`` over the correctly classified inputs, higher =
    stronger attack)."""
    if detector:
        n_correct = round((metrics.get("clean_accuracy") or 0.0) * n)
        return metrics.get("adaptive_success_rate"), max(n_correct, 1), True
    return metrics.get("corrected_accuracy"), n, False


def _weaker(
    stronger_expected: dict[str, Any], weaker_expected: dict[str, Any], detector: bool, n: int
) -> float | None:
    """1.0 if the attack expected to be at least as strong is weaker beyond noise on the family quantity."""
    a, m, higher = _family_quantity(stronger_expected, detector, n)
    b, _, _ = _family_quantity(weaker_expected, detector, n)
    return I.higher_beyond_noise(b, a, m) if higher else I.higher_beyond_noise(a, b, m)


def _noise_accuracy(model: nn.Module, x: Tensor, y: Tensor, eps: float, norm: str, seed: int) -> float:
    """Accuracy of ``model`` on x plus uniform random noise of norm ``norm`` and size ε, clipped to [0, 1]
    (``random-noise`` for L∞; a uniformly random direction of length ε for L2)."""
    if norm == "linf":
        noise = build_attack("random-noise", {}, seed=seed, batch_size=PROBE_N)
        [r] = noise(model, x, y, [eps])
        x_n = r.x_adv
    else:
        g = torch.Generator().manual_seed(seed + 104729)
        d = torch.randn(x.shape, generator=g, dtype=x.dtype).to(x.device)
        d = d / d.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (x.dim() - 1))
        x_n = (x + eps * d).clamp(0, 1)
    with torch.no_grad():
        return (model(x_n).argmax(1) == y).double().mean().item()


def indicators(engine: Engine, case: Case) -> dict[str, float | None]:
    """The per-case attack-failure indicators (see :mod:`robustcheck.indicators`)."""
    out: dict[str, float | None] = {}
    base = engine.base_metrics(case)
    x, y, target = engine.case_inputs(case)
    n = int(x.shape[0])
    cls = ATTACKS.get(case.attack.name)
    defence, defence_key = engine.defence(case.suite, case)
    detector = bool(defence.is_detector) and base.get("threshold") is not None
    targeted = bool(case.attack.params.get("targeted", False))
    # ε-monotonicity against the next smaller ε of the same attack: accuracy of the defended pipeline must
    # not rise with ε; for a detector, the detector-aware success must not fall
    smaller = sorted(e for e in case.attack.eps if e < case.eps)
    out["eps_nonmonotone"] = 0.0
    if smaller:
        prev = engine.base_metrics(_sibling(case, case.attack, smaller[-1]))
        out["eps_nonmonotone"] = _weaker(base, prev, detector, n)
    # iterative vs its single-step version at the same ε (PGD ≤ FGSM accuracy; ≥ FGSM success)
    single = cls.single_step_version
    out["iterative_weaker"] = None
    if single is not None and not targeted:
        s_case = _sibling(case, Attack(single, case.eps, id=f"{single}-ref"), case.eps)
        out["iterative_weaker"] = _weaker(base, engine.base_metrics(s_case), detector, n)
    if case.threat == "black-box":
        return out
    needs_defence = cls.detector_aware
    norm = cls.norm
    # a detector-aware attack must be at least as strong as detector-oblivious PGD (same ε, FPR, steps)
    out["adaptive_weaker"] = None
    if (
        case.threat == "white-box"
        and needs_defence
        and detector
        and not targeted
        and norm in ("linf", "l2")
        and case.eps > 0
    ):
        params: dict[str, Any] = {}
        steps = engine.attack_params(case).get("steps")
        if steps is not None:
            params["steps"] = int(steps)
        o_case = _sibling(
            case, Attack(f"pgd-{norm}", case.eps, id=f"pgd-{norm}-oblivious", **params), case.eps
        )
        oblivious = engine.base_metrics(o_case)
        out["oblivious_defended_rate"] = oblivious.get("defended_rate")
        out["adaptive_weaker"] = I.higher_beyond_noise(
            base.get("defended_rate"), oblivious.get("defended_rate"), n
        )
    # a white-box attacker can always play the grey-box x′ (crafted on the classifier alone): the white-box
    # case must not be weaker than the same attack's grey-box case, on the quantity the attack aims at
    out["whitebox_weaker"] = None
    if case.threat == "white-box":
        grey = engine.base_metrics(Case(case.suite, case.defence, case.attack, case.eps, "grey-box"))
        if needs_defence and detector:  # misclassified and not flagged (adaptive success)
            out["whitebox_weaker"] = _weaker(base, grey, True, n)
        else:
            out["whitebox_weaker"] = I.higher_beyond_noise(
                base.get("corrected_accuracy"), grey.get("corrected_accuracy"), n
            )
    model, model_key = engine.attack_target(case)
    xp, yp = x[:PROBE_N], y[:PROBE_N]
    zero, nan = engine.memo(("grad", model_key, PROBE_N), lambda: I.gradient_health(model, xp, yp))
    out["zero_gradient_fraction"] = zero
    out["shattered_gradients"] = I.shattered(zero, nan)
    # the score path: a detector whose score has no gradient disarms every detector-aware attack
    if case.threat == "white-box" and defence.is_detector and getattr(defence, "differentiable_score", True):
        s_zero, s_nan = engine.memo(
            ("score-grad", defence_key, case.suite.fpr, PROBE_N),
            lambda: I.score_gradient_health(defence.score, xp),
        )
        out["zero_score_gradient_fraction"] = s_zero
        out["shattered_score_gradients"] = I.shattered(s_zero, s_nan)
    seed = engine.seed(case.suite)
    if norm in I.UNBOUNDED_NORMS and not cls.minimization:
        big = I.unbounded_eps(norm, tuple(x.shape[1:]))

        # early stop on a deterministic target; on a stochastic one (EOT) a row would stop on one lucky draw
        # of the randomness and be judged on another, so every row takes all the steps there
        early = eot_parts(model)[1] == 1

        def unbounded() -> float:
            # from the test inputs (no random start): a uniform-noise start measures noise, not the model
            pgd = build_attack(
                f"pgd-{norm}",
                {"steps": UNBOUNDED_STEPS, "random_start": False, "early_stop": early},
                seed=seed,
                batch_size=PROBE_N,
            )
            [r] = pgd(model, xp, yp, [big])
            return 1.0 - r.success.double().mean().item()

        acc = _probe(
            engine,
            case,
            (
                "unbounded",
                model_key,
                norm,
                big,
                UNBOUNDED_STEPS,
                "from-x",
                "early-stop" if early else "all-steps",
            ),
            unbounded,
        )
        out["unbounded_accuracy"] = acc
        out["unbounded_not_zero"] = float(acc > I.UNBOUNDED_MAX_ACCURACY)
    iterative = "steps" in accepted_params_of(case.attack.name) and not cls.gradient_free
    # Square only seeks misclassification; a detector-aware attack also pays to stay unflagged, so its
    # lower fooling rate is its objective, not an attack failure: no black-box comparison for it.
    iterative = iterative and not needs_defence
    wb_acc: float | None = None
    fixed_eps = norm in ("linf", "l2") and case.eps > 0 and target is None

    def wb_correct() -> Tensor:
        """Per probe row: the attacked model still right on the case's x′."""
        x_adv = engine.adversarial(case, model, model_key, x, y, target)[:PROBE_N]
        with torch.no_grad():
            return model(x_adv).argmax(1) == yp

    def attack_accuracy() -> float:
        return wb_correct().double().mean().item()

    if iterative and fixed_eps and not cls.minimization:
        wb_ok = wb_correct()
        k = min(SQUARE_STAGE_N, int(xp.shape[0]))
        sq_key = ("square", model_key, norm, case.eps, SQUARE_QUERIES)

        def square(rows: slice) -> float:
            sq = build_attack(
                "square" if norm == "linf" else "square-l2",
                {"steps": SQUARE_QUERIES},
                seed=seed,
                batch_size=PROBE_N,
            )
            [r] = sq(model, xp[rows], yp[rows], [case.eps])
            return 1.0 - r.success.double().mean().item()

        # stage 1: the first k rows; the rest only where Square is ahead of the white-box attack there
        # (a masked gradient shows on every subset: Square ahead on the whole probe but not on its first
        # k rows has probability ≤ a few % for the gaps the indicator can resolve at PROBE_N rows)
        sq_acc = _probe(engine, case, (*sq_key, "rows", 0, k), lambda: square(slice(0, k)))
        wb_acc, n_bb = wb_ok[:k].double().mean().item(), k
        if sq_acc < wb_acc and xp.shape[0] > k:
            rest = _probe(engine, case, (*sq_key, "rows", k, PROBE_N), lambda: square(slice(k, None)))
            n_bb = int(xp.shape[0])
            sq_acc = (sq_acc * k + rest * (n_bb - k)) / n_bb
            wb_acc = wb_ok.double().mean().item()
        out["blackbox_accuracy"] = sq_acc
        out["blackbox_rows"] = float(n_bb)
        out["blackbox_beats_whitebox"] = I.higher_beyond_noise(wb_acc, sq_acc, n_bb)
        wb_acc = wb_ok.double().mean().item()
    # random noise of the same norm and ε must be clearly weaker than the attack (else the attack is broken);
    # not for noise itself, nor for a detector-aware attack on a detector (it trades fooling for staying
    # unflagged; adaptive_weaker checks it against oblivious PGD)
    if fixed_eps and not cls.noise and not (needs_defence and detector):
        noise_acc = _probe(
            engine,
            case,
            ("noise", model_key, norm, case.eps),
            lambda: _noise_accuracy(model, xp, yp, case.eps, norm, seed),
        )
        clean_acc = engine.memo(("probe-clean", model_key, PROBE_N), lambda: _clean_accuracy(model, xp, yp))
        if wb_acc is None:
            wb_acc = attack_accuracy()
        out["noise_accuracy"] = noise_acc
        out["noise_as_strong"] = I.noise_as_strong(wb_acc, noise_acc, clean_acc, int(xp.shape[0]))
    # a composite: raised with any of its declared parts (robustcheck.metrics.METRICS)
    out["gradient_masking"] = I.gradient_masking(*(out.get(p) for p in M.METRICS["gradient_masking"].parts))
    return out


@torch.no_grad()
def _clean_accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return (model(x).argmax(1) == y).double().mean().item()


def family_metrics(engine: Engine, case: FamilyCase) -> dict[str, float | None]:
    """Per-example worst case over the family's attacks at the case's ε and threat model."""
    suite = case.suite
    clf = engine.classifier(suite)
    defence, _ = engine.defence(suite, case)
    x, y, _ = engine.case_inputs(case)
    pred, d_clean, _ = engine.outputs(clf.module, defence, x)
    survive_acc = torch.ones_like(y, dtype=torch.bool)
    survive_def = torch.ones_like(y, dtype=torch.bool)
    out: dict[str, float | None] = {
        "clean_accuracy": M.accuracy(pred, y),
        "defended_clean_accuracy": M.accuracy(d_clean, y),
    }
    t = defence.threshold if defence.is_detector else None
    violations = 0.0
    for attack in case.members:
        member = _sibling(case, attack, case.eps)
        engine.base_metrics(member)
        x_m, y_m, tgt = engine.case_inputs(member)
        model, key = engine.attack_target(member)
        x_adv = engine.adversarial(member, model, key, x_m, y_m, tgt)
        _, d_adv, s_adv = engine.outputs(clf.module, defence, x_adv)
        ok = d_adv == y
        survive_acc &= ok
        survive_def &= ok | (s_adv > t) if (s_adv is not None and t is not None) else ok
        violations += M.budget_violations(x, x_adv, case.eps, ATTACKS.get(attack.name).norm)
        out[f"corrected_accuracy_{attack.id}".replace("-", "_")] = M.accuracy(d_adv, y)
    out["worst_case_corrected_accuracy"] = survive_acc.double().mean().item()
    out["worst_case_defended_rate"] = survive_def.double().mean().item()
    out["budget_violations"] = violations
    return out
