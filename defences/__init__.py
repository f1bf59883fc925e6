"""Defences: one file per family, a small protocol, and a registry."""

from __future__ import annotations

from defences.base import BaseDefence, DefenceProtocol, Detector, FitContext, Purifier
from defences.registry import DEFENCES

from defences import kl_autoencoder as _kl_autoencoder  # noqa: F401,E402
from defences import kl_ensemble as _kl_ensemble  # noqa: F401,E402
from defences import magnet as _magnet  # noqa: F401,E402
from defences import perceptual_dae as _perceptual_dae  # noqa: F401,E402
from defences import none as _none  # noqa: F401,E402

__all__ = ["DEFENCES", "BaseDefence", "DefenceProtocol", "Detector", "FitContext", "Purifier"]
