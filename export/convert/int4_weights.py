"""INT4 weight-only classifier (``int4w``): the INT8 model's convolutions, 4-bit fully connected weights.

91% of the model's weights are the classifier (2304 -> 4096 -> 4096 -> 10). ``int4w`` keeps every
Q/DQ convolution of the INT8 model exactly as ``quantize_static`` wrote it and stores the three fully
connected layers' weights in 4 bits:

1. ``float_classifier``: each ``Gemm`` becomes ``MatMul`` (on the FP32 weight, transposed to [K, N])
   + ``Add`` (the FP32 bias), and the Q/DQ pairs on the classifier's activations are dropped: the
   weight-only kernel takes float activations.
2. ``quantize_classifier``: onnxruntime's ``MatMulNBitsQuantizer`` (its default algorithm: round to
   nearest) turns each MatMul into the ``com.microsoft.MatMulNBits`` contrib op: symmetric INT4 (zero
   point 8 implied), one FP32 scale per block of 128 weights along K, ``accuracy_level=4``: onnxruntime
   quantizes the activations to int8 per block and multiplies int8 x int4 (its "CompInt8" kernels);
   without it the CPU dequantizes to FP32 and ran slower than the INT8 model (docs/precision.md).

The result runs on onnxruntime's CPU provider and on OpenVINO; TensorRT's ONNX parser has no importer
for a ``com.microsoft`` contrib op (runtime/precision.py holds the one-line refusal).
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import onnx
from onnx import helper, numpy_helper

from alexnet_edge.export.convert.onnx_export import quiet_loggers
from alexnet_edge.runtime.errors import BackendUnavailableError, ModelFileError

BITS = 4
BLOCK_SIZE = 128
ACCURACY_LEVEL = 4  # MatMulNBits: int8 activations per block, int8 x int4 dot products
QUANTIZER_LOGGER = "onnxruntime.quantization.matmul_nbits_quantizer"


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _float_source(name: str, producer: dict[str, onnx.NodeProto]) -> str:
    """The float tensor behind a Q -> DQ pair feeding ``name`` (``name`` itself when there is none)."""
    dq = producer.get(name)
    q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
    return q.input[0] if q is not None and q.op_type == "QuantizeLinear" else name


def _output_qdq(name: str, consumers: dict[str, list[onnx.NodeProto]]) -> str | None:
    """The DQ output of a Q -> DQ pair that is the only reader of ``name`` (None when there is none)."""
    readers = consumers.get(name, [])
    if len(readers) != 1 or readers[0].op_type != "QuantizeLinear":
        return None
    dqs = consumers.get(readers[0].output[0], [])
    return dqs[0].output[0] if len(dqs) == 1 and dqs[0].op_type == "DequantizeLinear" else None


def _fp32_weights(node: onnx.NodeProto, fp32: onnx.ModelProto) -> tuple[np.ndarray, np.ndarray | None]:
    """The [K, N] weight and the bias of the FP32 model's Gemm of the same name."""
    gemm = next((n for n in fp32.graph.node if n.op_type == "Gemm" and n.name == node.name), None)
    if gemm is None:
        raise ModelFileError(f"the FP32 model has no Gemm named {node.name!r} to take the classifier's weights from")
    attrs = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
    if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
        raise ModelFileError(
            f"Gemm {node.name!r} has alpha {attrs.get('alpha', 1.0)}, beta {attrs.get('beta', 1.0)}, "
            f"transA {attrs.get('transA', 0)}: only Y = X W^T + b (alpha 1, beta 1, transA 0) becomes MatMul + Add"
        )
    initializers = {i.name: i for i in fp32.graph.initializer}
    if gemm.input[1] not in initializers:
        raise ModelFileError(f"Gemm {node.name!r}: its weight {gemm.input[1]!r} is not a constant")
    weight = numpy_helper.to_array(initializers[gemm.input[1]])
    weight = weight.T if attrs.get("transB", 0) else weight
    bias = numpy_helper.to_array(initializers[gemm.input[2]]) if len(gemm.input) > 2 and gemm.input[2] else None
    return np.ascontiguousarray(weight, dtype=np.float32), bias


def float_classifier(quantized: onnx.ModelProto, fp32: onnx.ModelProto) -> onnx.ModelProto:
    """``quantized`` with every Gemm turned into MatMul + Add on ``fp32``'s weights and no Q/DQ around it."""
    model = onnx.ModelProto()
    model.CopyFrom(quantized)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)
    nodes, rename = [], {}
    for node in graph.node:
        if node.op_type != "Gemm":
            nodes.append(node)
            continue
        weight, bias = _fp32_weights(node, fp32)
        weight_name = f"{node.name}.weight_KxN"
        graph.initializer.append(numpy_helper.from_array(weight, weight_name))
        out = node.output[0]
        matmul_out = out if bias is None else f"{out}_matmul"
        nodes.append(
            helper.make_node(
                "MatMul",
                [_float_source(node.input[0], producer), weight_name],
                [matmul_out],
                name=f"{node.name}_MatMul",
            )
        )
        if bias is not None:
            graph.initializer.append(numpy_helper.from_array(bias, f"{node.name}.bias"))
            nodes.append(helper.make_node("Add", [matmul_out, f"{node.name}.bias"], [out], name=f"{node.name}_Add"))
        dequantized = _output_qdq(out, consumers)
        if dequantized is not None:
            rename[dequantized] = out
    for node in nodes:
        for index, name in enumerate(node.input):
            node.input[index] = rename.get(name, name)
    graph.ClearField("node")
    graph.node.extend(nodes)
    _prune(model)
    return model


def _prune(model: onnx.ModelProto) -> None:
    """Drop the nodes nothing reads any more (the classifier's Q/DQ pairs, its weights' DQ) and their constants."""
    graph, outputs = model.graph, {o.name for o in model.graph.output}
    while True:
        used = {name for node in graph.node for name in node.input} | outputs
        keep = [node for node in graph.node if any(out in used for out in node.output)]
        if len(keep) == len(graph.node):
            break
        graph.ClearField("node")
        graph.node.extend(keep)
    used = {name for node in graph.node for name in node.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def _quantizer_class():
    """onnxruntime's MatMulNBitsQuantizer. Its module calls ``logging.basicConfig(level=INFO)`` when imported
    (a handler on the root logger, 1.32.0); the root logger's handlers and level are put back after the import."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    except ImportError:
        raise BackendUnavailableError(
            "INT4 weight quantization needs onnxruntime's MatMulNBitsQuantizer (onnxruntime >= 1.32 here)"
        ) from None
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    return MatMulNBitsQuantizer


def quantize_classifier(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every MatMul of ``model`` as MatMulNBits: symmetric INT4, blocks of 128 along K, accuracy_level 4."""
    expected = sum(node.op_type == "MatMul" for node in model.graph.node)
    quantizer = _quantizer_class()(
        model,
        bits=BITS,
        block_size=BLOCK_SIZE,
        is_symmetric=True,
        accuracy_level=ACCURACY_LEVEL,
        op_types_to_quantize=("MatMul",),
    )
    with quiet_loggers(QUANTIZER_LOGGER):
        quantizer.process()
    result = quantizer.model.model
    counts = Counter(node.op_type for node in result.graph.node)
    if counts["MatMulNBits"] != expected or counts["MatMul"]:
        raise ModelFileError(
            f"MatMulNBits quantization converted {counts['MatMulNBits']} of {expected} MatMul nodes "
            f"({counts['MatMul']} left): every classifier weight must be a constant [K, N] matrix"
        )
    return result


def int4w_scheme(model: onnx.ModelProto) -> dict[str, object]:
    """What the int4w model's classifier is, read back from its MatMulNBits nodes."""
    layers = []
    for node in model.graph.node:
        if node.op_type == "MatMulNBits":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            layers.append({key: attrs.get(key) for key in ("K", "N", "bits", "block_size", "accuracy_level")})
            layers[-1]["name"] = node.name
    return {
        "scheme": (
            f"fully connected weights: symmetric int{BITS} (round to nearest), one fp32 scale per {BLOCK_SIZE} "
            f"weights along K, com.microsoft.MatMulNBits accuracy_level {ACCURACY_LEVEL} (int8 activations); "
            "convolutions: the int8 model's Q/DQ"
        ),
        "weight_bits": BITS,
        "block_size": BLOCK_SIZE,
        "accuracy_level": ACCURACY_LEVEL,
        "layers": layers,
        "tool": "onnxruntime MatMulNBitsQuantizer (DEFAULT, RTN)",
    }


def int4w_model(int8: onnx.ModelProto, fp32: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, object]]:
    """The int4w model from the INT8 model (its convolutions) and the FP32 model (its classifier weights),
    and the ``int4w`` metadata describing it."""
    model = quantize_classifier(float_classifier(int8, fp32))
    return model, int4w_scheme(model)
