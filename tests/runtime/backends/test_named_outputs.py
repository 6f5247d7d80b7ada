"""Runners give their outputs by name (the logits by default), so one OnnxRuntimeRunner serves the
comparison, the cross-target guest (runtime/target_eval) and the layer debugger's marked tensors."""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper, save

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.errors import InputError, ModelFileError, RunnerStateError
from alexnet_edge.runtime.target_eval import run_model

WEIGHTS = np.random.default_rng(0).standard_normal((10, 3 * 32 * 32)).astype(np.float32) * 1e-2


def _model(path, outputs):
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("Gemm", ["flat", "w"], ["logits"], transB=1),
        ],
        "m",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 10 if name == "logits" else 3072])
            for name in outputs
        ],
        [numpy_helper.from_array(WEIGHTS, "w")],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.fixture
def images():
    return np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32)


def test_a_marked_model_gives_every_output_by_name_and_the_logits_by_default(tmp_path, images):
    with OnnxRuntimeRunner(_model(tmp_path / "marked.onnx", ["logits", "flat"])) as runner:
        assert runner.output_names == ["logits", "flat"]
        both = runner.infer_outputs(images, ["logits", "flat"])
        assert set(both) == {"logits", "flat"} and both["flat"].shape == (4, 3072)
        np.testing.assert_allclose(both["flat"], images.reshape(4, -1))
        assert list(runner.infer_outputs(images)) == ["logits"]
        np.testing.assert_array_equal(runner.infer(images), both["logits"])
        with pytest.raises(InputError, match="no output.*relu_9.*it has logits, flat"):
            runner.infer_outputs(images, ["relu_9"])
    with pytest.raises(RunnerStateError):
        runner.infer_outputs(images)


def test_the_logits_must_come_first(tmp_path):
    with pytest.raises(ModelFileError, match="expected input 'input' and output 'logits'"):
        OnnxRuntimeRunner(_model(tmp_path / "m.onnx", ["flat", "logits"])).activate()


def test_the_target_guest_runs_the_model_through_the_runner(tmp_path, images):
    """target_eval.run_model (the guest side of alexnet-targets/alexnet-debug): every output, in chunks."""
    path = _model(tmp_path / "marked.onnx", ["logits", "flat"])
    outputs = run_model(path, np.concatenate([images] * 3), threads=1, label="host")  # 12 images: 3 chunks
    assert set(outputs) == {"logits", "flat"} and outputs["logits"].shape == (12, 10)
    with OnnxRuntimeRunner(path) as runner:
        np.testing.assert_array_equal(outputs["logits"][:4], runner.infer(images))
