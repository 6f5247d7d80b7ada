"""INT8 on DLA: implicit quantization from the calibration table, never the Q/DQ model.

DLA runs only implicitly quantized networks: calibration scales, not Q/DQ layers (NVIDIA/TensorRT
#2222, pranavm-nvidia: convert to implicit quantization and it works with DLA; NVIDIA-AI-IOT/
cuDLA-samples #19; NVIDIA/Model-Optimizer PR #1661, "DLA still only supports IQ"). So an INT8 DLA
engine is built from the FP32 model with ``BuilderFlag.INT8`` (and FP16, so a layer without a
range stays on DLA in FP16) on a weakly typed network, with each tensor's range from
calibration/table.py set through ``ITensor.set_dynamic_range(-amax, amax)``, as NVIDIA's
sampleINT8API does. Per release:

- 8.5, 8.6: ``BuilderFlag.INT8`` and ``ITensor.set_dynamic_range`` (python/src/infer/pyGraph.cpp at 8.5.2, v8.6.1);
- 10.x: the same, deprecated from 10.1 ("Superseded by explicit quantization", pyGraph.cpp at
  v10.3.0) but bound, and DLA still needs it; the network must not be strongly typed, which
  rejects precision flags;
- 11.x: no ``BuilderFlag.INT8``, no ``set_dynamic_range``, no INT8 calibrators (pyCore.cpp /
  pyGraph.cpp at v11.1; the 11.3 docs: "kINT8 ... not valid for DLA builds"): no INT8 DLA path, refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from alexnet_edge.runtime.errors import DlaInt8Error, ModelFileError
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision

CALIBRATION_FORMAT = "alexnet-edge-calibration/1"  # calibration/table.py TABLE_FORMAT (runtime may not import it)


def is_dla_int8(precision: Precision, config) -> bool:
    return precision is Precision.INT8 and config.dla_core is not None


def engine_source(
    precision: Precision, config, models: dict[Precision, Path], calibration_table: Path | None
) -> tuple[Path, Path | None]:
    """The (ONNX model, calibration table or None) a build of ``precision`` under ``config`` starts from:
    the model of that precision, except INT8 on DLA (dla_int8_source)."""
    if is_dla_int8(precision, config):
        return dla_int8_source(models, calibration_table)
    return Path(models[precision]), None


def dla_int8_source(models: dict[Precision, Path], calibration_table: Path | None) -> tuple[Path, Path]:
    """The (ONNX model, calibration table) an INT8 DLA engine is built from: the FP32 model and its ranges.

    Args:
        models: the models at hand, by precision (the pipeline's, or a bundle's models/).
        calibration_table: calibration/table.py's JSON for the FP32 model.
    Returns:
        (FP32 model path, calibration table path); DlaInt8Error naming what is missing.
    """
    fp32 = models.get(Precision.FP32)
    if fp32 is None or not Path(fp32).is_file():
        raise DlaInt8Error(
            f"INT8 on DLA is built from {Precision.FP32.onnx_name} and the calibration table "
            "(DLA runs no Q/DQ networks), and the FP32 model is not here"
        )
    if calibration_table is None or not Path(calibration_table).is_file():
        raise DlaInt8Error(
            f"INT8 on DLA needs the calibration table of {Precision.FP32.onnx_name} "
            f"(calibration_table.json); it is not here: export with --int8 again"
        )
    return Path(fp32), Path(calibration_table)


def check_dla_int8(trt) -> None:
    """Refuse, in one line, a TensorRT without implicit INT8 (11.x)."""
    if "INT8" not in trt.BuilderFlag.__members__:
        raise DlaInt8Error(
            f"TensorRT {trt.__version__} has no INT8 path on DLA: DLA runs only implicit quantization, and "
            f"{trt.__version__.split('.')[0]}.x has no BuilderFlag.INT8 or per-tensor ranges; build fp16 for "
            "DLA, int8 on the GPU (no --dla-core), or use TensorRT 10.x (JetPack 6)"
        )


def read_ranges(table_path: Path, onnx_path: Path) -> dict[str, float]:
    """Tensor name -> symmetric amax, from a table computed for exactly ``onnx_path``."""
    try:
        table = json.loads(Path(table_path).read_text())
    except (OSError, ValueError):
        raise ModelFileError(f"{table_path}: not a readable calibration table") from None
    if not isinstance(table, dict) or table.get("format") != CALIBRATION_FORMAT:
        raise ModelFileError(f"{table_path}: not an alexnet-edge calibration table ({CALIBRATION_FORMAT})")
    if table.get("model_sha256") != sha256_file(onnx_path):
        raise DlaInt8Error(
            f"{table_path} was computed for another model than {Path(onnx_path).name}: "
            "DLA INT8 needs the ranges of the FP32 model it builds"
        )
    ranges = {}
    for name, entry in table.get("tensors", {}).get("data", {}).items():
        low, high = _value(entry.get("lowest")), _value(entry.get("highest"))
        if low is not None and high is not None and max(abs(low), abs(high)) > 0:
            ranges[name] = max(abs(low), abs(high))
    return ranges


def _value(raw) -> float | None:
    """onnxruntime's TensorsData JSON: a float, or {"data": x, "CLS": "numpy.array"}."""
    if isinstance(raw, dict):
        raw = raw.get("data")
    if isinstance(raw, list):
        raw = raw[0] if len(raw) == 1 else None
    return float(raw) if isinstance(raw, (int, float)) else None


def set_dynamic_ranges(network, ranges: dict[str, float]) -> dict:
    """Give every network tensor the table has a range for ``[-amax, amax]``; returns what was set and missed."""
    tensors = [network.get_input(i) for i in range(network.num_inputs)]
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        tensors += [layer.get_output(j) for j in range(layer.num_outputs)]
    applied, missing = 0, []
    for tensor in tensors:
        amax = ranges.get(tensor.name)
        if amax is None:
            missing.append(tensor.name)
            continue
        tensor.set_dynamic_range(-amax, amax)
        applied += 1
    if not applied:
        raise DlaInt8Error(
            "no tensor of the parsed network has a range in the calibration table: is it the FP32 model's?"
        )
    return {"tensors_with_ranges": applied, "tensors_without": missing}
