"""robustcheck: evaluate adversarial defences for PyTorch image classifiers and gate releases on it."""

from __future__ import annotations

from robustcheck.errors import BudgetViolation, ConfigError, ModelContractError, RobustcheckError
from robustcheck.suite import Attack, Case, Defence, Scale, Suite, Thresholds

__version__ = "0.1.0"

__all__ = ["Attack", "BudgetViolation", "Case", "ConfigError", "Defence", "ModelContractError",
           "RobustcheckError", "Scale", "Suite", "Thresholds", "__version__"]
