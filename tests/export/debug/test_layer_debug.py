"""Layer-by-layer diagnosis on the real exported models."""

import numpy as np
import onnxruntime as ort
import pytest

from alexnet_edge.export.debug.layers import (
    DebugConfig,
    LayerDiff,
    diff_layers,
    first_drift,
    mark_all,
    render_layers_md,
    run_debug,
)
from alexnet_edge.runtime.errors import AlexNetEdgeError


def _run(path, images):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"input": images}), strict=True))


def test_marking_keeps_the_int8_kernels_and_their_logits(exported, test_images, tmp_path):
    images = test_images[0][:32]
    marked = mark_all(exported.out / "model.int8.onnx", tmp_path / "marked.onnx")
    assert len(marked) >= 12 and marked[-1] == "logits" and "relu" in marked
    plain = _run(exported.out / "model.int8.onnx", images)["logits"]
    outputs = _run(tmp_path / "marked.onnx", images)
    # Bit-identical logits: the marks did not stop the QDQ -> QLinearConv/QGemm fusion.
    assert np.array_equal(outputs["logits"], plain)
    assert set(marked) <= set(outputs) and outputs["relu"].shape == (32, 64, 32, 32)


def test_fp32_against_int8_names_no_drift_and_a_perturbed_layer_does(exported, data_root, tmp_path):
    rows, title = run_debug(
        DebugConfig(
            model=exported.out / "model.int8.onnx",
            against=exported.out / "model.fp32.onnx",
            data_root=data_root,
            images=40,
        ),
        log=lambda line: None,
    )
    names = [r.tensor for r in rows]
    assert names[0] == "relu" and names[-1] == "logits" and len(names) >= 12
    assert first_drift(rows, 0.99) is None and rows[-1].cosine > 0.99
    assert "model.int8.onnx on host against model.fp32.onnx on host" in title
    text = render_layers_md(rows, 0.99, title)
    assert "first tensor below cosine 0.99: none" in text
    # ONNX tensors carry the PyTorch layer names alexnet-inspect shows; every row has a status; a verdict ends it
    assert (rows[0].layer, rows[-1].layer) == ("features.1", "classifier.6") and all(r.layer for r in rows)
    assert "| features.1 | relu | " in text and "| flatten | view | " in text and "|  |" not in text
    assert text.strip().splitlines()[-1].startswith("verdict: the logits agree (cosine ")


def test_diff_layers_finds_the_first_drifting_tensor(rng):
    ref = {n: rng.normal(size=(4, 16)) for n in ("a", "b", "c")}
    run = {"a": ref["a"] + 1e-4, "b": -ref["b"], "c": ref["c"] * 0.5}
    rows = diff_layers(run, ref, ["a", "b", "c", "missing"])
    assert [r.tensor for r in rows] == ["a", "b", "c"]
    assert first_drift(rows, 0.99).tensor == "b"
    assert rows[2].cosine == pytest.approx(1.0) and rows[2].relative == pytest.approx(0.5)
    assert LayerDiff("nan", float("nan"), 0, 0, 0).drifts(0.99)


def test_exactly_one_comparison_is_required(exported, data_root):
    model = exported.out / "model.int8.onnx"
    with pytest.raises(AlexNetEdgeError, match="exactly one"):
        run_debug(DebugConfig(model=model, data_root=data_root))
    with pytest.raises(AlexNetEdgeError, match="unknown target 'mips'"):
        run_debug(DebugConfig(model=model, data_root=data_root, target="mips"))


def test_verdict_names_the_layer_where_the_logits_start_to_drift():
    from alexnet_edge.export.debug.layers import verdict

    ok = LayerDiff("relu", 0.9999, 0.1, 0.01, 0.01, "features.1")
    dip = LayerDiff("relu_3", 0.95, 2.0, 0.5, 0.3, "features.9")
    bad = LayerDiff("logits", 0.90, 5.0, 1.0, 0.4, "classifier.6")
    assert verdict([ok, dip, bad], 0.99).startswith("verdict: the logits DRIFT (cosine 0.900000 < 0.99")
    assert verdict([ok, dip, bad], 0.99).endswith("it starts at features.9 (relu_3)")
    recovered = LayerDiff("logits", 0.999, 0.2, 0.01, 0.02, "classifier.6")
    assert "features.9 (relu_3) dips below 0.99 but the logits recover" in verdict([ok, dip, recovered], 0.99)
    assert verdict([], 0.99) == "verdict: no tensor could be compared"


def test_tensor_names_map_to_the_layers_of_each_variant():
    from alexnet_edge.export.debug.names import torch_layer_names

    tensors = [
        "conv2d",
        "relu",
        "max_pool2d",
        "relu_3",
        "max_pool2d_2",
        "view",
        "linear_1",
        "relu_6",
        "logits",
        "Identity_0",
    ]
    cifar = torch_layer_names(tensors, "cifar")
    assert cifar == {
        "conv2d": "features.0",
        "relu": "features.1",
        "max_pool2d": "features.2",
        "relu_3": "features.9",
        "max_pool2d_2": "features.12",
        "view": "flatten",
        "linear_1": "classifier.4",
        "relu_6": "classifier.5",
        "logits": "classifier.6",
    }
    # BatchNorm folded away: the ReLUs sit one index further on in cifar-bn's features
    assert torch_layer_names(["relu", "relu_3"], "cifar-bn") == {"relu": "features.2", "relu_3": "features.13"}
    assert torch_layer_names(["relu"], "unknown") == {}
