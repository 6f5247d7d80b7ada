"""Accuracy-drift gate: recompute what the deployed models compute and compare with committed baselines.

A baseline (packaged: alexnet_edge/export/drift/baselines/*.json) holds, per backend/device/precision, accuracy on the
evaluated test images, per-class accuracy, top-1 agreement and |Δlogit| against PyTorch FP32, cross-device
figures against the CUDA golden logits, each with its tolerance, and the hashes of every input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.calibration.cifar10 import batches_dir
from alexnet_edge.calibration.config import DEFAULT_CALIB_SIZE, CalibrationConfig
from alexnet_edge.calibration.errors import DatasetError
from alexnet_edge.export.drift.baseline import (  # noqa: F401 - the gate's API in one place
    SCHEMA,
    DriftInputError,
    check_inputs,
    check_variant,
    default_baseline,
    load_baseline,
    make_baseline,
    save_baseline,
)
from alexnet_edge.export.errors import CheckpointError
from alexnet_edge.export.pipeline import output_dir, work_dirs
from alexnet_edge.export.pipeline.run import PipelineConfig, PipelineResult, run
from alexnet_edge.runtime.compare import DEFAULT_TOLERANCES, compare
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision

DEFAULT_BASELINE = default_baseline("cifar")

GOLDEN = {"fp32": "test_logits_fp32_cuda.npy", "fp16": "test_logits_fp16_cuda.npy"}
# What a new baseline is computed with (an existing baseline carries its own settings).
DEFAULT_SETTINGS = {
    "variant": "cifar",
    "eval_size": 10000,
    "precisions": ["fp32", "fp16", "int8"],
    # the calibration settings, named as the baselines store them (calib_size, ...), from their owner
    **{f"calib_{k}": v for k, v in CalibrationConfig(size=DEFAULT_CALIB_SIZE).to_dict().items() if k != "data"},
}

# Tolerances, in one place. Run-to-run spread on one machine is zero (same inputs, same versions:
# identical logits), so these are set by what may legitimately move between machines and versions,
# and kept under what must fail: a 0.5-point accuracy change, a 1-point INT8 agreement drop.
#   rule "abs": |now - baseline| <= tol      "drop": baseline - now <= tol
#   rule "rise": now - baseline <= tol       "max"/"min": now <= tol / now >= tol (absolute bounds)
TOLERANCES: dict[str, tuple[str, float]] = {
    "accuracy": ("abs", 0.0025),  # 25 of 10,000 images; a 0.5-point change fails
    "per_class": ("abs", 0.01),  # 10 of 1,000 images of a class
    "top1_agreement": ("drop", 0.005),  # a 1-point INT8 agreement drop fails
    "max_abs_diff/fp32": ("rise", 1e-3),  # seen 2.7e-5; 1e-3 is the export tolerance
    "max_abs_diff/fp16": ("rise", 1e-3),
    "max_abs_diff/int8": ("rise", 5.0),  # one worst image among 10,000: a noisy statistic
    "mean_abs_diff/fp32": ("rise", 1e-5),
    "mean_abs_diff/fp16": ("rise", 1e-5),
    "mean_abs_diff/int8": ("rise", 0.01),  # seen 0.074
    "vs_cuda/fp32/max_abs_diff": ("max", 0.05),  # seen 0.0126 for PyTorch CPU vs CUDA (TF32 off)
    "vs_cuda/fp32/top1_agreement": ("min", 0.9995),  # seen 100%
    "vs_cuda/fp16/max_abs_diff": ("max", 0.1),  # seen 0.045: CPU runs FP16 models in FP32
    "vs_cuda/fp16/top1_agreement": ("min", 0.999),  # seen 99.98%
}


@dataclass(frozen=True)
class Drift:
    figure: str
    baseline: float
    now: float
    rule: str
    tolerance: float

    @property
    def ok(self) -> bool:
        if math.isnan(self.now) or math.isnan(self.baseline):
            return math.isnan(self.now) and math.isnan(self.baseline)
        return {
            "abs": lambda: abs(self.now - self.baseline) <= self.tolerance + 1e-12,
            "drop": lambda: self.baseline - self.now <= self.tolerance + 1e-12,
            "rise": lambda: self.now - self.baseline <= self.tolerance + 1e-12,
            "max": lambda: self.now <= self.tolerance,
            "min": lambda: self.now >= self.tolerance,
        }[self.rule]()


def rule_for(figure: str) -> tuple[str, float]:
    parts = figure.split("/")  # backend/device/precision/metric[/...]
    precision, metric = parts[2], parts[3]
    if metric == "vs_cuda":
        return TOLERANCES[f"vs_cuda/{parts[4]}/{parts[5]}"]
    if metric in ("max_abs_diff", "mean_abs_diff"):
        return TOLERANCES[f"{metric}/{precision}"]
    if metric == "max_flipped_margin":  # an absolute bound: the precision's own (compare.DEFAULT_TOLERANCES)
        return "max", DEFAULT_TOLERANCES[Precision(precision)].max_flipped_margin
    return TOLERANCES[metric]


def figures_from(result: PipelineResult, golden: dict[str, np.ndarray]) -> dict[str, float]:
    """Every figure the gate watches, keyed "backend/device/precision/metric[/detail]"."""
    figures: dict[str, float] = {}
    n = len(result.labels)
    for row in result.rows:
        key = row.key
        figures[f"{key}/accuracy"] = row.accuracy
        for name, value in zip(CLASS_NAMES, row.per_class_accuracy, strict=True):
            figures[f"{key}/per_class/{name}"] = value
        if row.backend != "torch":
            for metric in ("top1_agreement", "max_abs_diff", "mean_abs_diff", "max_flipped_margin"):
                figures[f"{key}/{metric}"] = getattr(row, metric)
        target = row.precision if row.precision in ("fp16", "fp32") else None
        if target in golden:
            vs_cuda = compare(result.logits[key], golden[target][:n], result.labels)  # the one comparison
            figures[f"{key}/vs_cuda/{target}/max_abs_diff"] = vs_cuda.max_abs_diff
            figures[f"{key}/vs_cuda/{target}/top1_agreement"] = vs_cuda.top1_agreement
    return figures


def input_hashes(checkpoint: Path, data_root: Path, calib_files: list[str], reference_dir: Path | None) -> dict:
    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint not found: {checkpoint}")
    dataset = {}
    for name in ["test_batch", *calib_files]:
        path = batches_dir(data_root) / name
        if not path.is_file():
            raise DatasetError(f"CIFAR-10 file missing: {path}", path=str(path))
        dataset[name] = sha256_file(path)
    golden = {}
    if reference_dir is not None:
        for name in GOLDEN.values():
            if (reference_dir / name).is_file():
                golden[name] = sha256_file(reference_dir / name)
    return {
        "checkpoint": {"file": checkpoint.name, "sha256": sha256_file(checkpoint)},
        "dataset": dataset,
        "golden_logits": golden,
    }


def compute(
    checkpoint: Path,
    data_root: Path,
    settings: dict,
    *,
    reference_dir: Path | None,
    work_dir: Path | None,
    log: Callable[[str], None],
) -> tuple[dict[str, float], dict[str, str]]:
    """Run the pipeline (no benchmark, no engines) and return (figures, ONNX model sha256s)."""
    golden = {}
    if reference_dir is not None:
        golden = {p: np.load(reference_dir / name) for p, name in GOLDEN.items() if (reference_dir / name).is_file()}
    with work_dirs.work_dir("drift", log) as tmp:  # a killed run's is swept by the next run
        out = work_dir or tmp
        config = PipelineConfig(
            data_root=data_root,
            out_dir=out,
            checkpoint=checkpoint,
            eval_size=settings["eval_size"],
            precisions=tuple(Precision(p) for p in settings["precisions"]),
            calibration=CalibrationConfig.from_dict(
                {k.removeprefix("calib_"): v for k, v in settings.items() if k.startswith("calib_")}
            ),
            bench=False,
            engines=False,
            progress=False,
            variant=settings.get("variant", "cifar"),
        )
        result = run(config, log=log)
        models = {p.onnx_name: sha256_file(out / p.onnx_name) for p in config.precisions}
    return figures_from(result, golden), models


def absent_backends(baseline: dict, figures: dict[str, float]) -> list[str]:
    """CPU backends the baseline has figures for that are not installed here (e.g. openvino without its
    extra) and so were not measured; a backend that is installed but gave no figure still fails."""
    from alexnet_edge.runtime.backends import CPU_BACKENDS, installed_cpu_backends

    measured = {f.split("/")[0] for f in figures}
    listed = {f.split("/")[0] for f in baseline["figures"]}
    return sorted(b for b in listed - measured if b in CPU_BACKENDS and b not in installed_cpu_backends())


def compare_figures(baseline: dict, figures: dict[str, float]) -> list[Drift]:
    """One Drift per baseline figure; figures of a backend absent from this run are skipped, not failed."""
    drifts, absent = [], set(absent_backends(baseline, figures))
    for figure, entry in baseline["figures"].items():
        if figure.split("/")[0] in absent:
            continue
        now = figures.get(figure, float("nan"))
        value = float("nan") if entry["value"] is None else entry["value"]  # strict JSON writes NaN as null
        drifts.append(Drift(figure, value, now, entry["rule"], entry["tolerance"]))
    return drifts


# -- the gate as a library API: the CLI only parses options and prints ------------------------
@dataclass(frozen=True)
class GateRequest:
    checkpoint: Path
    data_root: Path
    baseline: Path | None = None  # default: the packaged baseline of the variant
    reference_dir: Path | None = None
    variant: str = "cifar"
    allow_new_checkpoint: bool = False
    work_dir: Path | None = None

    @property
    def baseline_path(self) -> Path:
        return self.baseline or default_baseline(self.variant)


@dataclass(frozen=True)
class GateResult:
    baseline_path: Path
    drifts: list[Drift]
    notes: list[str]

    @property
    def moved(self) -> list[Drift]:
        return [d for d in self.drifts if not d.ok]


def check(request: GateRequest, log: Callable[[str], None] = lambda line: None) -> GateResult:
    """Recompute every figure and compare it with the baseline; refuses inputs the baseline was not made from."""
    path = request.baseline_path
    old = load_baseline(path)
    check_variant(old, request.variant, path)
    settings = {**DEFAULT_SETTINGS, **old["settings"]}
    inputs = input_hashes(request.checkpoint, request.data_root, settings["calib_files"], request.reference_dir)
    notes = check_inputs(
        old, inputs, allow_new_checkpoint=request.allow_new_checkpoint, reference_dir=request.reference_dir
    )
    figures, models = _compute(request, settings, log)
    if models != old["inputs"].get("onnx_models"):
        notes.append(
            "the re-exported ONNX models differ byte-wise from the baseline's (new tool versions?); figures decide"
        )
    for backend in absent_backends(old, figures):
        notes.append(f"the baseline's {backend} figures were skipped: {backend} is not installed here")
    return GateResult(path, compare_figures(old, figures), notes)


def _compute(request: GateRequest, settings: dict, log: Callable[[str], None]) -> tuple[dict, dict]:
    return compute(
        request.checkpoint,
        request.data_root,
        settings,
        reference_dir=request.reference_dir,
        work_dir=request.work_dir,
        log=log,
    )


def update(
    request: GateRequest, *, eval_size: int | None = None, log: Callable[[str], None] = lambda line: None
) -> tuple[dict | None, dict]:
    """Recompute and rewrite the baseline; returns (old or None, new)."""
    path = request.baseline_path
    if request.baseline is None and {"site-packages", "dist-packages"} & set(path.parts):
        raise AlexNetEdgeError(
            "--update needs --baseline PATH here: the packaged "
            f"baseline {path} is installed data, not a file to rewrite"
        )
    # Held from reading the old baseline to writing the new: two updates of one file never both say "written".
    with output_dir.locked(path, what="baseline", holder="alexnet-drift --update", hint="wait for it"):
        old = load_baseline(path) if path.is_file() else None
        settings = {**DEFAULT_SETTINGS, **(old["settings"] if old else {}), "variant": request.variant}
        if eval_size:
            settings["eval_size"] = eval_size
        inputs = input_hashes(request.checkpoint, request.data_root, settings["calib_files"], request.reference_dir)
        figures, models = _compute(request, settings, log)
        new = make_baseline(figures, inputs, models, settings, rule_for=rule_for)
        save_baseline(path, new)
    return old, new
