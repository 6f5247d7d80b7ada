"""Which onnxruntime execution providers to ask for, with what options, and what was really used.

onnxruntime falls back to the CPU without raising when a GPU provider cannot start (#27177), so
the providers a session reports after creation, not the ones requested, say where a row ran.

Its TensorRT provider links ``libnvinfer.so.N``, which pip's TensorRT (``tensorrt-cu12``/``-cu13``)
keeps in the ``tensorrt_libs`` package, off the loader path: unless ``tensorrt`` was imported first
or LD_LIBRARY_PATH names that folder, the provider fails to load and the session drops to CUDA or
the CPU (onnxruntime #18597, #13501). ``load_tensorrt_libraries`` loads them first.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path

from alexnet_edge.runtime.backends.registry import ONNXRUNTIME_MIN
from alexnet_edge.runtime.backends.tensorrt.common import version_tuple
from alexnet_edge.runtime.constants import input_shape_text
from alexnet_edge.runtime.errors import BackendUnavailableError
from alexnet_edge.runtime.precision import Precision, PrecisionKey, spec_for

logger = logging.getLogger(__name__)

PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
GPU_PROVIDERS = {"TensorrtExecutionProvider", "CUDAExecutionProvider"}
ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
#: The TensorRT major each onnxruntime-gpu release line's TensorRT provider links: every x86_64 PyPI wheel
#: from 1.21.1 to 1.31.1 has libonnxruntime_providers_tensorrt.so NEED libnvinfer.so.10 and
#: libnvonnxparser.so.10 (readelf, tests/support/gpu_wheels.json, written by tools/gpu_wheel_records.py;
#: tests/export/gpu/test_gpu_wheels.py checks this table against it). None is built against TensorRT 11.
ORT_TENSORRT_MAJOR = {(1, minor): 10 for minor in range(21, 32)}
#: TensorRT 10's provider keeps weak typing: FP16 and Q/DQ models need trt_fp16_enable / trt_int8_enable, or it
#: fails with "int8 is not configured" (#13381); every recorded provider library parses both keys.
WEAKLY_TYPED_TENSORRT = 10
# The oldest onnxruntime whose CPU provider fuses the INT8 model's Q/DQ pairs into QLinearConv/QGemm: 1.20.x
# leaves them as DequantizeLinear -> FP32 Conv/Gemm (its optimized graph, measured for 1.20.0 and 1.20.1;
# docs/targets.md), so there the INT8 model computes in FP32, gains no speed and moves its logits by ~0.12.
FUSES_QDQ_ORT = (1, 21)


def choose_providers(requested: Sequence[str] | str | None, available: Sequence[str]) -> list[str]:
    """``None``/"auto": the best available in PROVIDER_PREFERENCE order; else exactly what was asked."""
    if requested is None or requested == "auto":
        return [p for p in PROVIDER_PREFERENCE if p in available] or ["CPUExecutionProvider"]
    names = [requested] if isinstance(requested, str) else list(requested)
    names = [ALIASES.get(n.lower(), n) for n in names]
    missing = [n for n in names if n not in available]
    if missing:
        raise BackendUnavailableError(
            f"onnxruntime provider(s) {', '.join(missing)} not available here; available: {', '.join(available)}"
        )
    return names


def unfused_int8_warning(ort_version: str, metadata: dict[str, object]) -> str | None:
    """One line when an INT8 model runs on an onnxruntime CPU provider that leaves its Q/DQ pairs unfused."""
    if metadata.get("precision") != Precision.INT8.value or version_tuple(ort_version)[:2] >= FUSES_QDQ_ORT:
        return None
    return (
        f"warning: onnxruntime {ort_version} does not fuse this int8 model's Q/DQ nodes into integer kernels: "
        f"it computes in FP32 on dequantized weights (no int8 speed-up; logits differ from {ONNXRUNTIME_MIN}+ by "
        f"~0.1); install onnxruntime>={ONNXRUNTIME_MIN}"
    )


def too_old_refusal(ort_version: str, precision: PrecisionKey | None, model: Path) -> str | None:
    """One line when this onnxruntime is older than the oldest one measured to run ``precision``'s model
    (its spec's ``min_onnxruntime``: int4w's MatMulNBits kernels); None when it may run it."""
    minimum = spec_for(precision).min_onnxruntime if precision is not None else None
    if minimum is None or version_tuple(ort_version)[:3] >= version_tuple(minimum)[:3]:
        return None
    return (
        f"onnxruntime {ort_version} cannot run {model.name}: {spec_for(precision).label} needs onnxruntime >= "
        f"{minimum}, the oldest measured to run it (docs/targets.md); pip install 'onnxruntime>={minimum}'"
    )


def tensorrt_options(
    *, ort_version: str, precision: PrecisionKey | None, cache_dir: Path, max_batch: int, opt_batch: int
) -> dict:
    """TensorRT provider options: engine and timing caches under ``cache_dir``, one profile that covers
    every batch size we run (no rebuild on a new size), and precision flags where onnxruntime needs them."""
    options = {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(cache_dir),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(cache_dir),
        "trt_profile_min_shapes": input_shape_text(1),
        "trt_profile_opt_shapes": input_shape_text(min(opt_batch, max_batch)),
        "trt_profile_max_shapes": input_shape_text(max_batch),
    }
    flag = spec_for(precision).tensorrt.ort_option if precision is not None else None
    if flag and provider_tensorrt_major(ort_version) <= WEAKLY_TYPED_TENSORRT:  # INT8's: Q/DQ, no table read
        options[flag] = True
    return options


def provider_tensorrt_major(ort_version: str) -> int:
    """The TensorRT major this onnxruntime's TensorRT provider links (ORT_TENSORRT_MAJOR); a release newer
    than the records is taken to link what the newest recorded one does."""
    numbers = version_tuple(ort_version)[:2]
    return ORT_TENSORRT_MAJOR.get(numbers, ORT_TENSORRT_MAJOR[max(ORT_TENSORRT_MAJOR)])


def cuda_options(precision: PrecisionKey | None) -> dict:
    """CUDA provider options: ``use_tf32=0`` where the model must compute in FP32 (its precision clears TF32,
    as the TensorRT builder does, or its precision is unknown). The provider's default is TF32 on
    (``use_tf32{true}``, cuda_execution_provider_info.h), so Ampere and newer would round FP32 inputs to a
    10-bit mantissa, beyond the FP32 bound; every recorded provider library (1.21.1 to 1.31.1) parses the key."""
    if precision is None or spec_for(precision).tensorrt.no_tf32:
        return {"use_tf32": "0"}
    return {}


def preload_cuda_libraries(ort) -> list[str]:
    """Load CUDA and cuDNN from the pip ``nvidia-*`` wheels (onnxruntime-gpu[cuda,cudnn]) before a GPU session,
    with ``onnxruntime.preload_dlls`` (1.21+; its docstring: needed unless a matching torch was imported first).
    Without it the providers' ``dlopen`` finds no libcudnn.so.9 / libcublas on a driver-only machine.

    Returns:
        what preload_dlls printed (it prints, e.g. "Failed to load ..."), one line each; empty where it
        printed nothing or this onnxruntime has no preload_dlls.
    """
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return []
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        preload()
    return [line.strip() for line in printed.getvalue().splitlines() if line.strip()]


def load_tensorrt_libraries() -> str | None:
    """Load pip TensorRT's libraries so that onnxruntime's TensorRT provider finds ``libnvinfer``.

    Importing ``tensorrt_libs`` loads every library in its folder with ctypes (python/packaging/
    libs_wheel/tensorrt_libs/__init__.py at v10.3.0), which is what ``import tensorrt`` does first;
    the provider's own ``dlopen`` then finds ``libnvinfer.so.N`` already loaded, by its soname.

    Returns:
        the folder the libraries were loaded from, or None where pip's TensorRT is not installed
        (a JetPack or system TensorRT is on the loader path already).
    """
    try:
        import tensorrt_libs
    except ImportError:
        return None
    return str(Path(tensorrt_libs.__file__).parent)


def check_fallback(
    requested: list[str],
    used: list[str],
    model: Path,
    *,
    explicit: bool,
    tensorrt_libs: str | None = None,
    preload_said: Sequence[str] = (),
) -> None:
    """Raise where onnxruntime did not start a GPU provider it was asked for and fell back: to the CPU
    always, to another provider when the providers were named (``explicit``); a row that asked for a GPU
    must not pass on the CPU. An automatic choice that kept one GPU provider is a warning."""
    warning = fallback_warning(requested, used, model, tensorrt_libs=tensorrt_libs)
    if warning is None:
        return
    on_cpu = not used or used[0] not in GPU_PROVIDERS
    if not (on_cpu or explicit):
        logger.warning(warning)
        return
    said = f"; onnxruntime.preload_dlls said: {preload_said[0]}" if preload_said else ""
    raise BackendUnavailableError(
        warning.removeprefix("warning: ")
        + f"{said}. Install the set for this machine (requirements-gpu-cuda12/13.txt: onnxruntime-gpu[cuda,cudnn] "
        "and TensorRT 10; docs/jetson.md), or pass --providers cpu to run it on the CPU"
    )


def fallback_warning(
    requested: list[str], used: list[str], model: Path, *, tensorrt_libs: str | None = None
) -> str | None:
    """One line when onnxruntime did not start a GPU provider it was asked for; where TensorRT's
    provider is the one lost, it says where TensorRT's libraries were looked for."""
    lost = [p for p in requested if p in GPU_PROVIDERS and p not in used]
    if not lost:
        return None
    hint = ""
    if "TensorrtExecutionProvider" in lost and tensorrt_libs:
        hint = f" (TensorRT libraries loaded from {tensorrt_libs})"
    elif "TensorrtExecutionProvider" in lost:
        hint = " (no pip TensorRT found: pip install tensorrt-cu12, or put libnvinfer's folder on LD_LIBRARY_PATH)"
    where = "cuda" if used and used[0] in GPU_PROVIDERS else "cpu"
    return (
        f"warning: onnxruntime could not start {', '.join(lost)} for {model.name} and runs it on "
        f"{', '.join(used)}; its figures are for {where}{hint}"
    )
