"""The export pipeline as an API: checkpoint -> ONNX -> simplified -> FP16/INT8 -> engines -> report.

The CLI only parses options into a PipelineConfig and calls run().
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alexnet_edge.calibration.cifar10 import IMAGES_PER_BATCH
from alexnet_edge.calibration.config import CalibrationConfig
from alexnet_edge.calibration.user_data import probe as probe_user_data
from alexnet_edge.export.bundle.writer import check_bundle_target
from alexnet_edge.export.convert import onnx_export
from alexnet_edge.export.model.architecture import walk
from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.model.train import Recipe
from alexnet_edge.export.pipeline import data_paths, output_dir, stages
from alexnet_edge.export.pipeline import evaluate as evaluate_stage
from alexnet_edge.export.pipeline.artifacts import Converted, RunArtifacts
from alexnet_edge.export.pipeline.outputs import build_manifest, build_report, write_run_bundle
from alexnet_edge.export.pipeline.summary import StageClock
from alexnet_edge.export.report.render import write_reports
from alexnet_edge.runtime.backends import check_cpu_backends
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.bench import DEFAULT_BATCH_SIZES
from alexnet_edge.runtime.compare import Tolerance, tolerance_for
from alexnet_edge.runtime.errors import AlexNetEdgeError, ToleranceError
from alexnet_edge.runtime.evaluation import Row
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.progress import HEARTBEAT_S


@dataclass
class PipelineConfig:
    data_root: Path | None  # holds cifar-10-batches-py/; None only for runs that read no CIFAR-10 file
    out_dir: Path = Path("artifacts")
    checkpoint: Path | None = None
    eval_size: int | None = None  # None: all 10,000 test images
    precisions: tuple[Precision, ...] = (Precision.FP32,)
    opset: int = onnx_export.DEFAULT_OPSET
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    eval_data: Path | None = None  # the user's labelled images for every row (class subfolders, or a .npz)
    bench: bool = True
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    bench_budget_s: float = 1.0
    engines: bool = True  # build TensorRT engines when TensorRT and a GPU are there
    engine: EngineBuildConfig = field(default_factory=EngineBuildConfig)
    tolerance_overrides: dict[Precision, dict[str, float]] = field(default_factory=dict)
    recipe: Recipe = field(default_factory=Recipe)
    bundle: Path | None = None  # also write a deployment bundle folder + .tar.gz here
    force: bool = False  # let --bundle replace a non-empty folder that is not an earlier bundle
    download: bool = False  # fetch the official CIFAR-10 archive when the files are absent
    variant: str = "cifar"
    progress: bool = True  # tqdm bars (a terminal)
    heartbeat: bool = False  # without bars: a log line every 10 s or 10% of a long step (CI logs, pipes)
    verbose: bool = False  # also show third-party notices (onnxscript, onnxruntime's calibrator)
    backends: tuple[str, ...] | None = None  # CPU backends for the ONNX rows; None: every installed one
    ov_precision: str = "f32"  # OpenVINO's INFERENCE_PRECISION_HINT; "bf16" only on request

    def cpu_backends(self) -> tuple[str, ...]:
        """The CPU backends to evaluate on: the requested ones, or every installed one (onnxruntime first)."""
        from alexnet_edge.runtime.backends import installed_cpu_backends

        return self.backends if self.backends is not None else tuple(installed_cpu_backends())

    def progress_sink(self, log: Callable[[str], None]):
        """What long loops report progress to: a bar, heartbeat lines through ``log``, or nothing."""
        return True if self.progress else (log if self.heartbeat else False)

    def tolerance(self, precision: Precision, images: int | None = None) -> Tolerance:
        """The precision's tolerance for ``images`` evaluated images; the user's overrides win."""
        return tolerance_for(precision, images, self.tolerance_overrides.get(precision))


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
    def rows(self) -> list[Row]:
        return self.artifacts.evaluation.rows

    @property
    def failures(self) -> list[ToleranceError]:
        return self.artifacts.failures

    @property
    def logits(self) -> dict[str, np.ndarray]:  # Row.key -> logits on the evaluated images
        return self.artifacts.evaluation.logits

    @property
    def labels(self) -> np.ndarray:
        return self.artifacts.data.labels


def validate(config: PipelineConfig) -> None:
    """Everything that can be refused before any work is done or any file is written."""
    int8 = Precision.INT8 in config.precisions
    calib = config.calibration
    for size in (config.eval_size, calib.size if int8 else 1):
        if size is not None and size < 1:
            raise AlexNetEdgeError(f"sizes must be positive, got {size}")
    available = IMAGES_PER_BATCH * len(calib.files)
    if int8 and calib.data is None and calib.cifar_size > available:
        raise AlexNetEdgeError(
            f"--calib-size {calib.cifar_size} is more than the {available:,} images of {', '.join(calib.files)}"
        )
    if calib.data is not None and not int8:
        raise AlexNetEdgeError("--calib-data calibrates the INT8 model: add --int8")
    for option, path in (("--calib-data", calib.data), ("--eval-data", config.eval_data)):
        if path is not None and not Path(path).exists():
            raise AlexNetEdgeError(f"{option} {path}: no such file or folder")
        if path is not None:  # a .npy/.npz header its data does not match: refused now, not after the export
            probe_user_data(path, option)
    if config.eval_data is None and config.eval_size is not None and config.eval_size > IMAGES_PER_BATCH:
        raise AlexNetEdgeError(
            f"--eval-size {config.eval_size} is more than the {IMAGES_PER_BATCH:,} images of CIFAR-10's test_batch"
        )
    reads_cifar = (
        config.eval_data is None or config.checkpoint is None or (int8 and calib.data is None) or config.download
    )
    if reads_cifar and config.data_root is None:
        data_paths.data_root(None)  # raises, saying to pass --data-root or set ALEXNET_EDGE_DATA
    walk(config.variant)  # an input the variant cannot take is refused in one line, before any work
    for precision in config.precisions:  # also where TensorRT is absent, so no bundle records a bad engine config
        config.engine.validate(precision)
    check_cpu_backends(config.cpu_backends(), config.ov_precision)
    if config.bundle is not None:
        check_bundle_target(config.bundle, config.out_dir, force=config.force)


def run(config: PipelineConfig, *, log: Callable[[str], None] = print) -> PipelineResult:
    """Run every stage into a staging folder; ``config.out_dir`` receives the run only once it is
    complete (a failed run leaves it as it was; two runs on one folder never mix)."""
    validate(config)
    final = Path(config.out_dir)
    with output_dir.transaction(final, log=log) as staging:
        result = _run(config, staging, log)
    result.files = [final / f.relative_to(staging) if staging in f.parents else f for f in result.files]
    return result


def _run(config: PipelineConfig, out: Path, log: Callable[[str], None]) -> PipelineResult:
    clock, load_before = StageClock(log, tick_s=HEARTBEAT_S if config.heartbeat else None), _load_average()
    log = clock  # every line below goes through the clock, which names the stage it belongs to
    run_artifacts = _stages(config, out, clock)
    tool_versions = onnx_export.tool_versions() | _tensorrt_version()
    report = build_report(config, run_artifacts, load_before)
    produced = run_artifacts.files
    with clock.stage("report"):
        files = write_reports(out, report, build_manifest(config, run_artifacts, tool_versions), produced)
    if config.bundle is not None:
        with clock.stage("bundle"):
            files += write_run_bundle(config, run_artifacts, tool_versions, log)
    note = run_artifacts.engines.note
    skipped = ([] if config.bench else ["benchmark: --no-bench (no latency figures)"]) + ([note] if note else [])
    return PipelineResult(run_artifacts, report, produced + files, clock.seconds, clock.total, skipped)


def _stages(config: PipelineConfig, out: Path, clock: StageClock) -> RunArtifacts:
    """Every stage in order, each given only what it needs; the whole run's artifacts."""
    log, progress = clock, config.progress_sink(clock)
    with clock.stage("data"):
        data = stages.load_data(
            config.data_root, config.eval_size, download=config.download, log=log, eval_data=config.eval_data
        )
    with clock.stage("checkpoint"):
        ckpt = stages.load_or_train(
            config.checkpoint,
            data_root=config.data_root,
            recipe=config.recipe,
            variant=config.variant,
            out=out,
            progress=progress,
            log=log,
        )
    log(f"checkpoint {ckpt.path} (sha256 {ckpt.sha256[:12]}…), {len(data.labels)} images of {data.source}")
    with contextlib.ExitStack() as stack:
        torch_runner = stack.enter_context(TorchRunner(ckpt.model))
        with clock.stage("reference"):
            ref = stages.reference_logits(torch_runner, data, progress=progress, log=log)
        with clock.stage("export"):
            exported = stages.export_fp32(
                ckpt,
                data,
                ref,
                out,
                opset=config.opset,
                variant=config.variant,
                tolerance=config.tolerance(Precision.FP32),
                log=log,
                verbose=config.verbose,
            )
        with clock.stage("fp16/int8"):
            converted = _convert(config, ckpt, exported, out, progress, log)
        with clock.stage("engines"):
            engines = stages.build_engines(converted, out, config.engine, enabled=config.engines, log=log)
        with clock.stage("evaluate" + (" + benchmark" if config.bench else "")):
            runners = evaluate_stage.open_runners(
                stack,
                torch_runner,
                converted,
                engines,
                backends=config.cpu_backends(),
                ov_precision=config.ov_precision,
            )
            evaluation = evaluate_stage.evaluate_runners(runners, data, ref, _evaluate_options(config, progress), log)
    return RunArtifacts(data, ckpt, ref, exported, converted, engines, evaluation)


def _convert(config: PipelineConfig, ckpt, exported, out: Path, progress, log) -> Converted:
    calibrated = None
    if Precision.INT8 in config.precisions:
        calibrated = stages.calibrate_int8(
            config.calibration,
            exported.model,
            data_root=config.data_root,
            checkpoint_sha256=ckpt.sha256,
            out=out,
            progress=progress,
            log=log,
        )
    return stages.convert_precisions(exported, config.precisions, out, calibrated=calibrated, log=log)


def _evaluate_options(config: PipelineConfig, progress) -> evaluate_stage.EvaluateOptions:
    return evaluate_stage.EvaluateOptions(
        tolerance=config.tolerance,
        bench=config.bench,
        batch_sizes=tuple(config.batch_sizes),
        bench_budget_s=config.bench_budget_s,
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
