"""Defences: one file per family, a small protocol, and a registry."""

from __future__ import annotations

from defences.base import BaseDefence, DefenceProtocol, Detector, FitContext, Purifier
from defences.registry import DEFENCES

from defences import kl_autoencoder as _kl_autoencoder  # noqa: F401,E402
from defences import none as _none  # noqa: F401,E402
from defences import ae_purifiers as _ae_purifiers  # noqa: F401,E402
from defences import vae_purifiers as _vae_purifiers  # noqa: F401,E402
from defences import cvae_detector as _cvae_detector  # noqa: F401,E402
from defences import vae_purification as _vae_purification  # noqa: F401,E402
from defences import feature_squeezing as _feature_squeezing  # noqa: F401,E402

__all__ = ["DEFENCES", "BaseDefence", "DefenceProtocol", "Detector", "FitContext", "Purifier"]
