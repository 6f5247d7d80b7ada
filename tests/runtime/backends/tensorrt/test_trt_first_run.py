"""What would break the first real TensorRT run (issue #19), against fakes that enforce NVIDIA's documented
behaviour (tests/support/trt_fakes.py, tests/support/trt_fake_runtime.py) and the real cuda-python types
(tests/support/cuda_fakes.py).

Each test here failed on eb7b991: bogus stream handle, crash on a corrupt timing cache, an 8.x plan
let through to 11.x, the DLA core ignored at run time, a CUDA graph sharing its context, and strongly
typed detection that trusts a deprecated flag.
"""

import json
import sys

import numpy as np
import pytest
from support.cuda_fakes import real_cudart
from support.trt_fake_runtime import fake_logits, tf32_logits  # FP16/INT8 builds keep TF32 on; FP32 clears it
from support.trt_fakes import TIMING_CACHE_MAGIC, VERSIONS, make_tensorrt

from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine, network_flags
from alexnet_edge.runtime.backends.tensorrt.common import GpuInfo, check_sidecar, stream_handle
from alexnet_edge.runtime.backends.tensorrt.compat import plan_loads
from alexnet_edge.runtime.backends.tensorrt.features import TensorRTFeatures
from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner
from alexnet_edge.runtime.errors import BackendUnavailableError, EngineCompatibilityError, InferenceError
from alexnet_edge.runtime.precision import Precision

pytestmark = pytest.mark.trt_contract
IDS = list(VERSIONS)


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "model.fp16.onnx"
    path.write_bytes(b"\x08\x07fake onnx bytes")
    return path


def _calls(trt, name):
    return [c for c in trt.calls if c[0] == name]


# -- bug 1: the stream handle ------------------------------------------------------------------
def test_stream_handle_is_the_real_cuda_python_handle_not_its_address():
    cudart = real_cudart()
    stream = cudart.cudaStream_t(init_value=0x7F001230)
    assert stream.getPtr() != 0x7F001230  # getPtr(): where the handle is stored, not the handle
    assert stream_handle(stream) == 0x7F001230 and isinstance(stream_handle(stream), int)
    assert stream_handle(cudart.cudaStream_t(init_value=0)) == 0  # the legacy default stream
    assert stream_handle(0x7F001230) == 0x7F001230  # a plain handle passes through


@pytest.mark.parametrize("fake_trt", IDS, indirect=True)
def test_tensorrt_gets_the_stream_the_runner_created(fake_trt, onnx_file, tmp_path, rng):
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=8))
    batch = rng.normal(size=(3, 3, 32, 32)).astype(np.float32)
    with TensorRTRunner(tmp_path / "m.engine") as runner:
        np.testing.assert_allclose(runner.infer(batch), tf32_logits(batch), rtol=1e-5, atol=1e-5)
        created = int(runner._stream)
    handles = {c[1] for c in _calls(fake_trt.trt, "context.execute_async_v3")}
    assert handles == {created} and not fake_trt.trt.log


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_the_fake_refuses_a_bogus_stream_and_an_unset_dynamic_shape(fake_trt, onnx_file, tmp_path):
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=8))
    trt, cudart = fake_trt.trt, fake_trt.cudart
    engine = trt.Runtime(None).deserialize_cuda_engine((tmp_path / "m.engine").read_bytes())
    context = engine.create_execution_context()
    stream = cudart.cudaStreamCreate()[1]
    assert context.execute_async_v3(int(stream)) is False  # dynamic batch, no set_input_shape
    assert context.set_input_shape("input", (2, 3, 32, 32))
    assert context.execute_async_v3(stream.getPtr()) is False  # an address, not a live stream
    assert [level for level, _ in trt.log] == ["ERROR", "ERROR"]
    with pytest.raises(TypeError):
        context.execute_async_v3(stream)  # pybind11 size_t: the object itself does not convert


# -- bug 2: a corrupt or foreign timing cache ---------------------------------------------------
@pytest.mark.parametrize("fake_trt", ["trt8.6", "trt10.3", "trt11.4"], indirect=True)
def test_a_corrupt_timing_cache_is_replaced_not_a_crash(fake_trt, onnx_file, tmp_path, caplog):
    cache = tmp_path / "timing.cache"
    cache.write_bytes(b"\x00\x01 half a file")
    assert fake_trt.trt.Builder(None).create_builder_config().create_timing_cache(cache.read_bytes()) is None
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(timing_cache=cache))
    assert caplog.text.count("starting a fresh one") == 1
    assert cache.read_bytes().startswith(TIMING_CACHE_MAGIC)


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_a_timing_cache_of_another_tensorrt_is_replaced(fake_trt, onnx_file, tmp_path, monkeypatch, caplog):
    cache = tmp_path / "timing.cache"
    build_engine(onnx_file, tmp_path / "a.engine", Precision.FP16, EngineBuildConfig(timing_cache=cache))
    newer = make_tensorrt("trt10.9")
    newer.enqueue, newer.stream_is_live = fake_trt.trt.enqueue, fake_trt.trt.stream_is_live
    monkeypatch.setitem(sys.modules, "tensorrt", newer)
    build_engine(onnx_file, tmp_path / "b.engine", Precision.FP16, EngineBuildConfig(timing_cache=cache))
    assert caplog.text.count("starting a fresh one") == 1
    assert b'"10.9.0"' in cache.read_bytes()


# -- bug 3: the version-compatibility matrix ----------------------------------------------------
@pytest.mark.parametrize(
    ("built", "running", "vc", "ok"),
    [
        ("8.6.1", "10.3.0", True, True),
        ("10.9.0", "11.4.0", True, True),
        ("10.3.0", "10.9.0", True, True),
        ("8.6.1", "11.4.0", True, False),
        ("8.6.1", "12.0.0", True, False),
        ("10.9.0", "12.0.0", True, False),
        ("10.9.0", "10.3.0", True, False),
        ("10.3.0", "10.9.0", False, False),
        ("10.3.0", "10.3.0", False, True),
    ],
)
def test_version_compatibility_follows_the_documented_matrix(built, running, vc, ok):
    from support.trt_fake_runtime import plan_loads_on

    assert plan_loads(built, running, version_compatible=vc).ok is ok
    assert plan_loads_on(built, running, vc) is ok  # the fake, written separately, agrees
    sidecar = {
        "tensorrt_version": built,
        "gpu": {"name": "G", "compute_capability": "8.7"},
        "build_options": {"version_compatible": vc},
    }
    if ok:
        check_sidecar(sidecar, trt_version=running, gpu=GpuInfo("G", "8.7"), engine_path="m.engine")
    else:
        with pytest.raises(EngineCompatibilityError, match=f"built with TensorRT {built}, this is TensorRT {running}"):
            check_sidecar(sidecar, trt_version=running, gpu=GpuInfo("G", "8.7"), engine_path="m.engine")


@pytest.mark.parametrize(("running", "loads"), [("trt10.3", True), ("trt11.4", False)])
@pytest.mark.parametrize("fake_trt", ["trt8.6"], indirect=True)
def test_an_8x_plan_is_refused_on_11x_before_tensorrt_fails(fake_trt, onnx_file, tmp_path, monkeypatch, running, loads):
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(version_compatible=True))
    later = make_tensorrt(running)
    later.enqueue, later.stream_is_live = fake_trt.trt.enqueue, fake_trt.trt.stream_is_live
    monkeypatch.setitem(sys.modules, "tensorrt", later)
    if loads:
        with TensorRTRunner(tmp_path / "m.engine") as runner:
            assert runner.profile == (1, 256)
        return
    refusal = r"across majors TensorRT loads only 8.x plans on 10.x, 10.x plans on 11.x .*rebuild it with TensorRT 11.x"
    with pytest.raises(EngineCompatibilityError, match=refusal):
        TensorRTRunner(tmp_path / "m.engine").activate()


# -- bug 5: the DLA core at run time ------------------------------------------------------------
@pytest.mark.parametrize("fake_trt", ["trt8.5", "trt10.3"], indirect=True)
def test_the_engine_runs_on_the_dla_core_it_was_built_for(fake_trt, onnx_file, tmp_path):
    fake_trt.trt.dla_cores = 2
    config = EngineBuildConfig(min_batch=4, opt_batch=4, max_batch=4, dla_core=1)
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, config)
    with TensorRTRunner(tmp_path / "m.engine") as runner:
        assert runner._engine._dla_core == 1
    names = [c[0] for c in fake_trt.trt.calls]
    assert ("Runtime.DLA_core=", 1) in fake_trt.trt.calls
    assert names.index("Runtime.DLA_core=") < names.index("engine.create_execution_context")


# -- bug 6: the CUDA graph's own context -------------------------------------------------------
@pytest.mark.parametrize("fake_trt", IDS, indirect=True)
def test_cuda_graph_survives_other_batch_sizes_in_between(fake_trt, onnx_file, tmp_path, rng):
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=16))
    with TensorRTRunner(tmp_path / "m.engine", cuda_graph_batch=4) as runner:
        for n in (4, 3, 4, 16, 4):
            batch = rng.normal(size=(n, 3, 32, 32)).astype(np.float32)
            expected = tf32_logits(batch)
            np.testing.assert_allclose(runner.infer(batch), expected, rtol=1e-5, atol=1e-5, err_msg=f"batch {n}")
        runner.device_latency_ms(np.zeros((2, 3, 32, 32), np.float32), runs=1)
        batch = rng.normal(size=(4, 3, 32, 32)).astype(np.float32)
        np.testing.assert_allclose(runner.infer(batch), tf32_logits(batch), rtol=1e-5, atol=1e-5)
    assert len(_calls(fake_trt.trt, "engine.create_execution_context")) == 2
    assert len(_calls(fake_trt.cudart, "cudaGraphLaunch")) == 4


# -- bug 7: strongly typed by the major version -------------------------------------------------
@pytest.mark.parametrize("fake_trt", ["trt11.4"], indirect=True)
def test_11x_is_strongly_typed_without_the_deprecated_flag(fake_trt, onnx_file, tmp_path):
    trt = fake_trt.trt
    del trt.NetworkDefinitionCreationFlag.__members__["STRONGLY_TYPED"]  # deprecated in 11.x: may go
    assert network_flags(trt) == (0, True) and TensorRTFeatures.probe(trt).strongly_typed
    sidecar = build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16)
    assert sidecar["strongly_typed"] and sidecar["builder_flags"] == []


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_the_fake_refuses_precision_flags_on_a_strongly_typed_10x_network(fake_trt):
    trt = fake_trt.trt
    builder = trt.Builder(None)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    trt.OnnxParser(network, None).parse(b"fake")
    config = builder.create_builder_config()
    config.add_optimization_profile(builder.create_optimization_profile())
    config.set_flag(trt.BuilderFlag.FP16)
    assert builder.build_serialized_network(network, config) is None
    assert "strongly typed" in trt.log[-1][1]


def test_listed_plan_meta_is_json(tmp_path):
    """The fake plan is readable JSON after its magic, so the rules above can be checked from the file."""
    trt = make_tensorrt("trt10.9")
    builder = trt.Builder(None)
    network = builder.create_network(0)
    trt.OnnxParser(network, None).parse(b"fake")
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 3, 32, 32), (1, 3, 32, 32), (1, 3, 32, 32))
    config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert json.loads(plan[len(b"FAKEPLAN") :])["version"] == "10.9.0"


@pytest.mark.parametrize("fake_trt", IDS, indirect=True)
def test_fp32_engine_clears_tf32_and_meets_the_fp32_tolerance(fake_trt, onnx_file, tmp_path, rng):
    """TF32 is on by default (NvInfer.h at v10.3.0, BuilderFlag::kTF32), so an FP32 build must clear it."""
    trt = fake_trt.trt
    assert trt.Builder(None).create_builder_config().get_flag(trt.BuilderFlag.TF32)  # as the real default
    config = EngineBuildConfig(opt_batch=4, max_batch=8)
    sidecar = build_engine(onnx_file, tmp_path / "m.engine", Precision.FP32, config)
    assert ("config.clear_flag", "TF32") in trt.calls and sidecar["builder_flags_cleared"] == ["TF32"]
    batch = rng.normal(size=(4, 3, 32, 32)).astype(np.float32)
    assert np.abs(tf32_logits(batch) - fake_logits(batch)).max() > 1e-6  # the fake's TF32 really differs
    with TensorRTRunner(tmp_path / "m.engine") as runner:
        np.testing.assert_allclose(runner.infer(batch), fake_logits(batch), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_fp16_build_leaves_tf32_alone(fake_trt, onnx_file, tmp_path):
    sidecar = build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16)
    assert not any(c[0] == "config.clear_flag" for c in fake_trt.trt.calls) and sidecar["builder_flags_cleared"] == []


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_sidecar_records_the_build_platform(fake_trt, onnx_file, tmp_path):
    import platform

    sidecar = build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16)
    assert sidecar["platform"] == {"machine": platform.machine(), "system": platform.system()}
    assert json.loads((tmp_path / "m.json").read_text())["platform"] == sidecar["platform"]


X86_LINUX, ARM_LINUX = {"machine": "x86_64", "system": "Linux"}, {"machine": "aarch64", "system": "Linux"}


@pytest.mark.parametrize("level", ["NONE", "AMPERE_PLUS", "SAME_COMPUTE_CAPABILITY"])
def test_a_plan_from_another_platform_is_refused_whatever_the_level(level):
    """An x86_64 AMPERE_PLUS plan passed the GPU check on an aarch64 Orin (sm 8.7) before the platform was
    recorded; engines are not portable across platforms (TensorRT support matrix, "Engine portability")."""
    sidecar = {
        "tensorrt_version": "10.3.0",
        "platform": X86_LINUX,
        "gpu": {"name": "NVIDIA Orin (fake)", "compute_capability": "8.7"},
        "build_options": {"hardware_compatibility_level": level},
    }
    with pytest.raises(EngineCompatibilityError, match="plans are not portable across platforms") as exc:
        check_sidecar(
            sidecar,
            trt_version="10.3.0",
            gpu=GpuInfo("NVIDIA Orin (fake)", "8.7"),
            engine_path="m.engine",
            host=ARM_LINUX,
        )
    assert (exc.value.field, exc.value.built, exc.value.running) == ("platform", "x86_64 Linux", "aarch64 Linux")
    assert "\n" not in str(exc.value)
    check_sidecar(
        sidecar, trt_version="10.3.0", gpu=GpuInfo("NVIDIA Orin (fake)", "8.7"), engine_path="m.engine", host=X86_LINUX
    )  # the same platform: the GPU rules decide (here: same GPU, passes)


def test_an_old_sidecar_without_a_platform_is_accepted_with_a_warning(caplog):
    sidecar = {"tensorrt_version": "10.3.0", "gpu": {"name": "G", "compute_capability": "8.7"}, "build_options": {}}
    with caplog.at_level("WARNING"):
        check_sidecar(sidecar, trt_version="10.3.0", gpu=GpuInfo("G", "8.7"), engine_path="m.engine", host=ARM_LINUX)
    assert "does not record the build platform" in caplog.text


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_a_failed_activation_frees_what_it_took_and_ends_a_capture(fake_trt, onnx_file, tmp_path, monkeypatch):
    """BaseRunner marks a runner active only on success, so deactivate() would free nothing: activate must.
    A failure inside the graph capture ends the capture first (issue #27, probable 4)."""
    engine = tmp_path / "m.engine"
    build_engine(onnx_file, engine, Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=16))
    context_class = type(
        fake_trt.trt.Runtime(None).deserialize_cuda_engine(engine.read_bytes()).create_execution_context()
    )
    real_execute, runs = context_class.execute_async_v3, []

    def fails_when_captured(self, handle):  # the warm-up run succeeds, the captured one fails
        runs.append(handle)
        return len(runs) < 2 and real_execute(self, handle)

    monkeypatch.setattr(context_class, "execute_async_v3", fails_when_captured)
    runner = TensorRTRunner(engine, cuda_graph_batch=4)
    with pytest.raises(InferenceError, match="TensorRT execution failed"):
        runner.activate()
    cudart = fake_trt.cudart
    assert len(runs) == 2 and not runner.is_active and cudart.state["capturing"] is None
    assert not cudart.buffers and not cudart.state["live_streams"]  # device, pinned memory and the stream freed


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_cuda_python_12_6_without_a_driver_is_one_line(fake_trt, onnx_file, tmp_path):
    """cuda-python 12.6.0 raises RuntimeError "Failed to dlopen libcuda.so.1" where there is no driver (run here)."""
    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig())

    def no_driver():
        raise RuntimeError("Failed to dlopen libcuda.so.1")

    fake_trt.cudart.cudaDriverGetVersion = no_driver
    with pytest.raises(BackendUnavailableError, match="no usable NVIDIA driver: Failed to dlopen libcuda.so.1"):
        TensorRTRunner(tmp_path / "m.engine").activate()
