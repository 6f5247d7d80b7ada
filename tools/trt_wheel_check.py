"""Check a TensorRT API listing against the names compiled into that release's ``tensorrt.so``.

NVIDIA publishes the Python bindings of each release on PyPI as ``tensorrt-cu12-bindings`` (10.0 onwards,
``tensorrt-cu13-bindings`` from 10.13.2) and ``tensorrt-bindings`` (8.6.1 only). A wheel is ~1.3 MB and
holds ``tensorrt_bindings/tensorrt.so``; it cannot be imported without ``libnvinfer``, but pybind11 keeps
every bound name (``py::class_<..>(m, "Builder")``, ``.def("build_serialized_network", ..)``,
``.value("FP16", ..)``) as a NUL-terminated string in ``.rodata``. A listing read from the sources at a git
tag is therefore checked here: a name the binary lacks is a name the fake must not offer.

What a string check proves: absence is definite (pybind11 cannot bind a name it does not store), presence
is necessary but not sufficient (the string could belong to another class). Short names are often stored
only as the tail of a longer string (the linker merges ``"name"`` into ``"get_tensor_name"``), so a name
counts as present when it ends a NUL-terminated string right after a NUL or an identifier character;
a name that appears only inside prose (a docstring) does not count.

This runs when listings are generated (tools/trt_api_listing.py), never in the tests: it needs PyPI.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from pathlib import Path

LIBRARY_SUFFIX = "tensorrt_bindings/tensorrt.so"
#: manylinux tags the bindings wheels use: 10.0-10.3 are manylinux_2_17, 10.4 onwards manylinux_2_28.
X86_64_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64")
IDENTIFIER_BYTE = re.compile(rb"[A-Za-z0-9_]")


class WheelCheckError(RuntimeError):
    """The wheel could not be fetched or holds no ``tensorrt.so``."""


def download_bindings(
    requirement: str, dest: Path, python_version: str = "3.11", platforms: tuple[str, ...] = X86_64_PLATFORMS
) -> Path:
    """Fetch one bindings wheel with pip (no dependencies, binary only).

    Args:
        requirement: ``package==version``, e.g. ``tensorrt-cu12-bindings==11.4.0.106``.
        dest: folder the wheel is written to.
    Returns:
        The path of the downloaded wheel.
    """
    dest.mkdir(parents=True, exist_ok=True)
    platform_args = [arg for tag in platforms for arg in ("--platform", tag)]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        requirement,
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        python_version,
        *platform_args,
        "-d",
        str(dest),
        "-q",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise WheelCheckError(f"pip download {requirement} failed: {last_line}")
    package, _, version = requirement.partition("==")
    stem = f"{package.replace('-', '_')}-{version}-"
    wheels = sorted(p for p in dest.glob("*.whl") if p.name.startswith(stem))
    if not wheels:
        raise WheelCheckError(f"pip download {requirement} wrote no {stem}*.whl into {dest}")
    return wheels[0]


def binding_library(wheel: Path) -> bytes:
    """The bytes of the wheel's ``tensorrt_bindings/tensorrt.so``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [n for n in archive.namelist() if n.endswith(LIBRARY_SUFFIX)]
            if not members:
                raise WheelCheckError(f"{wheel.name} holds no {LIBRARY_SUFFIX}")
            return archive.read(members[0])
    except (OSError, zipfile.BadZipFile) as exc:
        raise WheelCheckError(f"{wheel}: not a readable wheel ({exc})") from None


def is_bound(library: bytes, name: str) -> bool:
    """Whether ``name`` ends a NUL-terminated string that starts with it or merely tail-merges it."""
    needle = name.encode() + b"\0"
    start = library.find(needle)
    while start >= 0:
        if start == 0 or library[start - 1] == 0 or IDENTIFIER_BYTE.match(library, start - 1):
            return True
        start = library.find(needle, start + 1)
    return False


def listed_names(listing: dict) -> list[str]:
    """Every enum, enum member, class, class member and calibrator a listing names, as ``Owner.member``."""
    names: list[str] = []
    for group in ("enums", "classes"):
        for owner, members in listing[group].items():
            if members is not None:
                names += [owner] + [f"{owner}.{member}" for member in members]
    return names + list(listing["calibrators"])


def check_listing(listing: dict, wheel: Path, requirement: str, added: tuple[str, ...] = ()) -> dict:
    """Drop from ``listing`` every name the wheel's binary lacks; add ``added`` names the binary has.

    Args:
        listing: a listing as tools/trt_api_listing.py writes it; changed in place.
        wheel: the release's bindings wheel.
        requirement: how the wheel was asked for (recorded).
        added: ``Class.member`` names the release binds but the sources at the listing's ref lack (a release
            newer than its newest tag); each must be present in the binary.
    Returns:
        The ``checked_against`` record: wheel file name, sha256, names missing (dropped) and added.
    """
    library = binding_library(wheel)
    checked = len(listed_names(listing))
    missing = [name for name in listed_names(listing) if not is_bound(library, name.rpartition(".")[2])]
    for name in missing:
        owner, _, member = name.rpartition(".")
        if owner:
            group = "enums" if owner in listing["enums"] else "classes"
            if listing[group][owner] is not None:  # None: the owner itself is absent, dropped just before
                listing[group][owner] = [m for m in listing[group][owner] if m != member]
        elif name in listing["calibrators"]:
            listing["calibrators"].remove(name)
        else:
            listing["enums" if name in listing["enums"] else "classes"][name] = None
    for name in added:
        owner, _, member = name.partition(".")
        if not is_bound(library, member):
            raise WheelCheckError(f"--add {name}: {wheel.name} has no bound name {member!r}")
        listing["classes"][owner] = sorted(set(listing["classes"][owner]) | {member})
    return {
        "requirement": requirement,
        "wheel": wheel.name,
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "checked": checked,
        "missing": missing,
        "added_from_binary": sorted(added),
        "scope": "enums, classes and calibrators; trtexec options are not in the bindings and stay unchecked",
    }
