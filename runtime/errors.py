"""The runtime's errors, all of them: each an ``AlexNetEdgeError`` whose message is one line a user can act on.

The command-line tools print ``error: <message>`` and exit nonzero for any of these; the attributes
carry the numbers for callers that want them. Only the errors that reject a bad argument or input
(``InputError``, ``UnsupportedOptionError``) are also ``ValueError``s; a missing file, a failed check or
a backend that is absent is not a bad value.
"""

from __future__ import annotations

from alexnet_edge.runtime.exit_status import BAD_INPUT, OUTSIDE_TOLERANCE


class AlexNetEdgeError(Exception):
    """Base of every error this package raises on bad input or a failed check."""

    exit_code = BAD_INPUT


class InputError(AlexNetEdgeError, ValueError):
    """A batch or image given to a runner is of the wrong dtype, shape or size."""


class RunnerStateError(AlexNetEdgeError):
    """A runner used out of its lifecycle: ``infer()`` before ``activate()``, or activated twice."""


class InferenceError(AlexNetEdgeError):
    """A backend failed while running a model it had loaded (the backend's own log says why)."""


class ModelFileError(AlexNetEdgeError):
    """A model or engine file is missing, truncated or not what it claims to be."""


class OutputDirError(AlexNetEdgeError):
    """The output folder cannot be created or written."""


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

    exit_code = OUTSIDE_TOLERANCE

    def __init__(self, *, artifact: str, metric: str, value: float, tolerance: float, bound: str):
        self.artifact = artifact
        self.metric = metric
        self.value = value
        self.tolerance = tolerance
        self.bound = bound  # "max" or "min"
        relation = "above the maximum" if bound == "max" else "below the minimum"
        super().__init__(f"{artifact}: {metric} = {value:.6g} is {relation} {tolerance:.6g}")


class ManifestError(AlexNetEdgeError):
    """A bundle file is missing or differs from what the manifest says."""


class UnsupportedOptionError(AlexNetEdgeError, ValueError):
    """A build option the installed TensorRT (or this platform) does not have."""

    def __init__(self, message: str, *, option: str, running: str, needs: str):
        super().__init__(message)
        self.option, self.running, self.needs = option, running, needs


class DlaInt8Error(AlexNetEdgeError):
    """INT8 on DLA cannot be built here (this TensorRT has no implicit quantization, or no ranges)."""


class UnknownPrecisionError(AlexNetEdgeError, ValueError):
    """A precision no ``PrecisionSpec`` is registered for (runtime/precision.py), or one that is registered twice."""


class UnknownBackendError(AlexNetEdgeError, ValueError):
    """A backend name no ``BackendSpec`` is registered for (runtime/backends/registry.py), or one that cannot
    serve where it was asked (a GPU backend for the host's ONNX rows)."""

    def __init__(self, message: str, *, name: str, choices: tuple[str, ...]):
        super().__init__(message)
        self.name, self.choices = name, choices


class BackendOptionError(AlexNetEdgeError, ValueError):
    """A ``--backend-option BACKEND.OPTION=VALUE`` its backend's spec does not have, or a value its type refuses."""

    def __init__(self, message: str, *, key: str, value: str | None):
        super().__init__(message)
        self.key, self.value = key, value
