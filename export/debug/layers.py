"""Layer-by-layer diagnosis: where two runs of the network part ways.

Two runs are either two models on the host (say FP32 against INT8) or one model on two CPU targets
(the host against an emulated AVX2 CPU). Each model is copied with its intermediate tensors made
graph outputs, as Polygraphy's ``--onnx-outputs mark all`` does. In a Q/DQ model the outputs of
Conv, Gemm, MatMul, QuantizeLinear and DequantizeLinear are left alone: marking a tensor inside a
DQ -> Conv -> Q group stops onnxruntime fusing it into the integer kernel whose arithmetic is under
test (seen: the 8-bit model's AVX2 loss then vanishes). The float tensors between the groups (ReLU,
MaxPool, Reshape outputs) carry the FP32 model's names, so runs are matched by name; a test checks
that the marked model's logits stay bit-identical to the unmarked model's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.calibration import cifar10
from alexnet_edge.export.debug.names import model_variant, torch_layer_names
from alexnet_edge.export.pipeline import work_dirs
from alexnet_edge.export.targets import env as target_env
from alexnet_edge.export.targets.cpus import default_targets, prepare
from alexnet_edge.export.targets.judge import sample_indices
from alexnet_edge.export.targets.runs import read_cpu, read_outputs, run_on
from alexnet_edge.runtime.compare import tensor_diff
from alexnet_edge.runtime.constants import OUTPUT_NAME
from alexnet_edge.runtime.errors import AlexNetEdgeError, ModelFileError
from alexnet_edge.runtime.lazy import lazy_import
from alexnet_edge.runtime.preprocess import normalize_uint8

logger = logging.getLogger(__name__)

onnx = lazy_import("onnx")  # loaded when a model is read, not when alexnet-debug parses its options


@dataclass(frozen=True)
class LayerDiff:
    tensor: str
    cosine: float
    max_abs: float
    mean_abs: float
    relative: float  # ||a - b|| / ||b||
    layer: str = ""  # the PyTorch layer that wrote it (features.7, ...), as alexnet-inspect names it

    def drifts(self, min_cosine: float) -> bool:
        return not self.cosine >= min_cosine  # NaN drifts too


FUSED_WITH_QDQ = ("Conv", "Gemm", "MatMul", "QuantizeLinear", "DequantizeLinear")


def read_model(path: Path) -> onnx.ModelProto:
    """The ONNX model at ``path``, or one line saying it is not one."""

    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, and whatever else a non-ONNX file raises inside onnx.load
        raise ModelFileError(f"{path}: not a readable ONNX model ({exc.__class__.__name__})") from None


def _marked_names(model: onnx.ModelProto) -> list[str]:
    graph = model.graph
    quantized = any(n.op_type == "QuantizeLinear" for n in graph.node)
    skip = FUSED_WITH_QDQ if quantized else ()
    return [o for n in graph.node if n.op_type not in skip for o in n.output if o and o != OUTPUT_NAME]


def mark_all(model_path: Path | onnx.ModelProto, out_path: Path) -> list[str]:
    """Write the model with its intermediate float tensors as extra outputs; return their names
    in graph order, the logits last."""
    model = read_model(model_path) if isinstance(model_path, (str, Path)) else model_path
    graph = model.graph
    names = _marked_names(model)
    existing = {o.name for o in graph.output}
    for name in names:
        if name not in existing:
            graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(out_path))
    return [*names, OUTPUT_NAME]


def _logits_shape(model: onnx.ModelProto) -> list[int | str] | None:
    for output in model.graph.output:
        if output.name == OUTPUT_NAME:
            dims = output.type.tensor_type.shape.dim
            return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in dims]
    return None


def check_comparable(reference: tuple[Path, onnx.ModelProto], other: tuple[Path, onnx.ModelProto]) -> None:
    """Refuse two models that cannot be compared tensor by tensor: no tensor name in common, or
    logits of other shapes (a comparison would find nothing and report "none drifts").

    Raises:
        AlexNetEdgeError: naming why, with both models' names and shapes.
    """

    (a_path, a), (b_path, b) = reference, other
    shapes = {a_path: _logits_shape(a), b_path: _logits_shape(b)}
    missing = [str(p) for p, shape in shapes.items() if shape is None]
    if missing:
        raise AlexNetEdgeError(
            f"cannot compare {a_path.name} with {b_path.name}: {', '.join(missing)} has no output named {OUTPUT_NAME!r}"
        )
    sa, sb = shapes[a_path], shapes[b_path]
    fixed = [(x, y) for x, y in zip(sa, sb, strict=False) if isinstance(x, int) and isinstance(y, int) and x and y]
    if len(sa) != len(sb) or any(x != y for x, y in fixed):  # symbolic dims (the batch) match anything
        raise AlexNetEdgeError(
            f"cannot compare {a_path.name} with {b_path.name}: their logits differ in shape ({sa} against {sb})"
        )
    if not set(_marked_names(a)) & set(_marked_names(b)):
        raise AlexNetEdgeError(
            f"cannot compare {a_path.name} with {b_path.name} layer by layer: they share no "
            f"intermediate tensor name (not exported from one network?)"
        )


def diff_layers(
    run: dict[str, np.ndarray], reference: dict[str, np.ndarray], order: list[str], layers: dict[str, str] | None = None
) -> list[LayerDiff]:
    layers = layers or {}
    rows = []
    for name in order:
        if name not in run or name not in reference or run[name].shape != reference[name].shape:
            continue
        d = tensor_diff(run[name], reference[name])
        rows.append(LayerDiff(name, d.cosine, d.max_abs_diff, d.mean_abs_diff, d.relative_error, layers.get(name, "")))
    return rows


def first_drift(rows: list[LayerDiff], min_cosine: float) -> LayerDiff | None:
    return next((r for r in rows if r.drifts(min_cosine)), None)


def _named(row: LayerDiff) -> str:
    return f"{row.layer} ({row.tensor})" if row.layer else row.tensor


def verdict(rows: list[LayerDiff], min_cosine: float) -> str:
    """One sentence on the logits (the last row), and where a drift starts."""
    if not rows:
        return "verdict: no tensor could be compared"
    logits, first = rows[-1], first_drift(rows, min_cosine)
    if logits.drifts(min_cosine):
        return (
            f"verdict: the logits DRIFT (cosine {logits.cosine:.6f} < {min_cosine}, "
            f"max |Δ| {logits.max_abs:.4g}); it starts at {_named(first)}"
        )
    inner = f"; {_named(first)} dips below {min_cosine} but the logits recover" if first is not None else ""
    agree = f"cosine {logits.cosine:.6f} >= {min_cosine}, max |Δ| {logits.max_abs:.4g}"
    return f"verdict: the logits agree ({agree}){inner}"


def render_layers_md(rows: list[LayerDiff], min_cosine: float, title: str) -> str:
    lines = [
        title,
        "",
        "| layer | ONNX tensor | cosine | max \\|Δ\\| | mean \\|Δ\\| | relative error | status |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        flag = "DRIFTS" if r.drifts(min_cosine) else "ok"
        figures = f"{r.cosine:.6f} | {r.max_abs:.4g} | {r.mean_abs:.4g} | {r.relative:.4g}"
        lines.append(f"| {r.layer or '–'} | {r.tensor} | {figures} | {flag} |")
    first = first_drift(rows, min_cosine)
    lines += [
        "",
        f"first tensor below cosine {min_cosine}: {_named(first) if first else 'none'}",
        verdict(rows, min_cosine),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class DebugConfig:
    model: Path
    data_root: Path
    against: Path | None = None  # a second model, run on the host
    target: str | None = None  # or: the same model on this target, against the host
    images: int = 100
    seed: int = 0
    min_cosine: float = 0.99


def _check_request(config: DebugConfig, known: dict) -> None:

    if (config.against is None) == (config.target is None):
        raise AlexNetEdgeError(
            "give exactly one of --against MODEL (two models) or --target NAME (one model on two CPUs)"
        )
    if config.target is not None and config.target not in known:
        raise AlexNetEdgeError(f"unknown target {config.target!r}; choose from {', '.join(known)}")
    for path in (config.model, config.against):
        if path is not None and not path.is_file():
            raise AlexNetEdgeError(f"{path}: no such model file")


def run_debug(config: DebugConfig, *, cache: Path | None = None, log=logger.info) -> tuple[list[LayerDiff], str]:
    """Per-layer differences of ``config.model`` against ``config.against`` or against itself on the host."""

    known = {t.name: t for t in default_targets()}
    _check_request(config, known)
    runs = (
        [(config.against, "host"), (config.model, "host")]
        if config.against
        else [(config.model, "host"), (config.model, config.target)]
    )
    models = {path: read_model(path) for path, _ in runs}  # (model, target) pairs: the first is the reference
    check_comparable(*((path, models[path]) for path, _ in runs))
    test = cifar10.load_test(config.data_root)
    indices = sample_indices(len(test), config.images, config.seed)
    targets = [known["host"]] + ([known[config.target]] if config.target else [])
    with work_dirs.work_dir("debug", log) as work:  # removed on every exit; a killed run's, by the next run
        arm, stage = prepare(
            targets, normalize_uint8(test.images[indices]), cache or target_env.default_cache(), work, log=log
        )
        paths, marked = {}, {}
        for i, model in enumerate(models):
            paths[model] = work / f"marked{i}.{model.name}"
            marked[model] = mark_all(models[model], paths[model])
        specs = {
            t.name: list(dict.fromkeys((paths[m], config.images) for m, tn in runs if tn == t.name)) for t in targets
        }
        run_on(targets, specs, work, arm=arm, stage=stage)
        for t in targets:
            read_cpu(work, t)  # refuses an emulated CPU that is not the intended one
        (a_model, a_target), (b_model, b_target) = runs
        ref = read_outputs(work, known[a_target], paths[a_model])[0]
        other = read_outputs(work, known[b_target], paths[b_model])[0]
    if ref[OUTPUT_NAME].shape != other[OUTPUT_NAME].shape:
        raise AlexNetEdgeError(
            f"cannot compare {b_model.name} with {a_model.name}: their logits differ in shape "
            f"({list(other[OUTPUT_NAME].shape)} against {list(ref[OUTPUT_NAME].shape)})"
        )
    order = marked[a_model]
    title = (
        f"{b_model.name} on {b_target} against {a_model.name} on {a_target}, "
        f"{config.images} CIFAR-10 test images (seed {config.seed})"
    )

    layers = torch_layer_names(order, model_variant(models[a_model]))
    return diff_layers(other, ref, order, layers), title
