"""tools/trt_wheel_check.py: a listing is checked against a release's tensorrt.so, and the committed listings were.

The checker runs when listings are generated (it needs PyPI); here it runs on synthetic wheels, offline.
"""

import hashlib
import importlib.util
import json
import re
import zipfile
from pathlib import Path

import pytest
from support.paths import REPO

ROOT = REPO
API_DIR = ROOT / "tests" / "support" / "trt_api"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load("trt_wheel_check")


def _wheel(tmp_path: Path, strings: list[str], member: str = "tensorrt_bindings/tensorrt.so") -> Path:
    """A wheel whose library holds ``strings`` the way pybind11's .rodata does: NUL-terminated, packed."""
    wheel = tmp_path / "tensorrt_cu12_bindings-10.99.0-cp311-none-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(member, b"\x7fELF\0" + b"\0".join(s.encode() for s in strings) + b"\0")
    return wheel


def _listing() -> dict:
    return {
        "enums": {"BuilderFlag": ["FP16", "INT8", "STRIP_PLAN"], "TensorIOMode": ["INPUT", "OUTPUT"], "Gone": ["A"]},
        "classes": {"Runtime": ["DLA_core", "deserialize_cuda_engine", "engine_host_code_allowed"], "Missing": None},
        "calibrators": ["IInt8EntropyCalibrator2", "IInt8Calibrator"],
    }


def test_a_name_counts_when_it_is_a_string_or_the_tail_of_one_but_not_inside_prose():
    library = b"\0FP16\0get_tensor_name\0The INT8 calibrator\0:class:`Runtime`\0"
    assert check.is_bound(library, "FP16")
    assert check.is_bound(library, "name")  # the linker merged "name" into "get_tensor_name"
    assert not check.is_bound(library, "calibrator")  # only the end of a docstring
    assert not check.is_bound(library, "Runtime")  # only inside a docstring
    assert not check.is_bound(library, "FP8")


def test_names_the_binary_lacks_are_dropped_and_recorded(tmp_path):
    wheel = _wheel(
        tmp_path,
        [
            "BuilderFlag",
            "FP16",
            "STRIP_PLAN",
            "TensorIOMode",
            "INPUT",
            "OUTPUT",
            "Runtime",
            "max_DLA_core",
            "deserialize_cuda_engine",
            "IInt8Calibrator",
        ],
    )
    listing = _listing()
    record = check.check_listing(listing, wheel, "tensorrt-cu12-bindings==10.99.0")
    assert record["missing"] == [
        "BuilderFlag.INT8",
        "Gone",
        "Gone.A",
        "Runtime.engine_host_code_allowed",
        "IInt8EntropyCalibrator2",
    ]
    assert listing["enums"] == {
        "BuilderFlag": ["FP16", "STRIP_PLAN"],
        "TensorIOMode": ["INPUT", "OUTPUT"],
        "Gone": None,
    }
    assert listing["classes"]["Runtime"] == ["DLA_core", "deserialize_cuda_engine"]  # DLA_core: tail of max_DLA_core
    assert listing["calibrators"] == ["IInt8Calibrator"]
    assert record["wheel"] == wheel.name and record["sha256"] == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert record["checked"] == 15  # 9 enum names, 4 class names (Missing: none), 2 calibrators


def test_added_names_must_be_bound_in_the_binary(tmp_path):
    wheel = _wheel(tmp_path, ["Runtime", "DLA_core", "dla_workspace_allocation_strategy"])
    listing = {"enums": {}, "classes": {"Runtime": ["DLA_core"]}, "calibrators": []}
    record = check.check_listing(listing, wheel, "x", added=("Runtime.dla_workspace_allocation_strategy",))
    assert listing["classes"]["Runtime"] == ["DLA_core", "dla_workspace_allocation_strategy"]
    assert record["added_from_binary"] == ["Runtime.dla_workspace_allocation_strategy"] and record["missing"] == []
    with pytest.raises(check.WheelCheckError, match="has no bound name 'set_communicator'"):
        check.check_listing(listing, wheel, "x", added=("Runtime.set_communicator",))


def test_a_wheel_without_the_library_or_no_wheel_at_all_is_one_clear_error(tmp_path):
    with pytest.raises(check.WheelCheckError, match="holds no tensorrt_bindings/tensorrt.so"):
        check.binding_library(_wheel(tmp_path, ["x"], member="tensorrt_bindings/__init__.py"))
    with pytest.raises(check.WheelCheckError, match="not a readable wheel"):
        check.binding_library(tmp_path / "absent.whl")


@pytest.mark.parametrize("path", sorted(API_DIR.glob("trt*.json")), ids=lambda p: p.stem)
def test_each_committed_listing_names_the_release_binary_it_was_checked_against(path):
    listing = json.loads(path.read_text())
    record = listing["checked_against"]
    if record["wheel"] is None:  # only where PyPI has no wheel of that release
        assert listing["version"].startswith("8.5") and "PyPI has no" in record["reason"]
        return
    release = re.match(r"tensorrt(?:_cu1[23])?_bindings-(\d+\.\d+\.\d+)", record["wheel"])
    assert release and release.group(1) == listing["version"], record["wheel"]
    assert re.fullmatch(r"[0-9a-f]{64}", record["sha256"]) and record["missing"] == []
    assert record["checked"] == len(check.listed_names(listing)) - len(record["added_from_binary"])


def test_the_11_4_listing_is_checked_against_11_4_0_and_the_jetpack_7_releases_have_listings():
    assert json.loads((API_DIR / "trt11.4.json").read_text())["checked_against"]["wheel"].startswith(
        "tensorrt_cu12_bindings-11.4.0.106-"
    )
    for version, jetpack in (("10.13", "7.1"), ("10.16", "7.2")):
        assert f"JetPack {jetpack}" in json.loads((API_DIR / f"trt{version}.json").read_text())["note"]
