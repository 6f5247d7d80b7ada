"""The independent cross-check of ``make gpu-check``: NVIDIA's Polygraphy builds and runs the same ONNX models.

Polygraphy (``pip install polygraphy==0.53.6``, pure Python, Apache-2.0) is a second implementation of what
our builder and runner do, not a replacement: our builder holds policy it lacks (sidecar, compatibility
matrix, DLA ranges, CUDA graphs), and its TrtRunner falls back where ours refuses. Here it builds each model
with its own loaders (``NetworkFromOnnxPath``, ``CreateConfig`` with the same profile and TF32 choice,
``EngineBytesFromNetwork``, ``EngineFromBytes``), runs the first images with ``TrtRunner``, and the row
compares its logits with our runner's (tensorrt_part's engines) on the same images, within the precision's
tolerance. Polygraphy's log goes to stderr. Skipped, with the reason, where Polygraphy or TensorRT is absent.
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

try:
    import gpu_check_backends as backends
    import gpu_check_parts as parts
except ImportError:  # imported as tools.gpu_check_polygraphy
    from tools import gpu_check_backends as backends
    from tools import gpu_check_parts as parts

IMAGES = 1000  # enough for the agreement bound to mean something, seconds per model
BATCH = (1, 32, 256)  # min, opt, max: EngineBuildConfig's defaults, the engines tensorrt_part built


def polygraphy_part(ctx: parts.Context) -> list[parts.Part]:
    """Each model built and run by Polygraphy, its logits compared with our TensorRT runner's."""
    for module, hint in (
        ("polygraphy", "pip install -e .[gpu-check]: polygraphy==0.53.6"),
        ("tensorrt", "see the tensorrt part"),
    ):
        if not parts.importable(module):
            return [parts.Part("polygraphy", "skip", f"{module} is not importable here ({hint})")]
    models = backends.model_paths(ctx)
    if isinstance(models, parts.Part):
        return [models]
    images, labels = parts.eval_images(ctx)
    images, labels = images[:IMAGES], labels[:IMAGES]
    rows = []
    for precision, onnx_path in models.items():
        name = f"polygraphy {precision.value} vs ours"
        if ctx.time_left() < 30:
            rows.append(parts.Part(name, "skip", "the 5-minute budget is spent"))
            continue
        try:
            ours = our_logits(ctx, precision, onnx_path, images)
            with contextlib.redirect_stdout(sys.stderr):  # Polygraphy's logger prints to stdout
                theirs = polygraphy_logits(onnx_path, precision, images)
        except Exception as exc:  # one row, never a traceback
            rows.append(parts.Part(name, "fail", parts._one_line(exc)))
            continue
        rows.append(cross_check_row(name, precision, ours, theirs, labels))
    return rows


def cross_check_row(name: str, precision, ours: np.ndarray, theirs: np.ndarray, labels: np.ndarray) -> parts.Part:
    """Polygraphy's logits judged against ours with the precision's own tolerance (the reports' bounds): two
    TensorRT builds of one model on one GPU differ only by tactic choice, far less than the bound allows."""
    from alexnet_edge.runtime.evaluation import judge
    from alexnet_edge.runtime.precision import tolerance_for

    if theirs.shape != ours.shape:
        return parts.Part(name, "fail", f"Polygraphy gave logits {list(theirs.shape)}, ours {list(ours.shape)}")
    comparison, _, failures = judge(theirs, labels, ours, tolerance_for(precision, len(labels)), artifact="polygraphy")
    detail = (
        f"agreement {100 * comparison.top1_agreement:.2f}%, max |dlogit| {comparison.max_abs_diff:.3g} "
        f"on {len(labels)} images"
    )
    if failures:
        detail += "; " + "; ".join(str(f) for f in failures)
    return parts.Part(name, "fail" if failures else "pass", detail, comparison.to_dict())


def our_logits(ctx: parts.Context, precision, onnx_path, images: np.ndarray) -> np.ndarray:
    """Our runner on tensorrt_part's engine of this precision (built here if that part did not)."""
    from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine
    from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner

    engines = ctx.out / "gpu-check-engines"
    engine = engines / precision.engine_name
    if not engine.is_file():
        engines.mkdir(parents=True, exist_ok=True)
        build_engine(onnx_path, engine, precision, EngineBuildConfig(timing_cache=engines / "timing.cache"))
    with TensorRTRunner(engine) as runner:
        return runner.infer_many(images)


def polygraphy_logits(onnx_path, precision, images: np.ndarray) -> np.ndarray:
    """Polygraphy's own build and run: strongly typed where TensorRT has it (10.x+, as our builder), else the
    precision's builder flag; TF32 as ours (cleared for FP32 only)."""
    import tensorrt as trt
    from polygraphy.backend.trt import (
        CreateConfig,
        EngineBytesFromNetwork,
        EngineFromBytes,
        NetworkFromOnnxPath,
        Profile,
        TrtRunner,
    )
    from polygraphy.logger import G_LOGGER

    from alexnet_edge.runtime.constants import INPUT_NAME, OUTPUT_NAME, input_shape
    from alexnet_edge.runtime.precision import Precision

    G_LOGGER.module_severity = G_LOGGER.WARNING
    strongly_typed = int(trt.__version__.split(".")[0]) >= 10
    network = NetworkFromOnnxPath(str(onnx_path), strongly_typed=strongly_typed or None)
    profile = Profile().add(INPUT_NAME, *(input_shape(n) for n in BATCH))
    config = CreateConfig(
        tf32=precision is not Precision.FP32,
        fp16=not strongly_typed and precision is Precision.FP16,
        int8=not strongly_typed and precision is Precision.INT8,
        profiles=[profile],
    )
    out = []
    with TrtRunner(EngineFromBytes(EngineBytesFromNetwork(network, config=config))) as runner:
        for start in range(0, len(images), BATCH[2]):
            batch = np.ascontiguousarray(images[start : start + BATCH[2]])
            out.append(np.asarray(runner.infer({INPUT_NAME: batch})[OUTPUT_NAME], dtype=np.float32))
    return np.concatenate(out)
