"""``perceptual-dae``: a denoising autoencoder trained with perceptual (feature) losses (seed 002, §3–4.2).

Training (002 §4.2): adversarial versions of the training set are precomputed against the classifier —
FGSM with random target labels and PGD (L∞, ε = 0.2; PGD 100 steps of 0.1 in the paper, ``pgd_steps``
here) — and the autoencoder learns to map each adversarial image x′ back to its clean image x with eq 4:

    L = Σ_l w_l ‖F_l(x) − F_l(AE(x′))‖² + δ ‖x − AE(x′)‖²,   w_l = 1 / |F_l|,  δ = 1 / |x|

(the weights are inversely proportional to the number of elements of each feature map, as in the paper:
α = 1/(2·2·512) …, δ ≈ 1/784), averaged over the batch. F_l are outputs of a *frozen loss network*
taken at the submodules named in ``layers``.

Loss network (``loss_net``):
- ``"independent"`` (default): the A.1 MNIST CNN trained inside ``fit`` on the same training data with a
  different seed (``ctx.seed + 1000``) for ``loss_net_epochs`` — not the target classifier, so the
  defence does not need gradients of the model it protects. Default layers ``("2", "7", "12")``: the ReLUs
  after conv 1, conv 2 and the dense layer.
- a path to a VGG-16 ``state_dict`` file (torchvision layout, loaded with ``weights_only=True``; nothing
  is downloaded): grey inputs are repeated to 3 channels, resized to 32×32 and ImageNet-normalised, so
  the default layers ``("features.9", "features.16", "features.29")`` give the paper's 8×8×128, 4×4×256
  and 2×2×512 maps.

Autoencoder (002 §4.2): conv 3×3/3 (1→16) + ReLU + max-pool 2/2, conv 3×3/2 (16→8) + ReLU + max-pool 2/1
(2×2×8 code); transposed convs 3/2 (8→16) + ReLU, 5/3 pad 1 (16→8) + ReLU, 2/2 pad 1 (8→1) + tanh (the
paper's "inverse tangent"). Adam, lr 1e-3, weight decay 1e-5, batch 128 (100 epochs in the paper).

Other shapes (:mod:`robustcheck.defences.architectures`): ``architecture="auto"`` (default) keeps the 002
autoencoder for 1×28×28 and otherwise builds the generic convolutional autoencoder (conv 3×3 stride 2 stages
down to at most 4×4, a 64-d code, mirrored transposed convs, crop to H×W, tanh output as above); ``"mnist"``
insists on the 002 network; a callable ``architecture(input_shape: tuple[int, int, int]) -> nn.Module``
returns the autoencoder (called by ``build`` and again, under the fit's seed, in ``fit``). The independent
loss network is the registered ``mnist-cnn`` for 1×28×28 data with 10 classes and otherwise the same A.1
layers sized from C×H×W and the number of classes (:func:`a1_loss_network`: max-pooling rounds up, so any size
works), whose ReLUs keep the names ``"2"``, ``"7"`` and ``"12"``. A VGG-16 loss network takes 1- or 3-channel
images.

A purifier only: the defended label is C(AE(x)) for every input. The loss network is used for training
only and is not part of the saved state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from robustcheck.attacks import build_attack
from robustcheck.defences.architectures import (
    Shape,
    Unbuilt,
    architecture_id,
    as_shape,
    call_architecture,
    check_architecture,
    fmt_shape,
    generic_autoencoder,
    shape_mismatch,
)
from robustcheck.defences.base import BaseDefence, FitContext
from robustcheck.defences.registry import DEFENCES
from robustcheck.errors import ConfigError
from robustcheck.models import CLASSIFIERS, train_classifier
from robustcheck.models.taps import check_layers, forward_with_taps
from robustcheck.models.training import seeded, train_loop

MNIST_LAYERS = ("2", "7", "12")
VGG_LAYERS = ("features.9", "features.16", "features.29")
MNIST_SHAPE: Shape = (1, 28, 28)
CODE_CHANNELS = 8  # channels of the 002 network's 2×2 code (a 32-d code)
GENERIC_CODE = 64  # size of the generic autoencoder's code at CODE_CHANNELS (scaled with code_channels)


OUTPUTS = ("tanh", "sigmoid")


def dae_autoencoder(output: str = "tanh", code_channels: int = CODE_CHANNELS) -> nn.Module:
    """The 7-layer autoencoder of 002 §4.2 (28×28×1 → 2×2×8 → 28×28×1); ``output`` is the last activation
    (002's "inverse tangent" by default; ``"sigmoid"`` keeps the output in the image box [0, 1]);
    ``code_channels`` widens the 2×2 code (8 in 002)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),  # 10 → 5
        nn.Conv2d(16, code_channels, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, 1),  # 3 → 2
        nn.ConvTranspose2d(code_channels, 16, 3, stride=2),
        nn.ReLU(),  # 5
        nn.ConvTranspose2d(16, 8, 5, stride=3, padding=1),
        nn.ReLU(),  # 15
        nn.ConvTranspose2d(8, 1, 2, stride=2, padding=1),
        nn.Sigmoid() if output == "sigmoid" else nn.Tanh(),  # 28
    )


def a1_loss_network(input_shape: Shape, num_classes: int) -> nn.Module:
    """The A.1 MNIST CNN (``mnist-cnn``) sized for ``input_shape`` and ``num_classes``: the same layers and
    module names, max-pooling with ``ceil_mode`` so that odd and tiny sizes work."""
    c, h, w = input_shape
    for _ in range(2):
        h, w = -(-h // 2), -(-w // 2)
    return nn.Sequential(
        nn.ZeroPad2d((0, 1, 0, 1)),
        nn.Conv2d(c, 64, kernel_size=2),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Dropout(0.3),
        nn.ZeroPad2d((0, 1, 0, 1)),
        nn.Conv2d(64, 32, kernel_size=2),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(32 * h * w, 256),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(256, num_classes),
    )


class FeatureTaps(nn.Module):
    """Outputs of named submodules of a frozen network, via forward hooks."""

    def __init__(self, net: nn.Module, layers: Sequence[str], preprocess: nn.Module | None = None) -> None:
        super().__init__()
        check_layers(net, layers, "the loss network")
        self.net, self.layers = net.eval(), tuple(layers)
        self.preprocess = preprocess or nn.Identity()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        return forward_with_taps(self.net, self.preprocess(x), self.layers)[1]


class _VGGInput(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x, size=(32, 32), mode="bilinear")
        mean = torch.tensor([0.485, 0.456, 0.406], device=x.device).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std


def perceptual_loss(taps: FeatureTaps, clean: Tensor, denoised: Tensor) -> Tensor:
    """Eq 4 with w_l = 1/|F_l| and δ = 1/|x| per example, averaged over the batch."""
    with torch.no_grad():
        target = taps(clean)
    loss = F.mse_loss(denoised, clean)
    for f, g in zip(target, taps(denoised), strict=True):
        loss = loss + F.mse_loss(g, f)
    return loss


@DEFENCES.register("perceptual-dae")
class PerceptualDAE(BaseDefence):
    """Denoising AE trained on FGSM-targeted + PGD inputs with the eq 4 perceptual loss (002).

    Args:
        eps: L∞ budget of the training attacks (0.2 in 002).
        pgd_steps: PGD iterations for the training set (100 in 002; 20 by default here to stay CPU-sized).
        pgd_alpha: PGD step size (0.1 in 002).
        loss_net: ``"independent"`` or a path to a VGG-16 state_dict file.
        layers: loss-network layer names (default per ``loss_net``, see the module docstring).
        loss_net_epochs: epochs of the independent loss network (2 by default: a feature extractor, not a
            competitive classifier, is needed).
        lr, weight_decay: Adam settings.
        architecture: ``"auto"`` (default), ``"mnist"`` (the 002 autoencoder, 1×28×28 only), ``"generic"``
            (the generic convolutional autoencoder at every shape, 1×28×28 included: issue 19 measures
            002's spatial bottleneck with it) or a callable
            ``architecture(input_shape: tuple[int, int, int]) -> nn.Module`` returning the autoencoder.
        output: the built-in autoencoders' last activation, ``"tanh"`` (default, 002's) or ``"sigmoid"``
            (an implementation choice the paper leaves open for [0, 1] images; issue 19).
        clean_inputs: also train on (x, x) pairs of the clean training images (default False: 002 trains
            on adversarial inputs only).
        code_channels: channels of the 002 network's 2×2 code (8, a 32-d code, in 002; issue 19 tries a
            wider one). The generic autoencoder's code is ``8 * code_channels`` (64 by default); a callable
            ``architecture`` builds its own code, so a non-default value with one is a ``ConfigError``.
    """

    name = "perceptual-dae"
    is_purifier = True
    trainable = True
    purify_range = (-1.0, 1.0)  # the 002 autoencoder ends in tanh

    def __init__(
        self,
        *,
        eps: float = 0.2,
        pgd_steps: int = 20,
        pgd_alpha: float = 0.1,
        loss_net: str = "independent",
        layers: Sequence[str] | None = None,
        loss_net_epochs: int = 2,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        architecture: str | Callable[[Shape], nn.Module] = "auto",
        output: str = "tanh",
        clean_inputs: bool = False,
        code_channels: int = CODE_CHANNELS,
    ) -> None:
        super().__init__()
        check_architecture(self.name, architecture, ("mnist", "generic"))
        if not isinstance(code_channels, int) or isinstance(code_channels, bool) or code_channels < 1:
            raise ConfigError(
                f"defence {self.name!r}: code_channels must be an int >= 1, got {code_channels!r}"
            )
        if callable(architecture) and code_channels != CODE_CHANNELS:
            raise ConfigError(
                f"defence {self.name!r}: code_channels applies to the built-in autoencoders; a callable "
                "architecture builds its own code, so leave code_channels at its default"
            )
        self.code_channels = code_channels
        if output not in OUTPUTS:
            raise ConfigError(f"defence {self.name!r}: output must be one of {OUTPUTS}, got {output!r}")
        if not isinstance(clean_inputs, bool):
            raise ConfigError(f"defence {self.name!r}: clean_inputs must be a bool, got {clean_inputs!r}")
        self.output, self.clean_inputs = output, clean_inputs
        if not (isinstance(eps, (int, float)) and 0 < eps <= 1):
            raise ConfigError(f"defence {self.name!r}: eps must be in (0, 1], got {eps!r}")
        for key, v in (("pgd_steps", pgd_steps), ("loss_net_epochs", loss_net_epochs)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"defence {self.name!r}: {key} must be an int >= 1, got {v!r}")
        if loss_net != "independent" and not Path(str(loss_net)).is_file():
            raise ConfigError(
                f"defence {self.name!r}: loss_net must be 'independent' or the path of a VGG-16 "
                f"state_dict file; {loss_net!r} is not a file (weights are never downloaded)"
            )
        self.eps, self.pgd_steps, self.pgd_alpha = float(eps), pgd_steps, float(pgd_alpha)
        self.loss_net = str(loss_net)
        default = MNIST_LAYERS if loss_net == "independent" else VGG_LAYERS
        self.layers = tuple(layers) if layers is not None else default
        if not self.layers or not all(isinstance(n, str) for n in self.layers):
            raise ConfigError(
                f"defence {self.name!r}: layers must be a non-empty list of names, got {layers!r}"
            )
        self.loss_net_epochs, self.lr, self.weight_decay = loss_net_epochs, float(lr), float(weight_decay)
        self.architecture = architecture
        #: the data's shape and classes the networks are built for (None: a callable not called yet)
        self.input_shape: Shape | None = None
        self.num_classes = 10
        self.built_architecture: str | None = None
        self.ae: nn.Module = Unbuilt(self.name)
        if isinstance(architecture, str):  # "auto" starts with the 002 autoencoder (1×28×28)
            self.input_shape = MNIST_SHAPE
            self.built_architecture = "generic" if architecture == "generic" else "mnist"
            self.ae = self.new_autoencoder()

    def resolve(self, shape: Shape) -> str:
        """The network ``architecture`` gives for ``shape``: ``"mnist"``, ``"generic"`` or a callable's id."""
        if callable(self.architecture):
            return architecture_id(self.architecture)
        if self.architecture == "generic":
            return "generic"
        if self.architecture == "mnist" and shape != MNIST_SHAPE:
            raise shape_mismatch(self.name, "mnist", f"{fmt_shape(MNIST_SHAPE)} (002 §4.2)", shape)
        return "mnist" if shape == MNIST_SHAPE else "generic"

    def new_autoencoder(self) -> nn.Module:
        """A freshly initialised autoencoder of the built architecture and shape."""
        assert self.input_shape is not None
        if callable(self.architecture):
            return call_architecture(self.name, self.architecture, self.input_shape)
        if self.built_architecture == "mnist":
            return dae_autoencoder(self.output, self.code_channels)
        code = GENERIC_CODE * self.code_channels // CODE_CHANNELS
        return generic_autoencoder(self.input_shape, code, self.output)

    def build(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        """(Re)build the autoencoder for ``input_shape`` unless it was built for it already; the loss
        network (trained in ``fit``, not saved) follows ``input_shape`` and ``num_classes``."""
        shape = as_shape(self.name, input_shape)
        if self.loss_net != "independent" and shape[0] not in (1, 3):
            raise ConfigError(
                f"Defence {self.name!r}: a VGG-16 loss network takes 1- or 3-channel images, but "
                f"the data has {fmt_shape(shape)} inputs; use loss_net='independent'."
            )
        name = self.resolve(shape)
        self.num_classes = int(num_classes)
        if shape == self.input_shape and name == self.built_architecture:
            return
        self.input_shape, self.built_architecture = shape, name
        self.ae = self.new_autoencoder()

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "eps": self.eps,
            "pgd_steps": self.pgd_steps,
            "pgd_alpha": self.pgd_alpha,
            "loss_net": self.loss_net,
            "layers": list(self.layers),
            "loss_net_epochs": self.loss_net_epochs,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
        }
        built = self.built_architecture or architecture_id(self.architecture)
        if built != "mnist":  # the default keeps its cache key
            cfg["architecture"] = built
        if self.input_shape != MNIST_SHAPE:
            cfg["input_shape"] = list(self.input_shape) if self.input_shape is not None else None
        if self.num_classes != 10:  # the loss network's output size
            cfg["num_classes"] = self.num_classes
        if self.output != "tanh":  # the defaults keep their cache key
            cfg["output"] = self.output
        if self.clean_inputs:
            cfg["clean_inputs"] = True
        if self.code_channels != CODE_CHANNELS:
            cfg["code_channels"] = self.code_channels
        return cfg

    def build_loss_network(self, ctx: FitContext) -> FeatureTaps:
        if self.loss_net == "independent":
            torch.manual_seed(ctx.seed + 1000)
            shape = as_shape(self.name, ctx.train.x.shape[1:])
            if shape == MNIST_SHAPE and ctx.num_classes == 10:
                net = CLASSIFIERS.get("mnist-cnn")().factory()
            else:
                net = a1_loss_network(shape, ctx.num_classes)
            train_classifier(
                net,
                ctx.train,
                epochs=self.loss_net_epochs,
                seed=ctx.seed + 1000,
                device=ctx.device,
                desc="perceptual-dae loss network",
            )
            return FeatureTaps(net.to(ctx.device), self.layers)
        import torchvision

        net = torchvision.models.vgg16()
        try:
            net.load_state_dict(torch.load(self.loss_net, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError) as exc:
            raise ConfigError(
                f"defence {self.name!r}: cannot load VGG-16 weights from {self.loss_net!r}: {exc}"
            ) from None
        return FeatureTaps(net.to(ctx.device), self.layers, _VGGInput())

    def adversarial_training_set(self, ctx: FitContext) -> tuple[Tensor, Tensor]:
        """(adversarial inputs, clean targets): FGSM towards random other labels, then PGD, on C."""
        x, y = ctx.train.x.to(ctx.device), ctx.train.y.to(ctx.device)
        g = torch.Generator().manual_seed(ctx.seed + 7919)
        target = (y + torch.randint(1, ctx.num_classes, y.shape, generator=g).to(y.device)) % ctx.num_classes
        fgsm = build_attack("fgsm", {"targeted": True}, seed=ctx.seed)
        pgd = build_attack("pgd-linf", {"steps": self.pgd_steps, "alpha": self.pgd_alpha}, seed=ctx.seed)
        [a] = fgsm(ctx.classifier, x, y, [self.eps], target=target)
        [b] = pgd(ctx.classifier, x, y, [self.eps])
        if self.clean_inputs:
            return torch.cat([a.x_adv, b.x_adv, x]).detach(), torch.cat([x, x, x])
        return torch.cat([a.x_adv, b.x_adv]).detach(), torch.cat([x, x])

    def fit(self, ctx: FitContext) -> None:
        self.build(tuple(ctx.train.x.shape[1:]), ctx.num_classes)
        taps = self.build_loss_network(ctx)
        x_adv, x_clean = self.adversarial_training_set(ctx)
        g = seeded(ctx.seed)  # the initialisation below, then the batches
        self.ae = self.new_autoencoder()
        train_loop(
            self,
            lambda batch: perceptual_loss(taps, batch[1], self.ae(batch[0])),
            (x_adv, x_clean),
            epochs=ctx.epochs,
            batch_size=ctx.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=g,
            desc=self.name,
            params=self.ae.parameters,
            device=ctx.device,
        )

    def purify(self, x: Tensor) -> Tensor:
        return self.ae(x)

    def predict_and_score(self, x: Tensor) -> tuple[Tensor, None]:
        return self.classifier(self.ae(x)).argmax(1), None
