"""One runner factory, by backend name or by the file's suffix."""

import pytest

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.backends.registry import BackendOptions, open_runner
from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner
from alexnet_edge.runtime.errors import AlexNetEdgeError


def test_by_suffix_and_by_name(tmp_path):
    assert isinstance(open_runner(tmp_path / "m.int8.onnx"), OnnxRuntimeRunner)
    for suffix in (".engine", ".plan", ".trt"):
        assert isinstance(open_runner(tmp_path / f"m{suffix}"), TensorRTRunner)
    cpu = BackendOptions.parse(["onnxruntime.providers=cpu"])
    runner = open_runner(tmp_path / "m.onnx", "onnxruntime", options=cpu, name="x")
    assert runner.name == "x" and runner.requested_providers == "cpu"
    from alexnet_edge.runtime.backends.openvino.runner import OpenVINORunner  # no openvino import until activate()

    ov = open_runner(tmp_path / "m.onnx", "openvino", options=BackendOptions.parse(["openvino.precision=bf16"]))
    assert isinstance(ov, OpenVINORunner) and ov.inference_precision == "bf16"
    with pytest.raises(AlexNetEdgeError, match="unknown backend 'tflite'; choose onnxruntime, openvino, tensorrt"):
        open_runner(tmp_path / "m.onnx", "tflite")
