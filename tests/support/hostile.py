"""Helpers shared by the hostile-input modules: crafted files, and commands run as a user runs them
(a subprocess with its own TMPDIR and a timeout, so that a hang fails instead of blocking)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

BIN = Path(sys.executable).parent


def tree(folder: Path) -> dict[str, bytes]:
    return (
        {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        if folder.exists()
        else {}
    )


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height but whose data is a few bytes."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )
    return path


def npy_claiming(path: Path, shape: tuple, dtype: str = "|u1") -> Path:
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x00" * 64)
    return path


def signature_model(
    path: Path, *, elem=TensorProto.FLOAT, side=32, classes=10, names=("x", "m"), output="logits"
) -> Path:
    """A valid ONNX model named like ours; ``elem``/``side`` choose its input, ``classes`` its logits,
    ``names`` its two intermediate tensors."""
    weight = numpy_helper.from_array(np.linspace(-1, 1, 3 * classes, dtype=np.float32).reshape(3, classes), "w")
    x, m = names
    nodes = [
        helper.make_node("Cast", ["input"], [x], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", [x], [m], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", [m, "w"], [output]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("input", elem, ["N", 3, side, side])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", classes])],
        [weight],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def run_command(name: str, *args, tmpdir: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run the console script ``name`` with TMPDIR=``tmpdir``; a hang raises TimeoutExpired (a failure).
    HOSTILE_TIMEOUT_S overrides ``timeout`` (shorter, to check quickly that old code fails these)."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    timeout = float(os.environ.get("HOSTILE_TIMEOUT_S", timeout))
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    script = BIN / name
    cmd = [str(script), *map(str, args)] if script.exists() else [sys.executable, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if "error:" in line.lower()]


def assert_one_error(proc: subprocess.CompletedProcess, *, code: int, match: str) -> str:
    """Exit ``code``, no traceback, exactly one ``error:`` line, and it holds ``match``."""
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output[-3000:]
    errors = error_lines(proc)
    assert proc.returncode == code, (proc.returncode, output[-3000:])
    assert len(errors) == 1 and match in errors[0], errors
    return errors[0]


# onnxruntime (1.32 here) writes a 51-byte telemetry session id, TMPDIR/.ses, at import: not ours to
# remove (microsoft/onnxruntime#32476 reports the same file elsewhere); everything else counts.
ONNXRUNTIME_SESSION_FILE = ".ses"


def leftovers(tmpdir: Path) -> list[str]:
    """What a run left in its TMPDIR (onnxruntime's own session-id file aside)."""
    if not tmpdir.exists():
        return []
    return sorted(str(p.relative_to(tmpdir)) for p in tmpdir.iterdir() if p.name != ONNXRUNTIME_SESSION_FILE)


def invoke(command, *args):
    """Run a command in-process; the output holds stdout and stderr. Any exception other than a
    clean exit is what a user would have seen as a traceback."""
    result = CliRunner().invoke(command, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    return result, [line for line in result.output.splitlines() if "error:" in line.lower()]


def one_error(command, *args, code=2, match=""):
    result, errors = invoke(command, *args)
    assert result.exit_code == code, result.output
    assert len(errors) == 1 and match in errors[0], errors
    return errors[0]


def manifest_matches_disk(out: Path) -> None:
    from alexnet_edge.runtime.fileio import sha256_file

    manifest = json.loads((out / "manifest.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    for entry in manifest["artifacts"]:
        assert sha256_file(out / entry["file"]) == entry["sha256"], entry["file"]
    json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(c))
