"""What the TensorRT builder and runner share: lazy imports, version parsing, the engine sidecar."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

from alexnet_edge.runtime.backends.registry import backend_spec
from alexnet_edge.runtime.backends.tensorrt.compat import plan_loads, version_tuple
from alexnet_edge.runtime.errors import BackendUnavailableError, EngineCompatibilityError, ModelFileError

SIDECAR_FORMAT = "alexnet-edge-engine/1"


def import_tensorrt():
    try:
        import tensorrt
    except ImportError:
        hint = backend_spec("tensorrt").install_hint()
        raise BackendUnavailableError(f"tensorrt is not installed: {hint}") from None
    return tensorrt


def import_cudart():
    """cuda-python's runtime bindings: ``cuda.bindings.runtime`` (12.6+) or the older ``cuda.cudart``."""
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise BackendUnavailableError(
                "cuda-python is not installed (see docs/jetson.md for the set that matches your CUDA)"
            ) from None
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


def error_name(err) -> str:
    """``cudaErrorNoDevice`` for cuda-python's ``cudaError_t`` member (an IntEnum: ``str()`` is its repr)."""
    return str(getattr(err, "name", err))


def check_cuda_driver(cudart) -> int:
    """The driver's CUDA version (e.g. 12060); refuse a cuda-python built for a newer CUDA than the driver.

    cuda-python 13 links CUDA 13 and needs a driver >= 580: on a CUDA 12 server or JetPack 6 every
    cudart call would fail with "insufficient driver", which reads like "no GPU". Say what to install.
    """
    err, driver = cudart.cudaDriverGetVersion()
    if int(err) != 0 or not driver:
        raise BackendUnavailableError(
            f"no usable NVIDIA driver: cudaDriverGetVersion returned {error_name(err)} (is this a GPU machine?)"
        )
    driver_major, driver_minor = int(driver) // 1000, int(driver) % 1000 // 10
    bindings = cuda_python_version()
    bindings_major = version_tuple(bindings)[0] if bindings else 0
    if bindings_major > driver_major:
        raise BackendUnavailableError(
            f"cuda-python {bindings} needs a CUDA {bindings_major} driver, but this driver supports CUDA "
            f"{driver_major}.{driver_minor}: pip install "
            f"'cuda-python>={driver_major}.0,<{driver_major + 1}' (or update the driver)"
        )
    return int(driver)


def open_cudart():
    """Import cuda-python's runtime and check it can talk to this driver.

    Without a driver, cuda-python 12.6 (JetPack 6's pin) raises ``RuntimeError: Failed to dlopen
    libcuda.so.1`` from its first call (run here with cuda-python 12.6.0), where 12.9 returns
    cudaErrorInsufficientDriver: either is one line here, never a traceback."""
    cudart = import_cudart()
    try:
        check_cuda_driver(cudart)
    except RuntimeError as exc:
        raise BackendUnavailableError(f"no usable NVIDIA driver: {str(exc).strip() or type(exc).__name__}") from None
    return cudart


def stream_handle(stream) -> int:
    """The ``cudaStream_t`` value itself, which TensorRT casts straight to ``cudaStream_t``
    (``execute_async_v3(size_t streamHandle)``, python/src/infer/pyCore.cpp at v10.3.0).

    In cuda-python ``int(stream)`` is the handle, while ``stream.getPtr()`` is the address of the
    Python object's storage for it (cuda-python docs, "Tips and Tricks: Getting the address of
    underlying C objects"; NVIDIA/cuda-python #126): passing that enqueues on a bogus stream. Newer
    cuda-bindings deprecate ``int()`` for ``cuda.bindings.utils.get_cuda_native_handle``, used where present.
    """
    try:
        from cuda.bindings.utils import get_cuda_native_handle
    except ImportError:  # cuda-python < 12.8, or a plain int handle
        return int(stream)
    try:
        return int(get_cuda_native_handle(stream))
    except TypeError:  # not a cuda-python object (an int, or another library's handle)
        return int(stream)


def cuda_check(result, what: str):
    """cuda-python calls return (err, *values); raise on error, return the values."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise BackendUnavailableError(f"CUDA {what} failed with error {int(err)} ({error_name(err)})")
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


def this_platform() -> dict:
    """The build platform the sidecar records: ``{"machine": "x86_64", "system": "Linux"}``."""
    return {"machine": platform.machine(), "system": platform.system()}


def check_sidecar(
    sidecar: dict, *, trt_version: str, gpu: GpuInfo, engine_path: str | Path, host: dict | None = None
) -> None:
    """Refuse an engine built for another platform, TensorRT or GPU, naming both, unless it was built to allow it.

    Args:
        host: this machine's platform (this_platform() when None).
    """
    _check_platform(sidecar, this_platform() if host is None else host, engine_path)
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
            field="gpu",
            built=f"{built_gpu.get('name')} (sm {built_cc})",
            running=f"{gpu.name} (sm {running_cc})",
        )


def _check_built_version(sidecar: dict, trt_version: str, engine_path: str | Path) -> None:
    """The documented version-compatibility matrix (trt_compat.plan_loads), said before TensorRT's own
    far less clear failure to deserialize."""
    built = str(sidecar.get("tensorrt_version", "unknown"))
    version_compatible = bool(sidecar.get("build_options", {}).get("version_compatible"))
    verdict = plan_loads(built, trt_version, version_compatible=version_compatible)
    if not verdict.ok:
        raise EngineCompatibilityError(
            f"{engine_path} was built with TensorRT {built}, this is TensorRT {trt_version}: {verdict.why}",
            field="tensorrt_version",
            built=built,
            running=trt_version,
        )


def _check_platform(sidecar: dict, host: dict, engine_path: str | Path) -> None:
    """Plans are not portable across platforms, whatever the hardware-compatibility level (TensorRT support
    matrix, "Engine portability", 10.x and 11.4: "Serialized engines are not portable across platforms").

    A sidecar written before the platform was recorded (no ``platform`` field) is accepted with a warning:
    no TensorRT build of this project had run before it was added, and TensorRT itself still refuses a
    foreign plan at deserialization, only less clearly.
    """
    built = sidecar.get("platform")
    if built is None:
        logging.getLogger(__name__).warning(
            "%s: its sidecar does not record the build platform; if it was built on "
            "another platform TensorRT will refuse it",
            engine_path,
        )
        return
    said = lambda p: f"{p.get('machine')} {p.get('system')}"  # noqa: E731
    if (built.get("machine"), built.get("system")) != (host.get("machine"), host.get("system")):
        raise EngineCompatibilityError(
            f"{engine_path} was built on {said(built)}, this is {said(host)}: plans are not portable across "
            "platforms; rebuild on this machine",
            field="platform",
            built=said(built),
            running=said(host),
        )
