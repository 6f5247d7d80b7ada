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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from alexnet_edge.runtime.constants import OUTPUT_NAME


@dataclass(frozen=True)
class LayerDiff:
    tensor: str
    cosine: float
    max_abs: float
    mean_abs: float
    relative: float  # ||a - b|| / ||b||

    def drifts(self, min_cosine: float) -> bool:
        return not self.cosine >= min_cosine  # NaN drifts too


FUSED_WITH_QDQ = ("Conv", "Gemm", "MatMul", "QuantizeLinear", "DequantizeLinear")


def mark_all(model_path: Path, out_path: Path) -> list[str]:
    """Write ``model_path`` with its intermediate float tensors as extra outputs; return their names
    in graph order, the logits last."""
    model = onnx.load(str(model_path))
    graph = model.graph
    quantized = any(n.op_type == "QuantizeLinear" for n in graph.node)
    skip = FUSED_WITH_QDQ if quantized else ()
    names = [o for n in graph.node if n.op_type not in skip for o in n.output if o and o != OUTPUT_NAME]
    existing = {o.name for o in graph.output}
    for name in names:
        if name not in existing:
            graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    onnx.save(model, str(out_path))
    return [*names, OUTPUT_NAME]


def diff_layers(run: dict[str, np.ndarray], reference: dict[str, np.ndarray], order: list[str]) -> list[LayerDiff]:
    rows = []
    for name in order:
        if name not in run or name not in reference or run[name].shape != reference[name].shape:
            continue
        a, b = run[name].astype(np.float64).ravel(), reference[name].astype(np.float64).ravel()
        delta = a - b
        norm_b = float(np.linalg.norm(b))
        cosine = float(a @ b / max(np.linalg.norm(a) * norm_b, 1e-30))
        rows.append(LayerDiff(name, cosine, float(np.abs(delta).max()), float(np.abs(delta).mean()),
                              float(np.linalg.norm(delta) / max(norm_b, 1e-30))))  # fmt: skip
    return rows


def first_drift(rows: list[LayerDiff], min_cosine: float) -> LayerDiff | None:
    return next((r for r in rows if r.drifts(min_cosine)), None)


def render(rows: list[LayerDiff], min_cosine: float, title: str) -> str:
    lines = [title, "", "| tensor | cosine | max \\|Δ\\| | mean \\|Δ\\| | relative error | |", "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        flag = "DRIFTS" if r.drifts(min_cosine) else ""
        lines.append(f"| {r.tensor} | {r.cosine:.6f} | {r.max_abs:.4g} | {r.mean_abs:.4g} | {r.relative:.4g} | {flag} |")
    first = first_drift(rows, min_cosine)
    lines += ["", f"first tensor below cosine {min_cosine}: {first.tensor if first else 'none'}"]
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


def run_debug(config: DebugConfig, *, cache: Path | None = None, log=print) -> tuple[list[LayerDiff], str]:
    """Per-layer differences of ``config.model`` against ``config.against`` or against itself on the host."""
    from alexnet_edge.calibration import cifar10
    from alexnet_edge.runtime.errors import AlexNetEdgeError
    from alexnet_edge.runtime.preprocess import normalize_uint8

    from . import target_env
    from .target_cpus import default_targets, prepare, read_cpu, read_outputs, run_on
    from .targets import sample_indices

    if (config.against is None) == (config.target is None):
        raise AlexNetEdgeError("give exactly one of --against MODEL (two models) or --target NAME (one model on two CPUs)")
    known = {t.name: t for t in default_targets()}
    if config.target is not None and config.target not in known:
        raise AlexNetEdgeError(f"unknown target {config.target!r}; choose from {', '.join(known)}")
    for path in (config.model, config.against):
        if path is not None and not path.is_file():
            raise AlexNetEdgeError(f"{path}: no such model file")
    test = cifar10.load_test(config.data_root)
    indices = sample_indices(len(test), config.images, config.seed)
    targets = [known["host"]] + ([known[config.target]] if config.target else [])
    arm, work, stage = prepare(targets, normalize_uint8(test.images[indices]), cache or target_env.DEFAULT_CACHE, log=log)
    # (model, target) pairs: the first is the reference.
    runs = [(config.against, "host"), (config.model, "host")] if config.against else [(config.model, "host"), (config.model, config.target)]
    paths, marked = {}, {}
    for i, model in enumerate(dict.fromkeys(m for m, _ in runs)):
        paths[model] = work / f"marked{i}.{model.name}"
        marked[model] = mark_all(model, paths[model])
    specs = {t.name: list(dict.fromkeys((paths[m], config.images) for m, tn in runs if tn == t.name)) for t in targets}
    run_on(targets, specs, work, arm=arm, stage=stage)
    for t in targets:
        read_cpu(work, t)  # refuses an emulated CPU that is not the intended one
    (a_model, a_target), (b_model, b_target) = runs
    ref = read_outputs(work, known[a_target], paths[a_model])[0]
    other = read_outputs(work, known[b_target], paths[b_model])[0]
    order = marked[a_model]
    title = (f"{b_model.name} on {b_target} against {a_model.name} on {a_target}, "
             f"{config.images} CIFAR-10 test images (seed {config.seed})")  # fmt: skip
    return diff_layers(other, ref, order), title
