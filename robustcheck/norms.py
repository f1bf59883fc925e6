"""The perturbation norms: one :class:`Norm` object per threat geometry (L∞, L2, L1, L0), with the
per-example norm and the projection onto its ε-ball. An attack declares ``norm = Norm.LINF`` (a plain
string such as ``"linf"`` is converted when the attack is registered); ``Norm`` is a ``str`` enum, so
``Norm.LINF == "linf"`` and records, keys and messages keep the plain names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum

import torch
from torch import Tensor

from robustcheck.errors import ConfigError


class Norm(str, Enum):
    """A perturbation norm; compares equal to its name (``Norm.L2 == "l2"``)."""

    LINF = "linf"
    L2 = "l2"
    L1 = "l1"
    L0 = "l0"

    def __str__(self) -> str:
        return self.value

    def of(self, delta: Tensor) -> Tensor:
        """Per-example norm of ``delta`` (first dimension = examples)."""
        return norm_of(delta, self.value)

    def project(self, delta: Tensor, eps: float) -> Tensor:
        """Projection of each example of ``delta`` onto the ε-ball (L∞, L2, L1; not L0)."""
        return project(delta, eps, self.value)

    def diameter(self, shape: Sequence[int]) -> float:
        """The largest distance between two images of ``shape`` in [0, 1]: an ε above it bounds nothing."""
        d = math.prod(shape)
        return {"linf": 1.0, "l2": math.sqrt(d), "l1": float(d), "l0": float(d)}[self.value]


def norm_of(delta: Tensor, norm: str) -> Tensor:
    """Per-example norm of ``delta`` for ``norm`` in {'linf', 'l2', 'l1', 'l0'}."""
    d = delta.flatten(1)
    if norm == "linf":
        return d.abs().amax(1)
    if norm == "l2":
        return d.norm(p=2, dim=1)
    if norm == "l1":
        return d.abs().sum(1)
    if norm == "l0":
        return (d.abs() > 1e-8).sum(1).to(d.dtype)
    raise ValueError(f"unknown norm {norm!r}; known: l0, l1, l2, linf")


def project(delta: Tensor, eps: float, norm: str) -> Tensor:
    """Project perturbations onto the ε-ball of ``norm`` (per example)."""
    if norm == "linf":
        return delta.clamp(-eps, eps)
    flat = delta.flatten(1)
    if norm == "l2":
        n = flat.norm(p=2, dim=1, keepdim=True).clamp_min(1e-12)
        return (flat * torch.clamp(eps / n, max=1.0)).view_as(delta)
    if norm == "l1":
        return project_l1(flat, eps).view_as(delta)
    raise ConfigError(f"cannot project onto an {norm} ball; supported: linf, l2, l1")


def project_l1(v: Tensor, eps: float) -> Tensor:
    """Euclidean projection of each row of ``v`` onto the L1 ball of radius ``eps`` (Duchi et al. 2008)."""
    abs_v = v.abs()
    inside = abs_v.sum(1) <= eps
    if bool(inside.all()):
        return v
    mu = torch.sort(abs_v, dim=1, descending=True).values
    cums = mu.cumsum(1)
    ks = torch.arange(1, v.shape[1] + 1, device=v.device, dtype=v.dtype)
    cond = mu - (cums - eps) / ks > 0
    rho = cond.to(torch.int64).cumsum(1).argmax(1, keepdim=True)  # last index where cond holds
    theta = ((cums.gather(1, rho) - eps) / (rho + 1).to(v.dtype)).clamp_min(0)
    out = v.sign() * (abs_v - theta).clamp_min(0)
    return torch.where(inside.unsqueeze(1), v, out)
