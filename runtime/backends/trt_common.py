"""What the TensorRT builder and runner share: lazy imports, version parsing, the engine sidecar."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendUnavailableError, EngineCompatibilityError, ModelFileError

SIDECAR_FORMAT = "alexnet-edge-engine/1"


def import_tensorrt():
    try:
        import tensorrt
    except ImportError:
        raise BackendUnavailableError("tensorrt is not installed (pip install 'alexnet-edge[gpu]', or JetPack's python3-libnvinfer)") from None
    return tensorrt


def import_cudart():
    """cuda-python's runtime bindings: ``cuda.bindings.runtime`` (12.6+) or the older ``cuda.cudart``."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise BackendUnavailableError("cuda-python is not installed (pip install 'alexnet-edge[gpu]')") from None
    return cudart


def version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def cuda_check(result, what: str):
    """cuda-python calls return (err, *values); raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailableError(f"CUDA {what} failed with error {int(err)} ({err})")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: str


def current_gpu(cudart, device: int = 0) -> GpuInfo:
    props = cuda_check(cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    return GpuInfo(name.rstrip("\x00"), f"{props.major}.{props.minor}")


def sidecar_path(engine_path: str | Path) -> Path:
    return Path(engine_path).with_suffix(".json")


def read_sidecar(engine_path: str | Path) -> dict:
    path = sidecar_path(engine_path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{engine_path}: its sidecar {path.name} is missing; rebuild the engine") from None
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: sidecar is not valid JSON") from None


def check_sidecar(sidecar: dict, *, trt_version: str, gpu: GpuInfo, engine_path: str | Path) -> None:
    """Refuse an engine built for another TensorRT or GPU, naming both, unless it was built to allow it."""
    built_trt = sidecar.get("tensorrt_version", "unknown")
    options = sidecar.get("build_options", {})
    if built_trt != trt_version:
        same_major = version_tuple(built_trt)[:1] == version_tuple(trt_version)[:1]
        newer_runtime = version_tuple(trt_version) >= version_tuple(built_trt)
        if not (options.get("version_compatible") and same_major and newer_runtime):
            raise EngineCompatibilityError(
                f"{engine_path} was built with TensorRT {built_trt}, this is TensorRT {trt_version}: rebuild it here",
                field="tensorrt_version", built=built_trt, running=trt_version,
            )  # fmt: skip
    built_gpu = sidecar.get("gpu", {})
    if options.get("hardware_compatibility_level") in (None, "NONE"):
        if built_gpu.get("compute_capability") != gpu.compute_capability or built_gpu.get("name") != gpu.name:
            raise EngineCompatibilityError(
                f"{engine_path} was built on {built_gpu.get('name')} (sm {built_gpu.get('compute_capability')}), "
                f"this is {gpu.name} (sm {gpu.compute_capability}): rebuild it here",
                field="gpu", built=str(built_gpu.get("name")), running=gpu.name,
            )  # fmt: skip
