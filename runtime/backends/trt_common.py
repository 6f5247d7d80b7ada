"""What the TensorRT builder and runner share: lazy imports, version parsing, the engine sidecar."""

from __future__ import annotations

import importlib.metadata
import json
import sys
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
            raise BackendUnavailableError("cuda-python is not installed (see docs/jetson.md for the set that matches your CUDA)") from None
    return cudart


def cuda_python_version() -> str | None:
    """The installed cuda-bindings / cuda-python version, from the module or the package metadata."""
    for module in ("cuda.bindings", "cuda"):
        version = getattr(sys.modules.get(module), "__version__", None)
        if version:
            return str(version)
    for package in ("cuda-bindings", "cuda-python"):
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def check_cuda_driver(cudart) -> int:
    """The driver's CUDA version (e.g. 12060); refuse a cuda-python built for a newer CUDA than the driver.

    cuda-python 13 links CUDA 13 and needs a driver >= 580: on a CUDA 12 server or JetPack 6 every
    cudart call would fail with "insufficient driver", which reads like "no GPU". Say what to install.
    """
    err, driver = cudart.cudaDriverGetVersion()
    if int(err) != 0 or not driver:
        raise BackendUnavailableError(f"no usable NVIDIA driver: cudaDriverGetVersion returned {err} (is this a GPU machine?)")
    driver_major, driver_minor = int(driver) // 1000, int(driver) % 1000 // 10
    bindings = cuda_python_version()
    bindings_major = version_tuple(bindings)[0] if bindings else 0
    if bindings_major > driver_major:
        raise BackendUnavailableError(
            f"cuda-python {bindings} needs a CUDA {bindings_major} driver, but this driver supports CUDA "
            f"{driver_major}.{driver_minor}: pip install 'cuda-python>={driver_major}.0,<{driver_major + 1}' (or update the driver)"
        )
    return int(driver)


def open_cudart():
    """Import cuda-python's runtime and check it can talk to this driver."""
    cudart = import_cudart()
    check_cuda_driver(cudart)
    return cudart


def stream_handle(stream) -> int:
    """The raw handle TensorRT wants; ``getPtr()`` where cuda-bindings has it (``int()`` is deprecated there)."""
    get_ptr = getattr(stream, "getPtr", None)
    return int(get_ptr()) if get_ptr is not None else int(stream)


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
    _check_built_version(sidecar, trt_version, engine_path)
    built_gpu = sidecar.get("gpu", {})
    level = str(sidecar.get("build_options", {}).get("hardware_compatibility_level") or "NONE").upper()
    built_cc, running_cc = str(built_gpu.get("compute_capability")), gpu.compute_capability
    if level == "AMPERE_PLUS":
        ok, needs = version_tuple(running_cc) >= (8, 0), "an Ampere or newer GPU (sm 8.0+)"
    elif level == "SAME_COMPUTE_CAPABILITY":
        ok, needs = built_cc == running_cc, f"a GPU of compute capability {built_cc}"
    else:
        ok, needs = built_cc == running_cc and built_gpu.get("name") == gpu.name, "the same GPU model"
    if not ok:
        raise EngineCompatibilityError(
            f"{engine_path} was built on {built_gpu.get('name')} (sm {built_cc}) with hardware compatibility {level}, "
            f"which needs {needs}; this is {gpu.name} (sm {running_cc}): rebuild it here",
            field="gpu", built=f"{built_gpu.get('name')} (sm {built_cc})", running=f"{gpu.name} (sm {running_cc})",
        )  # fmt: skip


def _check_built_version(sidecar: dict, trt_version: str, engine_path: str | Path) -> None:
    """Same version, or a version-compatible plan on the same or a newer TensorRT (documented across
    majors: 8.6 plans load on 10.x, 10.x plans on 11.x)."""
    built = str(sidecar.get("tensorrt_version", "unknown"))
    if built == trt_version:
        return
    version_compatible = bool(sidecar.get("build_options", {}).get("version_compatible"))
    if version_compatible and version_tuple(trt_version) >= version_tuple(built):
        return
    why = "version-compatible plans load only on the same or a newer TensorRT" if version_compatible else "rebuild it here, or build with --version-compatible"
    raise EngineCompatibilityError(
        f"{engine_path} was built with TensorRT {built}, this is TensorRT {trt_version}: {why}",
        field="tensorrt_version", built=built, running=trt_version,
    )  # fmt: skip
