"""The export pipeline as an API: checkpoint -> ONNX -> simplified -> FP16/INT8 -> engines -> report.

The CLI only parses options into the three specs of ``config`` (what to build, how to evaluate it, how
to run) and calls run().
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alexnet_edge.calibration.cifar10 import IMAGES_PER_BATCH
from alexnet_edge.calibration.user_data import probe as probe_user_data
from alexnet_edge.export.bundle.writer import bundle_paths, check_bundle_target
from alexnet_edge.export.convert import onnx_export
from alexnet_edge.export.model.architecture import walk
from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.pipeline import data_paths, output_dir, preflight, reference_cache, stages
from alexnet_edge.export.pipeline import evaluate as evaluate_stage
from alexnet_edge.export.pipeline.artifacts import Converted, RunArtifacts
from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
from alexnet_edge.export.pipeline.outputs import build_manifest, build_report, config_dict, write_run_bundle
from alexnet_edge.export.pipeline.summary import StageClock
from alexnet_edge.export.report.render import write_reports
from alexnet_edge.runtime.backends.registry import check_host_backends
from alexnet_edge.runtime.errors import AlexNetEdgeError, ToleranceError
from alexnet_edge.runtime.precision import Precision, spec_for
from alexnet_edge.runtime.progress import HEARTBEAT_S
from alexnet_edge.runtime.results import Result

logger = logging.getLogger(__name__)


@dataclass
class PipelineResult:
    """One run: its typed artifacts (rows, logits, failures come from them), the report as written, the files."""

    artifacts: RunArtifacts
    report: dict  # report.json's content, as written (report.md renders it)
    files: list[Path]
    stage_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[Result]:
        return self.artifacts.evaluation.rows

    @property
    def failures(self) -> list[ToleranceError]:
        return self.artifacts.failures

    @property
    def logits(self) -> dict[str, np.ndarray]:  # Result.key -> logits on the evaluated images
        return self.artifacts.evaluation.logits

    @property
    def labels(self) -> np.ndarray:
        return self.artifacts.data.labels


def validate(export: ExportSpec, evaluation: EvaluationSpec, options: RunOptions) -> None:
    """Everything that can be refused before any work is done or any file is written."""
    int8 = any(spec_for(p).needs_calibration for p in export.precisions)  # INT8: a calibration set
    calib = export.calibration
    for size in (evaluation.eval_size, calib.size if int8 else 1):
        if size is not None and size < 1:
            raise AlexNetEdgeError(f"sizes must be positive, got {size}")
    available = IMAGES_PER_BATCH * len(calib.files)
    if int8 and calib.data is None and calib.cifar_size > available:
        raise AlexNetEdgeError(
            f"--calib-size {calib.cifar_size} is more than the {available:,} images of {', '.join(calib.files)}"
        )
    if calib.data is not None and not int8:
        raise AlexNetEdgeError("--calib-data calibrates the INT8 model: add --int8")
    for option, path in (("--calib-data", calib.data), ("--eval-data", evaluation.eval_data)):
        if path is not None and not Path(path).exists():
            raise AlexNetEdgeError(f"{option} {path}: no such file or folder")
        if path is not None:  # a .npy/.npz header its data does not match: refused now, not after the export
            probe_user_data(path, option)
    if evaluation.eval_data is None and evaluation.eval_size is not None and evaluation.eval_size > IMAGES_PER_BATCH:
        raise AlexNetEdgeError(
            f"--eval-size {evaluation.eval_size} is more than the {IMAGES_PER_BATCH:,} images of CIFAR-10's test_batch"
        )
    reads_cifar = (
        evaluation.eval_data is None or export.checkpoint is None or (int8 and calib.data is None) or options.download
    )
    if reads_cifar and options.data_root is None:
        data_paths.data_root(None)  # raises, saying to pass --data-root or set ALEXNET_EDGE_DATA
    walk(export.variant)  # an input the variant cannot take is refused in one line, before any work
    for precision in export.precisions:  # also where TensorRT is absent, so no bundle records a bad engine config
        export.engine.validate(precision)
    check_host_backends(evaluation.host_backends())  # the options were checked against their specs when parsed
    if options.bundle is not None:
        check_bundle_target(options.bundle, options.out_dir, force=options.force)
    _check_bundle_precisions(options.bundle_precisions, export.precisions, bundle=options.bundle)
    preflight.check_before_work(export, evaluation, options)  # options refused late, and every output folder


def _check_bundle_precisions(
    carry: tuple[Precision, ...] | None, built: tuple[Precision, ...], *, bundle: Path | None
) -> None:
    """``--bundle-precision``: only with ``--bundle``, and only precisions this run builds."""
    if carry is None:
        return
    if bundle is None:
        raise AlexNetEdgeError("--bundle-precision chooses the models of a bundle: add --bundle PATH")
    missing = [p.value for p in carry if p not in built]
    if missing or not carry:
        flags = " ".join(f"--precision {p}" for p in missing if p != "fp32")
        raise AlexNetEdgeError(
            f"--bundle-precision {', '.join(missing) or '(none)'}: this run builds only "
            f"{', '.join(p.value for p in built)}" + (f" (add {flags})" if flags else "")
        )


def run(
    export: ExportSpec,
    evaluation: EvaluationSpec | None = None,
    options: RunOptions | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> PipelineResult:
    """Build what ``export`` asks for, judge it as ``evaluation`` says (default: every installed host
    backend, all images), into ``options.out_dir``, which receives the run only once it is complete (a
    failed run leaves it as it was; two runs on one folder never mix). ``log``: one call per progress
    line (default: this module's logger, at INFO)."""
    evaluation, options, log = evaluation or EvaluationSpec(), options or RunOptions(), log or logger.info
    validate(export, evaluation, options)
    final = Path(options.out_dir)
    with output_dir.transaction(final, log=log, companions=bundle_paths(options.bundle)) as staging:
        result = _run(export, evaluation, options, staging, log)
    result.files = [final / f.relative_to(staging) if staging in f.parents else f for f in result.files]
    return result


def _run(
    export: ExportSpec, evaluation: EvaluationSpec, options: RunOptions, out: Path, log: Callable[[str], None]
) -> PipelineResult:
    clock, load_before = StageClock(log, tick_s=HEARTBEAT_S if options.heartbeat else None), _load_average()
    log = clock  # every line below goes through the clock, which names the stage it belongs to
    run_artifacts = _stages(export, evaluation, options, out, clock)
    tool_versions = onnx_export.tool_versions() | _tensorrt_version()
    timing = evaluation.bench_budget_s if evaluation.bench else None
    report = build_report(run_artifacts, variant=export.variant, bench_budget_s=timing, load_before=load_before)
    manifest = build_manifest(
        run_artifacts, config_dict(export, evaluation, run_artifacts.checkpoint.path), tool_versions
    )
    produced = run_artifacts.files
    with clock.stage("report"):
        files = write_reports(out, report, manifest, produced)
    if options.bundle is not None:
        with clock.stage("bundle"):
            files += write_run_bundle(
                run_artifacts, options.bundle, export.engine, tool_versions, log, carry=options.bundle_precisions
            )
    note = run_artifacts.engines.note
    skipped = ([] if evaluation.bench else [_no_bench_note(len(run_artifacts.data.labels))]) + ([note] if note else [])
    return PipelineResult(run_artifacts, report, produced + files, clock.seconds, clock.total, skipped)


def _no_bench_note(images: int) -> str:
    """--no-bench skips timing only: accuracy is judged on the same images as ever (--eval-size decides how many),
    so a figure never depends on whether the run was timed."""
    return (
        f"benchmark: --no-bench (no latency figures; every row still evaluated on {images} images: "
        "--eval-size N for fewer)"
    )


def _stages(
    export: ExportSpec, evaluation: EvaluationSpec, options: RunOptions, out: Path, clock: StageClock
) -> RunArtifacts:
    """Every stage in order, each given only what it needs; the whole run's artifacts."""
    log, progress = clock, options.progress_sink(clock)
    with clock.stage("data"):
        data = stages.load_data(
            options.data_root,
            evaluation.eval_size,
            download=options.download,
            log=log,
            eval_data=evaluation.eval_data,
        )
    with clock.stage("checkpoint"):
        ckpt = stages.load_or_train(
            export.checkpoint,
            data_root=options.data_root,
            recipe=export.recipe,
            variant=export.variant,
            out=out,
            progress=progress,
            log=log,
        )
    log(f"checkpoint {ckpt.path} (sha256 {ckpt.sha256[:12]}…), {len(data.labels)} images of {data.source}")
    with contextlib.ExitStack() as stack:
        torch_runner = stack.enter_context(TorchRunner(ckpt.model))
        with clock.stage("reference"):
            cached = reference_cache.entry_for(ckpt.sha256, data.images, export.variant)
            ref = stages.reference_logits(torch_runner, data, progress=progress, log=log, cache=cached)
        with clock.stage("export"):
            exported = stages.export_fp32(
                ckpt,
                data,
                ref,
                out,
                opset=export.opset,
                variant=export.variant,
                tolerance=evaluation.tolerance(Precision.FP32),
                log=log,
                verbose=options.verbose,
            )
        with clock.stage("convert"):
            converted = _convert(export, options.data_root, ckpt, exported, out, progress, log)
        with clock.stage("engines"):
            engines = stages.build_engines(converted, out, export.engine, enabled=export.engines, log=log)
        with clock.stage("evaluate" + (" + benchmark" if evaluation.bench else "")):
            runners = evaluate_stage.open_runners(
                stack,
                torch_runner,
                converted,
                engines,
                backends=evaluation.host_backends(),
                options=evaluation.backend_options,
                log=log,
            )
            evaluated = evaluate_stage.evaluate_runners(
                runners, data, ref, _evaluate_options(evaluation, progress), log
            )
    return RunArtifacts(data, ckpt, ref, exported, converted, engines, evaluated)


def _convert(export: ExportSpec, data_root: Path | None, ckpt, exported, out: Path, progress, log) -> Converted:
    calibrated = None
    if any(spec_for(p).needs_calibration for p in export.precisions):
        calibrated = stages.calibrate_int8(
            export.calibration,
            exported.model,
            data_root=data_root,
            checkpoint_sha256=ckpt.sha256,
            out=out,
            progress=progress,
            log=log,
        )
    return stages.convert_precisions(exported, export.precisions, out, calibrated=calibrated, log=log)


def _evaluate_options(evaluation: EvaluationSpec, progress) -> evaluate_stage.EvaluateOptions:
    return evaluate_stage.EvaluateOptions(
        tolerance=evaluation.tolerance,
        bench=evaluation.bench,
        batch_sizes=tuple(evaluation.batch_sizes),
        bench_budget_s=evaluation.bench_budget_s,
        bench_min_runs=evaluation.bench_min_runs,
        progress=progress,
    )


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return None


def _tensorrt_version() -> dict[str, str]:
    """The installed TensorRT's version for the manifest; nothing where it is absent or will not load."""
    try:
        import tensorrt

        return {"tensorrt": tensorrt.__version__}
    except Exception:  # noqa: BLE001 - ImportError, or an OSError/RuntimeError from libnvinfer that will not load
        return {}
