"""Each GPU requirements set is coherent for its target, and pip can never fail on a Jetson for it."""

import pytest
import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from support.paths import REPO

from alexnet_edge.export.gpu.requirements import GPU_TARGETS

ROOT = REPO
AARCH64 = {**default_environment(), "platform_machine": "aarch64", "sys_platform": "linux"}  # Jetson or SBSA server
X86 = {**default_environment(), "platform_machine": "x86_64", "sys_platform": "linux"}
ENV = {"x86_64": X86, "aarch64": AARCH64}
#: First onnxruntime-gpu with a manylinux aarch64 wheel on PyPI (pip download --platform manylinux_2_34_aarch64:
#: 1.28.0 has none, 1.29.0-1.31.1 exist), all CUDA 13 SBSA builds without the TensorRT provider.
ORT_GPU_FIRST_AARCH64 = "1.29.0"


def _requirements(text: str) -> list[Requirement]:
    return [Requirement(line) for line in text.splitlines() if line and not line.startswith("#")]


def _active(reqs: list[Requirement], env: dict) -> dict[str, SpecifierSet]:
    return {r.name: r.specifier for r in reqs if r.marker is None or r.marker.evaluate(env)}


@pytest.mark.parametrize("target", GPU_TARGETS, ids=lambda t: t.name)
def test_each_set_matches_its_cuda_major(target):
    reqs = _requirements(target.render())
    active = _active(reqs, ENV[target.machine])
    assert not ({"onnxruntime", "onnxruntime-gpu"} <= set(active))  # they install the same module
    if "cuda-python" in active:  # its major is the CUDA major it links, and the driver must support it
        spec = active["cuda-python"]
        major = target.cuda_major
        assert f"{major}.6.2" in spec and f"{major + 1}.0" not in spec and f"{major - 1}.9" not in spec
    if "onnxruntime-gpu" in active:  # 1.21.1-1.26: CUDA 12; 1.28+: CUDA 13 (1.27.0's [cuda] extra is unresolvable)
        assert ("1.26.0" in active["onnxruntime-gpu"]) == (target.cuda_major == 12)
        assert ("1.28.0" in active["onnxruntime-gpu"]) == (target.cuda_major == 13 and target.machine == "x86_64")
        assert "1.27.0" not in active["onnxruntime-gpu"]
    if target.machine == "x86_64" and "onnxruntime-gpu" in active:  # its TensorRT provider NEEDs libnvinfer.so.10
        trt = active[f"tensorrt-cu{target.cuda_major}"]
        assert "10.16.1" in trt and "11.4.0" not in trt and ("10.8.0" in trt) is False
    if target.machine == "aarch64":  # PyPI has aarch64 onnxruntime-gpu only from 1.29, and no CUDA 13 / 11.x TensorRT
        assert not any(name.startswith("tensorrt") for name in active)
        if "onnxruntime-gpu" in active:
            assert "1.28.0" not in active["onnxruntime-gpu"] and ORT_GPU_FIRST_AARCH64 in active["onnxruntime-gpu"]
    if target.name.startswith("jetpack"):  # Jetson takes JetPack's own onnxruntime-gpu; PyPI's is an SBSA build
        assert "onnxruntime-gpu" not in _active(reqs, AARCH64) and "onnxruntime-gpu" not in _active(reqs, X86)


def test_x86_sets_install_nothing_gpu_side_on_aarch64_and_the_sbsa_set_nothing_on_x86():
    by_name = {t.name: t for t in GPU_TARGETS}
    for name in ("gpu-cuda12", "gpu-cuda13"):
        on_aarch64 = set(_active(_requirements(by_name[name].render()), AARCH64))
        assert on_aarch64 & {"onnxruntime-gpu", "tensorrt-cu12", "tensorrt-cu13"} == set()
    assert "onnxruntime-gpu" not in _active(_requirements(by_name["gpu-sbsa-cuda13"].render()), X86)
    assert "onnxruntime-gpu" in _active(_requirements(by_name["gpu-sbsa-cuda13"].render()), AARCH64)


def test_jetpack6_holds_cuda_python_at_the_drivers_cuda():
    """JetPack 6's driver is CUDA 12.6; newer 12.x would lean on minor version compatibility (unconfirmed on Tegra)."""
    spec = _active(_requirements({t.name: t for t in GPU_TARGETS}["jetpack6"].render()), AARCH64)["cuda-python"]
    assert "12.6.2.post1" in spec and "12.7.0" not in spec and "12.9.10" not in spec


def test_no_set_claims_tensorrt_11_4_0_on_jetson():
    """11.4.0 supports no Jetson; 11.4.1 adds AGX Orin and Thor on JetPack 7.2.2+ (TensorRT 11.4.1 release notes)."""
    for target in GPU_TARGETS:
        assert "11.4.0" not in target.tensorrt and "11.4.0" not in target.title
        if target.name == "jetpack7":
            assert "11.4.1" in target.tensorrt and "7.2.2" in target.tensorrt


def test_pyproject_gpu_extras_are_the_server_sets():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    by_name = {t.name: t for t in GPU_TARGETS}
    for extra in ("gpu-cuda12", "gpu-cuda13", "gpu-sbsa-cuda13"):
        common = {"numpy", "pillow", "click", "tqdm"}
        rendered = [str(r) for r in _requirements(by_name[extra].render()) if r.name not in common]
        assert [str(Requirement(r)) for r in extras[extra]] == rendered
    assert extras["gpu"] == extras["gpu-cuda12"]
