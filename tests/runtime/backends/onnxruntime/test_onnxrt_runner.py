import numpy as np
import pytest

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner, choose_providers
from alexnet_edge.runtime.errors import BackendUnavailableError, InputError, ModelFileError, RunnerStateError


def test_cpu_runner_against_the_pytorch_reference(exported, test_images, torch_logits):
    images, labels = test_images
    with OnnxRuntimeRunner(exported.out / "model.fp32.onnx") as runner:
        assert runner.providers == ["CPUExecutionProvider"] and runner.device == "cpu"
        logits = runner.infer_many(images, batch_size=300)
        meta = runner.metadata()
    assert np.abs(logits - torch_logits).max() < 1e-3
    assert meta["class_names"][0] == "airplane" and meta["precision"] == "fp32"


def test_any_batch_size(exported, test_images):
    with OnnxRuntimeRunner(exported.out / "model.int8.onnx") as runner:
        for n in (1, 7, 300):
            assert runner.infer(test_images[0][:n]).shape == (n, 10)


def test_provider_choice():
    assert choose_providers(None, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert choose_providers("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    with pytest.raises(BackendUnavailableError, match="TensorrtExecutionProvider not available here"):
        choose_providers(["tensorrt"], ["CPUExecutionProvider"])


def test_wrong_dtype_and_shape(exported):
    with OnnxRuntimeRunner(exported.out / "model.fp32.onnx") as runner:
        with pytest.raises(InputError, match="float32"):
            runner.infer(np.zeros((1, 3, 32, 32), np.float16))
        with pytest.raises(InputError, match="shape"):
            runner.infer(np.zeros((1, 3, 64, 64), np.float32))


def test_infer_before_activate():
    with pytest.raises(RunnerStateError, match="activate"):
        OnnxRuntimeRunner("x.onnx").infer(np.zeros((1, 3, 32, 32), np.float32))


def test_truncated_corrupt_and_missing_models(exported, tmp_path):
    data = (exported.out / "model.int8.onnx").read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 3])
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not onnx at all" * 10)
    for path in (truncated, garbage):
        with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
            OnnxRuntimeRunner(path).activate()
    with pytest.raises(ModelFileError, match="no such model file"):
        OnnxRuntimeRunner(tmp_path / "nope.onnx").activate()


def test_unsafe_int8_model_warns_once_on_a_saturating_cpu(exported, tmp_path, monkeypatch, caplog):
    import json

    import onnx

    from alexnet_edge.runtime.backends.onnxruntime import runner as onnxrt
    from alexnet_edge.runtime.cpu_features import parse_cpuinfo

    avx2 = parse_cpuinfo("flags : avx avx2 fma\n", "x86_64")
    vnni = parse_cpuinfo("flags : avx2 avx512f avx512_vnni\n", "x86_64")
    model = onnx.load(str(exported.out / "model.int8.onnx"))
    props = {p.key: p for p in model.metadata_props}
    scheme = json.loads(props["int8"].value)
    assert scheme["saturation_safe"] is True and scheme["weight_bits"] == 7 and scheme["weight_max_abs"] <= 64
    scheme["saturation_safe"] = False
    props["int8"].value = json.dumps(scheme)
    onnx.save(model, str(tmp_path / "unsafe.onnx"))

    for cpu, path, warned in (
        (avx2, tmp_path / "unsafe.onnx", True),
        (vnni, tmp_path / "unsafe.onnx", False),
        (avx2, exported.out / "model.int8.onnx", False),
    ):
        monkeypatch.setattr(onnxrt, "detect", lambda cpu=cpu: cpu)
        with OnnxRuntimeRunner(path) as runner:
            runner.infer(np.zeros((2, 3, 32, 32), np.float32))
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("warning:")]
        caplog.clear()
        assert len(lines) == (1 if warned else 0), lines
        if warned:
            assert "not marked saturation-safe" in lines[0] and "avx2" in lines[0]
