"""The pipeline's stages: each a small function from typed artifacts to a typed artifact.

load_data -> load_or_train -> reference_logits -> export_fp32 -> convert_precisions
-> build_engines -> evaluate (evaluate_stage.py) -> (pipeline.py) report and bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from alexnet_edge.calibration import cifar10
from alexnet_edge.calibration.calib_set import (
    build_calibration_set,
    build_user_calibration_set,
)
from alexnet_edge.calibration.errors import DatasetError
from alexnet_edge.calibration.table import CalibrationTable, calibrate
from alexnet_edge.calibration.user_data import UserData, read_labelled, read_unlabelled
from alexnet_edge.runtime.backends import open_runner
from alexnet_edge.runtime.backends.trt_builder import build_engine, engine_support
from alexnet_edge.runtime.backends.trt_dla import engine_source
from alexnet_edge.runtime.compare import Tolerance, accuracy
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.errors import ToleranceError
from alexnet_edge.runtime.evaluation import Evaluated, Row, judge
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.preprocess import normalize_uint8

from . import onnx_export, precision_transforms, work_dirs
from .architecture import has_batchnorm
from .model import AlexNet, alexnet_cifar10, fold_batchnorm
from .torch_runner import TorchRunner
from .train import train

PARITY_IMAGES = 512  # export/simplify parity check: enough real images to catch a broken graph quickly
Log = Callable[[str], None]


@dataclass(frozen=True)
class EvalData:
    split: cifar10.Split | UserData  # the whole source (uint8 NCHW images, for the bundle)
    images: np.ndarray  # float32 [N,3,32,32], normalized
    labels: np.ndarray

    @property
    def source(self) -> str:
        return self.split.source if isinstance(self.split, UserData) else "CIFAR-10 test_batch"

    @property
    def subset(self) -> str:
        n, name = len(self.labels), self.source
        return f"all of {name}" if n == len(self.split) else f"the first {n} of {name}, original order"

    def fingerprint(self) -> dict[str, str]:
        if isinstance(self.split, UserData):
            return {"eval_data": self.split.source, "content_sha256": self.split.sha256}
        return cifar10.split_fingerprint(self.split)


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    sha256: str
    model: AlexNet
    batchnorm_folded: bool


@dataclass(frozen=True)
class Reference:
    logits: np.ndarray
    accuracy: float
    device: str


@dataclass
class Exported:
    models: dict[Precision, Path]
    checks: list[dict]
    simplifier: dict
    calibration: dict | None = None
    calibration_table: CalibrationTable | None = None
    engines: list[Path] = field(default_factory=list)
    engine_note: str | None = None
    failures: list[ToleranceError] = field(default_factory=list)  # export/simplify parity beyond tolerance


@dataclass
class Evaluation:
    evaluated: list[Evaluated]  # one per runner, the PyTorch reference first

    @property
    def rows(self) -> list[Row]:
        return [e.row for e in self.evaluated]

    @property
    def failures(self) -> list[ToleranceError]:
        return [f for e in self.evaluated for f in e.failures]

    @property
    def logits(self) -> dict[str, np.ndarray]:
        return {e.row.key: e.logits for e in self.evaluated}


def load_data(
    data_root: Path, eval_size: int | None, *, download: bool, log: Log, eval_data: Path | None = None
) -> EvalData:
    if eval_data is not None:
        user = read_labelled(eval_data, CLASS_NAMES)
        _log_skipped(user, log)
        n = len(user) if eval_size is None else min(eval_size, len(user))
        short = f"; --eval-size {eval_size} is more than it holds" if eval_size is not None and eval_size > n else ""
        log(f"evaluating on {n} labelled images of {user.source} (sha256 {user.sha256[:12]}…){short}")
        return EvalData(user, normalize_uint8(user.images[:n]), user.labels[:n])
    if download and not (cifar10.batches_dir(data_root) / cifar10.TEST_BATCH).is_file():
        log(f"downloading CIFAR-10 into {data_root}")
        cifar10.download(data_root)
    try:
        test = cifar10.load_test(data_root)  # md5-checked before anything else runs
    except DatasetError as exc:
        if download or "file missing" not in str(exc):
            raise
        raise DatasetError(f"{exc}, or add --download where the network is reachable", path=exc.path) from None
    n = len(test) if eval_size is None else min(eval_size, len(test))
    return EvalData(test, normalize_uint8(test.images[:n]), test.labels[:n])


def load_or_train(config, out: Path, log: Log) -> Checkpoint:
    path = config.checkpoint
    if path is None:
        log("no --checkpoint: training one first")
        present = cifar10.available_train_batches(config.data_root)
        missing = [f for f in config.recipe.train_files if f not in present]
        if missing:
            raise DatasetError(
                f"training reads {', '.join(config.recipe.train_files)} but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not in {cifar10.batches_dir(config.data_root)} "
                f"(present: {', '.join(present) or 'none'}); pass --train-batches to train on what is there"
            )
        path = train(
            config.data_root,
            out,
            recipe=config.recipe,
            progress=config.progress_sink(log),
            log=log,
            variant=config.variant,
        )
    model = alexnet_cifar10(weights=path, variant=config.variant)
    return Checkpoint(Path(path), sha256_file(path), model, has_batchnorm(config.variant))


def reference_logits(runner: TorchRunner, data: EvalData, *, progress: bool, log: Log) -> Reference:
    logits = runner.infer_many(data.images, progress=progress)
    top1 = accuracy(logits, data.labels)
    log(f"PyTorch FP32 accuracy {100 * top1:.2f}%")
    return Reference(logits, top1, runner.device)


def _parity(
    path: Path, data: EvalData, ref: Reference, stage: str, tolerance: Tolerance, failed: list, log: Log
) -> dict:
    """The check's figures; a failure is appended to ``failed`` and the run goes on, so that exit 1
    comes with the report naming what moved (README's promise)."""
    n = min(PARITY_IMAGES, len(data.labels))
    with open_runner(path, "onnxruntime") as runner:
        logits = runner.infer_many(data.images[:n])
    result, _, failures = judge(logits, data.labels[:n], ref.logits[:n], tolerance, artifact=f"{stage} ({path.name})")
    for failure in failures:
        log(f"parity check outside tolerance: {failure}")
    failed += failures
    return {
        "stage": stage,
        "images": n,
        "max_abs_diff": result.max_abs_diff,
        "top1_agreement": result.top1_agreement,
        "within_tolerance": not failures,
        "failures": [str(f) for f in failures],
    }


def export_fp32(
    ckpt: Checkpoint,
    data: EvalData,
    ref: Reference,
    out: Path,
    *,
    opset: int,
    variant: str,
    tolerance: Tolerance,
    log: Log,
    verbose: bool = False,
) -> Exported:
    """Export, simplify, and check both against PyTorch (the unfolded model: the fold is checked too)."""
    target = out / Precision.FP32.onnx_name
    metadata = onnx_export.base_metadata(checkpoint_sha256=ckpt.sha256, precision="fp32", opset=opset)
    metadata |= {"variant": variant, "batchnorm_folded": ckpt.batchnorm_folded}
    with work_dirs.work_dir("export", log) as tmp:  # removed on every exit; a killed run's, by the next run
        raw = tmp / "model.raw.onnx"
        onnx_export.export_onnx(
            fold_batchnorm(ckpt.model) if ckpt.batchnorm_folded else ckpt.model,
            raw,
            metadata=metadata,
            opset=opset,
            verbose=verbose,
        )
        failed: list[ToleranceError] = []
        checks = [_parity(raw, data, ref, "export", tolerance, failed, log)]
        simplified = onnx_export.simplify(raw, target)
    log(f"exported {target.name} (simplified with {simplified.tool})")
    checks.append(_parity(target, data, ref, "simplify", tolerance, failed, log))
    return Exported({Precision.FP32: target}, checks, asdict(simplified), failures=failed)


def _log_skipped(user: UserData, log: Log) -> None:
    if user.skipped:
        shown = "; ".join(user.skipped[:5]) + ("; …" if len(user.skipped) > 5 else "")
        log(f"skipped {len(user.skipped)} unreadable file(s) in {user.source}: {shown}")


def _calibration_set(config, ckpt: Checkpoint, calib_dir: Path, log: Log):
    calib = config.calibration
    if calib.data is None:
        return build_calibration_set(
            config.data_root,
            size=calib.cifar_size,
            seed=calib.seed,
            files=calib.files,
            checkpoint_sha256=ckpt.sha256,
            cache_dir=calib_dir,
            progress=config.progress_sink(log),
        )
    user = read_unlabelled(calib.data)
    _log_skipped(user, log)
    return build_user_calibration_set(
        user,
        size=calib.size,
        seed=calib.seed,
        checkpoint_sha256=ckpt.sha256,
        cache_dir=calib_dir,
        progress=config.progress_sink(log),
    )


def calibrate_int8(config, ckpt: Checkpoint, exported: Exported, out: Path, log: Log) -> None:
    calib_dir = out / "calibration"
    calib_set = _calibration_set(config, ckpt, calib_dir, log)
    table = calibrate(
        exported.models[Precision.FP32],
        calib_set,
        method=config.calibration.method,
        table_path=calib_dir / f"calibration_table.{config.calibration.method}.json",
        progress=config.progress_sink(log),
    )
    exported.calibration_table = table
    exported.calibration = {
        **calib_set.describe(),
        "method": table.method,
        "table": str(table.path.relative_to(out)),
        "set_reused": calib_set.reused,
        "table_reused": table.reused,
    }
    log(
        f"calibration: {len(calib_set)} images of {calib_set.source}, "
        f"{table.method}, table {'reused' if table.reused else 'computed'}"
    )


def convert_precisions(config, ckpt: Checkpoint, exported: Exported, out: Path, log: Log) -> Exported:
    for precision in config.precisions:
        if precision is Precision.FP32:
            continue
        if precision is Precision.INT8:
            calibrate_int8(config, ckpt, exported, out, log)
        exported.models[precision] = precision_transforms.convert(
            exported.models[Precision.FP32],
            precision,
            out / precision.onnx_name,
            calibration=exported.calibration_table if precision is Precision.INT8 else None,
        )
        log(f"wrote {precision.onnx_name}")
    return exported


def build_engines(exported: Exported, out: Path, engine_config, *, enabled: bool, log: Log) -> Exported:
    """TensorRT engines where TensorRT and a GPU exist; otherwise a note says why not."""
    if not enabled:
        return exported
    support = engine_support()
    if not support.ok:
        exported.engine_note = f"TensorRT engines skipped: {support.reason}"
        log(exported.engine_note)
        return exported
    table = exported.calibration_table.path if exported.calibration_table is not None else None
    for precision in exported.models:
        if engine_config.dla_core is not None and precision is Precision.FP32:
            continue  # DLA runs FP16 and INT8 only
        engine_path = out / precision.engine_name
        source, ranges = engine_source(precision, engine_config, exported.models, table)  # INT8 on DLA: FP32 + ranges
        build_engine(source, engine_path, precision, engine_config, calibration_table=ranges)
        exported.engines += [engine_path, engine_path.with_suffix(".json")]
    return exported
