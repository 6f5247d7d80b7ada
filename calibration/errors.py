"""The dataset's error: calibration reads CIFAR-10, so it owns what goes wrong with it."""

from __future__ import annotations

from alexnet_edge.runtime.errors import AlexNetEdgeError


class DatasetError(AlexNetEdgeError):
    """A CIFAR-10 file is missing, corrupt, or of the wrong layout."""

    def __init__(self, message: str, *, path: str | None = None):
        super().__init__(message)
        self.path = path
