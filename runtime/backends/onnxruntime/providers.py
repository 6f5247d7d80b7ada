"""Which onnxruntime execution providers to ask for, with what options, and what was really used.

onnxruntime falls back to the CPU without raising when a GPU provider cannot start (#27177), so
the providers a session reports after creation, not the ones requested, say where a row ran.

Its TensorRT provider links ``libnvinfer.so.N``, which pip's TensorRT (``tensorrt-cu12``/``-cu13``)
keeps in the ``tensorrt_libs`` package, off the loader path: unless ``tensorrt`` was imported first
or LD_LIBRARY_PATH names that folder, the provider fails to load and the session drops to CUDA or
the CPU (onnxruntime #18597, #13501). ``load_tensorrt_libraries`` loads them first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alexnet_edge.runtime.backends.tensorrt.common import version_tuple
from alexnet_edge.runtime.constants import input_shape_text
from alexnet_edge.runtime.errors import BackendUnavailableError
from alexnet_edge.runtime.precision import Precision

PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
GPU_PROVIDERS = {"TensorrtExecutionProvider", "CUDAExecutionProvider"}
ALIASES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
#: onnxruntime-gpu 1.27 is the first built against TensorRT 11, which has no weak typing; before it
#: (TensorRT 8.x-10.x) the provider needs trt_fp16_enable / trt_int8_enable for FP16 and Q/DQ models,
#: or it fails with "int8 is not configured" (#13381).
STRONGLY_TYPED_ORT = (1, 27)
# The oldest onnxruntime whose CPU provider fuses the INT8 model's Q/DQ pairs into QLinearConv/QGemm: 1.20.x
# leaves them as DequantizeLinear -> FP32 Conv/Gemm (its optimized graph, measured for 1.20.0 and 1.20.1;
# docs/targets.md), so there the INT8 model computes in FP32, gains no speed and moves its logits by ~0.12.
FUSES_QDQ_ORT = (1, 21)
# What pyproject.toml and the bundle require: 1.21.1, not 1.21.0, whose aarch64 wheel dies with SIGILL on
# ARMv8.0 cores such as the Raspberry Pi 4's Cortex-A72 (onnxruntime #23957; measured here under
# qemu -cpu cortex-a72, while 1.21.1 runs there).
ONNXRUNTIME_MIN = "1.21.1"


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
    if metadata.get("precision") != "int8" or version_tuple(ort_version)[:2] >= FUSES_QDQ_ORT:
        return None
    return (
        f"warning: onnxruntime {ort_version} does not fuse this int8 model's Q/DQ nodes into integer kernels: "
        f"it computes in FP32 on dequantized weights (no int8 speed-up; logits differ from {ONNXRUNTIME_MIN}+ by "
        f"~0.1); install onnxruntime>={ONNXRUNTIME_MIN}"
    )


def tensorrt_options(
    *, ort_version: str, precision: Precision | None, cache_dir: Path, max_batch: int, opt_batch: int
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
    numbers = version_tuple(ort_version)[:2]
    if numbers < STRONGLY_TYPED_ORT and precision is Precision.FP16:
        options["trt_fp16_enable"] = True
    if numbers < STRONGLY_TYPED_ORT and precision is Precision.INT8:
        options["trt_int8_enable"] = True  # explicit Q/DQ: no calibration table is needed or read
    return options


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
