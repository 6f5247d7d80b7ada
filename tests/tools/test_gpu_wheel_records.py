"""tools/gpu_wheel_records.py: NEEDED entries, SONAMEs, option strings and extras read from a wheel, offline.

The tool runs against PyPI when the records are refreshed; here it reads synthetic wheels whose libraries are
real ELF files of this machine (numpy's), with binutils' readelf, as it does for the real wheels.
"""

import hashlib
import importlib.util
import shutil
import zipfile
from pathlib import Path

import numpy
import pytest
from support.paths import REPO

spec = importlib.util.spec_from_file_location("gpu_wheel_records", REPO / "tools" / "gpu_wheel_records.py")


@pytest.fixture
def tool(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "tools"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _elf(pattern: str) -> Path:
    found = sorted(Path(numpy.__file__).parent.parent.glob(pattern))
    if not found or shutil.which("readelf") is None:
        pytest.skip("no ELF library of numpy's or no readelf here")
    return found[0]


METADATA = """Metadata-Version: 2.1
Name: onnxruntime-gpu
Version: 9.9.9
Requires-Dist: numpy>=1.21.6
Provides-Extra: cuda
Requires-Dist: nvidia-cuda-runtime~=13.0; extra == "cuda"
Provides-Extra: cudnn
Requires-Dist: nvidia-cudnn-cu13~=9.0; extra == 'cudnn'
"""


def test_an_onnxruntime_wheel_record_has_needed_options_extras_and_preload(tool, tmp_path):
    library = _elf("numpy/_core/_multiarray_umath*.so")
    wheel = tmp_path / "onnxruntime_gpu-9.9.9-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for member in tool.ORT_LIBS:
            archive.writestr(member, library.read_bytes() + b"\0use_tf32\0")
        archive.writestr("onnxruntime_gpu-9.9.9.dist-info/METADATA", METADATA)
        archive.writestr("onnxruntime/__init__.py", "def preload_dlls(cuda=True):\n    pass\n")
    record = tool.wheel_record(wheel, "onnxruntime-gpu==9.9.9", tool.ORT_LIBS)
    cuda = record["libraries"][tool.ORT_LIBS[0]]
    assert "libc.so.6" in cuda["needed"] and cuda["option_strings"] == ["use_tf32"]
    assert record["extras"] == {
        "": ["numpy>=1.21.6"],
        "cuda": ["nvidia-cuda-runtime~=13.0"],
        "cudnn": ["nvidia-cudnn-cu13~=9.0"],
    }
    assert record["has_preload_dlls"] and record["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_a_library_wheel_record_has_each_librarys_soname(tool, tmp_path):
    library = _elf("numpy.libs/lib*.so*")
    wheel = tmp_path / "nvidia_fake-1.0-py3-none-manylinux_2_27_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"nvidia/fake/lib/{library.name}", library.read_bytes())
        archive.writestr("nvidia_fake-1.0.dist-info/METADATA", "Name: nvidia-fake\nRequires-Dist: nvidia-other\n")
    record = tool.wheel_record(wheel, "nvidia-fake==1.0", tool.PROVIDES)
    ((member, soname),) = record["sonames"].items()
    assert member == f"nvidia/fake/lib/{library.name}" and soname.startswith("lib") and ".so" in soname
    assert record["requires"] == ["nvidia-other"]


def test_a_wheel_without_a_listed_library_is_one_clear_error(tool, tmp_path):
    wheel = tmp_path / "onnxruntime_gpu-9.9.9-cp311-cp311-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("onnxruntime/__init__.py", "")
    with pytest.raises(tool.RecordError, match="holds no onnxruntime/capi/libonnxruntime_providers_cuda.so"):
        tool.wheel_record(wheel, "onnxruntime-gpu==9.9.9", tool.ORT_LIBS)
