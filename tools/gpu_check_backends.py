"""The backend parts of ``make gpu-check``: TensorRT through the project's builder and runner, and onnxruntime-gpu's
CUDA and TensorRT providers. Each returns Part rows and never raises; the shared pieces are in gpu_check_parts.
"""

from __future__ import annotations

import time

import numpy as np

try:
    import gpu_check_parts as parts
except ImportError:  # imported as tools.gpu_check_backends
    from tools import gpu_check_parts as parts

GRAPH_BATCH = 32  # the batch size the CUDA-graph rows capture


# -- TensorRT: the project's builder and runner ---------------------------------------------------
def tensorrt_part(ctx: parts.Context) -> list[parts.Part]:
    """Engines of the three models via build_engine; TensorRTRunner without and with the CUDA graph."""
    if not parts.importable("tensorrt"):
        return [
            parts.Part(
                "tensorrt",
                "skip",
                "tensorrt is not importable here (servers: pip install -e '.[gpu]'; "
                "Jetson: JetPack's python3-libnvinfer in a --system-site-packages venv)",
            )
        ]
    models = model_paths(ctx)
    if isinstance(models, parts.Part):
        return [models]
    from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine, engine_support
    from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner

    support = engine_support()
    if not support.ok:
        return [parts.Part("tensorrt", "fail", f"tensorrt imports but cannot build: {support.reason}")]
    engines = ctx.out / "gpu-check-engines"
    engines.mkdir(parents=True, exist_ok=True)
    config = EngineBuildConfig(timing_cache=engines / "timing.cache")
    images, labels = parts.eval_images(ctx)
    (reference, against), rows = parts.fp32_reference(ctx), []
    for precision, onnx_path in models.items():
        if ctx.time_left() < 30:
            rows.append(parts.Part(f"tensorrt {precision.value}", "skip", "the 5-minute budget is spent"))
            continue
        engine = engines / precision.engine_name
        started = time.monotonic()
        try:
            build_engine(onnx_path, engine, precision, config)
        except Exception as exc:
            rows.append(parts.Part(f"tensorrt {precision.value} build", "fail", parts._one_line(exc)))
            continue
        build_s = round(time.monotonic() - started, 1)
        for graph_batch in (None, GRAPH_BATCH):
            runner = TensorRTRunner(engine, cuda_graph_batch=graph_batch)
            name = f"tensorrt {precision.value} {'cuda graph b' + str(graph_batch) if graph_batch else 'no graph'}"
            rows.append(
                parts.judged(
                    name,
                    runner,
                    precision,
                    images,
                    labels,
                    reference,
                    batch_size=graph_batch or 256,
                    extra=lambda r, s=build_s: {
                        "build_s": s,
                        "device_p50_ms": _device_p50(r),
                        "judged_against": against,
                    },
                )
            )
    return rows


def _device_p50(runner) -> dict[str, float]:
    """CUDA-event latency of execution alone (no copies), p50 of 20 runs, at batch 1 and GRAPH_BATCH."""
    shape = (3, 32, 32)
    return {
        str(n): round(float(np.percentile(runner.device_latency_ms(np.zeros((n, *shape), np.float32)), 50)), 4)
        for n in (1, GRAPH_BATCH)
    }


def model_paths(ctx: parts.Context):
    """The three ONNX models by precision, or a skip row naming the first one missing."""
    from alexnet_edge.runtime.precision import Precision

    models = {p: ctx.models_dir / p.onnx_name for p in (Precision.FP32, Precision.FP16, Precision.INT8)}
    missing = [p for p in models.values() if not p.is_file()]
    if missing:
        return parts.Part(
            "models", "skip", f"{missing[0]} is not there: run `make demo` (it writes artifacts/) or pass --models DIR"
        )
    return models


# -- onnxruntime-gpu: CUDA and TensorRT providers --------------------------------------------------
def onnxruntime_part(ctx: parts.Context) -> list[parts.Part]:
    """Each model on each GPU provider this onnxruntime offers, failing a row that fell back elsewhere."""
    if not parts.importable("onnxruntime"):
        return [parts.Part("onnxruntime-gpu", "skip", "onnxruntime is not installed here")]
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = [p for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") if p in available]
    if not wanted:
        return [
            parts.Part(
                "onnxruntime-gpu",
                "skip",
                f"onnxruntime {ort.__version__} offers only {', '.join(available)}: "
                "no GPU provider (that is the CPU build; onnxruntime-gpu has them)",
            )
        ]
    models = model_paths(ctx)
    if isinstance(models, parts.Part):
        return [models]
    from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner

    images, labels = parts.eval_images(ctx)
    (reference, against), rows = parts.fp32_reference(ctx), []
    for provider in wanted:
        for precision, onnx_path in models.items():
            name = f"onnxruntime {provider.removesuffix('ExecutionProvider')} {precision.value}"
            if ctx.time_left() < 20:
                rows.append(parts.Part(name, "skip", "the 5-minute budget is spent"))
                continue
            runner = OnnxRuntimeRunner(onnx_path, providers=[provider, "CPUExecutionProvider"])
            rows.append(
                parts.judged(
                    name,
                    runner,
                    precision,
                    images,
                    labels,
                    reference,
                    expect_provider=provider,
                    extra=lambda r: {"providers_used": list(r.providers), "judged_against": against},
                )
            )
    return rows
