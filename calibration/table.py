"""Calibration tables: per-tensor activation ranges from onnxruntime's calibrators.

A table is keyed by the FP32 model's sha256, the calibration set's key and the method; it is
reused while all three match and recomputed when any changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alexnet_edge.calibration.calib_set import CalibrationSet
from alexnet_edge.calibration.config import DEFAULTS, METHODS
from alexnet_edge.calibration.errors import CalibrationError
from alexnet_edge.runtime.constants import INPUT_NAME
from alexnet_edge.runtime.errors import InputError
from alexnet_edge.runtime.fileio import sha256_file, write_json
from alexnet_edge.runtime.preprocess import validate_batch
from alexnet_edge.runtime.progress import Progress, track

logger = logging.getLogger(__name__)

TABLE_FORMAT = "alexnet-edge-calibration/1"
DEFAULT_METHOD = DEFAULTS.method
# Histogram methods look at |x| so the ranges come out symmetric, as TensorRT's int8 needs.
# onnxruntime's entropy default (128 bins into 128 quantized bins) leaves KL nothing to search, so it
# returns the plain min/max; 2048 bins into 128, as TensorRT's entropy calibrator does, lets it clip.
CALIBRATOR_OPTIONS: dict[str, dict] = {
    "minmax": {},
    "entropy": {"symmetric": True, "num_bins": 2048, "num_quantized_bins": 128},
    "percentile": {"symmetric": True, "num_bins": 2048, "percentile": 99.999},
}


@dataclass(frozen=True)
class CalibrationTable:
    method: str
    key: str
    tensors: dict  # onnxruntime TensorsData.to_dict()
    path: Path
    reused: bool


def ort_method(method: str):
    from onnxruntime.quantization import CalibrationMethod

    mapping = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }
    if method not in mapping:
        raise CalibrationError(f"unknown calibration method {method!r}; choose one of {', '.join(METHODS)}")
    return mapping[method]


def table_key(model_sha256: str, calib_set: CalibrationSet, method: str) -> str:
    payload = json.dumps(
        {"model": model_sha256, "set": calib_set.key, "method": method, "options": CALIBRATOR_OPTIONS.get(method)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


PASSTHROUGH_OPS = ("Relu", "MaxPool", "Reshape", "Flatten")


def propagate_through_passthrough(model_path: str | Path, tensors: dict) -> list[str]:
    """Give the outputs of ReLU/MaxPool/Reshape the upper bound of the tensor that feeds them.

    KL-divergence thresholds are meaningful on the signed pre-activation distribution. On a ReLU
    output, half of the values sit in the zero bin and the search collapses (here: 3.71 -> 0.24 on
    features.9), costing 5.4 accuracy points. These ops create no value above their input's, so
    they take its threshold, as TensorRT propagates scales through them. Returns the tensors changed.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    data = tensors["data"]
    changed = []
    for name in data:
        source, node = name, producer.get(name)
        while node is not None and node.op_type in PASSTHROUGH_OPS:
            source = node.input[0]
            node = producer.get(source)
        if source != name and source in data:
            data[name]["highest"] = data[source]["highest"]
            changed.append(name)
    return changed


def even_batch(count: int, preferred: int) -> int:
    """The largest batch size <= ``preferred`` that divides ``count``: onnxruntime's histogram
    collectors stack every batch's outputs and fail on a short last batch (e.g. 200 images in 64s)."""
    return next(b for b in range(min(preferred, count), 0, -1) if count % b == 0)


class _Batches:
    """onnxruntime CalibrationDataReader over an in-memory array."""

    def __init__(self, images, batch_size: int, progress: Progress):
        starts = range(0, len(images), batch_size)
        self._starts = iter(track(starts, total=len(starts), desc="calibrating", unit="batches", progress=progress))
        self._images = images
        self._batch_size = batch_size

    def get_next(self):
        start = next(self._starts, None)
        if start is None:
            return None
        return {INPUT_NAME: self._images[start : start + self._batch_size]}


def calibrate(
    model_path: str | Path,
    calib_set: CalibrationSet,
    *,
    method: str = DEFAULT_METHOD,
    table_path: str | Path,
    batch_size: int = 64,
    progress: Progress = False,
) -> CalibrationTable:
    """Compute (or reuse) the activation ranges of ``model_path`` on ``calib_set``."""
    calibrate_method = ort_method(method)
    try:
        validate_batch(calib_set.images)
    except InputError as exc:
        raise CalibrationError(f"calibration images: {exc}") from None
    model_sha256 = sha256_file(model_path)
    key = table_key(model_sha256, calib_set, method)
    table_path = Path(table_path)
    saved = _saved_tensors(table_path, key)
    if saved is not None:
        return CalibrationTable(method, key, saved, table_path, True)

    from onnxruntime.quantization import create_calibrator
    from onnxruntime.quantization.calibrate import CalibrationCacheEncoder

    extra = CALIBRATOR_OPTIONS[method]
    with tempfile.TemporaryDirectory(prefix="alexnet-calib-") as tmp:
        calibrator = create_calibrator(
            Path(model_path),
            [],
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=calibrate_method,
            extra_options=extra,
        )
        # onnxruntime's calibrators print their own progress to stdout: not the user's business
        # (our bar or heartbeat lines say how far it is), and stdout is kept for the report.
        with contextlib.redirect_stdout(io.StringIO()):
            calibrator.collect_data(_Batches(calib_set.images, even_batch(len(calib_set.images), batch_size), progress))
            ranges = calibrator.compute_data()
        del calibrator
    # Plain JSON (onnxruntime's own encoder), readable back by TensorsData.from_dict.
    tensors = json.loads(json.dumps(ranges, cls=CalibrationCacheEncoder))
    if method == "entropy":
        propagate_through_passthrough(model_path, tensors)
    write_json(
        table_path,
        {
            "format": TABLE_FORMAT,
            "key": key,
            "method": method,
            "model_sha256": model_sha256,
            "calibration_set": calib_set.to_dict(),
            "tensors": tensors,
            "tensors_sha256": tensors_sha256(tensors),  # checked before the table is reused
        },
    )
    return CalibrationTable(method, key, tensors, table_path, False)


def tensors_sha256(tensors: dict) -> str:
    """The content hash of a table's ranges, recorded when it is written."""
    return hashlib.sha256(json.dumps(tensors, sort_keys=True).encode()).hexdigest()


def _saved_tensors(table_path: Path, key: str) -> dict | None:
    """The ranges of the table saved for ``key``, when it is whole (its ranges' sha256 as recorded); None
    when there is none, it is another key's, or it is damaged (said in one line: it is then recomputed)."""
    if not table_path.is_file():
        return None
    try:
        saved = json.loads(table_path.read_text())
    except (OSError, ValueError):
        saved = None
    if isinstance(saved, dict) and (saved.get("format") != TABLE_FORMAT or saved.get("key") != key):
        return None  # another model's, set's or method's table: replaced
    tensors = saved.get("tensors") if isinstance(saved, dict) else None
    if not isinstance(tensors, dict) or not tensors:
        problem = "not readable JSON" if saved is None else "holds no ranges"
    elif saved.get("tensors_sha256") != tensors_sha256(tensors):
        problem = "its ranges differ from the sha256 recorded when it was written (or none was recorded)"
    else:
        return tensors
    logger.warning("calibration table %s %s: recomputing it", table_path, problem)
    return None
