"""Checks shared by every place where user input enters: one :class:`ConfigError` naming the field, the
value and what is allowed; never an internal traceback, never silent acceptance.

* numbers, ints, bools and seeds (:func:`check_int`, :func:`check_number`, :func:`check_bool`,
  :func:`check_seed`): a bool is never a number, a number is never a bool, huge ints never overflow;
* constructor parameters of attacks and defences against the signature and its annotations
  (:func:`check_params`);
* metric values, their ranges (:func:`metric_range`, :func:`check_metric_value`) and which cases a
  metric applies to (:func:`metric_applies`).

Seeds are ints with ``0 <= seed < 2**63`` (:data:`SEED_LIMIT`): they are stored in int64 fields and
derived seeds add small offsets.

Example:
    >>> check_int("Scale", "n_samples", 64, minimum=1)
    64
    >>> check_number("Thresholds", "corrected_accuracy", float("inf"))
    Traceback (most recent call last):
    ...
    robustcheck.errors.ConfigError: Thresholds: corrected_accuracy must be a finite number, got inf
"""

from __future__ import annotations

import inspect
import math
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from robustcheck.errors import ConfigError
from robustcheck.metrics import METRICS

SEED_LIMIT = 2**63
INT_LIMIT = 2**63  # counts (samples, epochs, steps, batch sizes) beyond int64 are a mistake


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def describe(value: Any) -> str:
    """``repr`` of a value for a message, shortened."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def is_number(value: Any) -> bool:
    """A real number that is not a bool (numpy scalars included)."""
    return (
        isinstance(value, numbers.Real) and not isinstance(value, (bool,)) and type(value).__name__ != "bool_"
    )


def as_float(value: Any) -> float | None:
    """``float(value)`` for a number, ``None`` when it is not finite or too large for a float."""
    try:
        f = float(value)
    except (OverflowError, TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def check_eps(eps: Any, where: str) -> tuple[float, ...]:
    """Validate an ε or list of ε; returns a tuple of finite non-negative floats."""
    values = list(eps) if isinstance(eps, (list, tuple)) else [eps]
    if not values:
        raise ConfigError(f"{where}: eps list is empty")
    out = []
    for e in values:
        if not is_number(e):
            raise ConfigError(f"{where}: eps must be a number, got {describe(e)} ({type(e).__name__})")
        f = as_float(e)
        if f is None:
            raise ConfigError(f"{where}: eps must be finite, got {describe(e)}")
        if f < 0:
            raise ConfigError(f"{where}: eps must be >= 0, got {e!r}")
        out.append(f)
    if len(set(out)) != len(out):
        raise ConfigError(f"{where}: eps list has duplicates: {out}")
    return tuple(out)


def check_bool(where: str, field: str, value: Any, *, none_ok: bool = False) -> bool | None:
    if value is None and none_ok:
        return None
    if not isinstance(value, bool):
        allowed = "True, False or None" if none_ok else "True or False"
        raise ConfigError(
            f"{_prefix(where)}{field} must be {allowed}, got {describe(value)} ({type(value).__name__})"
        )
    return value


def check_int(
    where: str,
    field: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    none_ok: bool = False,
) -> int | None:
    """An int (not a bool) with ``minimum <= value <= maximum``; ``maximum`` defaults to 2**63 - 1."""
    if value is None and none_ok:
        return None
    hi = INT_LIMIT - 1 if maximum is None else maximum
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or (minimum is not None and value < minimum) or value > hi:
        if minimum == 1:
            what = "a positive int"
        elif minimum == 0:
            what = "an int >= 0"
        elif minimum is not None:
            what = f"an int >= {minimum}"
        else:
            what = "an int"
        if maximum is not None:
            what += f" <= {maximum}"
        elif ok and value > hi:
            what += " below 2**63"
        if none_ok:
            what += " or None"
        raise ConfigError(f"{_prefix(where)}{field} must be {what}, got {describe(value)}")
    return value


def check_number(
    where: str,
    field: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    none_ok: bool = False,
) -> float | None:
    """A finite real number (not a bool) in ``[minimum, maximum]`` (``> 0`` when ``positive``)."""
    if value is None and none_ok:
        return None
    f = as_float(value) if is_number(value) else None
    suffix = " or None" if none_ok else ""
    if f is None:
        raise ConfigError(f"{_prefix(where)}{field} must be a finite number{suffix}, got {describe(value)}")
    if positive and not f > 0:
        raise ConfigError(f"{_prefix(where)}{field} must be a number > 0{suffix}, got {describe(value)}")
    if (minimum is not None and f < minimum) or (maximum is not None and f > maximum):
        lo = "-inf" if minimum is None else f"{minimum:g}"
        hi = "inf" if maximum is None else f"{maximum:g}"
        raise ConfigError(f"{_prefix(where)}{field} must be in [{lo}, {hi}], got {describe(value)}")
    return f


def check_seed(where: str, field: str, value: Any, *, none_ok: bool = False) -> int | None:
    """A seed: an int (not a bool) with ``0 <= seed < 2**63``."""
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise ConfigError(
            f"{_prefix(where)}{field} must be an int with 0 <= {field} < 2**63"
            f"{' or None' if none_ok else ''}, got {describe(value)}"
        )
    return value


def check_str(
    where: str, field: str, value: Any, *, none_ok: bool = False, choices: Any = None
) -> str | None:
    if value is None and none_ok:
        return None
    if not isinstance(value, str) or (choices is not None and value not in choices):
        allowed = f"one of {', '.join(map(repr, choices))}" if choices is not None else "a string"
        raise ConfigError(
            f"{_prefix(where)}{field} must be {allowed}{' or None' if none_ok else ''}, got {describe(value)}"
        )
    return value


def check_mapping(where: str, field: str, value: Any, *, none_ok: bool = False) -> Mapping[Any, Any]:
    if value is None and none_ok:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{_prefix(where)}{field} must be a mapping (dict), got {describe(value)} "
            f"({type(value).__name__})"
        )
    return value


# ---------------------------------------------------------------------------- parameters by signature
_SIMPLE = {bool: "bool", int: "int", float: "float", str: "str", type(None): "None"}


def resolve_annotation(annotation: Any, func: Any) -> Any:
    """An annotation as a type (string annotations evaluated in the function's module); None if unknown."""
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        try:
            return eval(annotation, dict(getattr(func, "__globals__", {})))  # the class's own annotation
        except Exception:
            return None
    return annotation


def _simple_members(hint: Any) -> tuple[type, ...] | None:
    """The members of ``hint`` when it is bool, int, float, str, None or a union of them; else None."""
    if hint is None:
        return None
    if hint in _SIMPLE:
        return (hint,)
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        members = typing.get_args(hint)
        if all(m in _SIMPLE for m in members):
            return tuple(members)
    return None


def check_value(where: str, field: str, value: Any, hint: Any) -> None:
    """Check ``value`` against a simple annotation (bool, int, float, str, None and unions of them): a bool
    only for bool, an int (not a bool) for int, a finite number for float; seeds in [0, 2**63)."""
    members = _simple_members(hint)
    if members is None:
        if field.endswith("seed") and (isinstance(value, int) or value is None):
            check_seed(where, field, value, none_ok=True)
        return
    if value is None and type(None) in members:
        return
    ok = False
    if bool in members and isinstance(value, bool):
        ok = True
    elif int in members and isinstance(value, int) and not isinstance(value, bool):
        ok = True
        if field.endswith("seed"):
            check_seed(where, field, value, none_ok=type(None) in members)
        elif abs(value) >= INT_LIMIT:
            raise ConfigError(f"{_prefix(where)}{field} must be an int below 2**63, got {describe(value)}")
    elif float in members and is_number(value):
        if as_float(value) is None:
            raise ConfigError(f"{_prefix(where)}{field} must be a finite number, got {describe(value)}")
        ok = True
    elif str in members and isinstance(value, str):
        ok = True
    if not ok:
        words = {
            bool: "True or False",
            int: "an int",
            float: "a finite number",
            str: "a string",
            type(None): "None",
        }
        names = [words[m] for m in members]
        allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        allowed = allowed.replace("True or False, None", "True, False or None")
        raise ConfigError(
            f"{_prefix(where)}{field} must be {allowed}, got {describe(value)} ({type(value).__name__})"
        )


def signature_params(obj: Any) -> tuple[dict[str, tuple[inspect.Parameter, Any]], bool]:
    """({name: (parameter, function it belongs to)}, takes arbitrary keywords) of a class's constructor
    (following ``**kwargs`` up the MRO) or of a factory function."""
    out: dict[str, tuple[inspect.Parameter, Any]] = {}
    if inspect.isclass(obj):
        funcs = [k.__dict__["__init__"] for k in obj.__mro__ if "__init__" in k.__dict__ and k is not object]
    else:
        funcs = [obj]
    for func in funcs:
        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError):
            return out, True
        var_kw = False
        for i, p in enumerate(sig.parameters.values()):
            if inspect.isclass(obj) and i == 0 and p.kind is not p.KEYWORD_ONLY:
                continue  # self
            if p.kind is p.VAR_KEYWORD:
                var_kw = True
            elif p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in out:
                out[p.name] = (p, func)
        if not var_kw:
            return out, False
    return out, True  # **kwargs all the way up (or a factory taking **kwargs)


def check_params(
    where: str, obj: Any, params: Mapping[str, Any], *, reserved: Mapping[str, str] = {}
) -> None:
    """Every key of ``params`` is a parameter of ``obj``'s constructor (unless it takes ``**kwargs``), and
    every value fits the parameter's annotation when that is simple (see :func:`check_value`)."""
    accepted, open_ended = signature_params(obj)
    for key, value in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"{_prefix(where)}parameter names must be strings, got {describe(key)}")
        if key in reserved:
            raise ConfigError(f"{_prefix(where)}{key!r} {reserved[key]}")
        if key not in accepted:
            if open_ended:
                continue
            shown = ", ".join(sorted(k for k in accepted if k not in reserved)) or "(none)"
            raise ConfigError(f"{where} has no parameter {key!r}; accepted: {shown}")
        p, func = accepted[key]
        check_value(where, key, value, resolve_annotation(p.annotation, func))


# ---------------------------------------------------------------------------- metrics
# Ranges and applicability are declared with each metric (robustcheck.metrics.MetricInfo); the sets below
# are views of the built-in declarations, for importers.
BUILTIN_METRICS = frozenset(METRICS)  # metrics.py has declared its own by now; later ones are the user's
_BUILTIN = list(METRICS.values())

#: metrics a detector defines (score, threshold); None on any other defence
DETECTOR_METRICS = frozenset(m.name for m in _BUILTIN if m.detector_only)
#: the worst case over a family of attacks: only family cases (``Suite(families=...)``) have them
FAMILY_METRICS = frozenset(m.name for m in _BUILTIN if m.family_only)
FAMILY_CASE_METRICS = frozenset(m.name for m in _BUILTIN if m.family_only or m.on_family_cases)
#: integrity indicators (robustcheck.indicators): none with Suite(indicators=False)
INDICATOR_METRICS = frozenset(m.name for m in _BUILTIN if m.suite_indicators is True)
NOT_BLACK_BOX_METRICS = frozenset(m.name for m in _BUILTIN if m.not_black_box or m.white_box_only)
WHITE_BOX_METRICS = frozenset(m.name for m in _BUILTIN if m.white_box_only)
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    m.name: m.range for m in _BUILTIN if m.range != (None, None)
}


def metric_range(metric: str) -> tuple[float | None, float | None]:
    """(lowest, highest) value ``metric`` can take (its declared ``range``); None where unbounded (user
    metrics declared without a range: both)."""
    info = METRICS.get(metric)
    return info.range if info is not None else (None, None)


def check_metric_value(
    where: str, metric: str, value: Any, *, none_ok: bool = False, slack: float = 0.0
) -> None:
    """A finite number inside the metric's range (see :func:`metric_range`)."""
    if value is None and none_ok:
        return
    f = as_float(value) if is_number(value) else None
    if f is None:
        raise ConfigError(
            f"{_prefix(where)}{metric} must be a finite number{' or null' if none_ok else ''}, "
            f"got {describe(value)}"
        )
    lo, hi = metric_range(metric)
    if (lo is not None and f < lo - slack) or (hi is not None and f > hi + slack):
        if lo is not None and hi is not None:
            shown = f"[{lo:g}, {hi:g}]"
        else:
            shown = f">= {lo:g}" if lo is not None else f"<= {hi:g}"
        raise ConfigError(
            f"{_prefix(where)}{metric}={describe(value)} is outside the range of {metric}: {shown}"
        )


def metric_applies(metric: str, case: Any, detector: Callable[[Any], bool | None] | None = None) -> bool:
    """Whether ``case`` has a value for ``metric`` (a bar on a metric a case lacks would gate nothing), from
    the metric's declared applicability (:class:`~robustcheck.metrics.MetricInfo`). ``detector(defence)``
    says whether a defence spec is a detector (None: unknown); by default the spec's own answer
    (:meth:`robustcheck.suite.Defence.detector`)."""
    if detector is None:

        def detector(defence: Any) -> bool | None:
            probe = getattr(defence, "detector", None)
            return probe() if callable(probe) else None

    if metric not in BUILTIN_METRICS:
        return True  # declared by the user (register_metric); added by a hook, we cannot know where
    info = METRICS[metric]
    if getattr(case, "family", ""):
        return metric in FAMILY_CASE_METRICS
    if info.family_only:
        return False
    if info.suite_indicators is not None and info.suite_indicators != bool(case.suite.indicators):
        return False
    if (info.not_black_box or info.white_box_only) and case.threat == "black-box":
        return False
    if info.white_box_only and case.threat != "white-box":
        return False
    return not (info.detector_only and detector(case.defence) is False)


def why_not(metric: str, family_cases: bool = False) -> str:
    """The cases a metric applies to, for a message (``family_cases``: the matched cases include some)."""
    info = METRICS.get(metric)
    if info is not None and info.family_only:
        return "it is measured on family cases only (Suite(families=...); select them with attack=<family>)"
    parts = []
    if info is not None:
        if info.detector_only:
            parts.append("a detector defence")
        if info.white_box_only:
            parts.append("the white-box threat model")
        elif info.not_black_box:
            parts.append("a grey- or white-box threat model")
        if info.suite_indicators is not None:
            parts.append(f"Suite(indicators={info.suite_indicators})")
    need = f"it needs {' and '.join(parts)}" if parts else "it is not measured there"
    if family_cases:
        need += "; family cases have only " + ", ".join(sorted(FAMILY_CASE_METRICS))
    return need


# ---------------------------------------------------------------------------- files: baseline, run records
def _check_metrics_map(where: str, metrics: Any) -> None:
    """``{metric: number or null}``; known metrics inside their range (a tiny slack for float rounding)."""
    check_mapping("", where, metrics)
    for metric, value in metrics.items():
        if metric in METRICS:
            check_metric_value(where, metric, value, none_ok=True, slack=1e-9)
        elif value is not None and (not is_number(value) or as_float(value) is None):
            raise ConfigError(f"{where}: {metric} must be a finite number or null, got {describe(value)}")


def _check_suites(where: str, suites: Any, *, nested: bool) -> None:
    """``suites``: {suite: {case: entry}}; an entry is ``{"metrics": {...}, ...}`` (records) or the metrics
    themselves (baselines; ``{"metrics": {...}}`` accepted too)."""
    check_mapping(where, "suites", suites)
    for suite, cases in suites.items():
        check_mapping(where, f"suites.{suite}", cases)
        for case, entry in cases.items():
            field = f"suites.{suite}.{case}"
            check_mapping(where, field, entry)
            if "metrics" in entry or nested:
                _check_metrics_map(f"{where}: {field}.metrics", entry.get("metrics", {}))
                for key in ("outcome", "status", "case", "suite", "nodeid", "compared_with"):
                    if key in entry:
                        check_str(where, f"{field}.{key}", entry[key], none_ok=True)
            else:
                _check_metrics_map(f"{where}: {field}", entry)


def check_baseline(where: str, data: Any, *, schema: int) -> None:
    """Every field of a baseline file (``robustcheck-baseline.json``); see :mod:`robustcheck.history`."""
    check_mapping("", where, data)
    if "schema" in data and (isinstance(data["schema"], bool) or data["schema"] != schema):
        raise ConfigError(
            f"{where}: schema {describe(data['schema'])} is not supported; this robustcheck reads "
            f"baseline schema {schema} (rewrite it with --robustcheck-update-baseline)"
        )
    if "suites" not in data:
        raise ConfigError(f"{where}: expected an object with 'suites' and 'metrics'")
    for key in ("updated", "source_run", "scale"):
        if key in data:
            check_str(where, key, data[key], none_ok=True)
    check_mapping(where, "metrics", data.get("metrics"), none_ok=True)
    _check_suites(where, data["suites"], nested=False)


def check_run_record(where: str, rec: Any, *, schema: int) -> None:
    """Every field of a run record that robustcheck reads back (history, compare, plot, reference)."""
    if not isinstance(rec, Mapping) or "suites" not in rec:
        raise ConfigError(f"{where} is not a robustcheck run record (no 'suites')")
    s = rec.get("schema")
    if s is not None and (isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= schema):
        raise ConfigError(
            f"{where}: schema {describe(s)} is not supported; this robustcheck reads run records of "
            f"schema 1 to {schema}"
        )
    for key in ("started", "finished", "scale", "device", "compared_with"):
        if key in rec:
            check_str(where, key, rec[key], none_ok=True)
    if "seed_override" in rec:
        check_seed(where, "seed_override", rec["seed_override"], none_ok=True)
    for key in ("machine", "packages", "tolerances", "seeds"):
        check_mapping(where, key, rec.get(key), none_ok=True)
    git = check_mapping(where, "git", rec.get("git"), none_ok=True)
    for key in ("commit", "branch"):
        if key in git:
            check_str(where, f"git.{key}", git[key], none_ok=True)
    if "dirty" in git:
        check_bool(where, "git.dirty", git["dirty"], none_ok=True)
    _check_suites(where, rec["suites"], nested=True)
