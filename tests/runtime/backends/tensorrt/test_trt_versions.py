"""Version-gated TensorRT options, DLA, the CUDA driver check and the engine sidecar, per release.

Each case here failed (a raw AttributeError, a wrong engine, or a misleading message) before these
checks existed; the fakes are built from the real binding sources (tests/support/trt_api/), so they cannot
offer what a release lacks.
"""

import json

import pytest
from support.trt_fakes import FAKE_CLASSES, VERSIONS, api_listing, make_tensorrt, public_names

from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine, engine_support
from alexnet_edge.runtime.backends.tensorrt.common import GpuInfo, check_sidecar
from alexnet_edge.runtime.backends.tensorrt.features import KNOWN_RELEASES, TensorRTFeatures, UnsupportedOptionError
from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner
from alexnet_edge.runtime.errors import BackendUnavailableError, EngineCompatibilityError, InferenceError
from alexnet_edge.runtime.precision import Precision

pytestmark = pytest.mark.trt_contract
IDS = list(VERSIONS)


@pytest.fixture
def onnx_file(tmp_path):
    path = tmp_path / "model.int8.onnx"
    path.write_bytes(b"\x08\x07fake onnx bytes")
    return path


@pytest.mark.parametrize("test_id", IDS)
def test_fakes_are_no_kinder_than_the_real_bindings(test_id):
    listing, trt = api_listing(test_id), make_tensorrt(test_id)
    for enum_name, members in listing["enums"].items():
        if members is None:
            assert not hasattr(trt, enum_name)
        else:
            assert list(getattr(trt, enum_name).__members__) == members
    for fake, real in FAKE_CLASSES.items():
        extra = (
            public_names(getattr(trt, fake))
            - set(listing["classes"][real])
            - {"Severity", "WARNING", "ERROR", "INFO", "VERBOSE", "INTERNAL_ERROR"}
        )
        assert not extra, f"fake {fake} offers {extra}, which TensorRT {listing['version']}'s {real} does not have"
    assert [n for n in listing["calibrators"] if hasattr(trt, n)] == listing["calibrators"]


@pytest.mark.parametrize("test_id", IDS)
def test_known_releases_match_what_probe_finds(test_id):
    """The table trtexec.md is written from equals what the builder would probe on that release."""
    assert TensorRTFeatures.probe(make_tensorrt(test_id)) == KNOWN_RELEASES[VERSIONS[test_id]]


@pytest.mark.parametrize("fake_trt", ["trt8.6", "trt10.3"], indirect=True)
def test_same_compute_capability_is_refused_before_10_9(fake_trt, onnx_file, tmp_path):
    config = EngineBuildConfig(hardware_compatibility="same_compute_capability")
    with pytest.raises(UnsupportedOptionError, match=r"needs TensorRT 10.9 or newer; this is TensorRT (8.6.1|10.3.0)"):
        build_engine(onnx_file, tmp_path / "m.engine", Precision.INT8, config)
    assert not any(c[0] == "builder.create_network" for c in fake_trt.trt.calls)  # refused before any work


@pytest.mark.parametrize("fake_trt", ["trt10.9", "trt11.4"], indirect=True)
def test_same_compute_capability_where_it_exists(fake_trt, onnx_file, tmp_path):
    trt = fake_trt.trt
    sidecar = build_engine(
        onnx_file,
        tmp_path / "m.engine",
        Precision.INT8,
        EngineBuildConfig(hardware_compatibility="same_compute_capability"),
    )
    assert (
        "BuilderConfig.hardware_compatibility_level=",
        trt.HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY,
    ) in trt.calls
    assert sidecar["build_options"]["hardware_compatibility_level"] == "SAME_COMPUTE_CAPABILITY"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"version_compatible": True}, r"--version-compatible needs TensorRT 8.6 or newer; this is TensorRT 8.5.2"),
        (
            {"hardware_compatibility": "ampere_plus"},
            r"--hardware-compatibility ampere_plus needs TensorRT 8.6 "
            r"or newer; this is TensorRT 8.5.2 \(it offers: none\)",
        ),
    ],
)
@pytest.mark.parametrize("fake_trt", ["trt8.5"], indirect=True)
def test_jetpack5_tensorrt_8_5_refuses_what_it_lacks(fake_trt, onnx_file, tmp_path, options, message):
    with pytest.raises(UnsupportedOptionError, match=message):
        build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(**options))


@pytest.mark.parametrize("fake_trt", ["trt8.5"], indirect=True)
def test_jetpack5_tensorrt_8_5_builds_and_runs(fake_trt, onnx_file, tmp_path):
    sidecar = build_engine(
        onnx_file, tmp_path / "m.engine", Precision.INT8, EngineBuildConfig(opt_batch=8, max_batch=8)
    )
    assert sidecar["builder_flags"] == ["INT8"] and not sidecar["strongly_typed"]
    with TensorRTRunner(tmp_path / "m.engine") as runner:
        assert runner.profile == (1, 8)


@pytest.mark.parametrize("fake_trt", IDS, indirect=True)
def test_dla_core_beyond_the_platform_is_refused(fake_trt, onnx_file, tmp_path):
    config = EngineBuildConfig(min_batch=4, opt_batch=4, max_batch=4, dla_core=0)
    with pytest.raises(
        UnsupportedOptionError, match=r"--dla-core 0: this .* has 0 DLA core\(s\) under TensorRT"
    ) as exc:
        build_engine(onnx_file, tmp_path / "m.engine", Precision.INT8, config)
    if fake_trt.trt.__version__.startswith("11."):
        assert "11.4.1+ on Jetson AGX Orin with JetPack 7.2.2+" in str(exc.value) and "never on Jetson Thor" in str(
            exc.value
        )
    fake_trt.trt.dla_cores = 2
    with pytest.raises(UnsupportedOptionError, match="--dla-core 2: .* has 2 DLA core"):
        build_engine(
            onnx_file,
            tmp_path / "m.engine",
            Precision.INT8,
            EngineBuildConfig(min_batch=4, opt_batch=4, max_batch=4, dla_core=2),
        )


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_cuda_python_13_on_a_cuda_12_driver_says_what_to_install(fake_trt, onnx_file, tmp_path):
    fake_trt.bindings.__version__ = "13.0.1"
    fake_trt.cudart.driver_version = 12060  # JetPack 6 / a CUDA 12 server
    support = engine_support()
    assert not support.ok
    assert support.reason == (
        "cuda-python 13.0.1 needs a CUDA 13 driver, but this driver supports CUDA 12.6: "
        "pip install 'cuda-python>=12.0,<13' (or update the driver)"
    )
    with pytest.raises(BackendUnavailableError, match="cuda-python 13.0.1 needs a CUDA 13 driver"):
        TensorRTRunner(tmp_path / "m.engine").activate()


@pytest.mark.parametrize("fake_trt", ["trt11.4"], indirect=True)
def test_cudart_failures_come_back_as_error_tuples(fake_trt):
    fake_trt.cudart.fail["cudaGetDeviceCount"] = "cudaErrorNoDevice"
    support = engine_support()
    assert not support.ok and support.reason == "no CUDA GPU visible (cudaGetDeviceCount: cudaErrorNoDevice)"
    fake_trt.cudart.fail = {"cudaDriverGetVersion": "cudaErrorInsufficientDriver"}
    assert (
        "no usable NVIDIA driver: cudaDriverGetVersion returned cudaErrorInsufficientDriver" in engine_support().reason
    )


@pytest.mark.parametrize("fake_trt", ["trt10.3", "trt11.4"], indirect=True)
def test_mismatched_timing_cache_is_replaced_and_said_once(fake_trt, onnx_file, tmp_path, caplog):
    from support.trt_fakes import TIMING_CACHE_MAGIC

    cache = tmp_path / "timing.cache"
    build_engine(onnx_file, tmp_path / "a.engine", Precision.INT8, EngineBuildConfig(timing_cache=cache))
    fake_trt.trt.gpu = "NVIDIA H100"  # the same TensorRT, another GPU: set_timing_cache refuses it
    build_engine(onnx_file, tmp_path / "m.engine", Precision.INT8, EngineBuildConfig(timing_cache=cache))
    err = caplog.text  # logged (runtime's logger); the CLIs print it as one line
    assert err.count("is from another TensorRT version or GPU; starting a fresh one") == 1
    assert cache.read_bytes().startswith(TIMING_CACHE_MAGIC) and b"NVIDIA H100" in cache.read_bytes()  # fresh one saved


def _sidecar(
    built: str, *, vc: bool = False, level: str = "NONE", cc: str = "8.7", name: str = "NVIDIA Orin (fake)"
) -> dict:
    return {
        "tensorrt_version": built,
        "gpu": {"name": name, "compute_capability": cc},
        "build_options": {"version_compatible": vc, "hardware_compatibility_level": level},
    }


@pytest.mark.parametrize(
    ("sidecar", "running", "gpu", "error"),
    [
        (_sidecar("8.6.1", vc=True), "10.3.0", GpuInfo("NVIDIA Orin (fake)", "8.7"), None),  # documented 8.6 -> 10.x
        (_sidecar("10.9.0", vc=True), "11.4.0", GpuInfo("NVIDIA Orin (fake)", "8.7"), None),  # documented 10.x -> 11.x
        (_sidecar("11.4.0", vc=True), "10.9.0", GpuInfo("NVIDIA Orin (fake)", "8.7"), "only on the same or a newer"),
        (_sidecar("10.3.0"), "10.9.0", GpuInfo("NVIDIA Orin (fake)", "8.7"), "build with --version-compatible"),
        (
            _sidecar("10.9.0", level="SAME_COMPUTE_CAPABILITY", cc="8.9", name="NVIDIA L4"),
            "10.9.0",
            GpuInfo("NVIDIA L40S", "8.9"),
            None,
        ),
        (
            _sidecar("10.9.0", level="SAME_COMPUTE_CAPABILITY", cc="8.9", name="NVIDIA L4"),
            "10.9.0",
            GpuInfo("NVIDIA A100", "8.0"),
            "compute capability 8.9",
        ),
        (
            _sidecar("10.3.0", level="AMPERE_PLUS", cc="8.0", name="NVIDIA A100"),
            "10.3.0",
            GpuInfo("NVIDIA H100", "9.0"),
            None,
        ),
        (
            _sidecar("10.3.0", level="AMPERE_PLUS", cc="8.0", name="NVIDIA A100"),
            "10.3.0",
            GpuInfo("Tesla T4", "7.5"),
            "Ampere or newer",
        ),
        (
            _sidecar("10.3.0", cc="8.0", name="NVIDIA A100"),
            "10.3.0",
            GpuInfo("NVIDIA H100", "9.0"),
            "the same GPU model",
        ),
    ],
)
def test_sidecar_rules(sidecar, running, gpu, error):
    if error is None:
        check_sidecar(sidecar, trt_version=running, gpu=gpu, engine_path="m.engine")
    else:
        with pytest.raises(EngineCompatibilityError, match=error):
            check_sidecar(sidecar, trt_version=running, gpu=gpu, engine_path="m.engine")


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_graph_destroyed_stream_by_pointer_and_execution_failure(fake_trt, onnx_file, tmp_path, rng):
    import numpy as np

    build_engine(onnx_file, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(opt_batch=4, max_batch=16))
    runner = TensorRTRunner(tmp_path / "m.engine", cuda_graph_batch=4)
    with runner:
        runner.infer(rng.normal(size=(2, 3, 32, 32)).astype(np.float32))  # leaves the context at batch 2
        runner.device_latency_ms(np.zeros((4, 3, 32, 32), np.float32), runs=2)
        timed = [c for c in fake_trt.trt.calls if c[0] == "context.execute_async_v3"][-2:]
        assert [c[2][0] for c in timed] == [4, 4]  # timed at the batch asked for, not the stale one
        fake_trt.trt.execute_result = False
        with pytest.raises(InferenceError, match="TensorRT execution failed"):
            runner.device_latency_ms(np.zeros((3, 3, 32, 32), np.float32), runs=1)
    state = fake_trt.cudart.state
    assert not state["graphs"] and not state["execs"] and not state["live_streams"]  # all destroyed


def test_engine_build_config_has_one_json_form(tmp_path):
    config = EngineBuildConfig(
        min_batch=2,
        opt_batch=8,
        max_batch=8,
        timing_cache=tmp_path / "t.cache",
        dla_core=0,
        version_compatible=True,
        hardware_compatibility="ampere_plus",
    )
    data = json.loads(json.dumps(config.to_dict()))
    assert EngineBuildConfig.from_dict(data) == config and data["timing_cache"] == str(tmp_path / "t.cache")
    assert EngineBuildConfig.from_dict({**data, "added_by_a_newer_writer": 1}) == config
