"""TensorRT builder and runner against fake tensorrt modules with the exact API of each listing (trt_fakes.VERSIONS).

These prove the code uses only what each version has and configures it right. They do not prove
TensorRT's numerics: that needs a GPU (see the `tensorrt`-marked tests).
"""

import json

import numpy as np
import pytest
from support.trt_fakes import VERSIONS

from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine, engine_support
from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner
from alexnet_edge.runtime.bench import device_timings
from alexnet_edge.runtime.errors import (
    AlexNetEdgeError,
    BackendUnavailableError,
    EngineCompatibilityError,
    InputError,
    ModelFileError,
    UnsupportedOptionError,
)
from alexnet_edge.runtime.precision import Precision, spec_for

pytestmark = pytest.mark.trt_contract
TRT_IDS = list(VERSIONS)
ALL = pytest.mark.parametrize("fake_trt", TRT_IDS, indirect=True)


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "model.fp16.onnx"
    path.write_bytes(b"\x08\x07fake onnx bytes")  # the fake parser only records the size
    return path


def _calls(trt, name):
    return [c for c in trt.calls if c[0] == name]


@ALL
@pytest.mark.parametrize("precision", list(Precision))
def test_precision_is_carried_by_the_model(fake_trt, onnx_file, tmp_path, precision):
    trt = fake_trt.trt
    refusal = spec_for(precision).tensorrt.refusal
    if refusal:  # no TensorRT path for this precision (runtime/precision.py): one line, before any build
        with pytest.raises(BackendUnavailableError) as refused:
            build_engine(onnx_file, tmp_path / "m.engine", precision, EngineBuildConfig())
        assert str(refused.value) == refusal and not _calls(trt, "builder.create_network")
        return
    sidecar = build_engine(onnx_file, tmp_path / "m.engine", precision, EngineBuildConfig())
    (flags,) = [c[1] for c in _calls(trt, "builder.create_network")]
    set_flags = [c[1] for c in _calls(trt, "config.set_flag")]
    creation = trt.NetworkDefinitionCreationFlag.__members__
    if trt.__version__.startswith("8."):
        assert flags == 1 << int(creation["EXPLICIT_BATCH"]) and not sidecar["strongly_typed"]
        assert set_flags == {Precision.FP32: [], Precision.FP16: ["FP16"], Precision.INT8: ["INT8"]}[precision]
    elif trt.__version__.startswith("10."):
        assert flags == 1 << int(creation["STRONGLY_TYPED"]) and sidecar["strongly_typed"]
        assert set_flags == []  # strongly typed: no precision flags at all
    else:  # 11.x: always strongly typed; the deprecated flag is not passed
        assert flags == 0 and sidecar["strongly_typed"] and set_flags == []
    assert sidecar["precision"] == precision.value and sidecar["tensorrt_version"] == trt.__version__


@ALL
def test_profile_workspace_and_sidecar(fake_trt, onnx_file, tmp_path):
    trt = fake_trt.trt
    config = EngineBuildConfig(min_batch=2, opt_batch=16, max_batch=64, workspace_mb=512)
    sidecar = build_engine(onnx_file, tmp_path / "m.engine", Precision.INT8, config)
    profiles = 2 if trt.__version__.startswith("8.") else 1  # 8.x: a second one for the CUDA-graph context
    assert (
        _calls(trt, "profile.set_shape")
        == [("profile.set_shape", "input", (2, 3, 32, 32), (16, 3, 32, 32), (64, 3, 32, 32))] * profiles
    )
    assert sidecar["optimization_profiles"] == profiles
    assert _calls(trt, "config.set_memory_pool_limit") == [("config.set_memory_pool_limit", "WORKSPACE", 512 << 20)]
    on_disk = json.loads((tmp_path / "m.json").read_text())
    assert on_disk == sidecar
    assert sidecar["gpu"] == {"name": "NVIDIA Orin (fake)", "compute_capability": "8.7"}
    assert sidecar["profile"]["input"]["max"] == [64, 3, 32, 32] and len(sidecar["source_onnx_sha256"]) == 64
    assert sidecar["build_options"]["workspace_mb"] == 512


@ALL
def test_timing_cache_is_created_then_reused(fake_trt, onnx_file, tmp_path):
    trt = fake_trt.trt
    cache = tmp_path / "timing.cache"
    config = EngineBuildConfig(timing_cache=cache)
    build_engine(onnx_file, tmp_path / "a.engine", Precision.FP32, config)
    first = cache.read_bytes()
    build_engine(onnx_file, tmp_path / "b.engine", Precision.FP16, config)
    created = [c[1] for c in _calls(trt, "config.create_timing_cache")]
    assert created == [b"", first]  # empty the first time, the saved cache the second
    assert _calls(trt, "config.set_timing_cache") == [("config.set_timing_cache", False, True)] * 2


@ALL
def test_dla_with_gpu_fallback(fake_trt, onnx_file, tmp_path):
    trt = fake_trt.trt
    trt.dla_cores = 2  # a Jetson AGX Orin
    config = EngineBuildConfig(min_batch=8, opt_batch=8, max_batch=8, dla_core=1)
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, config)
    assert ("BuilderConfig.default_device_type=", trt.DeviceType.DLA) in trt.calls
    assert ("BuilderConfig.DLA_core=", 1) in trt.calls
    assert "GPU_FALLBACK" in [c[1] for c in _calls(trt, "config.set_flag")]


@pytest.mark.parametrize(
    ("config", "precision", "message"),
    [
        (EngineBuildConfig(dla_core=0), Precision.FP16, "DLA needs a static shape"),
        (
            EngineBuildConfig(min_batch=4, opt_batch=4, max_batch=4, dla_core=0),
            Precision.FP32,
            "DLA runs FP16 and INT8 only",
        ),
        (EngineBuildConfig(min_batch=8, opt_batch=4, max_batch=16), Precision.FP32, "1 <= min <= opt <= max"),
        (EngineBuildConfig(hardware_compatibility="turing"), Precision.FP32, "unknown hardware compatibility"),
    ],
)
def test_bad_build_options_fail_before_tensorrt(config, precision, message, onnx_file, tmp_path):
    with pytest.raises(AlexNetEdgeError, match=message):
        build_engine(onnx_file, tmp_path / "m.engine", precision, config)


@pytest.mark.parametrize("fake_trt", [i for i in TRT_IDS if i != "trt8.5"], indirect=True)
def test_version_and_hardware_compatibility(fake_trt, onnx_file, tmp_path):
    trt = fake_trt.trt
    config = EngineBuildConfig(version_compatible=True, hardware_compatibility="ampere_plus")
    sidecar = build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, config)
    assert "VERSION_COMPATIBLE" in [c[1] for c in _calls(trt, "config.set_flag")]
    assert ("BuilderConfig.hardware_compatibility_level=", trt.HardwareCompatibilityLevel.AMPERE_PLUS) in trt.calls
    assert sidecar["build_options"]["hardware_compatibility_level"] == "AMPERE_PLUS"


@ALL
def test_parser_and_build_failures_are_clear(fake_trt, onnx_file, tmp_path):
    fake_trt.trt.parse_result = False
    with pytest.raises(ModelFileError, match="could not parse model.fp16.onnx: In node 3"):
        build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16)
    fake_trt.trt.parse_result, fake_trt.trt.build_returns_none = True, True
    with pytest.raises(ModelFileError, match="failed to build an engine"):
        build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16)
    assert not (tmp_path / "m.engine").exists()


@pytest.mark.parametrize("fake_trt", ["trt11.4"], indirect=True)
def test_trt11_really_lacks_the_weak_typing_api(fake_trt):
    trt = fake_trt.trt
    for name in ("FP16", "INT8"):
        assert name not in trt.BuilderFlag.__members__
    assert not hasattr(trt, "IInt8EntropyCalibrator2")
    config = trt.Builder(None).create_builder_config()
    with pytest.raises(AttributeError):
        config.int8_calibrator = object()


@ALL
def test_runner_round_trip(fake_trt, onnx_file, tmp_path, rng):
    from support.trt_fake_runtime import tf32_logits  # FP16/INT8 builds keep TF32 on

    engine = tmp_path / "m.engine"
    build_engine(onnx_file, engine, Precision.INT8, EngineBuildConfig(min_batch=1, opt_batch=8, max_batch=32))
    batch = rng.normal(size=(5, 3, 32, 32)).astype(np.float32)
    with TensorRTRunner(engine) as runner:
        assert runner.profile == (1, 32)
        np.testing.assert_allclose(runner.infer(batch), tf32_logits(batch), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(runner.infer(batch[:1]), tf32_logits(batch[:1]), rtol=1e-5, atol=1e-5)
        with pytest.raises(InputError, match=r"batch 33 is outside the engine's profile \[1, 32\]"):
            runner.infer(np.zeros((33, 3, 32, 32), np.float32))
        timings = device_timings(runner)
    assert timings["latency_includes_copies"] and timings["latency_ms_device_p50"]["1"] == 0.25
    kinds = [c[1] for c in fake_trt.cudart.calls if c[0] == "cudaMemcpyAsync"]
    assert kinds[:2] == ["cudaMemcpyHostToDevice", "cudaMemcpyDeviceToHost"]
    assert not fake_trt.cudart.buffers  # every device and pinned buffer freed


@ALL
def test_cuda_graph_for_a_fixed_batch(fake_trt, onnx_file, tmp_path, rng):
    from support.trt_fake_runtime import tf32_logits  # FP16/INT8 builds keep TF32 on

    engine = tmp_path / "m.engine"
    build_engine(onnx_file, engine, Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=16))
    with TensorRTRunner(engine, cuda_graph_batch=4) as runner:
        for _ in range(2):
            batch = rng.normal(size=(4, 3, 32, 32)).astype(np.float32)
            np.testing.assert_allclose(runner.infer(batch), tf32_logits(batch), rtol=1e-5, atol=1e-5)
        other = rng.normal(size=(3, 3, 32, 32)).astype(np.float32)
        np.testing.assert_allclose(runner.infer(other), tf32_logits(other), rtol=1e-5, atol=1e-5)
    assert len([c for c in fake_trt.cudart.calls if c[0] == "cudaGraphLaunch"]) == 2


@ALL
def test_the_cuda_graph_context_gets_a_profile_of_its_own_where_tensorrt_needs_one(fake_trt, onnx_file, tmp_path):
    """8.5/8.6 give only the first context profile 0 (NvInferRuntime.h at 8.5.2 / v8.6.1; NVIDIA/TensorRT#846);
    10.x gives every context profile 0. The fake enforces both, so the graph context must select profile 1 on 8.x."""
    trt = fake_trt.trt
    engine = tmp_path / "m.engine"
    build_engine(onnx_file, engine, Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=16))
    with TensorRTRunner(engine, cuda_graph_batch=4) as runner:
        assert runner._graph_context.active_optimization_profile == (1 if trt.major == 8 else 0)
        assert runner._context.active_optimization_profile == 0
    selected = [c[1] for c in _calls(trt, "context.set_optimization_profile_async")]
    assert selected == ([1] if trt.major == 8 else [])


@pytest.mark.parametrize("fake_trt", ["trt8.5", "trt8.6"], indirect=True)
def test_the_fake_8x_gives_a_second_context_no_profile(fake_trt, onnx_file, tmp_path):
    """What TensorRT 8.x answers without the builder's second profile (NVIDIA/TensorRT#846), and what the
    runner then says: one line, and nothing left allocated."""
    trt = fake_trt.trt
    engine = tmp_path / "m.engine"
    build_engine(onnx_file, engine, Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=16))
    deserialized = trt.Runtime(trt.Logger()).deserialize_cuda_engine(engine.read_bytes())
    first, second = deserialized.create_execution_context(), deserialized.create_execution_context()
    assert first.set_input_shape("input", (4, 3, 32, 32)) and not second.set_input_shape("input", (4, 3, 32, 32))
    assert not second.set_optimization_profile_async(0, 0)
    assert any("Profile 0 has been chosen by another IExecutionContext" in m for _, m in trt.log)
    assert second.set_optimization_profile_async(1, 0) and second.set_input_shape("input", (4, 3, 32, 32))

    meta = json.loads(engine.read_bytes()[len(b"FAKEPLAN") :])
    meta["profiles"] = meta["profiles"][:1]  # an engine built with one profile, as before this fix
    engine.write_bytes(b"FAKEPLAN" + json.dumps(meta).encode())
    with pytest.raises(UnsupportedOptionError, match="needs a second optimization profile this engine lacks"):
        TensorRTRunner(engine, cuda_graph_batch=4).activate()
    assert not fake_trt.cudart.buffers and not fake_trt.cudart.state["live_streams"]


@ALL
def test_runner_refuses_an_engine_from_another_version_or_gpu(fake_trt, onnx_file, tmp_path):
    engine = tmp_path / "m.engine"
    build_engine(onnx_file, engine, Precision.FP16)
    sidecar = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps({**sidecar, "tensorrt_version": "7.2.3"}))
    with pytest.raises(
        EngineCompatibilityError, match=f"built with TensorRT 7.2.3, this is TensorRT {fake_trt.trt.__version__}"
    ):
        TensorRTRunner(engine).activate()
    (tmp_path / "m.json").write_text(
        json.dumps({**sidecar, "gpu": {"name": "NVIDIA H100", "compute_capability": "9.0"}})
    )
    with pytest.raises(
        EngineCompatibilityError, match=r"built on NVIDIA H100 \(sm 9.0\) .*; this is NVIDIA Orin \(fake\) \(sm 8.7\)"
    ):
        TensorRTRunner(engine).activate()


@ALL
def test_truncated_engine_and_missing_sidecar(fake_trt, onnx_file, tmp_path):
    engine = tmp_path / "m.engine"
    build_engine(onnx_file, engine, Precision.FP32)
    engine.write_bytes(engine.read_bytes()[:5])
    with pytest.raises(ModelFileError, match="could not deserialize"):
        TensorRTRunner(engine).activate()
    (tmp_path / "m.json").unlink()
    with pytest.raises(ModelFileError, match="sidecar m.json is missing"):
        TensorRTRunner(engine).activate()


@ALL
def test_engine_support_reports_ok_with_a_gpu(fake_trt):
    support = engine_support()
    assert support.ok and fake_trt.trt.__version__ in support.reason


def test_engine_support_without_tensorrt(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    support = engine_support()
    assert not support.ok and "tensorrt is not installed" in support.reason


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_real_tensorrt_engine_matches_onnxruntime(exported, test_images, tmp_path):
    """Runs only where real TensorRT and a GPU exist: a real FP16 engine against the ONNX model."""
    engine = tmp_path / "model.fp16.engine"
    build_engine(exported.out / "model.fp16.onnx", engine, Precision.FP16)
    from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner

    with TensorRTRunner(engine) as trt_runner, OnnxRuntimeRunner(exported.out / "model.fp32.onnx") as ort_runner:
        a, b = trt_runner.infer(test_images[0][:64]), ort_runner.infer(test_images[0][:64])
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.98
