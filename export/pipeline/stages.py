"""The pipeline's stages: each a small function from explicit, typed inputs to one frozen artifact
(``artifacts.py``); none reads the whole config, none changes what it was given.

load_data -> load_or_train -> reference_logits -> export_fp32 -> [calibrate_int8] -> convert_precisions
-> build_engines -> evaluate (evaluate_stage.py) -> (pipeline_outputs.py) report, manifest and bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from alexnet_edge.calibration import cifar10
from alexnet_edge.calibration.calib_set import (
    build_calibration_set,
    build_user_calibration_set,
)
from alexnet_edge.calibration.config import CalibrationConfig
from alexnet_edge.calibration.errors import CalibrationError, DatasetError
from alexnet_edge.calibration.table import calibrate
from alexnet_edge.calibration.user_data import UserData, read_labelled, read_unlabelled
from alexnet_edge.export.convert import onnx_export
from alexnet_edge.export.convert import transforms as precision_transforms
from alexnet_edge.export.model.alexnet import alexnet_cifar10, fold_batchnorm
from alexnet_edge.export.model.architecture import has_batchnorm
from alexnet_edge.export.model.recipe import Recipe
from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.model.train import train
from alexnet_edge.export.pipeline import work_dirs
from alexnet_edge.export.pipeline.artifacts import (
    Artifact,
    ArtifactKind,
    Calibrated,
    Checkpoint,
    Converted,
    Engines,
    EvalData,
    Exported,
    Reference,
)
from alexnet_edge.export.pipeline.reference_cache import CacheEntry
from alexnet_edge.runtime.backends.registry import open_runner
from alexnet_edge.runtime.backends.tensorrt.builder import engine_support
from alexnet_edge.runtime.compare import accuracy
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.deploy import build_engines_for
from alexnet_edge.runtime.errors import ToleranceError
from alexnet_edge.runtime.evaluation import judge
from alexnet_edge.runtime.fidelity import Tolerance
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision, PrecisionKey, spec_for
from alexnet_edge.runtime.preprocess import normalize_uint8

PARITY_IMAGES = 512  # export/simplify parity check: enough real images to catch a broken graph quickly
Log = Callable[[str], None]


def load_data(
    data_root: Path, eval_size: int | None, *, download: bool, log: Log, eval_data: Path | None = None
) -> EvalData:
    """The evaluation images: the first ``eval_size`` of CIFAR-10's test_batch (md5-checked), or the user's.

    Args:
        data_root: the folder holding cifar-10-batches-py/.
        eval_size: how many images (None: all).
        download: fetch the official archive where test_batch is absent.
        log: one line per event.
        eval_data: the user's labelled images instead (class folders or .npz).
    Returns:
        EvalData: the whole source (uint8, for the bundle), the normalized images and their labels.
    """
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


def load_or_train(
    checkpoint: Path | None, *, data_root: Path, recipe: Recipe, variant: str, out: Path, progress, log: Log
) -> Checkpoint:
    """The given checkpoint, or one trained first into ``out`` with ``recipe``.

    Args:
        checkpoint: a state_dict file, or None to train (on ``data_root``, ``variant``, ``recipe``).
        out, progress, log: where a trained checkpoint, progress and lines go.
    Returns:
        Checkpoint: path, sha256, the model in eval mode, and whether its BatchNorms are folded at export.
    """
    path = checkpoint
    if path is None:
        log("no --checkpoint: training one first")
        present = cifar10.available_train_batches(data_root)
        missing = [f for f in recipe.train_files if f not in present]
        if missing:
            raise DatasetError(
                f"training reads {', '.join(recipe.train_files)} but {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not in {cifar10.batches_dir(data_root)} "
                f"(present: {', '.join(present) or 'none'}); pass --train-batches to train on what is there"
            )
        path = train(data_root, out, recipe=recipe, progress=progress, log=log, variant=variant)
    model = alexnet_cifar10(weights=path, variant=variant)
    return Checkpoint(Path(path), sha256_file(path), model, has_batchnorm(variant))


def reference_logits(
    runner: TorchRunner, data: EvalData, *, progress, log: Log, cache: CacheEntry | None = None
) -> Reference:
    """PyTorch FP32's logits on every evaluation image: what each artifact is judged against; read from
    ``cache`` (``reference_cache.py``) where it holds them, else computed (and stored there)."""
    logits = cache.load(log) if cache is not None else None
    if logits is not None:
        log(f"PyTorch FP32 logits of {len(logits)} images read from the cache ({cache.array})")
    else:
        logits = runner.infer_many(data.images, progress=progress)
        if cache is not None:
            cache.store(logits, log)
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
    failed.extend(failures)
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
    """Export, simplify, and check both against PyTorch (the unfolded model: the fold is checked too).

    Returns:
        Exported: the simplified FP32 model as an Artifact, both parity checks, and the checks beyond
        ``tolerance`` (the run goes on, so that exit 1 comes with the report naming what moved).
    """
    target = out / Precision.FP32.onnx_name
    metadata = onnx_export.base_metadata(checkpoint_sha256=ckpt.sha256, precision=Precision.FP32.value, opset=opset)
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
    fp32 = Artifact(Precision.FP32, target, ArtifactKind.ONNX)
    return Exported(fp32, tuple(checks), asdict(simplified), failures=tuple(failed))


def _log_skipped(user: UserData, log: Log) -> None:
    if user.skipped:
        shown = "; ".join(user.skipped[:5]) + ("; …" if len(user.skipped) > 5 else "")
        log(f"skipped {len(user.skipped)} unreadable file(s) in {user.source}: {shown}")


def _calibration_set(
    calibration: CalibrationConfig, data_root: Path, checkpoint_sha256: str, cache_dir: Path, progress, log: Log
):
    if calibration.data is None:
        return build_calibration_set(
            data_root,
            size=calibration.cifar_size,
            seed=calibration.seed,
            files=calibration.files,
            checkpoint_sha256=checkpoint_sha256,
            cache_dir=cache_dir,
            progress=progress,
        )
    user = read_unlabelled(calibration.data)
    _log_skipped(user, log)
    return build_user_calibration_set(
        user,
        size=calibration.size,
        seed=calibration.seed,
        checkpoint_sha256=checkpoint_sha256,
        cache_dir=cache_dir,
        progress=progress,
    )


def calibrate_int8(
    calibration: CalibrationConfig,
    fp32: Artifact,
    *,
    data_root: Path,
    checkpoint_sha256: str,
    out: Path,
    progress,
    log: Log,
) -> Calibrated:
    """The INT8 calibration set (CIFAR-10 train batches or ``--calib-data``) and its table for ``fp32``.

    Returns:
        Calibrated: the table (reused when its key matches), the report's entry, and the files written.
    """
    calib_dir = out / "calibration"
    built = _calibration_set(calibration, data_root, checkpoint_sha256, calib_dir, progress, log)
    table = calibrate(
        fp32.path,
        built,
        method=calibration.method,
        table_path=calib_dir / f"calibration_table.{calibration.method}.json",
        progress=progress,
    )
    summary = {
        **built.to_dict(),
        "method": table.method,
        "table": str(table.path.relative_to(out)),
        "set_reused": built.reused,
        "table_reused": table.reused,
    }
    log(
        f"calibration: {len(built)} images of {built.source}, {table.method}, "
        f"table {'reused' if table.reused else 'computed'}"
    )
    return Calibrated(table, summary, tuple(sorted(calib_dir.glob("*"))))


def convert_precisions(
    exported: Exported, precisions: tuple[PrecisionKey, ...], out: Path, *, calibrated: Calibrated | None, log: Log
) -> Converted:
    """The other precisions' models of ``exported``'s FP32 model, each by its registered transform (a
    precision whose spec ``needs_calibration``, INT8, needs ``calibrated``).

    Returns:
        Converted: one Artifact per precision asked for, FP32 first, and the calibration used.
    """
    models = [exported.model]
    for precision in (p for p in precisions if p is not Precision.FP32):
        spec = spec_for(precision)
        if spec.needs_calibration and calibrated is None:
            raise CalibrationError(f"{spec.label} needs a calibration table: run calibrate_int8 first")
        path = precision_transforms.convert(
            exported.model.path,
            precision,
            out / precision.onnx_name,
            calibration=calibrated.table if spec.needs_calibration and calibrated is not None else None,
        )
        models.append(Artifact(precision, path, ArtifactKind.ONNX))
        log(f"wrote {precision.onnx_name}")
    return Converted(tuple(models), calibrated)


def build_engines(converted: Converted, out: Path, engine_config, *, enabled: bool, log: Log) -> Engines:
    """TensorRT engines where TensorRT and a GPU exist; otherwise a note says why not.

    Returns:
        Engines: one ENGINE Artifact (with its sidecar) per model built, or none and the note.
    """
    if not enabled:
        return Engines()
    support = engine_support()
    if not support.ok:
        note = f"TensorRT engines skipped: {support.reason}"
        log(note)
        return Engines(note=note)
    table = converted.calibration.table.path if converted.calibration is not None else None
    precisions = [m.precision for m in converted.models]
    built = build_engines_for(converted.paths(), precisions, out, engine_config, table)
    return Engines(tuple(Artifact(precision, path, ArtifactKind.ENGINE) for precision, path, _ in built))
