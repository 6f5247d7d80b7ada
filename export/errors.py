"""The export package's errors, all of them (checkpoints, architectures, drift inputs, emulated targets, data
paths); the edge runtime never raises them. Argument errors are also ``ValueError``s."""

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


class InputSizeError(AlexNetEdgeError, ValueError):
    """The network cannot take an input of this size: a layer would get a map smaller than its window."""

    def __init__(self, message: str, *, layer: str, in_size: int, window: int):
        super().__init__(message)
        self.layer = layer
        self.in_size = in_size
        self.window = window


class UnknownVariantError(AlexNetEdgeError, ValueError):
    """A model variant name that is not one of VARIANTS."""

    def __init__(self, message: str, *, variant: str, choices: Sequence[str]):
        super().__init__(message)
        self.variant, self.choices = variant, list(choices)


class DriftInputError(AlexNetEdgeError):
    """An input differs from the one the baseline was computed from."""

    def __init__(self, message: str, *, name: str, expected: str, actual: str):
        super().__init__(message)
        self.name, self.expected, self.actual = name, expected, actual


class TargetSetupError(AlexNetEdgeError):
    """An emulator or userland could not be made ready; the run cannot say anything about that target."""


class DataPathError(AlexNetEdgeError, ValueError):
    """Neither the option nor ALEXNET_EDGE_DATA says where an input is."""
