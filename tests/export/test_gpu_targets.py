"""Each GPU requirements set is coherent for its target, and pip can never fail on a Jetson for it."""

import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from alexnet_edge.export.gpu_targets import GPU_TARGETS

ROOT = Path(__file__).resolve().parents[2]
JETSON = {**default_environment(), "platform_machine": "aarch64", "sys_platform": "linux"}
X86 = {**default_environment(), "platform_machine": "x86_64", "sys_platform": "linux"}


def _requirements(text: str) -> list[Requirement]:
    return [Requirement(line) for line in text.splitlines() if line and not line.startswith("#")]


def _active(reqs: list[Requirement], env: dict) -> dict[str, SpecifierSet]:
    return {r.name: r.specifier for r in reqs if r.marker is None or r.marker.evaluate(env)}


@pytest.mark.parametrize("target", GPU_TARGETS, ids=lambda t: t.name)
def test_each_set_matches_its_cuda_major(target):
    active = _active(_requirements(target.render()), X86 if target.name.startswith("gpu-") else JETSON)
    assert "onnxruntime-gpu" not in _active(_requirements(target.render()), JETSON)  # no aarch64 wheel on PyPI
    assert not ({"onnxruntime", "onnxruntime-gpu"} <= set(active))  # they install the same module
    if "cuda-python" in active:  # its major is the CUDA major it links, and the driver must support it
        spec = active["cuda-python"]
        assert f"{target.cuda_major}.9" in spec and f"{target.cuda_major + 1}.0" not in spec and f"{target.cuda_major - 1}.9" not in spec
    if "onnxruntime-gpu" in active:  # 1.20-1.26: CUDA 12 + TensorRT 10; 1.27+: CUDA 13 + TensorRT 11
        assert ("1.26.0" in active["onnxruntime-gpu"]) == (target.cuda_major == 12)
        assert ("1.27.0" in active["onnxruntime-gpu"]) == (target.cuda_major == 13)
        trt = active[f"tensorrt-cu{target.cuda_major}"]
        assert ("10.16.1" in trt) == (target.cuda_major == 12) and ("11.4.0" in trt) == (target.cuda_major == 13)
    if target.name.startswith("jetpack"):
        assert not any(name.startswith("tensorrt") for name in active)  # TensorRT comes with JetPack


def test_pyproject_gpu_extras_are_the_server_sets():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    by_name = {t.name: t for t in GPU_TARGETS}
    for extra in ("gpu-cuda12", "gpu-cuda13"):
        assert [str(Requirement(r)) for r in extras[extra]] == [str(r) for r in _requirements(by_name[extra].render()) if r.name not in {"numpy", "pillow", "click", "tqdm"}]
    assert extras["gpu"] == extras["gpu-cuda12"]
