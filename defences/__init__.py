"""Defences: one file per family, a small protocol, and a registry."""

from __future__ import annotations

from robustcheck.defences.base import BaseDefence, DefenceProtocol, Detector, FitContext, Purifier
from robustcheck.defences.registry import DEFENCES

# One module per defence family; importing a module registers its defences.
from robustcheck.defences import (  # noqa: F401  # isort: skip
    ae_purifiers,
    cvae_detector,
    feature_squeezing,
    kl_autoencoder,
    kl_ensemble,
    magnet,
    none,
    perceptual_dae,
    vae_purification,
    vae_purifiers,
)

__all__ = ["DEFENCES", "BaseDefence", "DefenceProtocol", "Detector", "FitContext", "Purifier"]
