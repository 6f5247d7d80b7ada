"""A library-loading model of onnxruntime-gpu's providers, from the released wheels (gpu_wheels.json).

tools/gpu_wheel_records.py wrote gpu_wheels.json with readelf: each onnxruntime-gpu release's provider
libraries and the sonames they NEED; the SONAME of every library in the nvidia-* wheels its [cuda,cudnn]
extras install; and the libnvinfer.so.N each TensorRT release's Python bindings NEED (PyPI has no
tensorrt-cuNN-libs wheels: its libraries come from pypi.nvidia.com). The dynamic loader opens a library
only when every NEEDED soname is found, on the system or among the installed libraries' SONAMEs; a
provider library that does not load is dropped, and onnxruntime falls back without raising (#27177).

``FakeLoader(installed).missing(library)`` is that rule; ``installed_sonames`` says what a requirement
set installs, by the records (a package the records do not know provides nothing).
"""

from __future__ import annotations

import json
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

RECORDS = Path(__file__).with_name("gpu_wheels.json")
#: What a driver-only x86_64 Linux server has before any pip package: glibc, the GCC runtime and the driver's
#: libcuda.so.1 (the NVIDIA driver installs it; CUDA itself is not installed).
SYSTEM = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "librt.so.1",
        "libpthread.so.0",
        "libstdc++.so.6",
        "libgcc_s.so.1",
        "ld-linux-x86-64.so.2",
        "libcuda.so.1",
    }
)
PROVIDER_LIBRARY = {
    "CUDAExecutionProvider": "onnxruntime/capi/libonnxruntime_providers_cuda.so",
    "TensorrtExecutionProvider": "onnxruntime/capi/libonnxruntime_providers_tensorrt.so",
}


def load_records() -> list[dict]:
    return json.loads(RECORDS.read_text())["records"]


def _name_version(record: dict) -> tuple[str, Version]:
    name, _, version = record["requirement"].partition("==")
    return name, Version(version)


def ort_records() -> dict[Version, dict]:
    """onnxruntime-gpu version -> its record."""
    return {v: r for r in load_records() for n, v in [_name_version(r)] if n == "onnxruntime-gpu"}


def tensorrt_sonames(record: dict) -> set[str]:
    """What a TensorRT release's libraries are called: the libnvinfer* its bindings NEED, and the ONNX parser of
    the same major (libnvonnxparser.so.N ships in the same tensorrt-cuNN-libs wheel, versioned with TensorRT)."""
    (needed,) = record["libraries"].values()
    nvinfer = {s for s in needed["needed"] if s.startswith("libnvinfer")}
    majors = {s.rsplit(".", 1)[1] for s in nvinfer}
    return nvinfer | {f"libnvonnxparser.so.{m}" for m in majors}


def _provided(name: str, records: list[dict], seen: set[str]) -> set[str]:
    """The sonames a recorded nvidia-* package installs, with its own recorded dependencies (cuDNN needs cuBLAS)."""
    if name in seen:
        return set()
    seen.add(name)
    out: set[str] = set()
    for record in records:
        if _name_version(record)[0] == name and "sonames" in record:
            out |= set(record["sonames"].values())
            for dependency in record.get("requires", []):
                out |= _provided(Requirement(dependency).name, records, seen)
    return out


def installed_sonames(requirements: list[str], ort_version: Version, env: dict) -> set[str]:
    """The sonames a requirement set installs when pip picks ``ort_version`` of onnxruntime-gpu and the newest
    recorded TensorRT the set allows. Only what the records know counts."""
    records, out = load_records(), set()
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        if requirement.name == "onnxruntime-gpu":
            extras = ort_records()[ort_version].get("extras", {})
            for extra in requirement.extras:
                for dependency in extras.get(extra, []):
                    out |= _provided(Requirement(dependency).name, records, set())
        elif requirement.name.startswith("tensorrt-cu"):
            bindings = [
                (v, r)
                for r in records
                for n, v in [_name_version(r)]
                if n == f"{requirement.name}-bindings" and requirement.specifier.contains(v)
            ]
            if bindings:
                out |= tensorrt_sonames(max(bindings, key=lambda pair: pair[0])[1])
        else:
            out |= _provided(requirement.name, records, set())
    return out


class FakeLoader:
    """dlopen by soname: a library loads only when the system or an installed library provides every NEEDED."""

    def __init__(self, installed: set[str]):
        self.available = SYSTEM | installed

    def missing(self, library: dict) -> list[str]:
        """The NEEDED entries nothing provides (empty: it loads)."""
        return [soname for soname in library["needed"] if soname not in self.available]

    def start(self, ort_version: Version, provider: str) -> list[str]:
        """What keeps ``provider`` of that onnxruntime-gpu release from loading (empty: it starts)."""
        return self.missing(ort_records()[ort_version]["libraries"][PROVIDER_LIBRARY[provider]])
