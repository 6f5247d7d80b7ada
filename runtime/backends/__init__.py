"""Inference backends. Each runner is a context manager: activate -> infer(batch) -> deactivate.

Heavy or optional dependencies (onnxruntime, tensorrt, cuda-python) are imported when a runner is
activated, never at import time.
"""

from __future__ import annotations

from pathlib import Path

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
BACKENDS = ("onnxruntime", "tensorrt")


def open_runner(path: str | Path, backend: str | None = None, *, providers=None, name: str | None = None):
    """The one runner factory: ``backend`` "onnxruntime" or "tensorrt", or None to choose by the
    file's suffix (.engine/.plan/.trt: TensorRT; anything else: onnxruntime). Not activated yet."""
    path = Path(path)
    backend = backend or ("tensorrt" if path.suffix in ENGINE_SUFFIXES else "onnxruntime")
    if backend == "tensorrt":
        from .trt_runner import TensorRTRunner

        return TensorRTRunner(path, name=name)
    if backend == "onnxruntime":
        from .onnxrt import OnnxRuntimeRunner

        return OnnxRuntimeRunner(path, providers=providers, name=name)
    from ..errors import AlexNetEdgeError

    raise AlexNetEdgeError(f"unknown backend {backend!r}; choose {', '.join(BACKENDS)}")
