"""Precision transforms, ONNX -> ONNX, so that TensorRT 8.6, 10.x and 11.x all compile the same file.

* FP16: FP16 weights and compute with FP32 ``input``/``logits`` (onnxconverter-common).
* INT8: explicit Q/DQ from onnxruntime's quantizer: symmetric int8 (zero point 0), per-channel
  weights on the output-channel axis, per-tensor activations from a calibration table, float bias
  (TensorRT's parser takes no int32 DequantizeLinear), and no Q/DQ on the logits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from pathlib import Path

import onnx

from alexnet_edge.calibration.table import CalibrationTable, ort_method
from alexnet_edge.runtime.errors import BackendUnavailableError, CalibrationError
from alexnet_edge.runtime.precision import Precision

from .onnx_export import load_onnx, read_metadata, save_checked, set_metadata

# onnxruntime's quantizer settings; the closing note and docs/precision.md say why each one.
INT8_EXTRA_OPTIONS = {
    "ActivationSymmetric": True,
    "WeightSymmetric": True,
    "QuantizeBias": False,
}


def strip_output_qdq(model: onnx.ModelProto) -> int:
    """Remove Q -> DQ pairs that feed graph outputs, so the logits stay float. Returns how many."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    removed = 0
    for output in graph.output:
        dq = producer.get(output.name)
        if dq is None or dq.op_type != "DequantizeLinear":
            continue
        q = producer.get(dq.input[0])
        if q is None or q.op_type != "QuantizeLinear":
            continue
        source = producer.get(q.input[0])
        if source is None:
            continue
        graph.node.remove(dq)
        graph.node.remove(q)
        source.output[list(source.output).index(q.input[0])] = output.name
        removed += 1
    used = {name for node in graph.node for name in node.input}
    for init in list(graph.initializer):
        if init.name not in used:
            graph.initializer.remove(init)
    return removed


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime's quantizer logs advice on the root logger; keep the user's console to our lines."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _to_fp16(src: Path) -> onnx.ModelProto:
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        # It warns for every weight under FP16's smallest normal; the parity checks judge the result.
        warnings.simplefilter("ignore", UserWarning)
        return float16.convert_float_to_float16(load_onnx(src), keep_io_types=True)


def _to_int8(src: Path, table: CalibrationTable) -> onnx.ModelProto:
    try:
        from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    except ImportError:
        raise BackendUnavailableError("INT8 quantization needs onnxruntime: pip install 'alexnet-edge[cpu]'") from None
    with tempfile.TemporaryDirectory(prefix="alexnet-int8-") as tmp:
        cache = Path(tmp) / "ranges.json"
        cache.write_text(json.dumps({**table.tensors, "smooth_quant": False}))
        out = Path(tmp) / "int8.onnx"
        try:
            with _quiet_root_logger():
                quantize_static(
                    str(src),
                    str(out),
                    calibration_data_reader=None,
                    calibration_cache_path=str(cache),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    calibrate_method=ort_method(table.method),
                    extra_options=dict(INT8_EXTRA_OPTIONS),
                )
        except TypeError as exc:
            if "calibration_cache_path" in str(exc):
                raise BackendUnavailableError(
                    "INT8 quantization needs onnxruntime >= 1.32 (quantize_static calibration_cache_path)"
                ) from None
            raise
        model = onnx.load(str(out))
    strip_output_qdq(model)
    return model


def convert(
    fp32_path: str | Path,
    precision: Precision,
    out_path: str | Path,
    *,
    calibration: CalibrationTable | None = None,
) -> Path:
    """Write the ``precision`` version of an FP32 ONNX model; metadata records how it was made."""
    src = Path(fp32_path)
    metadata = read_metadata(load_onnx(src))
    metadata["precision"] = precision.value
    if precision is Precision.FP32:
        model = load_onnx(src)
    elif precision is Precision.FP16:
        model = _to_fp16(src)
        metadata["precision_tool"] = "onnxconverter-common float16 (keep_io_types)"
    else:
        if calibration is None:
            raise CalibrationError("INT8 needs a calibration table")
        model = _to_int8(src, calibration)
        metadata["precision_tool"] = "onnxruntime quantize_static QDQ"
        metadata["int8"] = {
            "scheme": "symmetric int8, zero point 0; per-channel weights (axis 0); per-tensor activations",
            "calibration_method": calibration.method,
            "calibration_key": calibration.key,
            "bias": "float",
            "logits": "float (no Q/DQ)",
        }
    set_metadata(model, metadata)
    return save_checked(model, out_path)
