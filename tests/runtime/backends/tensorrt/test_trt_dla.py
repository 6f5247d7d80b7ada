"""INT8 on DLA (issue #19, bug 4): implicit quantization from the FP32 model and the calibration table's
ranges, never the Q/DQ model, which DLA cannot run; refused in one line where a release has no INT8 DLA path.

On eb7b991 the INT8 DLA build took model.int8.onnx (Q/DQ) on a strongly typed network: the fake, like
DLA (NVIDIA/TensorRT #2222), refuses that build.
"""

import hashlib
import json
import types

import numpy as np
import pytest

from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine
from alexnet_edge.runtime.backends.tensorrt.dla import DlaInt8Error, dla_int8_source, engine_source, read_ranges
from alexnet_edge.runtime.errors import ModelFileError
from alexnet_edge.runtime.precision import Precision

pytestmark = pytest.mark.trt_contract
DLA = EngineBuildConfig(min_batch=8, opt_batch=8, max_batch=8, dla_core=0)
TENSORS = ["input", "conv2d", "relu", "flat", "logits"]


def _model(path, *, qdq: bool):
    """A small real ONNX model (Conv -> Relu -> Flatten -> Gemm); with qdq, a Q/DQ pair on the input."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=(2, 3, 3, 3)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.normal(size=(10, 2 * 30 * 30)).astype(np.float32), "fc"),
    ]
    nodes, first = [], "input"
    if qdq:
        inits += [
            numpy_helper.from_array(np.array(0.05, np.float32), "s"),
            numpy_helper.from_array(np.array(0, np.int8), "z"),
        ]
        nodes += [
            helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"]),
            helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"]),
        ]
        first = "dq"
    nodes += [
        helper.make_node("Conv", [first, "w"], ["conv2d"]),
        helper.make_node("Relu", ["conv2d"], ["relu"]),
        helper.make_node("Flatten", ["relu"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc"], ["logits"], transB=1),
    ]
    inputs = [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])]
    graph = helper.make_graph(nodes, "m", inputs, outputs, inits)
    onnx.save(helper.make_model(graph), str(path))
    return path


def _table(path, model, names=TENSORS):
    """calibration/table.py's JSON: onnxruntime TensorsData, highest as a numpy-array dict."""
    highest = lambda i: {"data": 2.0 + i, "dtype": "float32", "CLS": "numpy.array"}  # noqa: E731
    data = {n: {"lowest": -1.5 - i, "highest": highest(i), "CLS": "TensorData"} for i, n in enumerate(names)}
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    tensors = {"CLS": "TensorsData", "data": data}
    path.write_text(json.dumps({"format": "alexnet-edge-calibration/1", "model_sha256": sha, "tensors": tensors}))
    return path


@pytest.fixture
def models(tmp_path):
    fp32, int8 = _model(tmp_path / "model.fp32.onnx", qdq=False), _model(tmp_path / "model.int8.onnx", qdq=True)
    return {Precision.FP32: fp32, Precision.INT8: int8}, _table(tmp_path / "calibration_table.json", fp32)


@pytest.mark.parametrize("fake_trt", ["trt8.5", "trt8.6", "trt10.3", "trt10.9"], indirect=True)
def test_dla_int8_is_the_fp32_model_with_ranges(fake_trt, models, tmp_path):
    trt = fake_trt.trt
    trt.dla_cores = 2
    by_precision, table = models
    source, ranges = engine_source(Precision.INT8, DLA, by_precision, table)
    assert source.name == "model.fp32.onnx" and ranges == table
    sidecar = build_engine(source, tmp_path / "model.int8.engine", Precision.INT8, DLA, calibration_table=ranges)
    (flags,) = [c[1] for c in trt.calls if c[0] == "builder.create_network"]
    assert not sidecar["strongly_typed"] and (flags == 0 if trt.major >= 10 else flags == 1)  # weakly typed
    assert {"INT8", "FP16", "GPU_FALLBACK"} <= set(sidecar["builder_flags"])
    set_ranges = {c[1]: (c[2], c[3]) for c in trt.calls if c[0] == "tensor.set_dynamic_range"}
    # symmetric: max(|lowest|, |highest|)
    assert set_ranges == {n: (-(2.0 + i), 2.0 + i) for i, n in enumerate(TENSORS)}
    assert sidecar["source_onnx"] == "model.fp32.onnx" and sidecar["quantization"]["tensors_with_ranges"] == 5
    plan = json.loads((tmp_path / "model.int8.engine").read_bytes()[len(b"FAKEPLAN") :])
    assert plan["dla"] and len(plan["int8_ranges"]) == 5 and not trt.log


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_the_fake_refuses_the_qdq_model_on_dla(fake_trt, models, tmp_path):
    """What eb7b991 did: model.int8.onnx built for DLA. The fake fails it as DLA does (None, and the log)."""
    fake_trt.trt.dla_cores = 1
    by_precision, _ = models
    with pytest.raises(DlaInt8Error, match="pass calibration_table"):
        build_engine(by_precision[Precision.INT8], tmp_path / "m.engine", Precision.INT8, DLA)
    with pytest.raises(ModelFileError, match="failed to build"):
        # Q/DQ on DLA fails whatever the precision
        build_engine(by_precision[Precision.INT8], tmp_path / "m.engine", Precision.FP16, DLA)
    assert "DLA does not support explicitly quantized" in fake_trt.trt.log[-1][1]


@pytest.mark.parametrize("fake_trt", ["trt10.9"], indirect=True)
def test_a_table_of_another_model_or_none_is_refused(fake_trt, models, tmp_path):
    fake_trt.trt.dla_cores = 1
    by_precision, table = models
    with pytest.raises(DlaInt8Error, match="computed for another model than model.int8.onnx"):
        build_engine(by_precision[Precision.INT8], tmp_path / "m.engine", Precision.INT8, DLA, calibration_table=table)
    with pytest.raises(DlaInt8Error, match="calibration table of model.fp32.onnx"):
        dla_int8_source(by_precision, tmp_path / "absent.json")
    with pytest.raises(DlaInt8Error, match="FP32 model is not here"):
        dla_int8_source({Precision.INT8: by_precision[Precision.INT8]}, table)
    _table(table, by_precision[Precision.FP32], names=["not", "these"])
    with pytest.raises(DlaInt8Error, match="no tensor of the parsed network has a range"):
        build_engine(by_precision[Precision.FP32], tmp_path / "m.engine", Precision.INT8, DLA, calibration_table=table)
    assert not (tmp_path / "m.engine").exists()


@pytest.mark.parametrize("fake_trt", ["trt11.4"], indirect=True)
def test_11x_has_no_int8_dla_path_and_says_so(fake_trt, models, tmp_path):
    fake_trt.trt.dla_cores = 2  # TensorRT 11.4.1 on AGX Orin
    by_precision, table = models
    with pytest.raises(DlaInt8Error) as exc:
        build_engine(by_precision[Precision.FP32], tmp_path / "m.engine", Precision.INT8, DLA, calibration_table=table)
    assert str(exc.value).startswith("TensorRT 11.4.0 has no INT8 path on DLA") and "\n" not in str(exc.value)
    assert "fp16 for DLA" in str(exc.value) and not any(c[0] == "builder.create_network" for c in fake_trt.trt.calls)


def test_read_ranges_takes_floats_and_numpy_dicts(models):
    by_precision, table = models
    assert read_ranges(table, by_precision[Precision.FP32]) == {n: 2.0 + i for i, n in enumerate(TENSORS)}


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_the_pipeline_builds_dla_int8_from_the_fp32_model(fake_trt, models, tmp_path):
    from alexnet_edge.export.pipeline import stages
    from alexnet_edge.export.pipeline.artifacts import Artifact, ArtifactKind, Calibrated, Converted

    fake_trt.trt.dla_cores = 1
    by_precision, table = models
    converted = Converted(
        tuple(Artifact(p, path, ArtifactKind.ONNX) for p, path in by_precision.items()),
        Calibrated(types.SimpleNamespace(path=table), {}, (table,)),
    )
    engines = stages.build_engines(converted, tmp_path, DLA, enabled=True, log=lambda line: None)
    (engine,) = engines.engines  # FP32 skipped: not for DLA
    assert engine.precision is Precision.INT8 and [p.name for p in engine.files] == [
        "model.int8.engine",
        "model.int8.json",
    ]
    assert json.loads((tmp_path / "model.int8.json").read_text())["source_onnx"] == "model.fp32.onnx"


def test_trtexec_md_has_no_qdq_line_for_dla_int8():
    from alexnet_edge.export.gpu.trtexec import render_trtexec_md

    text = render_trtexec_md(DLA, [Precision.FP16, Precision.INT8])
    assert "--onnx=models/model.int8.onnx" not in text and "--onnx=models/model.fp16.onnx" in text
    assert "model.int8.onnx on DLA: INT8 on DLA is implicit quantization" in text.split("## TensorRT 10.3")[1]
    assert "model.int8.onnx on DLA: TensorRT 11.4.0 has no INT8 path on DLA" in text.split("## TensorRT 11.4")[1]
