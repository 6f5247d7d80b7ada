"""The GPU requirement sets and onnxruntime's provider options, checked against the released wheels' records.

tests/support/gpu_wheels.json is what tools/gpu_wheel_records.py read from PyPI's wheels with readelf
(issue #27, bugs 2 and 3): which sonames each onnxruntime-gpu provider library NEEDs, what the nvidia-*
wheels of its [cuda,cudnn] extras are called by the loader, and the libnvinfer.so.N of each TensorRT.
"""

import re

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from support.ort_loader import FakeLoader, installed_sonames, load_records, ort_records

from alexnet_edge.export.gpu.requirements import GPU_TARGETS
from alexnet_edge.runtime.backends.onnxruntime.providers import ORT_TENSORRT_MAJOR, cuda_options, tensorrt_options
from alexnet_edge.runtime.precision import Precision

X86 = {**default_environment(), "platform_machine": "x86_64", "sys_platform": "linux"}
SERVER_SETS = [t for t in GPU_TARGETS if t.machine == "x86_64"]
PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


def _packages(target) -> list[str]:
    return [line for line in target.packages if not line.startswith("#")]


def _allowed_ort(target) -> list:
    (spec,) = [Requirement(p).specifier for p in _packages(target) if Requirement(p).name == "onnxruntime-gpu"]
    return [v for v in ort_records() if spec.contains(v)]


def test_the_records_name_each_wheel_and_its_sha256():
    for record in load_records():
        name, version = record["requirement"].split("==")
        assert record["wheel"].startswith(f"{name.replace('-', '_')}-{version}-"), record["wheel"]
        assert re.fullmatch(r"[0-9a-f]{64}", record["sha256"])


@pytest.mark.parametrize("target", SERVER_SETS, ids=lambda t: t.name)
def test_each_server_set_starts_both_onnxruntime_gpu_providers(target):
    """Every recorded onnxruntime-gpu the set allows, with what the set installs on a driver-only server:
    both provider libraries find every soname they NEED (was: no libcudnn.so.9 / libcublas without the
    [cuda,cudnn] extras, and libnvinfer.so.11 from TensorRT 11 where the provider NEEDs libnvinfer.so.10)."""
    allowed = _allowed_ort(target)
    assert allowed, f"{target.name}: no recorded onnxruntime-gpu release is allowed by the set"
    for version in allowed:
        loader = FakeLoader(installed_sonames(_packages(target), version, X86))
        for provider in PROVIDERS:
            assert loader.start(version, provider) == [], f"{target.name}: onnxruntime-gpu {version} {provider}"


def test_the_fake_loader_refuses_a_set_whose_sonames_do_not_match():
    """The gpu-cuda13 set before issue #27: TensorRT 11 and no CUDA/cuDNN wheels."""
    old = [
        'onnxruntime-gpu>=1.27 ; platform_machine == "x86_64"',
        'tensorrt-cu13>=11.4,<12 ; platform_machine == "x86_64"',
    ]
    version = max(ort_records())
    loader = FakeLoader(installed_sonames(old, version, X86))
    assert {"libnvinfer.so.10", "libnvonnxparser.so.10", "libcudnn.so.9"} <= set(
        loader.start(version, "TensorrtExecutionProvider")
    )
    assert "libcublas.so.13" in loader.start(version, "CUDAExecutionProvider")
    assert "libnvinfer.so.11" in installed_sonames(old, version, X86)


def test_the_tensorrt_provider_major_table_is_what_the_wheels_need():
    for version, record in ort_records().items():
        needed = record["libraries"]["onnxruntime/capi/libonnxruntime_providers_tensorrt.so"]["needed"]
        (nvinfer,) = [s for s in needed if s.startswith("libnvinfer.so.")]
        assert ORT_TENSORRT_MAJOR[(version.major, version.minor)] == int(nvinfer.rsplit(".", 1)[1]), version
    assert set(ORT_TENSORRT_MAJOR) == {(v.major, v.minor) for v in ort_records()}


@pytest.mark.parametrize("version", sorted(ort_records()), ids=str)
def test_precision_flags_go_to_every_recorded_tensorrt_10_provider(version, tmp_path):
    """TensorRT 10's provider is weakly typed: FP16 and Q/DQ models need the flags (was: none from 1.27 on, on the
    belief that 1.27 links TensorRT 11). trt_int8_enable is in every provider library; trt_fp16_enable in every
    one but 1.22.0's .rodata (a short string a compiler may build from immediates: absence proves nothing)."""
    strings = ort_records()[version]["libraries"]["onnxruntime/capi/libonnxruntime_providers_tensorrt.so"]
    assert "trt_int8_enable" in strings["option_strings"]
    common = {"ort_version": str(version), "cache_dir": tmp_path, "max_batch": 256, "opt_batch": 32}
    assert tensorrt_options(precision=Precision.FP16, **common)["trt_fp16_enable"] is True
    assert tensorrt_options(precision=Precision.INT8, **common)["trt_int8_enable"] is True


def test_use_tf32_is_a_cuda_provider_option_in_every_recorded_release():
    for version, record in ort_records().items():
        cuda = record["libraries"]["onnxruntime/capi/libonnxruntime_providers_cuda.so"]
        assert "use_tf32" in cuda["option_strings"], version
    assert cuda_options(Precision.FP32) == {"use_tf32": "0"} and cuda_options(None) == {"use_tf32": "0"}


def test_preload_dlls_exists_in_every_recorded_release_and_the_cuda_extra_of_1_27_0_is_unresolvable():
    """1.27.0's [cuda] names nvidia-*-cu13~=13.0: PyPI has those names only as 0.0.1 placeholders (pip could
    not resolve onnxruntime-gpu[cuda,cudnn]==1.27.0, 2026-12-03), so the CUDA 13 set starts at 1.28."""
    records = ort_records()
    assert all(r["has_preload_dlls"] for r in records.values())
    (v127,) = [v for v in records if str(v) == "1.27.0"]
    assert any(d.startswith("nvidia-cuda-runtime-cu13") for d in records[v127]["extras"]["cuda"])
    (cuda13,) = [t for t in SERVER_SETS if t.name == "gpu-cuda13"]
    assert v127 not in _allowed_ort(cuda13)
