"""Errors of the workstation side only (checkpoints, architectures); the edge runtime never raises them."""

from __future__ import annotations

from collections.abc import Sequence

from alexnet_edge.runtime.errors import AlexNetEdgeError


class CheckpointError(AlexNetEdgeError):
    """A checkpoint is missing, unreadable, or not this architecture."""

    def __init__(
        self,
        message: str,
        *,
        missing: Sequence[str] = (),
        unexpected: Sequence[str] = (),
        mismatched: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]] = (),
    ):
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


class InputSizeError(AlexNetEdgeError):
    """The network cannot take an input of this size: a layer would get a map smaller than its window."""

    def __init__(self, message: str, *, layer: str, in_size: int, window: int):
        super().__init__(message)
        self.layer = layer
        self.in_size = in_size
        self.window = window


class UnknownVariantError(AlexNetEdgeError):
    """A model variant name that is not one of VARIANTS."""

    def __init__(self, message: str, *, variant: str, choices: Sequence[str]):
        super().__init__(message)
        self.variant, self.choices = variant, list(choices)
