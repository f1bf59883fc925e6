"""Datasets from the user (issue 13, item 1): every accepted form of ``Suite(dataset=...)`` on real 8×8
digits and on a 3-channel non-square synthetic set with 3 classes; splits, hashes, registry, entry points,
large Datasets on disk, and one clear error for each bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import robustcheck.data.sources as S
from robustcheck import Attack, Scale, Suite
from robustcheck.data import DATASETS, load_dataset, register_dataset
from robustcheck.engine import Engine
from robustcheck.errors import ConfigError
from robustcheck.evaluate import evaluate as evaluate_case
from robustcheck.suite import SCALE_NAMES

TINY = {
    s: Scale(n_samples=24, train_limit=120, classifier_epochs=1, defence_epochs=1, attack_steps=2)
    for s in SCALE_NAMES
}


def colour_set(n: int = 240, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """3×12×20 images of 3 classes: a bright stripe in one of three colour channels and positions, plus
    noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = 0.2 * torch.rand(n, 3, 12, 20, generator=g)
    for c in range(3):
        x[y == c, c, 2 + 3 * c : 5 + 3 * c, :] += 0.7
    return x.clamp(0, 1), y


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    b = load_digits()
    return torch.from_numpy(b.images.astype(np.float32) / 16).unsqueeze(1), torch.from_numpy(b.target).long()


# --- the embedded second dataset -------------------------------------------------------------------------
def test_digits_8x8_is_real_and_stratified():
    d = load_dataset("digits-8x8")
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10
    assert len(d.train) + len(d.val) + len(d.test) == 1797
    assert float(d.train.x.min()) == 0.0 and float(d.train.x.max()) == 1.0
    counts = torch.bincount(d.test.y, minlength=10)
    assert int(counts.min()) >= 33 and int(counts.max()) <= 38  # 20 % of ~180 per class
    assert load_dataset("digits-8x8").content_hash == d.content_hash
    assert load_dataset("digits-8x8", seed=1).content_hash != d.content_hash


# --- every form --------------------------------------------------------------------------------------------
class PairDataset(torch.utils.data.Dataset):
    """A user's map-style Dataset returning numpy H×W×C uint8 images and int labels."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        self.y = y.tolist()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def _folder(tmp_path, x, y):
    from PIL import Image

    root = tmp_path / "images"
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        d = root / f"class_{int(label)}"
        d.mkdir(parents=True, exist_ok=True)
        arr = (img * 255).round().to(torch.uint8).permute(1, 2, 0).squeeze(-1).numpy()
        Image.fromarray(arr).save(d / f"{i:04d}.png")
    return root


@pytest.mark.parametrize("which", ["digits", "colour"])
def test_every_form_gives_the_same_kind_of_splits(which, tmp_path):
    x, y = digits() if which == "digits" else colour_set()
    shape, k = tuple(x.shape[1:]), int(y.max()) + 1
    q = (x * 255).round() / 255  # exactly representable in 8 bits, so folder/uint8 forms hold the same data
    forms = {
        "tensors": (q, y),
        "numpy uint8": ((q * 255).round().numpy().astype(np.uint8), y.numpy()),
        "mapping train/test": {"train": (q[:-60], y[:-60]), "test": (q[-60:], y[-60:])},
        "mapping train/val/test": {
            "train": (q[:-90], y[:-90]),
            "validation": (q[-90:-60], y[-90:-60]),
            "test": (q[-60:], y[-60:]),
        },
        "mapping train/val": {"train": (q[:-30], y[:-30]), "val": (q[-30:], y[-30:])},
        "dataset": PairDataset(q, y),
        "mapping of datasets": {
            "train": PairDataset(q[:-60], y[:-60]),
            "test": PairDataset(q[-60:], y[-60:]),
        },
        "callable": lambda: {"train": (q[:-60], y[:-60]), "test": (q[-60:], y[-60:])},
        "folder": _folder(tmp_path, q, y),
        "folder as str": str(_folder(tmp_path / "again", q, y)),
    }
    hashes = {}
    for form, spec in forms.items():
        d = load_dataset(spec, seed=0)
        assert d.input_shape == shape and d.num_classes == k, form
        assert len(d.train) and len(d.val) and len(d.test), form
        assert sum(map(len, (d.train, d.val, d.test))) == len(y), form
        for s in (d.train, d.val, d.test):
            assert s.x.dtype == torch.float32 and float(s.x.min()) >= 0 and float(s.x.max()) <= 1, form
        # derived splits are stratified: every class in every derived split
        assert set(d.val.y.tolist()) == set(range(k)), form
        hashes[form] = d.content_hash
    # the same images in the same order hash the same whatever the form
    assert hashes["tensors"] == hashes["numpy uint8"] == hashes["dataset"]
    assert hashes["mapping train/test"] == hashes["callable"] == hashes["mapping of datasets"]
    assert hashes["folder"] == hashes["folder as str"]


def test_hash_covers_every_pixel_and_label():
    x, y = colour_set()
    base = load_dataset((x, y)).content_hash
    x2 = x.clone()
    x2[-1, 0, 0, 0] += 1e-3
    y2 = y.clone()
    y2[-1] = (y2[-1] + 1) % 3
    assert load_dataset((x2, y)).content_hash != base
    assert load_dataset((x, y2)).content_hash != base
    assert load_dataset((x, y), seed=1).content_hash != base  # another split


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/maps"), reason="reads /proc/self/maps")
def test_large_dataset_is_streamed_to_disk_not_held(monkeypatch):
    x, y = colour_set(300)
    small = load_dataset(PairDataset(x, y))
    monkeypatch.setattr(S, "IN_MEMORY_BYTES", 10_000)  # force the on-disk path
    big = load_dataset(PairDataset(x, y))
    assert big.content_hash == small.content_hash
    assert torch.equal(big.test.x, small.test.x) and torch.equal(big.train.y, small.train.y)
    # the splits are views on a memory-mapped file, not copies in memory
    for split in (big.train, big.val, big.test):
        assert _mapped_file(split.x.data_ptr()).startswith(S._TMP[0]), "split not backed by the data file"
    assert not _mapped_file(small.train.x.data_ptr()).startswith(S._TMP[0])


def _mapped_file(address: int) -> str:
    """The file backing the memory mapping that holds ``address`` ("" for anonymous memory)."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(v, 16) for v in parts[0].split("-"))
            if lo <= address < hi:
                return parts[5] if len(parts) > 5 else ""
    return ""


def test_register_dataset_decorator_and_entry_point(tmp_path, monkeypatch):
    x, y = colour_set(90)

    @register_dataset("test-colours")
    def colours(seed: int = 0):
        return x, y

    try:
        assert "test-colours" in DATASETS
        d = load_dataset("test-colours")
        assert d.name == "test-colours" and d.input_shape == (3, 12, 20)
        with pytest.raises(ConfigError, match="already registered"):
            register_dataset("test-colours")(lambda: (x, y))
        Suite(name="s", dataset="test-colours", classifier=lambda: None, attacks=[Attack("fgsm", eps=0.1)])
    finally:
        DATASETS.unregister("test-colours")
    # entry point group robustcheck.datasets
    pkg = tmp_path / "ep_dataset_pkg.py"
    pkg.write_text("import torch\ndef load():\n    return torch.rand(60, 1, 5, 7), torch.arange(60) % 2\n")
    dist = tmp_path / "ep_dataset_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-dataset-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[robustcheck.datasets]\nep-tiny = ep_dataset_pkg:load\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from robustcheck.data.registry import _check_loader
    from robustcheck.registry import Registry

    reg = Registry("dataset", entry_point_group="robustcheck.datasets", validator=_check_loader)
    assert "ep-tiny" in reg.list()
    assert load_dataset(reg.get("ep-tiny")).input_shape == (1, 5, 7)


class ArrayLabels(torch.utils.data.Dataset):
    """Labels as numpy arrays, as a transform or ``np.load`` gives them: 0-d, shape (1,), or float/2-wide."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, form) -> None:
        self.x, self.y, self.form = x, y, form

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], self.form(int(self.y[i]))


@pytest.mark.parametrize(
    "form",
    [lambda v: np.array(v), lambda v: np.array([v], dtype=np.int32), lambda v: np.uint8(v)],
    ids=["0-d array", "1-element array", "numpy scalar"],
)
def test_integer_labels_as_numpy_arrays(form):
    x, y = colour_set(40)
    data = load_dataset(ArrayLabels(x, y, form))
    got = torch.cat([data.train.y, data.val.y, data.test.y]).sort().values
    assert torch.equal(got, y.sort().values)


@pytest.mark.parametrize(
    "form,message",
    [
        (lambda v: np.array(float(v)), r"label is array\(.*\.\); labels must be integer"),
        (lambda v: np.array([v, v]), "labels must be integer"),
    ],
    ids=["float array", "two labels"],
)
def test_non_integer_array_labels_are_refused(form, message):
    x, y = colour_set(40)
    with pytest.raises(ConfigError, match=message):
        load_dataset(ArrayLabels(x, y, form))


# --- bad inputs: one clear error each -----------------------------------------------------------------------
class NoPairs(torch.utils.data.Dataset):
    def __len__(self):
        return 3

    def __getitem__(self, i):
        return torch.zeros(1, 4, 4)


class Ragged(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.zeros(1, 4 + i, 4), 0


class Empty(torch.utils.data.Dataset):
    def __len__(self):
        return 0

    def __getitem__(self, i):
        raise IndexError(i)


X, Y = colour_set(60)
BAD = [
    ((torch.rand(10, 5), torch.zeros(10).long()), "N×C×H×W"),
    ((X * 3, Y), r"outside \[0, 1\].*normalize"),
    ((X, Y.float()), "integer class indices"),
    ((X, Y[:-1]), "60 images but 59 labels"),
    ((X, -Y), ">= 0"),
    ((X, torch.zeros_like(Y)), "only one class"),
    (({"training": (X, Y)},), "keys 'train', 'val'"),
    (({"test": (X, Y)},), "needs a 'train' split"),
    ((NoPairs(),), r"\(image, label\)"),
    ((Ragged(),), "same C×H×W"),
    ((Empty(),), "is empty"),
    (("/nonexistent/robustcheck/folder",), "neither a registered name"),
    (("not-a-dataset",), "neither a registered name"),
    ((lambda n: (X, Y),), "requires argument"),
    ((12,), "accepted: a registered name"),
    (((X, Y, Y),), "accepted: a registered name"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m for _, m in BAD])
def test_bad_dataset_one_clear_error(args, message):
    spec = args[0] if len(args) == 1 else args
    with pytest.raises(ConfigError, match=message) as info:
        load_dataset(spec)
    assert str(info.value).endswith("."), str(info.value)


def test_suite_rejects_a_bad_dataset_at_construction(tmp_path):
    with pytest.raises(ConfigError, match="neither a registered name"):
        Suite(name="s", dataset="no-such-data", attacks=[Attack("fgsm", eps=0.1)])
    with pytest.raises(ConfigError, match="dataset is int"):
        Suite(name="s", dataset=3, attacks=[Attack("fgsm", eps=0.1)])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="ImageFolder layout"):
        load_dataset(empty)


# --- end to end through the engine: the user's data, classifier and a shape-sized surrogate --------------
@pytest.mark.parametrize("which", ["digits-8x8", "colour"])
def test_engine_runs_on_user_data_of_another_shape(which, tmp_path):
    """The user's data through the engine with shape-generic trainable defences (a purifier+detector and a
    detector), under grey-box, white-box and black-box, cold then warm cache."""
    from robustcheck import Defence

    dataset = which if which == "digits-8x8" else colour_set(240)
    k = 10 if which == "digits-8x8" else 3
    eps = 0.1 if which == "digits-8x8" else 0.4  # the colour stripes are far apart
    small = {
        s: Scale(n_samples=32, train_limit=400, classifier_epochs=4, defence_epochs=2, attack_steps=2)
        for s in SCALE_NAMES
    }
    # the reference classifier sized from the data, trained here; the surrogate is another one of them
    suite = Suite(
        name="user",
        dataset=dataset,
        classifier="shape-cnn",
        scales=small,
        defences=["none", "ae-kl", Defence("cvae-detector", zdim=8)],
        attacks=[Attack("fgsm", eps=eps)],
        threat_models=["grey-box", "white-box", "black-box"],
        indicators=False,
    )
    eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
    cold = {case.id: evaluate_case(eng, case).metrics for case in suite.cases()}
    for m in cold.values():
        assert 0.0 <= m["corrected_accuracy"] <= 1.0 and m["clean_accuracy"] > 2 / k  # learned something
    for d in ("ae-kl", "cvae-detector"):
        m = cold[f"{d}|fgsm|eps={eps}|grey-box"]
        assert m["n_successful"] > 0 and 0.0 <= m["detection_auc"] <= 1.0
    warm_engine = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))  # weights from the cache
    for case in suite.cases()[:3]:
        assert evaluate_case(warm_engine, case).metrics == pytest.approx(cold[case.id], nan_ok=True)
    sur = eng.surrogate(suite)  # the black-box surrogate: the same architecture from another seed
    assert sur.module(eng.data(suite).val.x[:2]).shape == (2, k) and sur.key != eng.classifier(suite).key
