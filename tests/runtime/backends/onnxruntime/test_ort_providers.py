"""onnxruntime's TensorRT provider: the options we pass, and honesty about the provider really used.

There is no GPU here, so a thin fake onnxruntime module reports the GPU providers as available,
records what InferenceSession is given, and runs a real CPU session underneath. Its
``get_providers()`` answers what a real session answers after it started (or fell back).
"""

import types

import numpy as np
import onnxruntime as real_ort
import pytest
from support.paths import REPO

from alexnet_edge.runtime.backends.onnxruntime.providers import tensorrt_options
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.errors import BackendUnavailableError
from alexnet_edge.runtime.precision import Precision

pytestmark = pytest.mark.trt_contract
GPU = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


@pytest.fixture
def fake_ort(monkeypatch):
    def make(version: str, *, started: list[str] | None = None, fails: str | None = None):
        ort = types.ModuleType("onnxruntime")
        for name in ("SessionOptions", "GraphOptimizationLevel", "ExecutionMode"):
            setattr(ort, name, getattr(real_ort, name))
        ort.__version__, ort.sessions = version, []
        ort.get_available_providers = lambda: list(GPU)

        class InferenceSession(real_ort.InferenceSession):
            def __init__(self, path, options, providers, provider_options):
                ort.sessions.append({"providers": providers, "provider_options": provider_options})
                if fails:
                    raise RuntimeError(fails)
                super().__init__(path, options, providers=["CPUExecutionProvider"])

            def get_providers(self):
                return list(started or ["CPUExecutionProvider"])

            def io_binding(self):  # GPU path: IO binding over the real CPU session
                return super().io_binding()

        ort.InferenceSession = InferenceSession
        monkeypatch.setitem(__import__("sys").modules, "onnxruntime", ort)
        return ort

    return make


@pytest.mark.parametrize(
    ("version", "flags"),
    [
        ("1.17.3", {"trt_int8_enable": True}),
        ("1.26.0", {"trt_int8_enable": True}),
        ("1.27.0", {"trt_int8_enable": True}),  # its provider NEEDs libnvinfer.so.10: TensorRT 10, weakly typed
        ("1.31.1", {"trt_int8_enable": True}),
    ],
)
def test_tensorrt_provider_options_for_the_int8_model(fake_ort, exported, tmp_path, version, flags):
    ort = fake_ort(version, started=GPU)
    with OnnxRuntimeRunner(exported.out / "model.int8.onnx", trt_cache_dir=tmp_path / "cache") as runner:
        assert runner.providers == GPU and runner.device == "cuda"
        runner.infer(np.zeros((2, 3, 32, 32), np.float32))
    # the precision is not given: read from the model's metadata on a CPU session first, not from its file name
    metadata_read, session = ort.sessions
    assert metadata_read == {"providers": ["CPUExecutionProvider"], "provider_options": [{}]}
    trt_options, cuda_options, cpu_options = session["provider_options"]
    assert cuda_options == {} and cpu_options == {}
    assert trt_options == {
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(tmp_path / "cache"),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(tmp_path / "cache"),
        "trt_profile_min_shapes": "input:1x3x32x32",
        "trt_profile_opt_shapes": "input:32x3x32x32",
        "trt_profile_max_shapes": "input:256x3x32x32",
        **flags,
    }
    assert (tmp_path / "cache").is_dir()


def test_fp16_flag_where_the_provider_links_a_weakly_typed_tensorrt(tmp_path):
    """Every recorded provider (1.21.1 to 1.31.1) links TensorRT 10 (tests/export/gpu/test_gpu_wheels.py)."""
    common = {"precision": Precision.FP16, "cache_dir": tmp_path, "max_batch": 8, "opt_batch": 32}
    assert tensorrt_options(ort_version="1.20.1", **common)["trt_fp16_enable"] is True
    assert tensorrt_options(ort_version="1.31.1", **common)["trt_fp16_enable"] is True
    assert tensorrt_options(ort_version="1.40.0", **common)["trt_fp16_enable"] is True  # newer: as the newest recorded
    assert tensorrt_options(ort_version="1.20.1", **common)["trt_profile_opt_shapes"] == "input:8x3x32x32"  # opt <= max
    assert not {"trt_fp16_enable", "trt_int8_enable"} & set(
        tensorrt_options(ort_version="1.20.1", **{**common, "precision": Precision.FP32})
    )


def test_the_flags_follow_the_given_precision_not_the_file_name(fake_ort, exported, tmp_path):
    """A model renamed, or one whose name says nothing: the caller's precision sets the flags, in one session."""
    from alexnet_edge.runtime.precision import Precision

    renamed = tmp_path / "classifier.onnx"
    renamed.write_bytes((exported.out / "model.int8.onnx").read_bytes())
    ort = fake_ort("1.26.0", started=GPU)
    with OnnxRuntimeRunner(renamed, precision=Precision.INT8, trt_cache_dir=tmp_path / "cache"):
        pass
    (session,) = ort.sessions
    assert session["provider_options"][0]["trt_int8_enable"] is True
    ort.sessions.clear()
    with OnnxRuntimeRunner(renamed, trt_cache_dir=tmp_path / "cache"):  # no precision given: its metadata says int8
        pass
    assert ort.sessions[-1]["provider_options"][0]["trt_int8_enable"] is True


@pytest.mark.parametrize("providers", ["tensorrt", None])
def test_a_silent_fallback_to_cpu_fails(fake_ort, exported, tmp_path, providers):
    """Asked (or, automatically, offered) a GPU provider and got the CPU: no row may pass as a GPU one (#27 bug 3)."""
    fake_ort("1.31.1", started=["CPUExecutionProvider"])  # TensorRT and CUDA providers failed to start
    runner = OnnxRuntimeRunner(exported.out / "model.fp32.onnx", providers=providers, trt_cache_dir=tmp_path)
    with pytest.raises(
        BackendUnavailableError,
        match="could not start TensorrtExecutionProvider.* for model.fp32.onnx and runs it on CPUExecutionProvider.*"
        r"onnxruntime-gpu\[cuda,cudnn\].*--providers cpu",
    ):
        runner.activate()
    assert not runner.is_active


def test_preload_dlls_runs_before_a_gpu_session_and_its_complaint_is_said(fake_ort, small_model, tmp_path):
    """onnxruntime.preload_dlls loads CUDA/cuDNN from the nvidia-* wheels (its docstring: call it unless a matching
    torch was imported first); what it prints comes back in the one error line, never on stdout."""
    ort = fake_ort("1.26.0", started=["CPUExecutionProvider"])
    order = []

    def preload_dlls():
        order.append("preload")
        print("Failed to load libcudnn.so.9: libcudnn.so.9: cannot open shared object file")

    ort.preload_dlls = preload_dlls
    base = ort.InferenceSession

    class InferenceSession(base):
        def __init__(self, *args, **kwargs):
            order.append("session")
            super().__init__(*args, **kwargs)

    ort.InferenceSession = InferenceSession
    with pytest.raises(BackendUnavailableError, match=r"preload_dlls said: Failed to load libcudnn\.so\.9"):
        OnnxRuntimeRunner(small_model, providers="cuda", trt_cache_dir=tmp_path).activate()
    assert order[-2:] == ["preload", "session"]


def test_fp32_on_the_cuda_provider_runs_without_tf32_and_the_row_says_so(fake_ort, small_model, tmp_path):
    """The CUDA provider's use_tf32 defaults to true (cuda_execution_provider_info.h); FP32 must not round to TF32."""
    fp32 = tmp_path / "model.fp32.onnx"
    fp32.write_bytes(small_model.read_bytes())
    ort = fake_ort("1.31.1", started=["CUDAExecutionProvider", "CPUExecutionProvider"])
    with OnnxRuntimeRunner(fp32, providers="cuda", precision=Precision.FP32, trt_cache_dir=tmp_path) as runner:
        settings = runner.settings()["onnxruntime"]
    assert ort.sessions[-1]["provider_options"][0] == {"use_tf32": "0"}
    assert settings == {"providers": ["CUDAExecutionProvider", "CPUExecutionProvider"], "cuda_use_tf32": False}
    with OnnxRuntimeRunner(small_model, providers="cuda", precision=Precision.FP16, trt_cache_dir=tmp_path) as runner:
        assert runner.settings()["onnxruntime"]["cuda_use_tf32"] is True  # FP16 keeps the provider's default


def test_tensorrt_provider_failure_is_not_called_a_bad_model(fake_ort, exported, tmp_path):
    fake_ort(
        "1.17.3",
        fails=(
            "[ONNXRuntimeError] : 1 : FAIL : TensorRT EP failed to create engine from network: int8 is not configured"
        ),
    )
    with pytest.raises(
        BackendUnavailableError,
        match=r"model.int8.onnx: onnxruntime's TensorRT provider failed .*int8 is not configured.*--providers cuda",
    ):
        OnnxRuntimeRunner(exported.out / "model.int8.onnx", trt_cache_dir=tmp_path).activate()


@pytest.fixture
def pip_tensorrt(tmp_path, monkeypatch):
    """A ``tensorrt_libs`` package like pip's: importing it is what loads libnvinfer (here: records it)."""
    import sys

    package = tmp_path / "site" / "tensorrt_libs"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("LOADED = ['libnvinfer.so.10']  # the real one ctypes-loads every *.so here\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "tensorrt_libs", raising=False)
    return package


def _loader_dependent_ort(fake_ort, version="1.26.0"):
    """The TensorRT provider starts only if libnvinfer is already loaded when the session is created (#18597)."""
    import sys

    ort = fake_ort(version)
    base = ort.InferenceSession

    class InferenceSession(base):
        def get_providers(self):
            started = sys.modules.get("tensorrt_libs") is not None
            return (["TensorrtExecutionProvider"] if started else []) + GPU[1:]

    ort.InferenceSession = InferenceSession
    return ort


@pytest.fixture
def small_model(tmp_path):
    """A real model.fp16.onnx-named float model of the runner's signature (no full export needed)."""
    from onnx import TensorProto, helper, numpy_helper, save

    weights = numpy_helper.from_array(np.full((10, 3 * 32 * 32), 1e-3, np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"]),
            helper.make_node("Gemm", ["flat", "w"], ["logits"], transB=1),
        ],
        "m",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [weights],
    )
    path = tmp_path / "model.fp16.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_pip_tensorrt_is_loaded_before_the_tensorrt_provider_starts(
    fake_ort, pip_tensorrt, small_model, tmp_path, caplog
):
    _loader_dependent_ort(fake_ort)
    with OnnxRuntimeRunner(small_model, providers="tensorrt", trt_cache_dir=tmp_path / "c") as runner:
        assert runner.providers[0] == "TensorrtExecutionProvider" and runner.tensorrt_libs == str(pip_tensorrt)
    assert "could not start" not in caplog.text


def test_without_pip_tensorrt_the_fallback_is_reported_with_what_to_do(
    fake_ort, small_model, tmp_path, monkeypatch, caplog
):
    """Chosen automatically, losing TensorRT but keeping CUDA is a warning; named, it is an error."""
    import sys

    monkeypatch.setitem(sys.modules, "tensorrt_libs", None)  # import tensorrt_libs -> ImportError
    _loader_dependent_ort(fake_ort)
    with OnnxRuntimeRunner(small_model, trt_cache_dir=tmp_path / "c") as runner:
        assert runner.providers[0] == "CUDAExecutionProvider" and runner.tensorrt_libs is None
    err = caplog.text
    assert "could not start TensorrtExecutionProvider for model.fp16.onnx and runs it on CUDAExecutionProvider" in err
    assert "no pip TensorRT found: pip install tensorrt-cu12, or put libnvinfer's folder on LD_LIBRARY_PATH" in err
    with pytest.raises(BackendUnavailableError, match="could not start TensorrtExecutionProvider"):
        OnnxRuntimeRunner(small_model, providers=["tensorrt", "cuda"], trt_cache_dir=tmp_path / "c").activate()


def test_int8_on_an_onnxruntime_that_leaves_qdq_unfused_is_warned():
    """1.20.x runs the INT8 model as DequantizeLinear -> FP32 Conv (measured: its optimized graph has no
    QLinearConv); from 1.21 the Q/DQ pairs become QLinearConv/QGemm."""
    from alexnet_edge.runtime.backends.onnxruntime.providers import unfused_int8_warning

    int8 = {"precision": "int8"}
    assert "does not fuse" in unfused_int8_warning("1.20.1", int8) and "onnxruntime>=1.21.1" in unfused_int8_warning(
        "1.20.0", int8
    )
    assert unfused_int8_warning("1.21.0", int8) is None and unfused_int8_warning("1.32.0", int8) is None
    assert unfused_int8_warning("1.20.1", {"precision": "fp32"}) is None


def test_the_oldest_supported_onnxruntime_is_said_in_one_place():
    import re

    import tomllib

    from alexnet_edge.export.bundle.texts import PY310_ONNXRUNTIME
    from alexnet_edge.runtime.backends.registry import ONNXRUNTIME_MIN

    root = REPO
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["cpu"] == [f"onnxruntime>={ONNXRUNTIME_MIN}"]
    assert all(f"onnxruntime-gpu[cuda,cudnn]>={ONNXRUNTIME_MIN}," in extras[name][0] for name in ("gpu", "gpu-cuda12"))
    assert PY310_ONNXRUNTIME.startswith(f"onnxruntime>={ONNXRUNTIME_MIN},")
    oldest = re.search(r"^ORT_OLDEST\s*\?=\s*(\S+)", (root / "Makefile").read_text(), re.M).group(1)
    assert oldest == ONNXRUNTIME_MIN  # make test-targets proves the oldest release allowed
