"""The calibration package's errors: it reads CIFAR-10 and builds calibration sets, so it owns what goes
wrong with them."""

from __future__ import annotations

from alexnet_edge.runtime.errors import AlexNetEdgeError


class DatasetError(AlexNetEdgeError):
    """A CIFAR-10 file is missing, corrupt, or of the wrong layout."""

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path


class CalibrationError(AlexNetEdgeError, ValueError):
    """The calibration set or method is unusable (a bad size, method or split: a bad argument)."""
