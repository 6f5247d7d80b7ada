"""FP16 and INT8 models on real CIFAR-10 test images, against the PyTorch FP32 reference."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from alexnet_edge.export.convert.onnx_export import read_metadata
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner


def _row(report, precision):
    return next(r for r in report["rows"] if r["backend"] == "onnxruntime" and r["precision"] == precision)


def test_fp16_meets_its_goal_on_real_images(exported):
    row = _row(exported.report, "fp16")
    ref = exported.report["reference"]["accuracy"]
    assert row["top1_agreement"] >= 0.999 and abs(row["accuracy"] - ref) <= 0.001
    model = onnx.load(str(exported.out / "model.fp16.onnx"))
    weights = [i for i in model.graph.initializer if i.name.endswith("weight")]
    assert weights and all(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # FP32 I/O
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_int8_meets_its_goal_on_real_images(exported):
    row = _row(exported.report, "int8")
    ref = exported.report["reference"]["accuracy"]
    assert row["top1_agreement"] >= 0.985
    assert ref - row["accuracy"] <= 0.003
    assert row["within_tolerance"]


def test_int8_is_a_valid_explicit_quantization_model_for_tensorrt(exported):
    model = onnx.load(str(exported.out / "model.int8.onnx"))
    nodes = model.graph.node
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    qs = [n for n in nodes if n.op_type == "QuantizeLinear"]
    dqs = [n for n in nodes if n.op_type == "DequantizeLinear"]
    assert qs and dqs
    for node in qs + dqs:
        zero_point = inits[node.input[2]]
        assert zero_point.dtype == np.int8 and not zero_point.any(), node.name  # symmetric int8
    weight_dqs = [n for n in dqs if n.input[0] in inits and inits[n.input[0]].dtype == np.int8]
    # Every Conv and Gemm weight per-channel on the output-channel axis (axis 0).
    assert len(weight_dqs) == 8
    for node in weight_dqs:
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        assert axis == 0 and inits[node.input[1]].shape == (inits[node.input[0]].shape[0],)
    # TensorRT's parser takes int8 DequantizeLinear only: no int32 bias, and float logits.
    assert not [n for n in dqs if n.input[0] in inits and inits[n.input[0]].dtype == np.int32]
    producer = {o: n for n in nodes for o in n.output}
    assert producer["logits"].op_type == "Gemm"
    meta = read_metadata(model)
    assert meta["precision"] == "int8" and meta["int8"]["calibration_method"] == "percentile"


def test_int8_runs_faster_than_fp32_on_this_cpu(exported, test_images):
    """Not a timing assertion: onnxruntime must fuse the Q/DQ pattern into integer kernels."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.optimized_model_filepath = str(exported.out / "int8.optimized.onnx")
    ort.InferenceSession(str(exported.out / "model.int8.onnx"), options, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]
    # All five convs and both hidden Linears run as integer kernels; the 4096x10 logits Gemm has
    # float output by design (no Q/DQ on the logits), 0.02% of the MACs.
    assert ops.count("QLinearConv") == 5 and ops.count("QGemm") == 2
    (exported.out / "int8.optimized.onnx").unlink()


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_runner_reproduces_the_report(exported, test_images, torch_logits, precision):
    images, labels = test_images
    with OnnxRuntimeRunner(exported.out / f"model.{precision}.onnx") as runner:
        logits = runner.infer_many(images)
    agreement = float((logits.argmax(1) == torch_logits.argmax(1)).mean())
    assert agreement == pytest.approx(_row(exported.report, precision)["top1_agreement"])
