"""Precision transforms, ONNX -> ONNX, so that TensorRT 8.6, 10.x and 11.x all compile the same file.

One transform per registered precision (runtime/precision.py), registered here with
``register_transform`` (a plug-in or a test's toy precision: ``registered_transform``); ``convert`` runs
it, and fails closed with one line for a precision without one.

* FP16: FP16 weights and compute with FP32 ``input``/``logits`` (onnxconverter-common).
* INT8: explicit Q/DQ from onnxruntime's quantizer: symmetric int8 (zero point 0), per-channel
  weights on the output-channel axis quantized to 7 bits (within +-64), per-tensor activations from a
  calibration table, float bias (TensorRT's parser takes no int32 DequantizeLinear), and no Q/DQ on
  the logits. 7-bit weights keep x86 CPUs without VNNI exact: their int8 kernels add u8*s8 pairs into
  a saturating int16, which 8-bit weights overflow (81.4% instead of 88.6% on AVX2; docs/targets.md).
* INT4W: the INT8 model's convolutions, the fully connected layers' weights in INT4 (MatMulNBits;
  int4_weights.py).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import onnx

from alexnet_edge.calibration.errors import CalibrationError
from alexnet_edge.calibration.table import CalibrationTable, ort_method
from alexnet_edge.export.convert import int4_weights
from alexnet_edge.export.convert.onnx_export import load_onnx, quiet_loggers, read_metadata, save_checked, set_metadata
from alexnet_edge.runtime.backends.registry import backend_spec
from alexnet_edge.runtime.cpu_features import SATURATION_SAFE_WEIGHT_MAX
from alexnet_edge.runtime.errors import BackendUnavailableError, UnknownPrecisionError
from alexnet_edge.runtime.precision import Precision, PrecisionKey, spec_for

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


def _to_fp16(src: Path) -> onnx.ModelProto:
    from onnxconverter_common import float16

    with warnings.catch_warnings():
        # It warns for every weight under FP16's smallest normal; the parity checks judge the result.
        warnings.simplefilter("ignore", UserWarning)
        return float16.convert_float_to_float16(load_onnx(src), keep_io_types=True)


def _to_int8(src: Path, table: CalibrationTable, weight_bits: int) -> onnx.ModelProto:
    try:
        from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    except ImportError:
        hint = backend_spec("onnxruntime").install_hint(bundled=False)
        raise BackendUnavailableError(f"INT8 quantization needs onnxruntime: {hint}") from None
    with tempfile.TemporaryDirectory(prefix="alexnet-int8-") as tmp:
        cache = Path(tmp) / "ranges.json"
        cache.write_text(json.dumps({**table.tensors, "smooth_quant": False}))
        out = Path(tmp) / "int8.onnx"
        try:
            with quiet_loggers(""):  # onnxruntime's quantizer logs its advice on the root logger
                quantize_static(
                    str(src),
                    str(out),
                    calibration_data_reader=None,
                    calibration_cache_path=str(cache),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    reduce_range=weight_bits == 7,  # weights in [-64, 64]: no int16 pair saturation on AVX2
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


def int8_weight_max(model: onnx.ModelProto) -> int:
    """The largest |q| among int8 initializers that a DequantizeLinear reads (the quantized weights)."""
    from onnx import numpy_helper

    dq_inputs = {node.input[0] for node in model.graph.node if node.op_type == "DequantizeLinear"}
    largest = 0
    for init in model.graph.initializer:
        if init.name in dq_inputs and init.data_type == onnx.TensorProto.INT8:
            values = numpy_helper.to_array(init).astype("int16")
            if values.size:
                largest = max(largest, int(abs(values).max()))
    return largest


def int8_scheme(model: onnx.ModelProto, table: CalibrationTable, weight_bits: int) -> dict[str, object]:
    """What the int8 model is, read back from its weights so the saturation claim is checked, not assumed."""
    weight_max = int8_weight_max(model)
    return {
        "scheme": (
            f"symmetric int8, zero point 0; per-channel {weight_bits}-bit weights "
            f"(axis 0, within +-{weight_max}); per-tensor activations"
        ),
        "weight_bits": weight_bits,
        "weight_max_abs": weight_max,
        "saturation_safe": weight_max <= SATURATION_SAFE_WEIGHT_MAX,
        "saturation_note": (
            "safe on int8 paths that add u8*s8 pairs into a saturating int16 (x86 AVX2 / AVX-512 without VNNI)"
        ),
        "calibration_method": table.method,
        "calibration_key": table.key,
        "bias": "float",
        "logits": "float (no Q/DQ)",
    }


@dataclass(frozen=True)
class TransformInputs:
    """What a transform may use besides the FP32 model: the calibration table (given whenever the
    precision's spec ``needs_calibration``) and the INT8 weight bits."""

    calibration: CalibrationTable | None = None
    int8_weight_bits: int = 7


# (FP32 model, inputs) -> (the precision's model, the metadata it adds: its tool and scheme)
Transform = Callable[[Path, TransformInputs], tuple[onnx.ModelProto, dict[str, object]]]
_TRANSFORMS: dict[str, Transform] = {}


def register_transform(precision: PrecisionKey, transform: Transform) -> None:
    """The ONNX transform of a registered precision; a second one for the same precision is refused."""
    name = spec_for(precision).name
    if name in _TRANSFORMS:
        raise UnknownPrecisionError(f"precision {name!r} has an ONNX transform already")
    _TRANSFORMS[name] = transform


def unregister_transform(precision: PrecisionKey) -> None:
    _TRANSFORMS.pop(precision.value, None)


@contextmanager
def registered_transform(precision: PrecisionKey, transform: Transform) -> Iterator[None]:
    """``transform`` registered for ``precision`` for the ``with`` block, removed after it."""
    register_transform(precision, transform)
    try:
        yield
    finally:
        unregister_transform(precision)


def transform_for(precision: PrecisionKey) -> Transform:
    """The registered transform of ``precision``; an unknown precision, or one without a transform, fails
    closed with one line."""
    name = spec_for(precision).name
    if name not in _TRANSFORMS:
        raise UnknownPrecisionError(f"no ONNX transform is registered for precision {name!r}")
    return _TRANSFORMS[name]


def convert(
    fp32_path: str | Path,
    precision: PrecisionKey,
    out_path: str | Path,
    *,
    calibration: CalibrationTable | None = None,
    int8_weight_bits: int = 7,
) -> Path:
    """Write the ``precision`` version of an FP32 ONNX model with its registered transform; metadata
    records how it was made.

    ``int8_weight_bits=8`` gives full-range weights, which only VNNI/AMX, ARM and TensorRT add up
    exactly; it exists to measure that difference, and its metadata says it is not saturation-safe.
    """
    if int8_weight_bits not in (7, 8):
        raise CalibrationError(f"int8 weights are 7 or 8 bits, got {int8_weight_bits}")
    spec, transform = spec_for(precision), transform_for(precision)
    if spec.needs_calibration and calibration is None:
        raise CalibrationError(f"{spec.label} needs a calibration table")
    src = Path(fp32_path)
    metadata = read_metadata(load_onnx(src))
    metadata["precision"] = precision.value
    model, added = transform(src, TransformInputs(calibration, int8_weight_bits))
    metadata.update(added)
    set_metadata(model, metadata)
    return save_checked(model, out_path)


def _fp32(src: Path, inputs: TransformInputs) -> tuple[onnx.ModelProto, dict[str, object]]:
    return load_onnx(src), {}


def _fp16(src: Path, inputs: TransformInputs) -> tuple[onnx.ModelProto, dict[str, object]]:
    return _to_fp16(src), {"precision_tool": "onnxconverter-common float16 (keep_io_types)"}


def _int8(src: Path, inputs: TransformInputs) -> tuple[onnx.ModelProto, dict[str, object]]:
    table, bits = inputs.calibration, inputs.int8_weight_bits
    if table is None:
        raise CalibrationError("INT8 needs a calibration table")
    model = _to_int8(src, table, bits)
    return model, {"precision_tool": "onnxruntime quantize_static QDQ", "int8": int8_scheme(model, table, bits)}


def _int4w(src: Path, inputs: TransformInputs) -> tuple[onnx.ModelProto, dict[str, object]]:
    """The INT8 model's convolutions (the same quantize_static run), the classifier in INT4 (int4_weights.py)."""
    table, bits = inputs.calibration, inputs.int8_weight_bits
    if table is None:
        raise CalibrationError("INT4W needs a calibration table (its convolutions are INT8's)")
    model, scheme = int4_weights.int4w_model(_to_int8(src, table, bits), load_onnx(src))
    return model, {
        "precision_tool": "onnxruntime quantize_static QDQ (convolutions) + MatMulNBitsQuantizer (classifier)",
        "int8": int8_scheme(model, table, bits),
        "int4w": scheme,
    }


register_transform(Precision.FP32, _fp32)
register_transform(Precision.FP16, _fp16)
register_transform(Precision.INT8, _int8)
register_transform(Precision.INT4W, _int4w)
