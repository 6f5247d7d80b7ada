"""int4w: model.int8.onnx's convolutions with INT4 (MatMulNBits) fully connected weights, on real CIFAR-10 images."""

from __future__ import annotations

import logging
import types
from collections import Counter

import onnx
import pytest
from onnx import helper

from alexnet_edge.export.convert import int4_weights
from alexnet_edge.export.targets.cpus import Target, refuse_too_old
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine
from alexnet_edge.runtime.deploy import build_engines_for
from alexnet_edge.runtime.errors import BackendUnavailableError
from alexnet_edge.runtime.evaluation import judge
from alexnet_edge.runtime.precision import Precision, spec_for, tolerance_for


@pytest.fixture(scope="module")
def int4w_run(tmp_path_factory, data_root, checkpoint):
    """One pipeline run: FP32, INT8 and INT4W on the first 1,000 test images, with a bundle, no benchmark."""
    from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
    from alexnet_edge.export.pipeline.run import run

    out = tmp_path_factory.mktemp("int4w")
    result = run(
        ExportSpec(checkpoint=checkpoint, precisions=(Precision.FP32, Precision.INT8, Precision.INT4W)),
        EvaluationSpec(eval_size=1000, bench=False),
        RunOptions(data_root=data_root, out_dir=out, bundle=out / "bundle", progress=False),
        log=lambda line: None,
    )
    return types.SimpleNamespace(out=out, report=result.report)


def _upstream(model: onnx.ModelProto, tensor: str) -> list[onnx.NodeProto]:
    """Every node ``tensor`` depends on (the convolutional part, for the classifier's input)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    seen, todo = {}, [tensor]
    while todo:
        node = producer.get(todo.pop())
        if node is not None and node.name not in seen:
            seen[node.name] = node
            todo.extend(node.input)
    return sorted(seen.values(), key=lambda n: n.name)


def _constants(model: onnx.ModelProto, nodes: list[onnx.NodeProto]) -> dict[str, bytes]:
    used = {name for node in nodes for name in node.input}
    return {i.name: i.SerializeToString() for i in model.graph.initializer if i.name in used}


def test_classifier_is_int4_matmulnbits_and_the_convolutions_are_int8s(int4w_run):
    int8 = onnx.load(str(int4w_run.out / "model.int8.onnx"))
    int4w = onnx.load(str(int4w_run.out / "model.int4w.onnx"))
    ops = Counter(node.op_type for node in int4w.graph.node)
    assert ops["MatMulNBits"] == 3 and not ops["Gemm"] and not ops["MatMul"]
    fc = [node for node in int4w.graph.node if node.op_type == "MatMulNBits"]
    for node in fc:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert (attrs["bits"], attrs["block_size"], attrs["accuracy_level"]) == (4, 128, 4), node.name
        assert len(node.input) == 3, node.name  # A, B, scales: no zero points (symmetric)
    # The classifier reads float activations; everything before it is the INT8 model's, node for node.
    first = fc[0].input[0]
    producer = {out: node.op_type for node in int4w.graph.node for out in node.output}
    assert producer[first] == "Reshape"
    convs_int4w, convs_int8 = _upstream(int4w, first), _upstream(int8, first)
    assert Counter(n.op_type for n in convs_int4w)["Conv"] == 5
    assert [n.SerializeToString() for n in convs_int4w] == [n.SerializeToString() for n in convs_int8]
    assert _constants(int4w, convs_int4w) == _constants(int8, convs_int8)
    # 91% of the weights are the classifier's: 4 bits plus one fp32 scale per 128 weights.
    size_int8, size_int4w = (
        (int4w_run.out / "model.int8.onnx").stat().st_size,
        (int4w_run.out / "model.int4w.onnx").stat().st_size,
    )
    assert size_int4w < 0.6 * size_int8
    meta = {p.key: p.value for p in int4w.metadata_props}
    assert meta["precision"] == "int4w" and '"block_size": 128' in meta["int4w"]


def test_int4w_is_within_its_tolerance_on_real_images(int4w_run):
    rows = [r for r in int4w_run.report["rows"] if r["precision"] == "int4w"]
    assert {r["backend"] for r in rows} >= {"onnxruntime"}
    bound = spec_for(Precision.INT4W).tolerance
    for row in rows:
        assert row["within_tolerance"], row
        assert row["top1_agreement"] >= bound.min_top1_agreement
        assert row["cosine_similarity"] >= bound.min_cosine_similarity
        assert row["max_flipped_margin"] <= bound.max_flipped_margin


def test_a_2bit_classifier_fails_the_int4w_bound_that_int8s_lets_through(
    int4w_run, test_images, torch_logits, monkeypatch, tmp_path
):
    """The cosine bound (0.999) is what catches a classifier quantized too coarsely."""
    monkeypatch.setattr(int4_weights, "BITS", 2)
    model, _ = int4_weights.int4w_model(
        onnx.load(str(int4w_run.out / "model.int8.onnx")), onnx.load(str(int4w_run.out / "model.fp32.onnx"))
    )
    onnx.save(model, str(tmp_path / "two_bit.onnx"))
    images, labels = test_images
    with OnnxRuntimeRunner(tmp_path / "two_bit.onnx") as runner:
        logits = runner.infer_many(images)
    _, _, int4w_errors = judge(
        logits, labels, torch_logits, tolerance_for(Precision.INT4W, len(labels)), artifact="2-bit"
    )
    _, _, int8_errors = judge(
        logits, labels, torch_logits, tolerance_for(Precision.INT8, len(labels)), artifact="2-bit"
    )
    assert [e.metric for e in int4w_errors] == ["cosine_similarity"]
    assert not int8_errors


def test_tensorrt_refuses_int4w_in_one_line(int4w_run, tmp_path, caplog):
    model = int4w_run.out / "model.int4w.onnx"
    with pytest.raises(BackendUnavailableError, match="MatMulNBits") as refused:
        build_engine(model, tmp_path / "model.int4w.engine", Precision.INT4W)
    assert "\n" not in str(refused.value)
    with caplog.at_level(logging.WARNING):
        built = build_engines_for({Precision.INT4W: model}, [Precision.INT4W], tmp_path, EngineBuildConfig(), None)
    assert built == [] and not (tmp_path / "model.int4w.engine").exists()
    assert any("skipping model.int4w.engine" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("declared", [True, False], ids=["precision-given", "from-metadata"])
def test_an_onnxruntime_older_than_measured_refuses_int4w(int4w_run, monkeypatch, declared):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "__version__", "1.20.1")
    runner = OnnxRuntimeRunner(int4w_run.out / "model.int4w.onnx", precision=Precision.INT4W if declared else None)
    with pytest.raises(
        BackendUnavailableError, match=r"onnxruntime 1\.20\.1 cannot run model\.int4w\.onnx.*>= 1\.21\.1"
    ):
        runner.activate()
    with OnnxRuntimeRunner(int4w_run.out / "model.int8.onnx") as int8:  # INT8 only warns there (unfused Q/DQ)
        assert int8.session is not None


def test_targets_skip_int4w_on_an_onnxruntime_older_than_measured():
    lines = []
    old = Target("host", "this machine", None, counts={Precision.INT8: 200, Precision.INT4W: 200}, onnxruntime="1.20.1")
    kept = refuse_too_old(old, lines.append)
    assert kept.counts == {Precision.INT8: 200, Precision.INT4W: 0}
    assert len(lines) == 1 and "host@1.20.1: int4w not run" in lines[0]
    new = Target("host", "this machine", None, counts={Precision.INT4W: 200}, onnxruntime="1.21.1")
    assert refuse_too_old(new, lines.append).counts == {Precision.INT4W: 200} and len(lines) == 1
