"""Record what the GPU wheels' native libraries need to load: the library-loading model of the fakes.

For each wheel in ``RECORDS`` (fetched with pip, no dependencies, binary only) this writes, into one JSON:
the wheel's file name and sha256; for each listed member library, its ``DT_NEEDED`` sonames as
``readelf -d`` prints them, and which of ``OPTION_STRINGS`` its ``.rodata`` holds; for onnxruntime-gpu,
the ``Requires-Dist`` lines of each extra (METADATA) and whether ``onnxruntime.preload_dlls`` exists.

What a record proves: a NEEDED soname is what the dynamic loader must find, or the library does not load
(and onnxruntime then drops the provider and falls back, #27177); an option string present means the
library parses that key (presence is necessary, not sufficient; a missing short string proves nothing,
as a compiler may build it from immediates). ``tests/support/gpu_wheels.json`` was written by this tool; the
requirement sets (export/gpu/requirements.py) and the TensorRT provider's options
(runtime/backends/onnxruntime/providers.py) are checked against it by tests/export/gpu/test_gpu_wheels.py.

This runs when the records are refreshed, never in the tests: it needs PyPI and binutils' readelf.

    python tools/gpu_wheel_records.py --out tests/support/gpu_wheels.json [--wheel-dir /tmp/wheels]
"""

from __future__ import annotations

import argparse
import datetime
import email.parser
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

try:
    import trt_wheel_check
except ImportError:  # imported as tools.gpu_wheel_records
    from tools import trt_wheel_check

ORT_LIBS = (
    "onnxruntime/capi/libonnxruntime_providers_cuda.so",
    "onnxruntime/capi/libonnxruntime_providers_tensorrt.so",
)
TRT_BINDINGS = ("tensorrt_bindings/tensorrt.so",)
PROVIDES = ()  # no member list: record the SONAME of every shared library in the wheel
NVIDIA_PLATFORMS = (
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_12_x86_64",
    "manylinux2010_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)
ORT_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64")
#: Every minor release line the requirement sets allow (newest patch), and the TensorRT bindings whose
#: ``tensorrt.so`` NEEDs the ``libnvinfer.so.N`` of its release (pip's TensorRT: tensorrt-cuNN-libs).
RECORDS = (
    *(
        (f"onnxruntime-gpu=={v}", ORT_LIBS, ORT_PLATFORMS)
        for v in (
            "1.21.1",
            "1.22.0",
            "1.23.2",
            "1.24.4",
            "1.25.1",
            "1.26.0",
            "1.27.0",
            "1.28.0",
            "1.29.0",
            "1.30.0",
            "1.31.1",
        )
    ),
    ("tensorrt-bindings==8.6.1", TRT_BINDINGS, trt_wheel_check.X86_64_PLATFORMS),
    ("tensorrt-cu12-bindings==10.3.0", TRT_BINDINGS, trt_wheel_check.X86_64_PLATFORMS),
    ("tensorrt-cu12-bindings==10.9.0.34", TRT_BINDINGS, trt_wheel_check.X86_64_PLATFORMS),
    ("tensorrt-cu13-bindings==10.13.2.6", TRT_BINDINGS, trt_wheel_check.X86_64_PLATFORMS),
    ("tensorrt-cu13-bindings==10.16.1.11", TRT_BINDINGS, trt_wheel_check.X86_64_PLATFORMS),
    ("tensorrt-cu12-bindings==11.4.0.106", TRT_BINDINGS, trt_wheel_check.X86_64_PLATFORMS),
    ("tensorrt-cu13-bindings==11.4.0.106", TRT_BINDINGS, trt_wheel_check.X86_64_PLATFORMS),
    # What onnxruntime-gpu[cuda,cudnn] installs (pip's resolution of 1.26.0 and 1.31.1, 2026-12-03): the SONAME of
    # every library in each wheel. PyPI has no tensorrt-cuNN-libs wheels (pypi.nvidia.com only): TensorRT's
    # sonames are read from its bindings' NEEDED above.
    *(
        (req, PROVIDES, NVIDIA_PLATFORMS)
        for req in (
            "nvidia-cuda-runtime-cu12==12.9.79",
            "nvidia-cuda-nvrtc-cu12==12.9.86",
            "nvidia-curand-cu12==10.3.10.19",
            "nvidia-cufft-cu12==11.4.1.4",
            "nvidia-cublas-cu12==12.9.3.13",
            "nvidia-cudnn-cu12==9.28.0.42",
            "nvidia-cuda-runtime==13.5.37",
            "nvidia-cuda-nvrtc==13.5.37",
            "nvidia-curand==10.4.5.25",
            "nvidia-cufft==12.5.0.14",
            "nvidia-cublas==13.10.0.20",
            "nvidia-cudnn-cu13==9.28.1.4",
        )
    ),
)
#: Provider options whose presence in a provider library is recorded.
OPTION_STRINGS = ("use_tf32", "trt_fp16_enable", "trt_int8_enable", "trt_bf16_enable", "trt_dla_enable")
NEEDED_LINE = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")
SONAME_LINE = re.compile(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]")
SHARED_LIBRARY = re.compile(r"/lib[^/]*\.so(\.\d+)*$")


class RecordError(RuntimeError):
    """A wheel could not be fetched, holds no listed library, or readelf failed."""


def dynamic_section(library: bytes) -> str:
    """``readelf -d -W`` of an ELF shared library."""
    with tempfile.NamedTemporaryFile(suffix=".so") as tmp:
        tmp.write(library)
        tmp.flush()
        result = subprocess.run(["readelf", "-d", "-W", tmp.name], capture_output=True, text=True)
    if result.returncode != 0:
        raise RecordError(f"readelf failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return result.stdout


def needed(library: bytes) -> list[str]:
    """The ``DT_NEEDED`` entries of an ELF shared library, in order."""
    return NEEDED_LINE.findall(dynamic_section(library))


def sonames(archive: zipfile.ZipFile) -> dict[str, str]:
    """Each shared library in the wheel -> its ``DT_SONAME`` (what a NEEDED entry must name to find it)."""
    out = {}
    for member in sorted(n for n in archive.namelist() if SHARED_LIBRARY.search(n)):
        found = SONAME_LINE.findall(dynamic_section(archive.read(member)))
        if found:
            out[member] = found[0]
    return out


def extras(metadata: str) -> dict[str, list[str]]:
    """``Requires-Dist`` per extra from a wheel's METADATA (key "" holds the unconditional ones)."""
    out: dict[str, list[str]] = {}
    for line in email.parser.Parser().parsestr(metadata).get_all("Requires-Dist") or []:
        requirement, _, marker = line.partition(";")
        found = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        out.setdefault(found.group(1) if found else "", []).append(requirement.strip())
    return out


def wheel_record(wheel: Path, requirement: str, members: tuple[str, ...]) -> dict:
    """What ``wheel`` says about loading its native libraries (see the module docstring)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        if not members:
            record = {"requirement": requirement, "wheel": wheel.name, "sonames": sonames(archive)}
            metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
            record["requires"] = extras(archive.read(metadata).decode()).get("", [])
            record["sha256"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
            return record
        libraries = {}
        for member in members:
            if member not in names:
                raise RecordError(f"{wheel.name} holds no {member}")
            data = archive.read(member)
            libraries[member] = {
                "needed": needed(data),
                "option_strings": [s for s in OPTION_STRINGS if trt_wheel_check.is_bound(data, s)],
            }
        record = {"requirement": requirement, "wheel": wheel.name, "libraries": libraries}
        metadata = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        if metadata is not None and requirement.startswith("onnxruntime"):
            record["extras"] = extras(archive.read(metadata).decode())
            init = archive.read("onnxruntime/__init__.py").decode()
            record["has_preload_dlls"] = "def preload_dlls(" in init
    record["sha256"] = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return record


def find_or_download(requirement: str, platforms: tuple[str, ...], wheel_dir: Path) -> Path:
    package, _, version = requirement.partition("==")
    stem = f"{package.replace('-', '_')}-{version}-"
    found = sorted(p for p in wheel_dir.glob("*.whl") if p.name.startswith(stem))
    if found:
        return found[0]
    try:
        return trt_wheel_check.download_bindings(requirement, wheel_dir, platforms=platforms)
    except trt_wheel_check.WheelCheckError as exc:
        raise RecordError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wheel-dir", type=Path, default=Path(tempfile.gettempdir()) / "gpu-wheels")
    args = parser.parse_args(argv)
    try:
        records = [
            wheel_record(find_or_download(req, platforms, args.wheel_dir), req, members)
            for req, members, platforms in RECORDS
        ]
    except (RecordError, OSError, zipfile.BadZipFile) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    document = {
        "tool": "tools/gpu_wheel_records.py",
        "recorded": datetime.date.today().isoformat(),
        "platform": "x86_64, CPython 3.11 wheels from PyPI",
        "records": records,
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
