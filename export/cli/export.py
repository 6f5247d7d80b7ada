"""``export-alexnet`` and ``alexnet-inspect``: parse options into API objects and call the API."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from alexnet_edge.calibration.config import (
    DEFAULT_CALIB_SIZE,
    MAX_USER_CALIB_IMAGES,
    METHODS,
    CalibrationConfig,
)
from alexnet_edge.calibration.config import DEFAULTS as CALIB
from alexnet_edge.export.cli.help_sections import SectionedCommand
from alexnet_edge.export.model.architecture import VARIANTS
from alexnet_edge.export.model.recipe import recipe_from_options
from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
from alexnet_edge.export.pipeline.summary import render_summary
from alexnet_edge.export.report.render import render_report_md
from alexnet_edge.runtime.backends import registry
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.backends.tensorrt.features import HARDWARE_LEVELS
from alexnet_edge.runtime.bench import DEFAULT_BATCH_SIZES, PIPELINE_TIMING
from alexnet_edge.runtime.cli_support import LogFile, PrecisionChoice, backend_option_flag, one_line_errors
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.exit_status import OUTSIDE_TOLERANCE
from alexnet_edge.runtime.lazy import lazy_import, load
from alexnet_edge.runtime.precision import Precision, parse_tolerance_overrides, precisions, spec_for

# The pipeline imports torch and onnx: loaded when a run starts, not for --help or a refused option.
pipeline_run = lazy_import("alexnet_edge.export.pipeline.run")

# --help lists the options under these headings (export/cli/help_sections.py); the options stay declared below.
HELP_SECTIONS = {
    "Model and data": (
        "--checkpoint",
        "--variant",
        "--data-root",
        "--download",
        "--eval-size",
        "--eval-data",
        "--epochs",
        "--train-size",
        "--train-batches",
    ),
    "Precision and evaluation": (
        "--precision",
        "--fp16",
        "--int8",
        "--opset",
        "--tolerance",
        "--backends",
        "--backend-option",
        "--ov-precision",
    ),
    "INT8 calibration": ("--calib-size", "--calib-data", "--calib-method", "--calib-seed", "--calib-batches"),
    "Benchmark": ("--no-bench", "--batch-sizes", "--bench-min-runs", "--bench-seconds"),
    "TensorRT engines": (
        "--engines",
        "--min-batch",
        "--opt-batch",
        "--max-batch",
        "--workspace-mb",
        "--timing-cache",
        "--dla-core",
        "--version-compatible",
        "--hardware-compatibility",
    ),
    "Output": ("--out", "--bundle", "--bundle-precision", "--force", "--quiet", "--verbose", "--log-file"),
}


@click.command(
    cls=SectionedCommand,
    sections=HELP_SECTIONS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=data_paths.EPILOG_DATA_ONLY + " --checkpoint has no default: without it, a model is trained.",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False),
    help="state_dict to export; without it, train one first",
)
@data_paths.data_root_option()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("artifacts"),
    show_default=True,
    help="output folder: models, report.json/md/png, manifest.json (written only once the run is complete)",
)
@click.option("--eval-size", type=click.IntRange(min=1), default=None, help="first N test images [default: all 10,000]")
@click.option(
    "--precision",
    "precisions",
    multiple=True,
    type=PrecisionChoice(),
    help="also write and evaluate this precision's model; repeat for several (FP32 is always written). "
    + "; ".join(f"{p.value}: {spec_for(p).summary}" for p in precisions() if p is not Precision.FP32),
)
@click.option("--fp16", is_flag=True, help="the same as --precision fp16: also write and evaluate model.fp16.onnx")
@click.option("--int8", is_flag=True, help="the same as --precision int8: also calibrate and write model.int8.onnx")
@click.option(
    "--calib-size",
    type=int,
    default=None,
    help=f"images for INT8 calibration [default: {DEFAULT_CALIB_SIZE} class-balanced CIFAR-10 train images; "
    f"with --calib-data all of it, up to {MAX_USER_CALIB_IMAGES}]",
)
@click.option(
    "--calib-data",
    type=click.Path(path_type=Path),
    default=None,
    help="calibrate on your images: a folder (searched recursively) or a .npy of uint8 NHWC images",
)
@click.option(
    "--eval-data",
    type=click.Path(path_type=Path),
    default=None,
    help="evaluate on your labelled images: class subfolders named as the model's classes, or a .npz (images, labels)",
)
@click.option(
    "--calib-method",
    type=click.Choice(METHODS),
    default=CALIB.method,
    show_default=True,
    help="how activation ranges are chosen from the calibration images",
)
@click.option(
    "--calib-seed", type=int, default=CALIB.seed, show_default=True, help="seed of the class-balanced calibration draw"
)
@click.option(
    "--calib-batches",
    default=",".join(CALIB.files),
    show_default=True,
    help="comma-separated train batch files to draw from",
)
@click.option(
    "--opset",
    type=click.IntRange(13, 21),
    default=17,
    show_default=True,
    help="ONNX opset, 13-21 (17: the highest TensorRT 8.5/8.6 parse)",
)
@click.option(
    "--no-bench",
    is_flag=True,
    help="skip latency timing only; every row is still evaluated on --eval-size images (all 10,000 by default: "
    "add --eval-size N for a quicker run)",
)
@click.option(
    "--backends",
    default=None,
    metavar="LIST",
    help=f"comma-separated host backends for the ONNX rows: {', '.join(registry.host_backends())} "
    "[default: every installed one]",
)
@backend_option_flag()
@click.option(
    "--ov-precision",
    type=click.Choice(["f32", "bf16"]),
    default=None,
    help="the same as --backend-option openvino.precision=...: OpenVINO's inference precision; bf16 "
    "(OpenVINO's own default on bf16 CPUs) only on request [default: f32]",
)
@click.option(
    "--batch-sizes", default=",".join(map(str, DEFAULT_BATCH_SIZES)), show_default=True, help="latency batch sizes"
)
@click.option(
    "--bench-min-runs",
    type=click.IntRange(min=2),
    default=PIPELINE_TIMING.min_runs,
    show_default=True,
    help="each latency figure: at least this many timed runs (p90 is given from 10 runs, p99 from 100)",
)
@click.option(
    "--bench-seconds",
    type=click.FloatRange(min=0),
    default=PIPELINE_TIMING.min_seconds,
    show_default=True,
    help="each latency figure: at least this many seconds of timed runs",
)
@click.option(
    "--engines/--no-engines",
    default=True,
    show_default=True,
    help="build TensorRT engines when TensorRT and a GPU are present",
)
@click.option(
    "--min-batch",
    type=int,
    default=EngineBuildConfig.min_batch,
    show_default=True,
    help="smallest batch the engines' optimization profile takes",
)
@click.option(
    "--opt-batch",
    type=int,
    default=EngineBuildConfig.opt_batch,
    show_default=True,
    help="the batch size TensorRT tunes the engines for",
)
@click.option(
    "--max-batch",
    type=int,
    default=EngineBuildConfig.max_batch,
    show_default=True,
    help="largest batch the engines' optimization profile takes",
)
@click.option(
    "--workspace-mb",
    type=int,
    default=EngineBuildConfig.workspace_mb,
    show_default=True,
    help="TensorRT builder workspace (MiB)",
)
@click.option(
    "--timing-cache",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TensorRT timing cache [default: OUT/timing.cache]",
)
@click.option(
    "--dla-core", type=int, default=None, help="build for this DLA core with GPU fallback (needs min = opt = max batch)"
)
@click.option("--version-compatible", is_flag=True, help="TensorRT version-compatible engines")
@click.option(
    "--hardware-compatibility",
    type=click.Choice(list(HARDWARE_LEVELS)),
    default="none",
    show_default=True,
    help="same_compute_capability needs TensorRT 10.9+, the others 8.6+",
)
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="PREC.FIELD=N",
    help="override a tolerance, e.g. int8.min_top1_agreement=0.99",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), default=None, help="training epochs when no --checkpoint [default: 60]"
)
@click.option("--train-size", type=click.IntRange(min=1), default=None, help="train on only the first N train images")
@click.option("--train-batches", default=None, help="comma-separated train batch files [default: data_batch_1..5]")
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="also write a deployment bundle folder PATH and PATH.tar.gz",
)
@click.option(
    "--bundle-precision",
    "bundle_precisions",
    type=PrecisionChoice(),
    multiple=True,
    help="the models the bundle carries, repeatable (e.g. --bundle-precision int8) [default: every one built]",
)
@click.option(
    "--variant",
    type=click.Choice(VARIANTS),
    default="cifar",
    show_default=True,
    help="cifar (first block k5 s1 p2), cifar-bn (the same with BatchNorm after each conv, folded at export), "
    "or the original 224-style k11 s4 p2 (cannot take 32x32)",
)
@click.option("--force", is_flag=True, help="let --bundle replace a non-empty folder that is not an earlier bundle")
@click.option(
    "--download", is_flag=True, help="download the official CIFAR-10 archive (md5-checked) if --data-root lacks it"
)
@click.option("--quiet", is_flag=True, help="no progress bars or heartbeat lines")
@click.option("--verbose", is_flag=True, help="also show the exporter's and onnxruntime's own notices")
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="also append every log line, timestamped, to this file",
)
@one_line_errors
def export_alexnet(**opts) -> None:
    """Export the CIFAR-10 AlexNet to ONNX (FP32, and FP16/INT8 on request), verify every artifact
    against PyTorch on real CIFAR-10 test images, time it, and write report.json/md/png + manifest.json."""
    load(pipeline_run)  # a missing [export] extra is the first thing said
    export, evaluation, options = pipeline_specs(opts)
    out_dir = options.out_dir
    with run_log(opts["log_file"]) as log:
        result = pipeline_run.run(export, evaluation, options, log=log)
        click.echo(render_report_md(result.report))  # what report.md holds, from the run's result
        log(
            render_summary(
                out_dir=out_dir,
                files=result.files,
                stage_seconds=result.stage_seconds,
                total_s=result.total_seconds,
                skipped=result.skipped,
                failures=len(result.failures),
                bundle=opts["bundle"],
            )
        )
    if result.failures:
        for failure in result.failures:
            click.echo(f"error: outside tolerance: {failure}", err=True)
        sys.exit(OUTSIDE_TOLERANCE)


def pipeline_specs(opts: dict):
    """The (ExportSpec, EvaluationSpec, RunOptions) that ``export_alexnet``'s parsed options describe (the
    pipeline validates them; backend options are checked against their specs here)."""
    wanted = _chosen_precisions(opts)
    out_dir = opts["out_dir"]
    engine = _engine_config(opts, out_dir)
    backend_options = _backend_options(opts)
    export = ExportSpec(
        checkpoint=opts["checkpoint"],
        variant=opts["variant"],
        precisions=wanted,
        opset=opts["opset"],
        calibration=CalibrationConfig(
            size=opts["calib_size"],
            method=opts["calib_method"],
            seed=opts["calib_seed"],
            files=tuple(_csv(opts["calib_batches"])),
            data=opts["calib_data"],
        ),
        recipe=recipe_from_options(
            epochs=opts["epochs"],
            train_size=opts["train_size"],
            train_files=_csv(opts["train_batches"]) if opts["train_batches"] else None,
        ),
        engines=opts["engines"],
        engine=engine,
    )
    evaluation = EvaluationSpec(
        eval_size=opts["eval_size"],
        eval_data=opts["eval_data"],
        backends=tuple(_csv(opts["backends"])) if opts["backends"] is not None else None,
        backend_options=backend_options,
        bench=not opts["no_bench"],
        batch_sizes=tuple(_int_csv(opts["batch_sizes"], "--batch-sizes")),
        bench_budget_s=opts["bench_seconds"],
        bench_min_runs=opts["bench_min_runs"],
        tolerance_overrides=parse_tolerance_overrides(list(opts["tolerances"])),
    )
    options = RunOptions(
        data_root=data_paths.optional_data_root(opts["data_root"]),
        out_dir=out_dir,
        bundle=opts["bundle"],
        bundle_precisions=tuple(opts["bundle_precisions"]) or None,
        force=opts["force"],
        download=opts["download"],
        progress=not opts["quiet"] and sys.stderr.isatty(),
        heartbeat=not opts["quiet"] and not sys.stderr.isatty(),
        verbose=opts["verbose"],
    )
    return export, evaluation, options


def _chosen_precisions(opts: dict) -> tuple:
    """FP32 first, then every precision asked for (``--precision`` or its aliases), in the registry's order."""
    aliases = [p for p, on in ((Precision.FP16, opts["fp16"]), (Precision.INT8, opts["int8"])) if on]
    chosen = {Precision.FP32.value, *(p.value for p in (*opts["precisions"], *aliases))}
    return tuple(p for p in precisions() if p.value in chosen)


def _engine_config(opts: dict, out_dir: Path) -> EngineBuildConfig:
    return EngineBuildConfig(
        min_batch=opts["min_batch"],
        opt_batch=opts["opt_batch"],
        max_batch=opts["max_batch"],
        workspace_mb=opts["workspace_mb"],
        timing_cache=opts["timing_cache"] or out_dir / "timing.cache",
        dla_core=opts["dla_core"],
        version_compatible=opts["version_compatible"],
        hardware_compatibility=opts["hardware_compatibility"],
    )


def _backend_options(opts: dict) -> registry.BackendOptions:
    """``--backend-option`` items, checked against their specs; ``--ov-precision`` is an alias of one."""
    backend_options = registry.BackendOptions.parse(opts["backend_options"])
    if opts["ov_precision"] is not None:
        backend_options = backend_options.with_value("openvino.precision", opts["ov_precision"])
    return backend_options


@contextlib.contextmanager
def run_log(log_file: Path | None):
    """A log function: each line to stderr, and timestamped to ``log_file`` when one is given."""
    handle = LogFile(log_file, first_line=f"export-alexnet started (pid {os.getpid()})") if log_file else None

    def log(line: str) -> None:
        click.echo(line, err=True)
        if handle is not None:
            handle.write(line)

    try:
        yield log
    finally:
        if handle is not None:
            handle.close()


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _int_csv(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in _csv(text)]
    except ValueError:
        raise AlexNetEdgeError(f"{option} takes comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise AlexNetEdgeError(f"{option} needs positive batch sizes, got {text!r}")
    return values
