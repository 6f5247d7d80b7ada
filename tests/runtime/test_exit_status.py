"""One exit-status policy for every command (issue 28 §1, runtime/exit_status.py): 1 only for outside
tolerance, 2 for bad input or an unusable environment (one ``error:`` line naming the path and the
reason), 3 for an internal error (one line naming the file with the traceback), 130 on Ctrl-C.

On e9b3804 anything but the package's own errors printed a traceback and exited 1, and Ctrl-C printed
"Aborted!" and exited 1: a full disk or a cancelled run read as "the model drifted".
"""

import errno
import os
import re

import click
import numpy as np
import pytest
from click.testing import CliRunner
from support.filesystems import tmpfs
from support.paths import REPO

from alexnet_edge.export.cli.inspect import alexnet_inspect
from alexnet_edge.runtime import exit_status
from alexnet_edge.runtime.cli_support import one_line_errors
from alexnet_edge.runtime.errors import ToleranceError
from alexnet_edge.runtime.fileio import write_bytes


def _command(body):
    @click.command()
    @one_line_errors
    def command():
        body()

    return command


def _run(body):
    """Invoke a command whose work is ``body``; the exit code and the lines it printed."""
    result = CliRunner().invoke(_command(body), [])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output.splitlines()


def _raise(exc):
    def body():
        raise exc

    return body


def test_no_space_left_is_exit_2_naming_the_file(tmp_path):
    with tmpfs(tmp_path / "full", size="1m") as full:
        code, lines = _run(lambda: write_bytes(full / "model.onnx", os.urandom(2 << 20)))  # a real ENOSPC
        left = os.listdir(full)
    assert code == exit_status.BAD_INPUT
    assert lines == [f"error: {full / 'model.onnx'}: No space left on device"]  # not the temporary file's name
    assert left == []  # the half-written temporary file is gone


@pytest.mark.parametrize(
    ("err", "reason"),
    [
        (errno.EROFS, "Read-only file system"),
        (errno.EACCES, "Permission denied"),
        (errno.ENAMETOOLONG, "File name too long"),
        (errno.ENOSPC, "No space left on device"),
    ],
)
def test_an_unusable_environment_is_exit_2_in_one_line(err, reason):
    code, lines = _run(_raise(OSError(err, os.strerror(err), "/data/out/report.json")))
    assert (code, lines) == (exit_status.BAD_INPUT, [f"error: /data/out/report.json: {reason}"])


def test_a_path_longer_than_a_line_is_shortened_in_the_error_line():
    long = "/data/" + "d" * 200 + "/" + "e" * 4000 + "/image.png"
    code, lines = _run(_raise(OSError(errno.ENAMETOOLONG, "File name too long", long)))
    assert code == exit_status.BAD_INPUT and len(lines) == 1 and len(lines[0]) < 300
    assert (
        lines[0].startswith("error: /data/ddd") and "image.png" in lines[0] and f"{len(long):,} characters" in lines[0]
    )


def test_not_enough_memory_is_exit_2():
    code, lines = _run(_raise(MemoryError("Unable to allocate 1.12 TiB")))
    assert code == exit_status.BAD_INPUT and lines == ["error: not enough memory (Unable to allocate 1.12 TiB)"]


def test_an_unexpected_exception_is_an_internal_error_with_its_traceback_in_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # gettempdir() reads TMPDIR again

    def body():
        {}["tensors"]  # a bug

    code, lines = _run(body)
    assert code == exit_status.INTERNAL_ERROR not in (exit_status.OUTSIDE_TOLERANCE, exit_status.BAD_INPUT)
    (line,) = lines
    match = re.fullmatch(
        r"error: internal error: KeyError at test_exit_status\.py:\d+: 'tensors'; full traceback in (\S+) .*", line
    )
    assert match, line
    written = match.group(1)
    assert os.path.dirname(written) == str(tmp_path) and "Traceback" in open(written).read()


def test_outside_tolerance_is_the_only_exit_1():
    code, lines = _run(
        _raise(ToleranceError(artifact="fp32", metric="max_abs_diff", value=1, tolerance=0.1, bound="max"))
    )
    assert code == exit_status.OUTSIDE_TOLERANCE and lines[0].startswith("error: fp32: max_abs_diff")


def test_ctrl_c_is_exit_130_after_the_clean_up(monkeypatch):
    cleaned = []

    def interrupted(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        finally:
            cleaned.append(True)  # a work folder's removal, as the pipeline's finally blocks do it

    monkeypatch.setattr("alexnet_edge.export.cli.inspect.summarize", interrupted)
    result = CliRunner().invoke(alexnet_inspect, [])
    assert result.exit_code == exit_status.INTERRUPTED == 130 and cleaned == [True]
    assert "Aborted!" not in result.output and result.output.strip() == "interrupted (SIGINT)"


def test_click_usage_errors_stay_exit_2():
    result = CliRunner().invoke(alexnet_inspect, ["--input-size", "0"])
    assert result.exit_code == exit_status.BAD_INPUT and "Invalid value for '--input-size'" in result.output


def test_the_readme_and_docs_cli_show_the_table_the_code_applies():
    table = exit_status.table_markdown()
    for doc in ("README.md", "docs/cli.md"):
        text = (REPO / doc).read_text()
        assert "Exit status" in text and table in text, f"{doc} lacks exit_status.TABLE as table_markdown() renders it"


def test_every_code_in_the_table_is_distinct():
    codes = [code for code, _ in exit_status.TABLE]
    assert len(set(codes)) == len(codes) and np.all(np.diff(codes) > 0)
