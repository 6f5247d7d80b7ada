import sys

import numpy as np
import onnx
import pytest

from alexnet_edge.export.convert import onnx_export
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner


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
    monkeypatch.setitem(sys.modules, "onnxsim", None)  # import onnxsim -> ImportError
    result = onnx_export.simplify(raw_export, tmp_path / "s.onnx")
    assert result.tool == "onnxslim" and "onnxsim is not installed" in result.note
    assert "fell back to onnxslim" in result.note and (tmp_path / "s.onnx").is_file()


def test_simplify_keeps_the_export_when_both_simplifiers_fail(raw_export, tmp_path, monkeypatch):
    import onnxslim

    monkeypatch.setitem(sys.modules, "onnxsim", None)

    def broken(model):
        raise RuntimeError("shape inference failed")

    monkeypatch.setattr(onnxslim, "slim", broken)
    result = onnx_export.simplify(raw_export, tmp_path / "s.onnx")
    assert result.tool == "none" and "onnxslim failed (RuntimeError: shape inference failed)" in result.note
    assert "kept the unsimplified export" in result.note
    assert (tmp_path / "s.onnx").read_bytes() == raw_export.read_bytes()


def test_an_error_of_ours_is_not_swallowed_into_the_fallback_note(raw_export, tmp_path, monkeypatch):
    """Writing the simplified model is our code: its failure propagates instead of becoming "onnxsim failed"."""

    def disk_full(model, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx_export, "save_checked", disk_full)
    with pytest.raises(OSError, match="No space left"):
        onnx_export.simplify(raw_export, tmp_path / "s.onnx")
