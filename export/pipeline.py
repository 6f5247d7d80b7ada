"""The export pipeline as an API: checkpoint -> ONNX -> simplified -> FP16/INT8 -> engines -> report.

The CLI only parses options into a PipelineConfig and calls run().
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from alexnet_edge.calibration import cifar10
from alexnet_edge.calibration.calib_set import DEFAULT_CALIB_FILES, DEFAULT_CALIB_SIZE, build_calibration_set
from alexnet_edge.calibration.table import DEFAULT_METHOD, calibrate
from alexnet_edge.runtime.backends.onnxrt import OnnxRuntimeRunner
from alexnet_edge.runtime.backends.trt_builder import EngineBuildConfig, build_engine, engine_support
from alexnet_edge.runtime.bench import DEFAULT_BATCH_SIZES, measure_latency
from alexnet_edge.runtime.compare import DEFAULT_TOLERANCES, Tolerance, check, compare
from alexnet_edge.runtime.errors import AlexNetEdgeError, DatasetError, ToleranceError
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.preprocess import normalize_uint8

from . import onnx_export, output_dir, precision as precision_transforms
from .architecture import has_batchnorm, walk
from .model import alexnet_cifar10, fold_batchnorm
from .reference import TorchRunner
from .bundle import VERIFY_IMAGES as BUNDLE_IMAGES, check_bundle_target, expected_figures, write_bundle
from .report import REPORT_SCHEMA, host_info, write_reports
from .train import Recipe, train

CIFAR_BATCH_IMAGES = 10_000  # images in each CIFAR-10 batch file
PARITY_IMAGES = 512  # export/simplify parity check: enough real images to catch a broken graph quickly


@dataclass
class PipelineConfig:
    data_root: Path
    out_dir: Path = Path("artifacts")
    checkpoint: Path | None = None
    eval_size: int | None = None  # None: all 10,000 test images
    precisions: tuple[Precision, ...] = (Precision.FP32,)
    opset: int = onnx_export.DEFAULT_OPSET
    calib_size: int = DEFAULT_CALIB_SIZE
    calib_method: str = DEFAULT_METHOD
    calib_seed: int = 0
    calib_files: tuple[str, ...] = DEFAULT_CALIB_FILES
    bench: bool = True
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    bench_budget_s: float = 1.0
    engines: str = "auto"  # "auto": build when TensorRT and a GPU are there; "off"
    engine: EngineBuildConfig = field(default_factory=EngineBuildConfig)
    tolerance_overrides: dict[Precision, dict[str, float]] = field(default_factory=dict)
    recipe: Recipe = field(default_factory=Recipe)
    bundle: Path | None = None  # also write a deployment bundle folder + .tar.gz here
    force: bool = False  # let --bundle replace a non-empty folder that is not an earlier bundle
    download: bool = False  # fetch the official CIFAR-10 archive when the files are absent
    variant: str = "cifar"
    progress: bool = True

    def tolerance(self, precision: Precision, images: int | None = None) -> Tolerance:
        """The precision's tolerance for ``images`` evaluated images; the user's overrides win."""
        base = DEFAULT_TOLERANCES[precision] if images is None else DEFAULT_TOLERANCES[precision].for_sample(images)
        return base.with_overrides(**self.tolerance_overrides.get(precision, {}))


@dataclass
class PipelineResult:
    report: dict
    files: list[Path]
    failures: list[ToleranceError]
    logits: dict[str, np.ndarray]  # "backend/device/precision" -> logits on the evaluated images
    labels: np.ndarray


def _parity(runner_path: Path, images: np.ndarray, reference: np.ndarray, labels: np.ndarray, stage: str, tol: Tolerance) -> dict:
    with OnnxRuntimeRunner(runner_path) as runner:
        result = compare(runner.infer_many(images), reference, labels)
    failures = check(result, reference_accuracy=float((reference.argmax(1) == labels).mean()), tolerance=tol, artifact=f"{stage} ({runner_path.name})")
    if failures:
        raise failures[0]
    return {"stage": stage, "images": len(labels), "max_abs_diff": result.max_abs_diff, "top1_agreement": result.top1_agreement}


def validate(config: PipelineConfig) -> None:
    """Everything that can be refused before any work is done or any file is written."""
    for size in (config.eval_size, config.calib_size if Precision.INT8 in config.precisions else 1):
        if size is not None and size < 1:
            raise AlexNetEdgeError(f"sizes must be positive, got {size}")
    if Precision.INT8 in config.precisions and config.calib_size > CIFAR_BATCH_IMAGES * len(config.calib_files):
        raise AlexNetEdgeError(f"--calib-size {config.calib_size} is more than the {CIFAR_BATCH_IMAGES * len(config.calib_files):,} "
                               f"images of {', '.join(config.calib_files)}")  # fmt: skip
    walk(config.variant)  # an input the variant cannot take is refused in one line, before any work
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
    if config.download and not (cifar10.batches_dir(config.data_root) / cifar10.TEST_BATCH).is_file():
        log(f"downloading CIFAR-10 into {config.data_root}")
        cifar10.download(config.data_root)
    test = cifar10.load_test(config.data_root)  # md5-checked before anything else runs
    n_eval = len(test) if config.eval_size is None else min(config.eval_size, len(test))
    images = normalize_uint8(test.images[:n_eval])
    labels = test.labels[:n_eval]

    checkpoint = config.checkpoint
    if checkpoint is None:
        log("no --checkpoint: training one first")
        present = cifar10.available_train_batches(config.data_root)
        missing = [f for f in config.recipe.train_files if f not in present]
        if missing:
            here = ", ".join(present) or "none"
            raise DatasetError(
                f"training reads {', '.join(config.recipe.train_files)} but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not in {cifar10.batches_dir(config.data_root)} "
                f"(present: {here}); pass --train-batches to train on what is there"
            )
        checkpoint = train(config.data_root, out, recipe=config.recipe, progress=config.progress, log=log, variant=config.variant)
    model = alexnet_cifar10(weights=checkpoint, variant=config.variant)
    folded = has_batchnorm(config.variant)
    checkpoint_sha = sha256_file(checkpoint)
    log(f"checkpoint {checkpoint} (sha256 {checkpoint_sha[:12]}…), {n_eval} test images")

    torch_runner = TorchRunner(model).activate()
    reference = torch_runner.infer_many(images, progress=config.progress)
    ref_accuracy = float((reference.argmax(1) == labels).mean())
    log(f"PyTorch FP32 accuracy {100 * ref_accuracy:.2f}%")

    fp32_tol = config.tolerance(Precision.FP32)
    parity_n = min(PARITY_IMAGES, n_eval)
    checks = []
    artifacts: dict[Precision, Path] = {}
    with tempfile.TemporaryDirectory(prefix="alexnet-export-") as tmp:
        raw = Path(tmp) / "model.raw.onnx"
        metadata = onnx_export.base_metadata(checkpoint_sha256=checkpoint_sha, precision="fp32", opset=config.opset)
        metadata |= {"variant": config.variant, "batchnorm_folded": folded}
        # Parity below is against the unfolded model in eval mode: it checks the fold too.
        onnx_export.export_onnx(fold_batchnorm(model) if folded else model, raw, metadata=metadata, opset=config.opset)
        checks.append(_parity(raw, images[:parity_n], reference[:parity_n], labels[:parity_n], "export", fp32_tol))
        simplified = onnx_export.simplify(raw, out / Precision.FP32.onnx_name)
    artifacts[Precision.FP32] = out / Precision.FP32.onnx_name
    log(f"exported {artifacts[Precision.FP32].name} (simplified with {simplified.tool})")
    checks.append(_parity(artifacts[Precision.FP32], images[:parity_n], reference[:parity_n], labels[:parity_n], "simplify", fp32_tol))

    calibration_info = int8_table = None
    for precision in config.precisions:
        if precision is Precision.FP32:
            continue
        if precision is Precision.INT8:
            calib_dir = out / "calibration"
            calib_set = build_calibration_set(
                config.data_root, size=config.calib_size, seed=config.calib_seed, files=config.calib_files,
                checkpoint_sha256=checkpoint_sha, cache_dir=calib_dir, progress=config.progress,
            )  # fmt: skip
            int8_table = calibrate(
                artifacts[Precision.FP32], calib_set, method=config.calib_method,
                table_path=calib_dir / f"calibration_table.{config.calib_method}.json", progress=config.progress,
            )  # fmt: skip
            calibration_info = {**calib_set.describe(), "method": int8_table.method, "table": str(int8_table.path.relative_to(out)),
                                "set_reused": calib_set.reused, "table_reused": int8_table.reused}  # fmt: skip
            log(f"calibration: {len(calib_set)} train images, {int8_table.method}, table {'reused' if int8_table.reused else 'computed'}")
        artifacts[precision] = precision_transforms.convert(
            artifacts[Precision.FP32], precision, out / precision.onnx_name,
            calibration=int8_table if precision is Precision.INT8 else None,
        )
        log(f"wrote {precision.onnx_name}")

    runners = [torch_runner] + [OnnxRuntimeRunner(path, name=f"onnxruntime:{p.value}").activate() for p, path in artifacts.items()]
    precisions = [Precision.FP32] + list(artifacts)
    engine_note = None
    engine_files: list[Path] = []
    if config.engines != "off":
        support = engine_support()
        if support.ok:
            from alexnet_edge.runtime.backends.trt_runner import TensorRTRunner

            for p, path in artifacts.items():
                engine_path = out / p.engine_name
                build_engine(path, engine_path, p, config.engine)
                engine_files += [engine_path, engine_path.with_suffix(".json")]
                runners.append(TensorRTRunner(engine_path).activate())
                precisions.append(p)
        else:
            engine_note = f"TensorRT engines skipped: {support.reason}"
            log(engine_note)

    rows, failures, all_logits = [], [], {}
    try:
        for runner, precision in zip(runners, precisions):
            is_reference = runner is torch_runner
            logits = reference if is_reference else runner.infer_many(images, progress=config.progress)
            result = compare(logits, reference, labels)
            artifact = None if is_reference else getattr(runner, "model_path", getattr(runner, "engine_path", None))
            tolerance = config.tolerance(precision, len(labels))
            row_failures = [] if is_reference else check(result, reference_accuracy=ref_accuracy, tolerance=tolerance, artifact=runner.name)
            failures += row_failures
            row = {
                "backend": runner.backend,
                "device": runner.device,
                "device_name": runner.device_name(),
                "cpu": runner.cpu_features(),
                "precision": precision.value,
                "artifact": None if artifact is None else Path(artifact).name,
                "size_mb": None if artifact is None else Path(artifact).stat().st_size / 1e6,
                **result.as_dict(),
                "accuracy_delta": result.accuracy - ref_accuracy,
                "tolerance": None if is_reference else asdict(tolerance),
                "within_tolerance": not row_failures,
                "failures": [str(f) for f in row_failures],
            }
            if config.bench:
                stats = measure_latency(runner, images[:256], batch_sizes=config.batch_sizes, budget_s=config.bench_budget_s)
                row["latency_ms"] = {k: {m: getattr(s, m) for m in ("p50", "p90", "p99", "mean")} for k, s in stats.items()}
                row["throughput"] = {k: s.throughput for k, s in stats.items()}
                row.update(getattr(runner, "extra_timings", lambda: {})())
            rows.append(row)
            all_logits[f"{row['backend']}/{row['device']}/{row['precision']}"] = logits
            log(f"{runner.name}: accuracy {100 * result.accuracy:.2f}%, agreement {100 * result.top1_agreement:.2f}%, "
                f"max |Δlogit| {result.max_abs_diff:.3g}")  # fmt: skip
    finally:
        for runner in runners:
            runner.deactivate()

    notes = [
        "onnxruntime's CPU provider has no FP16 kernels on x86: it runs FP16 models with FP32 arithmetic "
        "(weights stay FP16-rounded), so the fp16 row checks the graph and weights, not FP16 arithmetic.",
        "Latency is wall-clock around each call (perf_counter); accuracy rows use all evaluated images.",
    ]
    if engine_note:
        notes.append(engine_note)
    if folded:
        notes.append("BatchNorm was folded into the preceding convolutions before export; every ONNX row is "
                     "compared with the unfolded PyTorch model in eval mode.")
    report = {
        "schema": REPORT_SCHEMA,
        "eval_images": n_eval,
        "eval_subset": "all of test_batch" if n_eval == len(test) else f"the first {n_eval} of test_batch, original order",
        "reference": {"backend": "torch", "device": torch_runner.device, "precision": "fp32", "accuracy": ref_accuracy},
        "checkpoint": {"path": str(checkpoint), "sha256": checkpoint_sha},
        "model": {"variant": config.variant, "batchnorm_folded": folded},
        "checks": checks,
        "simplifier": asdict(simplified),
        "calibration": calibration_info,
        "rows": rows,
        "host": host_info(),
        "notes": notes,
    }
    manifest = {
        "config": _config_dict(config, checkpoint),
        "tool_versions": onnx_export.tool_versions() | _tensorrt_version(),
        "devices": sorted({f"{r['device']}: {r['device_name']}" for r in rows}),
        "dataset_md5": cifar10.split_fingerprint(test),
    }
    produced = list(artifacts.values()) + engine_files
    if calibration_info:
        produced += sorted((out / "calibration").glob("*"))
    files = write_reports(out, report, manifest, produced)
    if config.bundle is not None:
        n = min(BUNDLE_IMAGES, n_eval)
        files += write_bundle(
            config.bundle, models=artifacts, calibration_table=int8_table.path if int8_table else None,
            images_uint8=test.images[:n], labels=labels[:n], reference_logits=reference[:n],
            expected=expected_figures({k: v[:n] for k, v in all_logits.items()}, labels[:n], reference[:n]),
            engine_config=config.engine, source={"checkpoint_sha256": checkpoint_sha, "tool_versions": manifest["tool_versions"]},
        )  # fmt: skip
        log(f"bundle written: {config.bundle} and {config.bundle.name}.tar.gz ({n} verification images)")
    return PipelineResult(report, produced + files, failures, all_logits, labels)


def _tensorrt_version() -> dict[str, str]:
    try:
        import tensorrt

        return {"tensorrt": tensorrt.__version__}
    except ImportError:
        return {}


def _config_dict(config: PipelineConfig, checkpoint: Path) -> dict:
    data = asdict(config)
    data["checkpoint"] = str(checkpoint)
    data["precisions"] = [p.value for p in config.precisions]
    data["tolerance_overrides"] = {p.value: v for p, v in config.tolerance_overrides.items()}
    data["tolerances"] = {p.value: asdict(config.tolerance(p)) for p in Precision}
    return _jsonable(data)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.value
    return value
