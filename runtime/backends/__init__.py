"""Inference backends. Each runner is a context manager: activate -> infer(batch) -> deactivate.

Heavy or optional dependencies (onnxruntime, openvino, tensorrt, cuda-python) are imported when a runner is
activated, never at import time.
"""

from __future__ import annotations

from pathlib import Path

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
BACKENDS = ("onnxruntime", "openvino", "tensorrt")
CPU_BACKENDS = ("onnxruntime", "openvino")  # what a report row can run on any host


def open_runner(
    path: str | Path,
    backend: str | None = None,
    *,
    providers=None,
    name: str | None = None,
    ov_precision: str = "f32",
    precision=None,
):
    """The one runner factory: ``backend`` "onnxruntime", "openvino" or "tensorrt", or None to choose by
    the file's suffix (.engine/.plan/.trt: TensorRT; anything else: onnxruntime). Not activated yet.
    ``ov_precision``: OpenVINO's inference precision, "f32" (default) or "bf16". ``precision``: the model's,
    where the caller knows it (onnxruntime's TensorRT provider sets its flags from it)."""
    path = Path(path)
    backend = backend or ("tensorrt" if path.suffix in ENGINE_SUFFIXES else "onnxruntime")
    if backend == "tensorrt":
        from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner

        return TensorRTRunner(path, name=name)
    if backend == "onnxruntime":
        from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(path, providers=providers, name=name, precision=precision)
    if backend == "openvino":
        from alexnet_edge.runtime.backends.openvino.runner import OpenVINORunner

        return OpenVINORunner(path, inference_precision=ov_precision, name=name)
    from alexnet_edge.runtime.errors import AlexNetEdgeError

    raise AlexNetEdgeError(f"unknown backend {backend!r}; choose {', '.join(BACKENDS)}")


def installed_cpu_backends() -> list[str]:
    """The CPU backends whose package is importable here, without importing them."""
    from importlib.util import find_spec

    return [b for b in CPU_BACKENDS if find_spec(b) is not None]


def check_cpu_backends(names, ov_precision: str = "f32") -> None:
    """Refuse an unknown or uninstalled CPU backend (or OpenVINO precision) before any work is done."""
    from alexnet_edge.runtime.errors import AlexNetEdgeError, BackendUnavailableError

    unknown = [n for n in names if n not in CPU_BACKENDS]
    if unknown or not names:
        shown = ", ".join(unknown) or "(none given)"
        raise AlexNetEdgeError(f"unknown CPU backend(s) {shown}; choose from {', '.join(CPU_BACKENDS)}")
    missing = [n for n in names if n not in installed_cpu_backends()]
    if missing:
        from alexnet_edge.runtime.install_hints import install_hint

        raise BackendUnavailableError(f"{missing[0]} not installed: {install_hint(missing[0])}")
    if ov_precision not in ("f32", "bf16"):
        raise AlexNetEdgeError(f"OpenVINO inference precision must be f32 or bf16, got {ov_precision!r}")
