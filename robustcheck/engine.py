"""The engine: a run's data, models and caches. It loads and splits the data, trains or loads the
classifier, the surrogate and the defences, picks the model an attack runs on for a threat model
(:mod:`robustcheck.threat`), crafts the adversarial sets (shared across defences for grey-box) and measures
one case's base metrics on them (:data:`robustcheck.metrics.METRICS`). Evaluating a case — indicators,
families, stored metrics, bars — is :mod:`robustcheck.evaluate`, one layer up.

Expensive artefacts are cached in memory for the run and on disk across runs (content-hashed keys).
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import dataclasses
import hashlib
import inspect
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.weak import WeakIdKeyDictionary

from robustcheck import metrics as M
from robustcheck.allocator import check_malloc_setting, keep_freed_memory
from robustcheck.attacks import ATTACKS, accepted_params_of, build_attack
from robustcheck.cache import (
    DiskCache,
    content_key,
    expect_tensors,
    loads_into,
    module_fingerprint,
    state_dict_validator,
    tensor_digest,
)
from robustcheck.data import DatasetSplits, Split, load_dataset
from robustcheck.defences import DEFENCES, BaseDefence, FitContext
from robustcheck.defences.base import check_defence, check_outputs
from robustcheck.errors import ConfigError, ModelContractError
from robustcheck.indicators import recorder, silent_from
from robustcheck.models import CLASSIFIERS, LogProbabilities, check_classifier, frozen_eval, train_classifier
from robustcheck.models.contract import check_input_fits, check_preprocessing
from robustcheck.models.sources import ModelFile, Normalized, looks_like_path, private_module
from robustcheck.suite import Case, FamilyCase, Scale, Suite
from robustcheck.threat import AdaptiveTarget, DefendedLogits, white_box_model

log = logging.getLogger("robustcheck")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--robustcheck-device=cuda but CUDA is not available; use auto or cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ConfigError(f"device {name!r} unknown; use auto, cpu or cuda")
    return torch.device(name)


def device_identity(device: torch.device) -> str:
    """What a computed value depends on of the device it ran on: ``cpu``, or ``cuda:<GPU model>`` (float
    results, and so trained weights, differ across devices and GPU models). Part of the cache keys."""
    if device.type != "cuda":
        return device.type
    return f"cuda:{torch.cuda.get_device_name(device)}"


def exact_cuda() -> None:
    """Full fp32 and deterministic kernels on CUDA, for the whole process: no TF32 in convolutions and
    matrix products (PyTorch allows it in cuDNN convolutions by default: a 10-bit mantissa that moves
    margins and decisions, the numbers would no longer match the CPU's within float noise), and cuDNN's
    deterministic algorithms (transposed convolutions otherwise accumulate with atomics, so two calls of
    one decoder on the same input differ and the defence contract rightly calls it non-deterministic)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def derive_seed(seed: int, *tags: Any) -> int:
    """A seed for one purpose (``tags``), a fixed function of the suite's seed."""
    blob = repr((seed, *tags)).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") & ((1 << 63) - 1)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run the body with the global torch RNGs (CPU and every CUDA device) seeded with ``seed`` and restore
    the caller's RNG state afterwards: what the body draws depends on neither the process history nor
    changes what the caller draws next."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _ByIdentity:
    """A memo key for an unhashable object: equal only to itself, and it holds the object, so the object's
    id cannot be reused by another one while the memo lives."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.obj is self.obj


def _identity(obj: Any) -> Any:
    """``obj`` itself as a memo key (held by the memo), or a :class:`_ByIdentity` if it is unhashable."""
    try:
        hash(obj)
    except TypeError:
        return _ByIdentity(obj)
    return obj


#: state_dict entries that are not part of a defence's identity before calibration (the engine sets them)
_NOT_IDENTITY = ("_threshold",)
_PLAIN = (bool, int, float, str, type(None))


def _setting(v: Any) -> Any:
    """A hashable description of one setting's value by content, or ``_SKIP`` for what is not a setting
    (modules, callables, other objects). Tensors and numpy arrays by their bytes (a tensor attribute that
    is not a buffer is in no ``state_dict``); dicts, lists and tuples element by element."""
    if isinstance(v, _PLAIN):
        return v
    if isinstance(v, Tensor):
        return ("tensor", _tensor_setting_digest(v))
    if isinstance(v, np.ndarray) and v.dtype.kind in "biuf":
        return ("ndarray", tensor_digest(torch.from_numpy(np.ascontiguousarray(v))))
    if isinstance(v, (tuple, list)):
        items = tuple(_setting(e) for e in v)
        return _SKIP if _SKIP in items else items
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        pairs = tuple((k, _setting(e)) for k, e in sorted(v.items()))
        return _SKIP if any(e is _SKIP for _, e in pairs) else ("dict", pairs)
    return _SKIP


_SKIP = ("not-a-setting",)
#: digests of tensor settings by tensor object, with the version counter they were taken at (the engine
#: asks for a defence's settings on every case; a large tensor attribute is hashed once per change)
_TENSOR_DIGESTS: WeakIdKeyDictionary = WeakIdKeyDictionary()


def _tensor_setting_digest(t: Tensor) -> str:
    seen = _TENSOR_DIGESTS.get(t)
    if seen is None or seen[0] != t._version:
        seen = (t._version, tensor_digest(t))
        _TENSOR_DIGESTS[t] = seen
    return seen[1]


def _settings(obj: Any) -> tuple[tuple[str, Any], ...]:
    """An object's settings that live outside ``state_dict`` and ``config()`` (e.g. a p-value threshold,
    an inference-time noise scale, a kernel held as a plain tensor, a dict of options), by content:
    plain attributes, tuples and lists of them, and (public attributes only: an ``nn.Module`` keeps its
    machinery in private dicts) tensors, numpy arrays and dicts. Hashable."""
    out: list[tuple[str, Any]] = []
    for k, v in sorted(getattr(obj, "__dict__", {}).items()):
        if k.startswith("_") and not isinstance(v, _PLAIN):
            if isinstance(v, (tuple, list)) and all(isinstance(e, _PLAIN) for e in v):
                out.append((k, tuple(v)))
            continue
        value = _setting(v)
        if value is not _SKIP:
            out.append((k, value))
    return tuple(out)


def _default_batch(device: torch.device) -> int:
    """Examples per batch when the suite sets none: 64 on the CPU (benchmarks/batch_size.py: 2.2x faster
    per gradient step than 250 on the 2-core CPU with glibc's default malloc; with the engine's
    ``malloc="keep"`` the time per example is the same from 64 to 250, benchmarks/allocator.py, and 64 stays
    so that the numbers do not move), 1024 on CUDA (H100: one step over 4,096 digits takes
    0.0099 s at 1024, 0.0093 s at 4096, 0.0108 s at 512; 1024 keeps the activations of larger models
    within a GPU's memory)."""
    return 64 if device.type == "cpu" else 1024


@contextlib.contextmanager
def _moved(module: nn.Module, device: torch.device, *, back_to: torch.device) -> Iterator[None]:
    """The body sees ``module`` on ``device`` (in place: what is bound to it sees it too); it returns to
    ``back_to`` afterwards. A no-op when the two are the same."""
    if device == back_to:
        yield
        return
    module.to(device)
    try:
        yield
    finally:
        module.to(back_to)


def _private_copy(defence: Any) -> Any:
    """A deep copy of a user's defence instance that shares (does not copy) its bound classifier."""
    bound = getattr(defence, "_classifier", None)
    memo = {id(c): c for c in bound} if isinstance(bound, list) else {}
    try:
        return copy.deepcopy(defence, memo)
    except Exception:
        log.warning(
            "robustcheck: defence instance %r cannot be deep-copied; the engine calibrates it in place",
            type(defence).__name__,
        )
        return defence


def _describe(value: Any) -> Any:
    """A stable description of a suite setting for a content key (a callable by its module and qualname,
    not by its repr, which holds its address)."""
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in value.items()}
    if callable(value) and not isinstance(value, nn.Module):
        return (
            f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
        )
    if isinstance(value, nn.Module):
        return [type(value).__qualname__, module_fingerprint(value)]
    return value


_OWN_MODULES = ("robustcheck", "torch", "torchvision", "torchattacks", "functools")


def user_source_digest(objs: Iterable[Any]) -> str | None:
    """sha256 of the source files of the modules defining every user-defined class (and its user-defined
    bases) or function among ``objs``: the whole module, since code reads module-level names too. None if
    one's source cannot be read (defined in a REPL or ``exec``)."""
    seen: dict[str, str] = {}
    for obj in objs:
        for o in inspect.getmro(obj) if inspect.isclass(obj) else (obj,):
            mod = getattr(o, "__module__", None) or ""
            if mod.split(".")[0] in _OWN_MODULES or mod in seen:
                continue
            if mod == "builtins" and getattr(builtins, getattr(o, "__qualname__", ""), None) is o:
                continue  # object, int, …: not the user's (a class made by exec() claims builtins too)
            module = inspect.getmodule(o)
            try:
                seen[mod] = inspect.getsource(module) if module is not None else ""
            except (OSError, TypeError):
                return None
            if module is None:
                return None
    return content_key("user-code", sorted(seen.items()))


def _is_factory(f: Any) -> bool:
    """A user's callable classifier spec (a factory, a class), not a module instance or a path."""
    return callable(f) and not isinstance(f, nn.Module)


def _eps_index(eps_list: list[float], eps: float) -> int:
    """Position of ``eps`` in ``eps_list``, matched as the suite matches a family's ε (``math.isclose``)."""
    for i, e in enumerate(eps_list):
        if e == eps or math.isclose(e, eps):
            return i
    raise ConfigError(f"ε {eps:g} is not among the attack's ε {list(eps_list)}")


#: Suite fields that do not change a case's numbers (labels, bars, the grid itself, resolved elsewhere: the
#: dataset by its content hash, the classifier by its key).
_SUITE_FIELDS_NOT_IN_METRICS = frozenset(
    {
        "name",
        "thresholds",
        "references",
        "attacks",
        "defences",
        "families",
        "classifier",
        "scales",
        "data_root",
        "seed",
        "n_samples",
        "indicators",
        "dataset",
    }
)


#: Per-sample result arrays of one case (:func:`per_sample_results`), in the order they are documented.
PER_SAMPLE_KEYS = (
    "label",
    "pred_clean",
    "pred_adv",
    "defended_pred_clean",
    "defended_pred_adv",
    "score_clean",
    "score_adv",
    "flagged_clean",
    "flagged",
    "linf",
    "l2",
    "l0",
)
#: Gallery arrays of one case (:func:`gallery_images`); ``gallery_purified`` for purifying defences only.
GALLERY_KEYS = ("gallery_index", "gallery_clean", "gallery_adv", "gallery_purified")
#: Inputs shown in a case's gallery.
GALLERY_SIZE = 8


def per_sample_results(
    y: Tensor,
    pred: Tensor,
    d_clean: Tensor,
    pred_adv: Tensor,
    d_adv: Tensor,
    s_clean: Tensor | None,
    s_adv: Tensor | None,
    threshold: float | None,
    x: Tensor,
    x_adv: Tensor,
) -> dict[str, Tensor]:
    """One case's results per input, on the CPU: ``label`` y, ``pred_clean`` C(x), ``pred_adv`` C(x′),
    ``defended_pred_clean`` pred_D(x), ``defended_pred_adv`` pred_D(x′) (int16, int32 for class indices
    above 32767); ``score_clean`` S(x), ``score_adv`` S(x′) (float32, NaN without detector scores);
    ``flagged_clean`` S(x) > t, ``flagged`` S(x′) > t (bool, False without a threshold); ``linf``, ``l2``
    (float32) and ``l0`` (int32: entries with |x′ − x| > 1e-8) norms of x′ − x."""
    labels = (y, pred, d_clean, pred_adv, d_adv)
    top = max((int(t.max()) for t in labels if t.numel()), default=0)
    idt = torch.int16 if top <= torch.iinfo(torch.int16).max else torch.int32
    n = y.shape[0]

    def scores(s: Tensor | None) -> Tensor:
        if s is None:
            return torch.full((n,), math.nan, dtype=torch.float32)
        return s.detach().view(-1).float().cpu()

    def flags(s: Tensor | None) -> Tensor:
        if s is None or threshold is None:
            return torch.zeros(n, dtype=torch.bool)
        return (s.detach().view(-1) > threshold).cpu()

    d = (x_adv - x).detach().flatten(1).double()
    return {
        "label": y.detach().view(-1).to(idt).cpu(),
        "pred_clean": pred.detach().view(-1).to(idt).cpu(),
        "pred_adv": pred_adv.detach().view(-1).to(idt).cpu(),
        "defended_pred_clean": d_clean.detach().view(-1).to(idt).cpu(),
        "defended_pred_adv": d_adv.detach().view(-1).to(idt).cpu(),
        "score_clean": scores(s_clean),
        "score_adv": scores(s_adv),
        "flagged_clean": flags(s_clean),
        "flagged": flags(s_adv),
        "linf": (d.abs().amax(1) if d.shape[1] else torch.zeros(n, dtype=torch.float64)).float().cpu(),
        "l2": d.norm(p=2, dim=1).float().cpu(),
        "l0": (d.abs() > 1e-8).sum(1).to(torch.int32).cpu(),
    }


def as_images(x: Tensor) -> Tensor:
    """Inputs in [0, 1] as uint8 images N×C×H×W: (N, H, W) and flat (N, D) inputs as one channel (a
    square D as D = H·W, any other D as one row of D pixels)."""
    t = x.detach().cpu().float()
    if t.dim() == 3:
        t = t.unsqueeze(1)
    elif t.dim() == 2:
        side = math.isqrt(t.shape[1])
        t = t.view(t.shape[0], 1, side, side) if side * side == t.shape[1] else t.view(t.shape[0], 1, 1, -1)
    elif t.dim() != 4:
        t = t.reshape(t.shape[0], 1, 1, -1)
    return (torch.nan_to_num(t).clamp(0, 1) * 255).round().to(torch.uint8)


@torch.no_grad()
def gallery_images(
    defence: BaseDefence, x: Tensor, x_adv: Tensor, samples: dict[str, Tensor], size: int = GALLERY_SIZE
) -> dict[str, Tensor]:
    """Up to ``size`` inputs of a case for a report's gallery: first those the attack broke (defended
    label right on x, wrong on x′, x′ not flagged), then the other x′ with a wrong defended label and not
    flagged, then the rest, each in input order. ``gallery_index`` (int32) their positions in the
    per-sample arrays; ``gallery_clean`` x, ``gallery_adv`` x′ and, for a purifying defence,
    ``gallery_purified`` P(x′): uint8 N×C×H×W (:func:`as_images`)."""
    y = samples["label"]
    wrong = (samples["defended_pred_adv"] != y) & ~samples["flagged"]
    broke = wrong & (samples["defended_pred_clean"] == y)
    rank = torch.where(broke, 0, torch.where(wrong, 1, 2))
    order = torch.sort(rank, stable=True).indices[:size]
    idx = order.to(x.device)
    out = {
        "gallery_index": order.to(torch.int32),
        "gallery_clean": as_images(x[idx]),
        "gallery_adv": as_images(x_adv[idx]),
    }
    if defence.is_purifier and idx.numel():
        out["gallery_purified"] = as_images(defence.purify(x_adv[idx]))
    return out


@dataclass
class _Model:
    module: nn.Module
    key: str


class Engine:
    """Owns the caches of one run. Not thread-safe; one per pytest process (xdist worker)."""

    def __init__(
        self,
        *,
        device: str = "auto",
        scale: str = "default",
        cache_dir: str | None = None,
        data_root: str | None = None,
        seed: int | None = None,
        train_device: str | None = None,
        malloc: str = "keep",
    ) -> None:
        # glibc keeps freed tensor memory for reuse (robustcheck.allocator): the same numbers, and the
        # kernel no longer zeroes an attack step's activations afresh on every step
        if check_malloc_setting(malloc) == "keep":
            keep_freed_memory()
        self.device = resolve_device(device)
        # where models train (default: ``device``). Training is not bit-reproducible across devices, so the
        # device type is part of every trained model's key; a CUDA run that trains on the CPU reuses a CPU
        # run's weights (tests/evaluation/test_cuda.py compares CPU and CUDA evaluations that way)
        self.train_device = self.device if train_device is None else resolve_device(train_device)
        if "cuda" in (self.device.type, self.train_device.type):
            exact_cuda()
        self.scale_name = scale
        self.cache = DiskCache(cache_dir)
        self.data_root = data_root
        self.seed_override = seed
        self._data: dict[Any, DatasetSplits] = {}
        self._classifiers: dict[Any, _Model] = {}
        self._defences: dict[Any, tuple[BaseDefence, str]] = {}
        self._adv: dict[str, Tensor] = {}
        self._clean: dict[Any, tuple[Tensor, Tensor, Tensor | None]] = {}
        self._silent: dict[str, float | None] = {}
        self._memo: dict[Any, Any] = {}

    def forget_results(self) -> None:
        """Drop what this run computed from the models (adversarial sets, outputs, metrics, probes) and keep
        the loaded data, classifiers and defences: the next evaluation recomputes every attack (the disk cache
        still answers unless it is disabled). For benchmarks that time evaluations on warm models."""
        self._adv.clear()
        self._clean.clear()
        self._silent.clear()
        self._memo.clear()

    # ------------------------------------------------------------------ building blocks
    def seed(self, suite: Suite) -> int:
        return suite.seed if self.seed_override is None else self.seed_override

    def scale(self, suite: Suite) -> Scale:
        return suite.scale(self.scale_name)

    def batch_size(self, suite: Suite) -> int:
        """Attack batch size: the suite's, else :func:`_default_batch` (64 on CPU, 1024 on CUDA)."""
        if suite.batch_size is not None:
            return suite.batch_size
        return _default_batch(self.device)

    def data(self, suite: Suite) -> DatasetSplits:
        """The suite's data in any accepted form (:mod:`robustcheck.data.sources`), split and hashed; a
        user's object is memoised by identity (held by the memo)."""
        root = suite.data_root if suite.data_root is not None else self.data_root
        dataset = suite.dataset_at(self.scale_name)  # a scale may evaluate on another dataset
        key = (
            dataset if isinstance(dataset, str) else _ByIdentity(dataset),
            self.seed(suite),
            str(root),
        )
        if key not in self._data:
            self._data[key] = load_dataset(dataset, seed=self.seed(suite), root=root)
        return self._data[key]

    def train_split(self, suite: Suite) -> Split:
        return self.data(suite).train.subset(self.scale(suite).train_limit)

    def classifier(self, suite: Suite, seed: int | None = None, spec: Any = None) -> _Model:
        """The suite's classifier; ``seed`` and ``spec`` (any form ``Suite(classifier=...)`` takes) override
        the suite's (the black-box transfer surrogate, :meth:`surrogate`). Before any training it is
        checked on one batch of the suite's data (:func:`~robustcheck.models.contract.check_input_fits`)."""
        data = self.data(suite)
        scale = self.scale(suite)
        seed = self.seed(suite) if seed is None else seed
        spec = suite.classifier if spec is None else spec
        user = not isinstance(spec, str) or (looks_like_path(spec) and spec not in CLASSIFIERS)
        if isinstance(spec, str) and user:
            spec = ModelFile(spec)
        # the declared preprocessing belongs to the user's models (registered ones train on [0, 1] pixels)
        normalize = getattr(suite, "normalize", None) if user else None
        # a factory or instance is memoised by the object itself (held by the memo, so its id is never
        # reused); the key of what it gives is a content key: architecture and the bytes of every tensor
        outputs = getattr(suite, "outputs", "logits")  # a suite setting that changes the module returned
        mem_key = (_identity(spec), data.content_hash, scale, seed, outputs, normalize)
        if mem_key in self._classifiers:
            return self._classifiers[mem_key]
        name = f"classifier of suite {suite.name!r}"
        probe = data.val.x[:256]
        if not user:
            info = CLASSIFIERS.get(spec)()
            epochs = min(scale.classifier_epochs, info.train.get("epochs", scale.classifier_epochs))
            hp = {**info.train, "epochs": epochs}
            train = self.train_split(suite)
            with seeded_rng(seed):
                untrained = info.build(data.input_shape, data.num_classes)
            # the architecture must take the data before a minute is spent training it
            check_input_fits(
                untrained.eval(), probe[:8], data.num_classes, name=f"{name} ({spec!r}, untrained)"
            )
            # training is not bit-reproducible across torch thread counts: the count is part of the key
            key = content_key(
                "classifier",
                spec,
                repr(untrained),
                data.content_hash,
                hp,
                len(train),
                seed,
                torch.get_num_threads(),
                device_identity(self.train_device),
            )

            def compute() -> dict[str, Any]:
                with seeded_rng(seed):  # the caller's RNG is left as it was
                    model = info.build(data.input_shape, data.num_classes)
                    train_classifier(
                        model,
                        train,
                        epochs=epochs,
                        batch_size=hp.get("batch_size", 128),
                        lr=hp.get("lr", 1e-3),
                        seed=seed,
                        device=self.train_device,
                        desc=spec,
                        **{k: hp[k] for k in ("optimizer", "momentum", "milestones") if k in hp},
                    )
                return {k: v.detach().cpu() for k, v in model.state_dict().items()}

            state = self.cache.get_or_compute(
                "classifiers", key, compute, validate=state_dict_validator(untrained)
            )
            with seeded_rng(seed):
                module = info.build(data.input_shape, data.num_classes)
            module.load_state_dict(state)
            module.eval()
        else:
            module, identity = self._user_module(suite, spec, seed)
            check_input_fits(module.eval(), probe[:8], data.num_classes, name=name, normalize=normalize)
            if normalize is not None:
                module = Normalized(module, *normalize)
            key = content_key(
                "user-classifier",
                identity,
                f"{type(module).__module__}.{type(module).__qualname__}",
                repr(module),
                module_fingerprint(module),
                outputs,
                normalize,
                # the source of every class in it and of its factory: an edited forward is another model
                self.code_digest(
                    *(type(m) for m in module.modules()),
                    *(f for f in (spec, getattr(spec, "factory", None)) if _is_factory(f)),
                ),
            )
            if outputs == "probabilities":  # declared: attacks and scores see log p (valid logits)
                module = LogProbabilities(module)
            if suite.preprocessing_check:
                check_preprocessing(
                    module, probe, data.val.y[:256], data.num_classes, name=name, normalize=normalize
                )
        module = frozen_eval(module.to(self.device), name=name)
        check_classifier(module, data.val.x[:32].to(self.device), data.num_classes, name=name)
        self._classifiers[mem_key] = _Model(module, key)
        return self._classifiers[mem_key]

    @staticmethod
    def _user_module(suite: Suite, spec: Any, seed: int) -> tuple[nn.Module, Any]:
        """(the module a user's classifier spec gives, a hashable identity of the spec)."""
        if isinstance(spec, nn.Module):  # an instance: used as it is, on a private copy
            return private_module(spec), f"instance:{type(spec).__module__}.{type(spec).__qualname__}"
        if isinstance(
            spec, ModelFile
        ):  # the file's bytes: TorchScript/export code changes with no weight change
            return spec.load(), (spec.identity, hashlib.sha256(Path(spec.path).read_bytes()).hexdigest())
        # a factory that initialises weights draws them from an RNG seeded by the suite's seed, not
        # from whatever state the process left in the global RNG
        with seeded_rng(derive_seed(seed, "classifier-factory")):
            module = spec()
        if not isinstance(module, nn.Module):
            raise ConfigError(
                f"suite {suite.name!r}: classifier factory returned {type(module).__name__}, "
                f"not a torch.nn.Module"
            )
        return module, (
            getattr(spec, "__module__", None),
            getattr(spec, "__qualname__", type(spec).__qualname__),
        )

    def surrogate(self, suite: Suite) -> _Model:
        """The classifier black-box *transfer* attacks craft x′ on: ``suite.surrogate``, else the suite's
        registered architecture, else the reference classifier registered for the suite's dataset, trained
        on the suite's data from seed + 1. A surrogate with the target's weights would make transfer a
        grey-box attack: refused."""
        seed = self.seed(suite) + 1
        spec = suite.surrogate
        if spec is None:
            registered = isinstance(suite.classifier, str) and suite.classifier in CLASSIFIERS
            spec = suite.classifier if registered else self._reference_classifier(suite)
        sur = self.classifier(suite, seed=seed, spec=spec)
        target = self.classifier(suite)
        if (
            sur.key == target.key
            or module_fingerprint(sur.module) == module_fingerprint(target.module)
            or self._same_outputs(suite, sur.module, target.module)  # the same weights in another module
        ):
            raise ConfigError(
                f"suite {suite.name!r}: the black-box transfer surrogate has the same weights as the "
                f"classifier under test, which would make transfer a grey-box attack; give "
                f"Suite(surrogate=...) a factory of an independently trained model"
            )
        return sur

    @torch.no_grad()
    def _same_outputs(self, suite: Suite, a: nn.Module, b: nn.Module) -> bool:
        """True when ``a`` and ``b`` give bit-identical logits on the first 64 validation inputs: the same
        function, whatever its parameters are called (a wrapper around the target's weights has other
        parameter names, hence another fingerprint)."""
        x = self.val_inputs(suite)[:64]
        return bool(torch.equal(a(x), b(x)))

    def _reference_classifier(self, suite: Suite) -> str:
        """The registered classifier made for the suite's data (mnist-cnn for MNIST), else the one sized
        from the data's shape (``shape-cnn``)."""
        dataset = self.data(suite).name
        names = CLASSIFIERS.list()
        for primary_only in (True, False):  # the one made for this dataset first (mnist-cnn for MNIST)
            for name in names:
                datasets = CLASSIFIERS.get(name)().datasets
                if (datasets[:1] if primary_only else datasets).count(dataset):
                    return name
        return "shape-cnn"

    def defence(self, suite: Suite, case: Case) -> tuple[BaseDefence, str]:
        """(the bound, trained and calibrated defence, its *evaluated-defence key*).

        Two keys: the training key (of the trained-weights cache entry) covers what training depends on,
        including the weights before training; the evaluated-defence key returned here hashes the
        training key with the weights actually evaluated (bytes of every parameter and buffer), the
        calibrated threshold and the defence's plain settings. Everything downstream (adversarial sets
        crafted against the defence, the clean-output memo, probes) is keyed by the latter."""
        spec = case.defence
        clf = self.classifier(suite)
        scale, seed, data = self.scale(suite), self.seed(suite), self.data(suite)
        if spec.instance is not None:  # an instance is identified by its content, not its id
            inst = spec.instance
            fp = module_fingerprint(inst, exclude=_NOT_IDENTITY) if isinstance(inst, nn.Module) else None
            source: Any = ("instance", _identity(inst), fp, _settings(inst))
        else:
            source = ("factory", _identity(spec.factory) if spec.factory is not None else None)
        mem_key = (
            clf.key,
            spec.name,
            repr(sorted(spec.params.items())),
            suite.fpr,
            source,
            data.content_hash,
            scale,
            spec.epochs_at(self.scale_name, scale),
            seed,
        )
        if mem_key in self._defences:
            return self._defences[mem_key]
        if spec.instance is not None:
            d = _private_copy(spec.instance)  # calibrating or fitting must not change the user's object
        else:
            cls = spec.factory if spec.factory is not None else DEFENCES.get(spec.name)
            try:
                # initial weights come from an RNG seeded by the suite's seed, not from the process history
                with seeded_rng(derive_seed(seed, "defence-init", spec.name)):
                    d = cls(**spec.params)
            except TypeError as exc:
                raise ConfigError(
                    f"defence {spec.name!r}: bad parameters {dict(spec.params)}: {exc}"
                ) from None
        if not isinstance(d, BaseDefence):
            raise ConfigError(
                f"defence {spec.name!r}: the factory returned {type(d).__name__}, not a "
                f"robustcheck.defences.BaseDefence"
            )
        with seeded_rng(derive_seed(seed, "defence-build", spec.name)):  # networks sized from the data
            d.build(data.input_shape, data.num_classes)
        with seeded_rng(
            derive_seed(seed, "defence-bind", spec.name)
        ):  # bind may build modules (ae-kl's head)
            d.bind(clf.module)
        key = content_key(
            "defence",
            spec.name,
            f"{type(d).__module__}.{type(d).__qualname__}",
            d.config(),
            repr(d),
            clf.key,
            data.content_hash,
            spec.epochs_at(self.scale_name, scale),
            scale.train_limit,
            seed,
            torch.get_num_threads(),
            device_identity(self.train_device),
            module_fingerprint(d, exclude=_NOT_IDENTITY),  # the weights training starts from
            self.code_digest(type(d), spec.factory),  # a user's defence: its source (fit, predict, ...)
        )
        if getattr(d, "trainable", False):
            train = self.train_split(suite)
            ctx = FitContext(
                classifier=clf.module,
                train=train,
                val=data.val,
                num_classes=data.num_classes,
                epochs=spec.epochs_at(self.scale_name, scale),
                seed=seed,
                device=self.train_device,
            )

            def compute() -> dict[str, Any]:
                with (
                    seeded_rng(derive_seed(seed, "defence-fit", spec.name)),
                    _moved(clf.module, self.train_device, back_to=self.device),
                ):
                    d.to(self.train_device)
                    d.fit(ctx)
                return {k: v.detach().cpu() for k, v in d.state_dict().items()}

            d.load_state_dict(
                self.cache.get_or_compute(
                    "defences", key, compute, validate=loads_into(lambda: _private_copy(d))
                )
            )
        d.to(self.device).eval()
        for p in d.parameters():
            p.requires_grad_(False)
        probe = data.val.x[:32].to(self.device)
        # the contract checks draw from their own seeded RNG, so they change no number
        with seeded_rng(derive_seed(seed, "defence-check", spec.name)):
            check_outputs(d, probe)  # scores and purified images, before calibration uses them
        with seeded_rng(derive_seed(seed, "defence-calibrate", spec.name)):
            d.calibrate(self.val_inputs(suite), suite.fpr)
        with seeded_rng(derive_seed(seed, "defence-check", spec.name)):
            check_defence(d, probe)  # and the defended labels: the whole contract, before any attack
        evaluated = content_key(
            "evaluated-defence",
            key,
            module_fingerprint(d),
            d.threshold if d.is_detector else None,
            _describe(dict(sorted(spec.params.items()))),
            _settings(d),
        )
        self._defences[mem_key] = (d, evaluated)
        return d, evaluated

    def _adversarial_key(self, case: Case, model_key: str, x: Tensor) -> str:
        """Content key of a case's adversarial set on ``model_key`` from the inputs ``x``."""
        suite, spec = case.suite, case.attack
        minimization = ATTACKS.get(spec.name).minimization
        eps_run = list(spec.eps) if minimization else [case.eps]
        batch_size = self.batch_size(suite)  # in the key: float results may differ across batch sizes
        return content_key(
            "adv-min" if minimization else "adv",
            model_key,
            self.data(suite).content_hash,
            spec.name,
            self.attack_params(case),
            eps_run if minimization else case.eps,
            int(x.shape[0]),
            self.seed(suite),
            batch_size,
            device_identity(self.device),  # float results differ across devices
            self.code_digest(ATTACKS.get(spec.name)),  # a user-registered attack: its source
        )

    def adversarial(
        self, case: Case, model: nn.Module, model_key: str, x: Tensor, y: Tensor, target: Tensor | None
    ) -> Tensor:
        """The case's adversarial examples of ``x`` crafted on ``model`` (memoised, cached on disk).

        A query (gradient-free) attack in white-box on a detector: per example, the stronger of its x′ on
        the defended label (``model``, which ignores the flag) and its x′ on the black-box oracle (which
        sees the flag and counts a flagged query as a failure): success and unflagged first, then
        success, else the former. A white-box attacker can run either, so the case is never weaker than
        the black-box one on corrected accuracy or on evasion (found 2026-11-27: MagNet's white-box Square
        had a higher defended rate than its black-box Square)."""
        x_adv = self._crafted(case, model, model_key, x, y, target)
        if case.threat != "white-box" or not ATTACKS.get(case.attack.name).gradient_free:
            return x_adv
        defence, defence_key = self.defence(case.suite, case)
        if not defence.is_detector or defence.threshold is None:
            return x_adv
        oracle_key = f"black:{defence_key}"  # the black-box case's set (attack_target): shared with it
        x_oracle = self._crafted(case, DefendedLogits(defence), oracle_key, x, y, target)
        return self.memo(
            ("white-box-query-union", self._adversarial_key(case, model_key, x), oracle_key),
            lambda: self._stronger_per_example(defence, x_adv, x_oracle, y, target),
        )

    def _stronger_per_example(
        self, defence: BaseDefence, first: Tensor, second: Tensor, y: Tensor, target: Tensor | None
    ) -> Tensor:
        """Per example, ``second`` where it ranks higher for the attacker than ``first`` (2: the defended
        label is wrong, or the target, and the input unflagged; 1: wrong but flagged; 0: right)."""

        def rank(x_adv: Tensor) -> Tensor:
            # the defended labels and scores the metrics read (one batched pass; flagged: S > t)
            _, dpred, score = self.outputs(defence.classifier, defence, x_adv)
            assert score is not None and defence.threshold is not None
            success = dpred == target if target is not None else dpred != y
            return success.long() * (2 - (score > defence.threshold).long())

        take = (rank(second) > rank(first)).view(-1, *([1] * (first.dim() - 1)))
        return torch.where(take, second, first)

    def _crafted(
        self, case: Case, model: nn.Module, model_key: str, x: Tensor, y: Tensor, target: Tensor | None
    ) -> Tensor:
        """:meth:`adversarial` without the white-box query union."""
        suite, spec = case.suite, case.attack
        params = self.attack_params(case)
        # minimisation attacks (CW, DeepFool) run once for the whole ε list and are projected per ε
        minimization = ATTACKS.get(spec.name).minimization
        eps_run = list(spec.eps) if minimization else [case.eps]
        key = self._adversarial_key(case, model_key, x)
        if key not in self._adv:
            attack = build_attack(spec.name, params, seed=self.seed(suite), batch_size=self.batch_size(suite))

            def compute() -> dict[str, Any]:
                rec = None if minimization else recorder(attack, model, x, y, case.eps, target)
                results = attack(rec if rec is not None else model, x, y, eps_run, target=target)
                if minimization:  # the entry layout of minimisation attacks is (len(eps_run), N, ...)
                    return {"x_adv": torch.stack([r.x_adv.detach().cpu() for r in results])}
                out: dict[str, Any] = {"x_adv": results[0].x_adv.detach().cpu()}  # one ε: (N, ...)
                if rec is not None:
                    out["silent_success"] = silent_from(rec, results[0].success)
                return out

            shape = (len(eps_run), *x.shape) if minimization else tuple(x.shape)
            blob = self.cache.get_or_compute(
                "adversarial", key, compute, validate=expect_tensors(x_adv=shape)
            )
            self._adv[key] = blob["x_adv"].to(self.device)
            self._silent[key] = blob.get("silent_success")
        return self._adv[key][_eps_index(eps_run, case.eps)] if minimization else self._adv[key]

    def attack_params(self, case: Case) -> dict[str, Any]:
        params = dict(case.attack.params)
        steps = self.scale(case.suite).attack_steps
        # the scale caps gradient iterations; a query attack's ``steps`` are queries (Square: 5000 by
        # default), which a cap of tens would turn into a no-op attack
        gradient_free = ATTACKS.get(case.attack.name).gradient_free
        if steps is not None and not gradient_free and "steps" in accepted_params_of(case.attack.name):
            params["steps"] = min(steps, int(params.get("steps", steps)))
        return params

    def code_digest(self, *objs: Any) -> str | None:
        """:func:`user_source_digest` of ``objs`` (the user's classes and functions among them; robustcheck's
        own are in every disk key through its source hash), memoised for the run: the keys of trained
        weights, of a user's classifier and of adversarial sets hold it, so that an edited user defence,
        model or attack never reuses what its old code computed."""
        objs = tuple(o for o in objs if o is not None)
        return self.memo(("code-digest", objs), lambda: user_source_digest(objs))

    def user_code(self, case: Case) -> str | None:
        """Digest of the source of the user's code a case runs (classes of the defence and of every
        classifier submodule, factories, a user-registered attack): robustcheck's own source and the library
        versions are in every disk key already, the user's are not, and an edited ``predict`` must not
        reuse stored metrics. None when some source cannot be read (defined in a REPL or ``exec``)."""
        suite = case.suite
        objs: list[Any] = [type(self.defence(suite, case)[0]), ATTACKS.get(case.attack.name)]
        objs += [type(m) for m in self.classifier(suite).module.modules()]
        for spec in (suite.classifier, case.defence.factory, getattr(suite.classifier, "factory", None)):
            if callable(spec) and not isinstance(spec, nn.Module):
                objs.append(spec)
        return self.code_digest(*objs)  # memoised: it is asked for on every case

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per run for ``key`` (a content key or a tuple of them)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def base_metrics(self, case: Case) -> dict[str, Any]:
        """The metrics of one (non-family) case, memoised per run (sibling cases reuse them)."""
        return self.base_case(case)[0]

    def provenance(self, case: Case) -> dict[str, Any]:
        """What a case measured, for the run record: the data (identity, content hash, shape, classes, split
        sizes), the classifier (identity, content key, weights hash) and the evaluated defence (name,
        parameters, config, evaluated-defence key, threshold)."""
        suite = case.suite
        data, clf = self.data(suite), self.classifier(suite)
        out: dict[str, Any] = {
            "dataset": {
                "id": suite.dataset_id_at(self.scale_name),
                "name": data.name,
                "content_hash": data.content_hash,
                "input_shape": list(data.input_shape),
                "num_classes": data.num_classes,
                "sizes": {
                    "train": len(self.train_split(suite)),
                    "val": len(data.val),
                    "test": len(data.test),
                },
            },
            "classifier": {
                "id": suite.classifier_id,
                "key": clf.key,
                "weights": module_fingerprint(clf.module),
                "normalize": [list(v) for v in suite.normalize] if suite.normalize else None,
            },
            "torch_threads": torch.get_num_threads(),
        }
        if not isinstance(case, FamilyCase):
            d, evaluated = self.defence(suite, case)
            out["defence"] = {
                "id": case.defence.id,
                "name": case.defence.name,
                "params": {k: _describe(v) for k, v in sorted(case.defence.params.items())},
                "config": _describe(d.config()),
                "epochs": case.defence.epochs_at(self.scale_name, self.scale(suite))
                if getattr(d, "trainable", False)
                else None,
                "evaluated_key": evaluated,
                "threshold": float(d.threshold) if d.is_detector and d.threshold is not None else None,
            }
        return out

    def metrics_key(self, case: Case) -> str:
        """Content key of a case's metrics: everything they depend on (classifier and evaluated-defence
        keys, data, the attack and its resolved parameters, ε, threat model, attack target, samples,
        seed, batch size, scale and the suite's other settings), never a name or an object id."""
        suite = case.suite
        clf = self.classifier(suite)
        _, defence_key = self.defence(suite, case)
        _, model_key = self.attack_target(case)
        settings = {
            f.name: _describe(getattr(suite, f.name))
            for f in dataclasses.fields(suite)
            if f.name not in _SUITE_FIELDS_NOT_IN_METRICS
        }
        return content_key(
            "metrics",
            type(case).__name__,
            clf.key,
            defence_key,
            model_key,
            self.data(suite).content_hash,
            case.attack.name,
            self.attack_params(case),
            case.eps,
            case.threat,
            suite.n_samples or self.scale(suite).n_samples,
            self.seed(suite),
            self.batch_size(suite),
            self.scale(suite),
            str(self.device),
            settings,
            [_describe(a) for a in getattr(case, "members", ())],
        )

    def base_case(self, case: Case) -> tuple[dict[str, Any], dict[str, Tensor], dict[str, Tensor]]:
        """(base metrics, detector scores, per-sample results and gallery images) of one (non-family)
        case, memoised per run; see :func:`per_sample_results` and :func:`gallery_images`."""
        return self.memo(("metrics", self.metrics_key(case)), lambda: self._base_metrics(case))

    def attack_target(self, case: Case) -> tuple[nn.Module, str]:
        """(model the attack runs on, its cache key) for the case's threat model (see robustcheck.threat)."""
        suite = case.suite
        clf = self.classifier(suite)
        defence, defence_key = self.defence(suite, case)
        cls = ATTACKS.get(case.attack.name)
        adaptive = cls.detector_aware
        n_eot = suite.eot_samples
        if case.threat == "grey-box":
            return (AdaptiveTarget(None, clf.module) if adaptive else clf.module), clf.key
        if case.threat == "white-box":
            if adaptive:
                target = AdaptiveTarget(defence, clf.module, n_eot)
                if not (target.has_detector or target.has_purifier):
                    return target, clf.key
                return target, f"adaptive:{defence_key}:eot={n_eot if defence.stochastic else 1}"
            model = white_box_model(defence, n_eot)
            if model is clf.module:
                return model, clf.key
            return model, f"white:{defence_key}:eot={n_eot if defence.stochastic else 1}"
        # black-box
        if cls.gradient_free:
            if not (defence.is_detector or defence.is_purifier):
                return DefendedLogits(defence), f"black:{clf.key}"
            return DefendedLogits(defence), f"black:{defence_key}"
        if adaptive:
            raise ConfigError(
                f"attack {case.attack.name!r} is detector-aware and needs gradients of the defence; "
                f"it has no black-box form (use white-box)"
            )
        surrogate = self.surrogate(suite)
        return surrogate.module, f"transfer:{surrogate.key}"

    def case_inputs(self, case: Case) -> tuple[Tensor, Tensor, Tensor | None]:
        suite = case.suite
        data = self.data(suite)
        x, y = self.test_inputs(suite)
        targeted = bool(case.attack.params.get("targeted", False))
        target = self.targets(y, data.num_classes, self.seed(suite)) if targeted else None
        return x, y, target

    def test_inputs(self, suite: Suite) -> tuple[Tensor, Tensor]:
        """The suite's attacked test examples (the first ``n_samples``) on the engine's device: moved once
        per run, shared by every case of the suite."""
        data = self.data(suite)
        n = suite.n_samples or self.scale(suite).n_samples
        test = data.test.subset(n)
        key = ("test-inputs", data.content_hash, len(test), str(self.device))
        return self.memo(key, lambda: (test.x.to(self.device), test.y.to(self.device)))

    def val_inputs(self, suite: Suite) -> Tensor:
        """The suite's validation images on the engine's device (calibration), moved once per run."""
        data = self.data(suite)
        return self.memo(
            ("val-inputs", data.content_hash, str(self.device)), lambda: data.val.x.to(self.device)
        )

    def _base_metrics(self, case: Case) -> tuple[dict[str, Any], dict[str, Tensor], dict[str, Tensor]]:
        suite = case.suite
        data = self.data(suite)
        clf = self.classifier(suite)
        defence, defence_key = self.defence(suite, case)
        x, y = self.test_inputs(suite)
        attack_cls = ATTACKS.get(case.attack.name)
        targeted = bool(case.attack.params.get("targeted", False))
        target = self.targets(y, data.num_classes, self.seed(suite)) if targeted else None

        model, model_key = self.attack_target(case)
        x_adv = self.adversarial(case, model, model_key, x, y, target)
        scores: dict[str, Tensor] = {}
        samples: dict[str, Tensor] = {}
        metrics: dict[str, Any] = self.compute_metrics(
            clf.module,
            defence,
            x,
            y,
            x_adv,
            case.eps,
            attack_cls.norm,
            clean_key=(defence_key, int(x.shape[0])),
            scores_out=scores,
            target=target,
            samples_out=samples,
        )
        metrics["silent_success"] = self._silent.get(self._adversarial_key(case, model_key, x))
        with seeded_rng(derive_seed(self.seed(suite), "gallery", case.defence.id)):  # stochastic purifiers
            samples.update(gallery_images(defence, x, x_adv, samples))
        return metrics, scores, samples

    @staticmethod
    def targets(y: Tensor, num_classes: int, seed: int) -> Tensor:
        g = torch.Generator().manual_seed(seed + 7919)
        shift = torch.randint(1, num_classes, (y.shape[0],), generator=g).to(y.device)
        return (y + shift) % num_classes

    @torch.inference_mode()
    def outputs(
        self, clf: nn.Module, defence: BaseDefence, x: Tensor
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """(C(x), pred_D(x), S(x) or None), batched."""
        preds, dpreds, scores = [], [], []
        step = _default_batch(self.device)  # see batch_size()
        for i in range(0, x.shape[0], step):
            xb = x[i : i + step]
            preds.append(clf(xb).argmax(1))
            dp, sc = defence.predict_and_score(xb)
            dpreds.append(dp)
            if sc is not None:
                scores.append(sc)
        pred, dpred = torch.cat(preds), torch.cat(dpreds)
        if dpred.dtype.is_floating_point or dpred.dtype == torch.bool:
            raise ModelContractError(
                f"defence {defence.name!r}: predict must return integer class labels, got dtype {dpred.dtype}"
            )
        if dpred.shape != pred.shape:
            raise ModelContractError(
                f"defence {defence.name!r}: predict returned shape {tuple(dpred.shape)}, "
                f"expected {tuple(pred.shape)}"
            )
        score = torch.cat(scores) if scores else None
        if score is not None and (score.shape != pred.shape or not torch.isfinite(score).all()):
            raise ModelContractError(
                f"defence {defence.name!r}: score must be finite with shape "
                f"{tuple(pred.shape)}, got {tuple(score.shape)} (NaN or inf present: "
                f"{not bool(torch.isfinite(score).all())})"
            )
        return pred, dpred, score

    def compute_metrics(
        self,
        clf: nn.Module,
        defence: BaseDefence,
        x: Tensor,
        y: Tensor,
        x_adv: Tensor,
        eps: float,
        norm: str,
        clean_key: Any = None,
        scores_out: dict[str, Tensor] | None = None,
        target: Tensor | None = None,
        samples_out: dict[str, Tensor] | None = None,
    ) -> dict[str, float | None]:
        """All metrics of MISSION.md for one case: each declared metric's ``compute`` on the case's
        :class:`~robustcheck.metrics.Outcome` (:data:`robustcheck.metrics.METRICS`). ``clean_key`` caches
        the clean-side outputs, which are the same for every case of one defence. ``scores_out``, if given,
        receives the detector scores (``clean``, ``adv``) and the ``successful`` mask, for ROC curves;
        ``samples_out`` the per-sample results (:func:`per_sample_results`)."""
        if clean_key is not None:  # the engine passes the evaluated-defence key; the threshold, in any case
            clean_key = (clean_key, defence.threshold if defence.is_detector else None)
        if clean_key is not None and clean_key in self._clean:
            pred, d_clean, s_clean = self._clean[clean_key]
        else:
            pred, d_clean, s_clean = self.outputs(clf, defence, x)
            if clean_key is not None:
                self._clean[clean_key] = (pred, d_clean, s_clean)
        pred_adv, d_adv, s_adv = self.outputs(clf, defence, x_adv)
        succ = M.success_mask(pred, pred_adv, y)
        t = defence.threshold if defence.is_detector else None
        if scores_out is not None and t is not None and s_clean is not None and s_adv is not None:
            scores_out.update(clean=s_clean.detach().cpu(), adv=s_adv.detach().cpu(), successful=succ.cpu())
        if samples_out is not None:
            per_sample = per_sample_results(y, pred, d_clean, pred_adv, d_adv, s_clean, s_adv, t, x, x_adv)
            samples_out.update(per_sample)
        outcome = M.Outcome(
            y=y,
            pred=pred,
            defended_pred=d_clean,
            adv_pred=pred_adv,
            defended_adv_pred=d_adv,
            clean_scores=s_clean,
            adv_scores=s_adv,
            threshold=t,
            success=succ,
            x=x,
            x_adv=x_adv,
            eps=eps,
            norm=norm,
            target=target,
        )
        # every declared metric with a ``compute`` (robustcheck.metrics.METRICS), in declaration order
        return {m.name: m.compute(outcome) for m in M.METRICS.values() if m.compute is not None}
