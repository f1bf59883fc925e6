"""Exceptions raised by robustcheck. Every user-facing problem is one of these, with one clear message."""

from __future__ import annotations


class RobustcheckError(Exception):
    """Base class of every error robustcheck raises on purpose."""


class ConfigError(RobustcheckError, ValueError):
    """A suite, attack, defence or option was configured wrongly; the message names the field."""


class DataUnavailableError(ConfigError):
    """A dataset's local files are absent (no data root, or nothing readable there); suites skip on it."""


class ModelContractError(RobustcheckError):
    """A classifier or defence broke the contract (NaN output, wrong number of classes, wrong shape)."""


class BudgetViolation(RobustcheckError):
    """An attack returned a point outside its ε budget, outside [0, 1] or with NaN: a bug, not a result."""


class InconclusiveError(RobustcheckError):
    """Raised integrity indicators (gradient masking, a broken attack, ...): the evaluation failed, so its
    numbers are no robustness result. ``metrics`` holds them anyway."""

    def __init__(self, message: str, metrics: object = None) -> None:
        super().__init__(message)
        self.metrics = metrics
