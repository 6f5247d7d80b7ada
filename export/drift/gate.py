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
    Figure,
    check_inputs,
    check_variant,
    default_baseline,
    is_new_checkpoint,
    load_baseline,
    make_baseline,
    save_baseline,
)
from alexnet_edge.export.errors import CheckpointError
from alexnet_edge.export.pipeline import output_dir, work_dirs
from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
from alexnet_edge.export.pipeline.run import PipelineResult, run
from alexnet_edge.runtime.backends import registry
from alexnet_edge.runtime.compare import compare
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision, PrecisionKey, parse_precision, spec_for
from alexnet_edge.runtime.results import drift_metrics

DEFAULT_BASELINE = default_baseline("cifar")

GOLDEN = {Precision.FP32: "test_logits_fp32_cuda.npy", Precision.FP16: "test_logits_fp16_cuda.npy"}
# What a new baseline is computed with (an existing baseline carries its own settings).
DEFAULT_SETTINGS = {
    "variant": "cifar",
    "eval_size": 10000,
    "precisions": [p.value for p in (Precision.FP32, Precision.FP16, Precision.INT8, Precision.INT4W)],  # names
    # the calibration settings, named as the baselines store them (calib_size, ...), from their owner
    **{f"calib_{k}": v for k, v in CalibrationConfig(size=DEFAULT_CALIB_SIZE).to_dict().items() if k != "data"},
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


def figures_from(result: PipelineResult, golden: dict[PrecisionKey, np.ndarray]) -> dict[str, Figure]:
    """Every figure the gate watches, named by ``Result.figure`` ("backend/device/precision/metric[/detail]"):
    each metric of results.METRICS that names a drift rule (``drift_metrics``), per-class accuracy, and the
    cross-device figures against the CUDA golden logits; each with its rule from the precision's bounds
    (runtime/fidelity.py). The names are the packaged baseline's: it loads unchanged."""
    figures: dict[str, Figure] = {}
    n = len(result.labels)
    for row in result.rows:
        bounds = spec_for(row.precision).bounds
        for metric in drift_metrics():
            if metric.drift_on_reference or not row.is_reference:
                figures[row.figure(metric.name)] = Figure(metric.read(row), *bounds.drift_rule(metric.drift))
        per_class = bounds.drift_rule("per_class")
        for name, value in zip(CLASS_NAMES, row.comparison.per_class_accuracy, strict=True):
            figures[row.figure("per_class", name)] = Figure(value, *per_class)
        if row.precision in golden:
            vs_cuda = compare(result.logits[row.key], golden[row.precision][:n], result.labels)  # the one comparison
            for name in ("max_abs_diff", "top1_agreement"):
                rule = bounds.drift_rule(f"vs_cuda.{name}")
                figures[row.figure("vs_cuda", row.precision.value, name)] = Figure(getattr(vs_cuda, name), *rule)
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
) -> tuple[dict[str, Figure], dict[str, str]]:
    """Run the pipeline (no benchmark, no engines) and return (figures, ONNX model sha256s)."""
    golden = {}
    if reference_dir is not None:
        golden = {p: np.load(reference_dir / name) for p, name in GOLDEN.items() if (reference_dir / name).is_file()}
    with work_dirs.work_dir("drift", log) as tmp:  # a killed run's is swept by the next run
        out = work_dir or tmp
        export = ExportSpec(
            checkpoint=checkpoint,
            variant=settings.get("variant", "cifar"),
            precisions=tuple(parse_precision(p) for p in settings["precisions"]),
            calibration=CalibrationConfig.from_dict(
                {k.removeprefix("calib_"): v for k, v in settings.items() if k.startswith("calib_")}
            ),
            engines=False,
        )
        evaluation = EvaluationSpec(eval_size=settings["eval_size"], bench=False)
        # heartbeat: a line at least every 10 s through ``log`` (README's promise; drift runs for minutes)
        options = RunOptions(data_root=data_root, out_dir=out, progress=False, heartbeat=True)
        result = run(export, evaluation, options, log=log)
        models = {p.onnx_name: sha256_file(out / p.onnx_name) for p in export.precisions}
    return figures_from(result, golden), models


def absent_backends(baseline: dict, figures: dict[str, float]) -> list[str]:
    """CPU backends the baseline has figures for that are not installed here (e.g. openvino without its
    extra) and so were not measured; a backend that is installed but gave no figure still fails."""
    measured = {f.split("/")[0] for f in figures}
    listed = {f.split("/")[0] for f in baseline["figures"]}
    installed = registry.host_backends(installed=True)
    return sorted(b for b in listed - measured if b in registry.host_backends() and b not in installed)


CROSS_DEVICE = "/vs_cuda/"  # in a figure's name: compared against the CUDA golden logits


def cross_device_figures(baseline: dict) -> list[str]:
    """The baseline's figures against the CUDA golden logits: its own checkpoint's, meaningless for another."""
    return [f for f in baseline["figures"] if CROSS_DEVICE in f]


def compare_figures(baseline: dict, figures: dict[str, float], *, cross_device: bool = True) -> list[Drift]:
    """One Drift per baseline figure; figures of a backend absent from this run are skipped, not failed,
    and so are the cross-device figures when ``cross_device`` is False (a new checkpoint)."""
    drifts, absent = [], set(absent_backends(baseline, figures))
    for figure, entry in baseline["figures"].items():
        if figure.split("/")[0] in absent or (not cross_device and CROSS_DEVICE in figure):
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
    new_checkpoint = is_new_checkpoint(old, inputs)
    # the golden logits are the baseline checkpoint's CUDA outputs: with another checkpoint, not compared
    computed, models = _compute(request, settings, log, golden=not new_checkpoint)
    figures = {name: figure.value for name, figure in computed.items()}
    if new_checkpoint:
        skipped = cross_device_figures(old)
        if skipped:
            notes.append(
                f"{len(skipped)} cross-device figures (*{CROSS_DEVICE}*) skipped: the CUDA golden logits are the "
                f"outputs of the baseline's checkpoint {old['inputs']['checkpoint']['sha256'][:16]}…, not of this one"
            )
    elif models != old["inputs"].get("onnx_models"):
        notes.append(
            "the re-exported ONNX models differ byte-wise from the baseline's (new tool versions?); figures decide"
        )
    for backend in absent_backends(old, figures):
        notes.append(f"the baseline's {backend} figures were skipped: {backend} is not installed here")
    return GateResult(path, compare_figures(old, figures, cross_device=not new_checkpoint), notes)


def _compute(
    request: GateRequest, settings: dict, log: Callable[[str], None], *, golden: bool = True
) -> tuple[dict, dict]:
    return compute(
        request.checkpoint,
        request.data_root,
        settings,
        reference_dir=request.reference_dir if golden else None,
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
        # a precision added to the defaults since the old baseline (int4w) joins it at this update
        settings["precisions"] = list(dict.fromkeys([*settings["precisions"], *DEFAULT_SETTINGS["precisions"]]))
        if eval_size:
            settings["eval_size"] = eval_size
        inputs = input_hashes(request.checkpoint, request.data_root, settings["calib_files"], request.reference_dir)
        figures, models = _compute(request, settings, log)
        new = make_baseline(figures, inputs, models, settings)
        save_baseline(path, new)
    return old, new
