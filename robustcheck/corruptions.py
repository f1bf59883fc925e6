"""Common corruptions for data-drift checks (001 §4.4, after CIFAR-10-C of Hendrycks & Dietterich 2019).

Every corruption maps a batch ``x`` (N×C×H×W, float in [0, 1], any C, H, W) to a corrupted batch of the
same shape in [0, 1], at a severity 1–5, seeded. Random corruptions draw their noise once per call from
``seed`` so the severities of one call differ only in strength (Gaussian and impulse noise are then
pointwise monotone in severity). The severity parameters follow CIFAR-10-C where it has the
corruption (pixelate uses integer b×b blocks, 2–6 px, instead of CIFAR-C's fractional resize, which
aliases and is not monotone on 28-px images); the JPEG-like quantisation is an 8×8 block DCT with the
IJG-scaled luminance table applied per channel (no colour transform, no chroma subsampling, no entropy
coding).

Example:
    >>> x_c = corrupt(x, "gaussian_noise", severity=3, seed=0)     # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from robustcheck.errors import ConfigError

SEVERITIES = (1, 2, 3, 4, 5)

_PARAMS: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),  # noise std
    "shot_noise": (60, 25, 12, 5, 3),  # Poisson photon count per unit intensity
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),  # fraction of salt-and-pepper pixels
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0),  # σ in pixels
    "box_blur": (3, 5, 7, 9, 11),  # kernel width in pixels
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),  # added intensity
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),  # contrast factor around the image mean
    "pixelate": (2, 3, 4, 5, 6),  # block size in pixels
    "jpeg": (80, 65, 58, 50, 40),  # quality
}
CORRUPTIONS = tuple(_PARAMS)

_JPEG_LUMA = torch.tensor(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=torch.float32,
)


def _noise(x: Tensor, seed: int, kind: str) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(x.shape, generator=g).to(x.device)
    return torch.rand(x.shape, generator=g).to(x.device)


def gaussian_noise(x: Tensor, c: float, seed: int) -> Tensor:
    return x + c * _noise(x, seed, "normal")


def shot_noise(x: Tensor, c: float, seed: int) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.poisson((x * c).cpu(), generator=g).to(x.device) / c


def impulse_noise(x: Tensor, c: float, seed: int) -> Tensor:
    u = _noise(x, seed, "uniform")
    return torch.where(u < c / 2, torch.zeros_like(x), torch.where(u > 1 - c / 2, torch.ones_like(x), x))


def _depthwise(x: Tensor, kernel: Tensor) -> Tensor:
    c = x.shape[1]
    k = kernel.to(x).expand(c, 1, *kernel.shape)
    return F.conv2d(F.pad(x, _same_pad(kernel.shape), mode="replicate"), k, groups=c)


def _same_pad(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    kh, kw = shape
    return ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)


def gaussian_blur(x: Tensor, sigma: float, seed: int) -> Tensor:
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k1 = torch.exp(-(t**2) / (2 * sigma**2))
    k1 = k1 / k1.sum()
    return _depthwise(x, k1[:, None] * k1[None, :])


def box_blur(x: Tensor, width: float, seed: int) -> Tensor:
    w = int(width)
    return _depthwise(x, torch.full((w, w), 1.0 / (w * w)))


def brightness(x: Tensor, c: float, seed: int) -> Tensor:
    return x + c


def contrast(x: Tensor, c: float, seed: int) -> Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * c + mean


def pixelate(x: Tensor, c: float, seed: int) -> Tensor:
    """Average over b×b blocks (integer b, so no aliasing; edge blocks average their valid pixels)."""
    b = int(c)
    h, w = x.shape[-2:]
    small = F.avg_pool2d(x, b, ceil_mode=True)
    return small.repeat_interleave(b, 2).repeat_interleave(b, 3)[:, :, :h, :w]


def _dct_matrix(n: int = 8) -> Tensor:
    k = torch.arange(n, dtype=torch.float64)
    m = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m.float()  # orthonormal DCT-II: rows are basis vectors


def jpeg(x: Tensor, quality: float, seed: int) -> Tensor:
    """8×8 block DCT, quantised with the IJG-scaled luminance table, inverse DCT (per channel)."""
    q = float(quality)
    scale = 5000 / q if q < 50 else 200 - 2 * q
    table = ((_JPEG_LUMA * scale + 50) // 100).clamp(min=1).to(x) / 255.0
    n, c, h, w = x.shape
    ph, pw = (-h) % 8, (-w) % 8
    xp = F.pad(x, (0, pw, 0, ph), mode="replicate") - 0.5
    blocks = xp.unfold(2, 8, 8).unfold(3, 8, 8)  # N, C, H/8, W/8, 8, 8
    d = _dct_matrix().to(x)
    coef = d @ blocks @ d.T
    rec = d.T @ (torch.round(coef / table) * table) @ d
    out = rec.permute(0, 1, 2, 4, 3, 5).reshape(n, c, h + ph, w + pw)
    return out[:, :, :h, :w] + 0.5


_FUNCS: dict[str, Callable[[Tensor, float, int], Tensor]] = {
    "gaussian_noise": gaussian_noise,
    "shot_noise": shot_noise,
    "impulse_noise": impulse_noise,
    "gaussian_blur": gaussian_blur,
    "box_blur": box_blur,
    "brightness": brightness,
    "contrast": contrast,
    "pixelate": pixelate,
    "jpeg": jpeg,
}


def corrupt(x: Tensor, name: str, severity: int, *, seed: int = 0) -> Tensor:
    """Apply corruption ``name`` at ``severity`` (1–5) to ``x`` (N×C×H×W in [0, 1]); result clipped to [0, 1].

    Raises:
        ConfigError: unknown corruption, severity outside 1–5, or an input that is not N×C×H×W in [0, 1].
    """
    if name not in _FUNCS:
        raise ConfigError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}")
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ConfigError(f"corruption severity must be one of 1..5, got {severity!r}")
    if not isinstance(x, Tensor) or x.dim() != 4 or not torch.is_floating_point(x):
        raise ConfigError(f"corruptions take a float tensor N×C×H×W, got {getattr(x, 'shape', type(x))}")
    if x.numel() and (x.min() < 0 or x.max() > 1 or not torch.isfinite(x).all()):
        raise ConfigError("corruptions take inputs in [0, 1] (finite); put normalisation inside the model")
    with torch.no_grad():
        return _FUNCS[name](x, _PARAMS[name][severity - 1], seed).clamp(0, 1)
