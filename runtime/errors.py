"""Typed errors. Each is a ``ValueError`` whose message is one line a user can act on.

The command-line tools print ``error: <message>`` and exit nonzero for any of these; the
attributes carry the numbers for callers that want them.
"""

from __future__ import annotations


class AlexNetEdgeError(ValueError):
    """Base of every error this package raises on bad input or a failed check."""

    exit_code = 2


class InputError(AlexNetEdgeError):
    """A batch or image given to a runner is of the wrong dtype, shape or size."""


class InferenceError(AlexNetEdgeError):
    """A backend failed while running a model it had loaded (the backend's own log says why)."""


class ModelFileError(AlexNetEdgeError):
    """A model or engine file is missing, truncated or not what it claims to be."""


class OutputDirError(AlexNetEdgeError):
    """The output folder cannot be created or written."""


class CalibrationError(AlexNetEdgeError):
    """The calibration set or method is unusable."""


class BackendUnavailableError(AlexNetEdgeError):
    """An optional backend (TensorRT, CUDA, an onnxruntime provider) is not installed or has no device."""


class EngineCompatibilityError(AlexNetEdgeError):
    """A TensorRT engine was built for another TensorRT version or GPU than the one running it."""

    def __init__(self, message: str, *, field: str, built: str, running: str):
        super().__init__(message)
        self.field = field
        self.built = built
        self.running = running


class ToleranceError(AlexNetEdgeError):
    """A runner's outputs moved further from the reference than its tolerance allows."""

    exit_code = 1

    def __init__(self, *, artifact: str, metric: str, value: float, tolerance: float, bound: str):
        self.artifact = artifact
        self.metric = metric
        self.value = value
        self.tolerance = tolerance
        self.bound = bound  # "max" or "min"
        relation = "above the maximum" if bound == "max" else "below the minimum"
        super().__init__(f"{artifact}: {metric} = {value:.6g} is {relation} {tolerance:.6g}")
