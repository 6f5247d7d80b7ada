"""Write the TensorRT API surface alexnet-edge touches, read from NVIDIA's own binding sources.

The contract tests' fake ``tensorrt`` modules are built from these listings, so a fake can never
offer what the real module of that version lacks. Run against a clone of NVIDIA/TensorRT:

    python tools/trt_api_listing.py --repo /path/to/TensorRT --ref v10.3.0 --version 10.3.0 \
        --bindings tensorrt-cu12-bindings==10.3.0 --out tests/support/trt_api/trt10.3.json

It parses the pybind11 ``py::enum_`` / ``py::class_`` statements of ``python/src/**/*.cpp`` and
the option names trtexec accepts (``samples/common/sampleOptions.cpp``), at one git ref.

With ``--bindings PACKAGE==VERSION`` (or ``--wheel PATH``) the listing is then checked against that
release's own ``tensorrt.so`` from PyPI (tools/trt_wheel_check.py): names the binary lacks are dropped and
listed under ``checked_against.missing``, and the wheel's file name and sha256 are recorded. A release newer
than the newest tag (11.4 while the repository stops at v11.1) is read from the newest tag and checked
against its own binary; ``--add Class.member`` adds a name that binary binds and those sources lack.

    python tools/trt_api_listing.py --repo TensorRT --ref v11.1 --version 11.4.0 \
        --bindings tensorrt-cu12-bindings==11.4.0.106 --add Runtime.dla_workspace_allocation_strategy \
        --out tests/support/trt_api/trt11.4.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

try:
    from trt_wheel_check import WheelCheckError, check_listing, download_bindings
except ImportError:  # imported as tools.trt_api_listing
    from tools.trt_wheel_check import WheelCheckError, check_listing, download_bindings

ENUMS = (
    "NetworkDefinitionCreationFlag",
    "BuilderFlag",
    "MemoryPoolType",
    "DeviceType",
    "HardwareCompatibilityLevel",
    "TensorIOMode",
)
CLASSES = (
    "Builder",
    "IBuilderConfig",
    "Runtime",
    "ICudaEngine",
    "IExecutionContext",
    "OnnxParser",
    "ITimingCache",
    "IOptimizationProfile",
    "INetworkDefinition",
    "Logger",
)
CALIBRATORS = ("IInt8Calibrator", "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator")
STATEMENT = re.compile(r'py::(enum_|class_)<[^;(]*?>\s*(?P<open>\()\s*\w+\s*,\s*"(\w+)"')
MEMBER = re.compile(
    r'\.(value|def|def_property|def_property_readonly|def_readwrite|def_readonly|def_static)\(\s*"(\w+)"'
)
# getAndDelOption(arguments, "--x"), getShapesBuild(...)
TRTEXEC_OPTION = re.compile(r'\(\s*arguments\s*,[^;"]*"(--[A-Za-z0-9]+)"')
HW_LEVEL = re.compile(r'toLower\(hardwareCompatibleArgs\)\s*==\s*"([a-z+]+)"')


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def git_show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def git_files(repo: Path, ref: str, under: str) -> list[str]:
    return [p for p in git(repo, "ls-tree", "-r", "--name-only", ref, under).splitlines() if p.endswith(".cpp")]


def statement_end(text: str, start: int) -> int:
    """Index of the ';' closing the statement at ``start``, skipping brackets, strings and comments."""
    depth, i = 0, start
    while i < len(text):
        ch = text[i]
        if text.startswith("//", i):
            i = text.index("\n", i)
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 1
        elif text.startswith('R"(', i):
            i = text.index(')"', i) + 1
        elif ch in "'\"":  # a string or char literal: find its unescaped closing quote
            i += 1
            while text[i] != ch:
                i += 2 if text[i] == "\\" else 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ";" and depth == 0:
            return i
        i += 1
    return len(text)


def surface(sources: list[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    enums: dict[str, list[str]] = {}
    classes: dict[str, list[str]] = {}
    for text in sources:
        for match in STATEMENT.finditer(text):
            kind, _, name = match.groups()
            body = text[match.end() : statement_end(text, match.start("open"))]
            names = [m.group(2) for m in MEMBER.finditer(body)]
            if kind == "enum_":
                enums.setdefault(name, []).extend(n for n in names if n not in enums.get(name, []))
            else:
                classes.setdefault(name, []).extend(n for n in names if n not in classes.get(name, []))
    return enums, classes


def without_safety_options(text: str) -> str:
    """trtexec's safety-builder options (``SafeBuilderOptions::parse``) are not for standard engines."""
    start = text.find("void SafeBuilderOptions::parse")
    if start < 0:
        return text
    end = text.find("\nvoid ", start + 1)
    return text[:start] + (text[end:] if end >= 0 else "")


def listing(repo: Path, ref: str, version: str) -> dict:
    commit = git(repo, "rev-parse", ref).strip()
    files = git_files(repo, ref, "python/src")
    enums, classes = surface([git_show(repo, ref, f) for f in files])
    options = without_safety_options(git_show(repo, ref, "samples/common/sampleOptions.cpp"))
    return {
        "version": version,
        "source": {
            "repository": "NVIDIA/TensorRT",
            "ref": ref,
            "commit": commit,
            "files": files + ["samples/common/sampleOptions.cpp"],
        },
        "enums": {name: enums.get(name) for name in ENUMS},
        "classes": {name: sorted(set(classes[name])) if name in classes else None for name in CLASSES},
        "calibrators": [name for name in CALIBRATORS if name in classes],
        "trtexec": {
            "options": sorted(set(TRTEXEC_OPTION.findall(options))),
            "hardware_levels": ["none"] + HW_LEVEL.findall(options),
        },
    }


def checked_against(data: dict, args: argparse.Namespace) -> dict:
    """The ``checked_against`` record: the release binary's verdict, or why there is none."""
    if args.unchecked_reason:
        return {"wheel": None, "reason": args.unchecked_reason}
    wheel = args.wheel or download_bindings(args.bindings, args.wheel_dir)
    return check_listing(data, wheel, args.bindings or str(args.wheel), tuple(args.add))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--note", default="")
    parser.add_argument("--out", type=Path, required=True)
    binary = parser.add_mutually_exclusive_group(required=True)
    binary.add_argument("--bindings", help="PACKAGE==VERSION to pip download, e.g. tensorrt-cu12-bindings==10.3.0")
    binary.add_argument("--wheel", type=Path, help="an already downloaded bindings wheel")
    binary.add_argument("--unchecked-reason", help="no released binary exists: say why (recorded)")
    parser.add_argument("--wheel-dir", type=Path, default=Path("build/trt-wheels"))
    parser.add_argument("--add", action="append", default=[], metavar="CLASS.MEMBER")
    args = parser.parse_args()
    data = listing(args.repo, args.ref, args.version)
    try:
        data["checked_against"] = checked_against(data, args)
    except WheelCheckError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.note:
        data["note"] = args.note
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    missing = data["checked_against"].get("missing", [])
    print(
        f"{args.out}: {sum(len(v or []) for v in data['enums'].values())} enum members, "
        f"{sum(len(v or []) for v in data['classes'].values())} class members; "
        f"{len(missing)} dropped as absent from the binary {missing}"
    )


if __name__ == "__main__":
    main()
