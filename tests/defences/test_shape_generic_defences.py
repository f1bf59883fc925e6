"""Every trainable built-in defence fits any image shape (issue 13, item 3): networks built from the input
shape and the number of classes (paper architectures where they match), ``architecture=`` names and
callables, whole-sentence errors, idempotent ``build``, unchanged MNIST defaults. Tiny scale: real 8×8
scikit-learn digits (1×8×8, 10 classes) and a synthetic 3-channel, non-square set (3×12×20, 3 classes)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from robustcheck.data import Split
from robustcheck.defences import DEFENCES, FitContext
from robustcheck.defences.architectures import generic_autoencoder, generic_decoder, generic_encoder
from robustcheck.defences.cvae_detector import TableVAE, table_vae_padding
from robustcheck.errors import ConfigError
from robustcheck.evaluate import evaluate as evaluate_case

TRAINABLE = sorted(n for n in DEFENCES if getattr(DEFENCES.get(n), "trainable", False))
#: fast settings for the slow defences (the contract is the same)
SMALL = {
    "cvae-detector": {"zdim": 8},
    "vae-purifier": {"zdim": 8, "iterations": 2},
    "perceptual-dae": {"pgd_steps": 2, "loss_net_epochs": 1},
}
CPU = torch.device("cpu")

#: ``config()`` of every trainable defence with default settings on MNIST, as read before issue 13 item 3
#: (the default suite's cache keys must not change)
MNIST_DEFAULT_CONFIG = {
    "ae": {"stp": 0.3, "contractive": 0.0, "projections": 4, "lr": 0.001, "denoising": False},
    "ae-kl": {"loss": "kl", "latent_dim": 10, "lr": 0.001},
    "ae-kl-ensemble": {
        "checkpoints": [0.5, 1.0],
        "architectures": ["conv"],
        "weights": [0.375, 0.375],
        "attack_target": "ensemble",
        "latent_dim": 10,
        "lr": 0.001,
        "temperature": 1.0,
    },
    "ae-mse": {"loss": "mse", "latent_dim": 10, "lr": 0.001},
    "cae": {"stp": 0.1, "contractive": 0.01, "projections": 4, "lr": 0.001, "denoising": False},
    "cvae-contractive": {
        "stp": 0.1,
        "contractive": 0.01,
        "projections": 4,
        "lr": 0.001,
        "denoising": False,
        "scale": 1.0,
        "sample_seed": 0,
    },
    "cvae-detector": {
        "conditioning": "separate",
        "num_classes": 10,
        "channels": 1,
        "zdim": 128,
        "lr": 0.001,
        "reference": "train",
    },
    "dae": {"stp": 0.3, "contractive": 0.0, "projections": 4, "lr": 0.001, "denoising": True},
    "dvae": {
        "stp": 0.3,
        "contractive": 0.0,
        "projections": 4,
        "lr": 0.001,
        "denoising": True,
        "scale": 1.0,
        "sample_seed": 0,
    },
    "magnet": {"architecture": "a1", "norm": 2, "noise": 0.1, "weight_decay": 1e-09, "lr": 0.001},
    "perceptual-dae": {
        "eps": 0.2,
        "pgd_steps": 20,
        "pgd_alpha": 0.1,
        "loss_net": "independent",
        "layers": ["2", "7", "12"],
        "loss_net_epochs": 2,
        "lr": 0.001,
        "weight_decay": 1e-05,
    },
    "vae": {
        "stp": 0.3,
        "contractive": 0.0,
        "projections": 4,
        "lr": 0.001,
        "denoising": False,
        "scale": 1.0,
        "sample_seed": 0,
    },
    "vae-purifier": {
        "variant": "E",
        "iterations": 10,
        "lr": 0.02,
        "c": 0.0,
        "noise": 0.05,
        "max_rotation": 10.0,
        "max_resize": 0.1,
        "channels": 1,
        "zdim": 128,
        "train_lr": 0.001,
        "seed": 0,
    },
}


# --- data and classifiers ---------------------------------------------------------------------------
def _digits() -> tuple[Split, Split, int]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # N×1×8×8 in [0, 1]
    y = torch.tensor(d.target, dtype=torch.int64)
    return Split(x[:200], y[:200]), Split(x[1000:1100], y[1000:1100]), 10


def _stripes() -> tuple[Split, Split, int]:
    """3×12×20, 3 classes: class k is a bright band in rows 4k…4k+3 of channel k, plus noise."""
    g = torch.Generator().manual_seed(0)
    n = 300
    y = torch.arange(n) % 3
    x = 0.15 * torch.rand(n, 3, 12, 20, generator=g)
    for k in range(3):
        x[y == k, k, 4 * k : 4 * k + 4, :] += 0.7
    x = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return Split(x[:200], y[:200]), Split(x[200:], y[200:]), 3


DATA = {"digits-1x8x8": _digits, "stripes-3x12x20": _stripes}


def _classifier(shape: tuple[int, ...], num_classes: int, train: Split) -> nn.Module:
    """A tiny CNN for ``shape``, trained for a few steps so that its predictions are not constant."""
    c, h, w = shape
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * h * w, num_classes)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        nn.functional.cross_entropy(model(train.x), train.y).backward()
        opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@pytest.fixture(scope="module", params=list(DATA))
def data(request):
    train, val, n = DATA[request.param]()
    shape = tuple(train.x.shape[1:])
    return train, val, n, shape, _classifier(shape, n, train)


def _ctx(clf: nn.Module, train: Split, val: Split, n: int) -> FitContext:
    return FitContext(clf, train, val, n, epochs=1, seed=0, device=CPU, batch_size=128)


# --- the contract on each shape ---------------------------------------------------------------------
def _check_outputs(d, x: Tensor, n: int) -> None:
    with torch.no_grad():
        labels = d.predict(x)
        assert labels.shape == (x.shape[0],) and labels.dtype == torch.int64
        assert int(labels.min()) >= 0 and int(labels.max()) < n
        labels2, score = d.predict_and_score(x)
        assert torch.equal(labels2, labels)
        if d.is_detector:
            assert score is not None and score.shape == (x.shape[0],) and torch.isfinite(score).all()
        else:
            assert score is None
        logits = d.defended_logits(x)
        assert logits.shape == (x.shape[0], n) and torch.isfinite(logits).all()
        assert torch.equal(logits.argmax(1), labels)
        if d.is_purifier:
            p = d.purify(x)
            assert p.shape == x.shape and torch.isfinite(p).all()
            assert (
                float(p.min()) >= -2.0 and float(p.max()) <= 3.0
            )  # near [0, 1] (linear/tanh outputs included)
    xg = x.clone().requires_grad_(True)
    out = d.attack_model()(xg)
    assert out.shape == (x.shape[0], n)
    (grad,) = torch.autograd.grad(out.logsumexp(1).sum() - out.max(1).values.sum(), xg)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("name", TRAINABLE)
def test_defence_builds_fits_and_defends_any_shape(name, data):
    train, val, n, shape, clf = data
    torch.manual_seed(1)
    d = DEFENCES.get(name)(**SMALL.get(name, {}))
    default_cfg = d.config()
    d.build(shape, n)
    d.bind(clf)
    d.fit(_ctx(clf, train, val, n))
    d.calibrate(val.x, 0.05)
    d.eval()
    _check_outputs(d, val.x[:32], n)

    cfg = d.config()
    assert cfg != default_cfg and cfg["input_shape"] == list(shape)  # the cache key follows the shape
    # build is idempotent: same modules, same weights, same config
    modules = [id(m) for m in d.modules()]
    state = {k: v.clone() for k, v in d.state_dict().items()}
    d.build(shape, n)
    assert [id(m) for m in d.modules()] == modules and d.config() == cfg
    after = d.state_dict()
    assert after.keys() == state.keys()
    for k, v in state.items():
        torch.testing.assert_close(after[k], v, rtol=0, atol=0, equal_nan=True)
    # the engine's cached-load path: construct, build, then load the trained state strictly
    torch.manual_seed(2)
    d2 = DEFENCES.get(name)(**SMALL.get(name, {}))
    d2.build(shape, n)
    d2.load_state_dict(d.state_dict())
    d2.bind(clf).eval()
    with torch.no_grad():
        assert torch.equal(d2.predict(val.x[:32]), d.predict(val.x[:32]))


def test_ae_kl_hidden_layer_head_follows_the_shape(data):
    train, val, n, shape, clf = data
    torch.manual_seed(0)
    d = DEFENCES.get("ae-kl")(hidden_layer="1", hidden_dim=4).bind(clf)  # bound before build (library use)
    d.fit(_ctx(clf, train, val, n))
    _, h, w = shape
    assert d.head is not None and d.head[0].in_features == 8 * h * w
    d.calibrate(val.x, 0.05)
    _check_outputs(d, val.x[:16], n)


@pytest.mark.parametrize("name", ["ae-kl", "ae-mse"])
def test_shifted_and_denoising_training_on_other_shapes(name, data):
    """The issue-19 training options off the MNIST path: a 3-channel non-square shape and 8×8 digits."""
    train, val, n, shape, clf = data
    torch.manual_seed(0)
    d = DEFENCES.get(name)(shift=1, train_noise=0.2)
    d.build(shape, n)
    d.bind(clf)
    x_in, target = d.augment(train.x[:8], torch.Generator().manual_seed(0))
    assert x_in.shape == target.shape == train.x[:8].shape and not torch.equal(x_in, target)
    d.fit(_ctx(clf, train, val, n))
    d.calibrate(val.x, 0.05)
    d.eval()
    _check_outputs(d, val.x[:16], n)
    assert {"shift": 1, "train_noise": 0.2}.items() <= d.config().items()


def test_num_classes_come_from_the_data(data):
    _, _, n, shape, _ = data
    d = DEFENCES.get("cvae-detector")(zdim=8)
    d.build(shape, n)
    assert d.num_classes == n and len(d.vaes) == n and d.channels == shape[0]
    onehot = DEFENCES.get("cvae-detector")(zdim=8, conditioning="onehot")
    onehot.build(shape, n)
    assert (
        onehot.vae.mean.in_features
        == 128 * (table_vae_padding(shape)[0] // 8) * (table_vae_padding(shape)[1] // 8) + n
    )
    dae = DEFENCES.get("perceptual-dae")(pgd_steps=2, loss_net_epochs=1)
    dae.build(shape, n)
    assert dae.config().get("num_classes", 10) == n


# --- paper architectures kept, named architectures checked -------------------------------------------
def test_paper_architectures_where_they_match():
    from robustcheck.defences.kl_autoencoder import cifar10_autoencoder

    d = DEFENCES.get("ae-kl")(latent_dim=40)
    d.build((3, 32, 32), 10)
    assert d.built_architecture == "cifar10" and d.config()["architecture"] == "cifar10"
    assert [tuple(p.shape) for p in d.ae.parameters()] == [
        tuple(p.shape) for p in cifar10_autoencoder(40).parameters()
    ]
    assert "input_shape" not in d.config()  # same key as an explicit architecture="cifar10"
    assert d.config() == DEFENCES.get("ae-kl")(latent_dim=40, architecture="cifar10").config()
    m = DEFENCES.get("magnet")()
    m.build((3, 32, 32), 10)
    assert m.config()["architecture"] == "a3"
    v = DEFENCES.get("cvae-detector")(zdim=8)
    before = [id(x) for x in v.modules()]
    v.build((1, 32, 32), 10)  # Table 6.1 is the same network for 28×28 and 32×32: nothing rebuilt
    assert [id(x) for x in v.modules()] == before and v.config()["input_shape"] == [1, 32, 32]
    v.build((3, 32, 32), 10)
    assert isinstance(v.vaes[0], TableVAE) and v.vaes[0].encoder[0].in_channels == 3 and v.channels == 3


@pytest.mark.parametrize("name", TRAINABLE)
def test_default_mnist_config_is_unchanged(name):
    d = DEFENCES.get(name)()
    assert d.config() == MNIST_DEFAULT_CONFIG[name]
    modules = [id(m) for m in d.modules()]
    d.build((1, 28, 28), 10)
    assert d.config() == MNIST_DEFAULT_CONFIG[name]
    assert [id(m) for m in d.modules()] == modules  # nothing rebuilt: the initial weights are today's


NAMED = [
    ("ae-kl", {"architecture": "mnist"}),
    ("ae-mse", {"architecture": "cifar10"}),
    ("magnet", {"architecture": "a1"}),
    ("magnet", {"architecture": "magnet"}),
    ("ae", {"architecture": "mnist"}),
    ("dvae", {"architecture": "mnist"}),
    ("cvae-detector", {"architecture": "table6.1", "zdim": 8}),
    ("vae-purifier", {"architecture": "table6.1", "zdim": 8}),
    ("perceptual-dae", {"architecture": "mnist"}),
]


@pytest.mark.parametrize(("name", "params"), NAMED, ids=[f"{n}-{p['architecture']}" for n, p in NAMED])
def test_named_architecture_on_the_wrong_shape_is_a_sentence(name, params):
    d = DEFENCES.get(name)(**params)
    with pytest.raises(ConfigError) as err:
        d.build((1, 8, 8), 10)
    msg = str(err.value)
    assert msg.endswith(".") and msg[0].isupper(), msg
    assert "1×8×8" in msg and repr(name) in msg and repr(params["architecture"]) in msg, msg
    assert "architecture='auto'" in msg and "callable" in msg, msg
    # fit says the same before training anything
    train = Split(torch.rand(8, 1, 8, 8), torch.arange(8) % 2)
    clf = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with pytest.raises(ConfigError, match="1×8×8"):
        d.bind(clf).fit(_ctx(clf, train, train, 2))


def test_unknown_architecture_names_are_sentences():
    for name in ("ae-kl", "magnet", "vae", "cvae-detector", "vae-purifier", "perceptual-dae"):
        with pytest.raises(ConfigError) as err:
            DEFENCES.get(name)(architecture="resnet")
        assert str(err.value).endswith(".") and "'auto'" in str(err.value)
    with pytest.raises(ConfigError, match="architectures"):
        DEFENCES.get("ae-kl-ensemble")(architectures=["resnet"])


# --- user-supplied architectures --------------------------------------------------------------------
MADE: list[nn.Module] = []


def user_ae(input_shape):
    """``architecture(input_shape) -> nn.Module`` (ae-kl, ae-mse, magnet, perceptual-dae, the ensemble)."""
    MADE.append(generic_autoencoder(input_shape, 6))
    return MADE[-1]


def user_encoder_decoder(input_shape, code_size, latent):
    """``architecture(input_shape, code_size, latent) -> (encoder, decoder)`` (the 003 family)."""
    enc = nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], code_size))
    MADE.extend([enc, generic_decoder(latent, input_shape, "sigmoid")])
    return MADE[-2], MADE[-1]


def user_vae(input_shape, zdim, cond_dim):
    """``architecture(input_shape, zdim, cond_dim) -> nn.Module`` (cvae-detector, vae-purifier)."""
    MADE.append(_UserVAE(input_shape, zdim, cond_dim))
    return MADE[-1]


class _UserVAE(nn.Module):
    def __init__(self, input_shape, zdim, cond_dim):
        super().__init__()
        self.enc = generic_encoder(input_shape, 2 * zdim)
        self.dec = generic_decoder(zdim + cond_dim, input_shape, "sigmoid")
        self.cond_dim = cond_dim

    def forward(self, x, cond=None, noise=None):
        mu, logvar = self.enc(x).chunk(2, 1)
        z = mu if noise is None else mu + (0.5 * logvar).exp() * noise
        return self.dec(z if cond is None else torch.cat([z, cond], 1)), mu, logvar


def _networks(d) -> list[nn.Module]:
    """The modules a callable architecture provides, per defence."""
    for attr in ("ae", "vae"):
        if isinstance(getattr(d, attr, None), nn.Module):
            return [getattr(d, attr)]
    if hasattr(d, "members"):
        return list(d.members)
    if hasattr(d, "vaes"):
        return list(d.vaes)
    return [getattr(d, d.encoder_attr), d.decoder]


CALLABLES = {
    "ae-kl": user_ae,
    "ae-mse": user_ae,
    "magnet": user_ae,
    "perceptual-dae": user_ae,
    "ae": user_encoder_decoder,
    "dae": user_encoder_decoder,
    "cae": user_encoder_decoder,
    "vae": user_encoder_decoder,
    "dvae": user_encoder_decoder,
    "cvae-contractive": user_encoder_decoder,
    "cvae-detector": user_vae,
    "vae-purifier": user_vae,
}


@pytest.mark.parametrize("name", TRAINABLE)
def test_user_architecture_is_used_and_keys_the_config(name):
    train, val, n = _digits()
    shape = (1, 8, 8)
    fn = CALLABLES.get(name, user_ae)
    key = "architectures" if name == "ae-kl-ensemble" else "architecture"
    d = DEFENCES.get(name)(**SMALL.get(name, {}), **{key: [fn] if key == "architectures" else fn})
    MADE.clear()
    d.build(shape, n)
    assert MADE and all(any(m is made for made in MADE) for m in _networks(d))
    ident = f"{fn.__module__}.{fn.__qualname__}"
    cfg = d.config()
    assert ident in (cfg[key] if key == "architectures" else [cfg[key]])
    auto = DEFENCES.get(name)(**SMALL.get(name, {}))
    auto.build(shape, n)
    assert cfg != auto.config()
    if name in ("ae-kl", "cvae-detector", "vae"):  # a user network trains and defends like a built-in one
        clf = _classifier(shape, n, train)
        d.bind(clf).fit(_ctx(clf, train, val, n))
        assert all(any(m is made for made in MADE) for m in _networks(d))
        d.calibrate(val.x, 0.05)
        _check_outputs(d.eval(), val.x[:16], n)


def test_a_callable_returning_no_module_is_a_sentence():
    d = DEFENCES.get("ae-kl")(architecture=lambda shape: "not a module")
    with pytest.raises(ConfigError, match=r"must return an nn\.Module, but it returned str\.$"):
        d.build((1, 8, 8), 10)
    with pytest.raises(ConfigError, match=r"has no network yet; call build"):
        d.purify(torch.rand(1, 1, 8, 8))


# --- through the engine (MNIST: the Suite takes registered datasets only, for now) ----------------------
def test_engine_builds_user_architectures_and_reloads_them(tmp_path):
    from robustcheck import Attack, Defence, Scale, Suite
    from robustcheck.engine import Engine
    from robustcheck.suite import SCALE_NAMES
    from tests.helpers import tiny_cnn

    tiny = {
        s: Scale(n_samples=16, train_limit=48, classifier_epochs=1, defence_epochs=1, attack_steps=2)
        for s in SCALE_NAMES
    }
    suite = Suite(
        name="shape-generic",
        classifier=tiny_cnn,
        attacks=[Attack("fgsm", eps=0.1)],
        scales=tiny,
        indicators=False,
        defences=[
            Defence("ae-kl", id="ae-kl-user", architecture=user_ae),
            Defence("cvae-detector", id="cvae-user", zdim=8, architecture=user_vae),
        ],
    )
    results = []
    for _ in range(2):  # the second engine loads the cached weights: build runs before load_state_dict
        eng = Engine(device="cpu", scale="smoke", cache_dir=str(tmp_path))
        results.append({c.id: evaluate_case(eng, c).metrics for c in suite.cases()})
        for case in suite.cases():
            d, _ = eng.defence(suite, case)
            assert d.config()["architecture"].endswith((".user_ae", ".user_vae"))
    assert results[0].keys() == results[1].keys()
    for cid, m in results[0].items():
        assert m["clean_accuracy"] == results[1][cid]["clean_accuracy"]
