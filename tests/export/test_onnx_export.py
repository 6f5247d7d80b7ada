import builtins

import numpy as np
import onnx
import pytest

from alexnet_edge.export import onnx_export
from alexnet_edge.runtime.backends.onnxrt import OnnxRuntimeRunner


@pytest.fixture(scope="module")
def raw_export(reference_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("raw") / "raw.onnx"
    meta = onnx_export.base_metadata(checkpoint_sha256="ab" * 32, precision="fp32", opset=17)
    return onnx_export.export_onnx(reference_model, path, metadata=meta)


def test_export_has_dynamic_batch_names_metadata_and_opset(raw_export):
    model = onnx.load(str(raw_export))
    onnx.checker.check_model(model)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "input" and out.name == "logits"
    assert inp.type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim[1:]] == [3, 32, 32]
    assert {o.domain: o.version for o in model.opset_import}[""] == 17
    meta = onnx_export.read_metadata(model)
    assert meta["class_names"][3] == "cat" and meta["mean"] == [0.4914, 0.4822, 0.4465]
    assert meta["checkpoint_sha256"] == "ab" * 32 and "torch" in meta["tool_versions"]


def test_export_matches_pytorch_on_real_images(raw_export, test_images, torch_logits):
    images, _ = test_images
    with OnnxRuntimeRunner(raw_export) as runner:
        logits = runner.infer_many(images[:500])
    assert np.abs(logits - torch_logits[:500]).max() < 1e-3
    assert (logits.argmax(1) == torch_logits[:500].argmax(1)).all()


def test_simplify_uses_onnxsim_and_keeps_metadata(raw_export, tmp_path, test_images, torch_logits):
    result = onnx_export.simplify(raw_export, tmp_path / "s.onnx")
    assert result.tool == "onnxsim"
    model = onnx.load(str(tmp_path / "s.onnx"))
    assert onnx_export.read_metadata(model)["checkpoint_sha256"] == "ab" * 32
    with OnnxRuntimeRunner(tmp_path / "s.onnx") as runner:
        assert np.abs(runner.infer(test_images[0][:64]) - torch_logits[:64]).max() < 1e-3


def test_simplify_falls_back_when_onnxsim_is_missing(raw_export, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_onnxsim(name, *args, **kwargs):
        if name == "onnxsim":
            raise ImportError("No module named 'onnxsim'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxsim)
    result = onnx_export.simplify(raw_export, tmp_path / "s.onnx")
    assert result.tool == "onnxslim" and "onnxsim unavailable" in result.note
    assert (tmp_path / "s.onnx").is_file()


def test_simplify_keeps_the_export_when_both_simplifiers_fail(raw_export, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def neither(name, *args, **kwargs):
        if name in ("onnxsim", "onnxslim"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", neither)
    result = onnx_export.simplify(raw_export, tmp_path / "s.onnx")
    assert result.tool == "none" and "kept the unsimplified export" in result.note
    assert (tmp_path / "s.onnx").read_bytes() == raw_export.read_bytes()
