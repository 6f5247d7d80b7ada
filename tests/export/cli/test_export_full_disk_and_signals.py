"""export-alexnet run as a user runs it on a full disk and under signals (issue 28 §1, §3): each is one
``error:`` line with its own exit status and leaves nothing behind; --out, the bundle and its archive
change together or not at all.

On e9b3804: a full --out or TMPDIR was a traceback from save_checked and exit 1, an archive that did
not fit a traceback in the bundle writer (its folder already swapped in), Ctrl-C "Aborted!" and exit 1,
and SIGTERM while compressing left the new bundle folder beside the old --out and archive.
Real runs (a small tmpfs, real signals), so slow: ``pytest -m slow tests/export/cli``.
"""

import json
import os
import signal
import subprocess
import threading
import time

import pytest
from support.cli_args import run_args
from support.filesystems import tmpfs
from support.hostile import BIN, assert_one_error, leftovers, run_command, tree

from alexnet_edge.export.bundle.writer import BUNDLE_FORMAT

SMALL_RUN = ("--eval-size", 20, "--no-bench")


def _export(checkpoint, data_root, out, *extra, tmpdir):
    return run_command(
        "export-alexnet", *run_args(checkpoint, data_root, out), *SMALL_RUN, *extra, tmpdir=tmpdir, timeout=600
    )


@pytest.mark.slow
def test_out_on_a_full_filesystem_is_exit_2_in_one_line(checkpoint, data_root, tmp_path):
    with tmpfs(tmp_path / "full", size="5m") as full:
        proc = _export(checkpoint, data_root, full / "out", "--quiet", tmpdir=tmp_path / "tmpdir")
        left = os.listdir(full)
    line = assert_one_error(proc, code=2, match="No space left on device")
    assert f"error: {full / 'out'}/" in line  # the file as it would be in --out, not in the staging folder
    assert left == [] and not leftovers(tmp_path / "tmpdir")


@pytest.mark.slow
def test_tmpdir_on_a_full_filesystem_is_exit_2_in_one_line(checkpoint, data_root, tmp_path):
    with tmpfs(tmp_path / "full", size="5m") as full:
        proc = _export(checkpoint, data_root, tmp_path / "out", "--quiet", tmpdir=full)
        left = leftovers(full)
    line = assert_one_error(proc, code=2, match="No space left on device")
    assert str(full) in line and left == [] and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_bundle_archive_that_does_not_fit_is_exit_2_and_changes_nothing(checkpoint, data_root, tmp_path):
    # The bundle folder (~111 MiB with the FP32 model) fits in 150 MiB; its archive (~68 MiB) then does not.
    with tmpfs(tmp_path / "disk", size="150m") as disk:
        proc = _export(
            checkpoint, data_root, tmp_path / "out", "--quiet", "--bundle", disk / "bundle", tmpdir=tmp_path / "tmpdir"
        )
        left = os.listdir(disk)
    assert_one_error(proc, code=2, match=f"cannot write {disk / 'bundle.tar.gz'}: No space left on device")
    assert left == [] and not (tmp_path / "out").exists() and not leftovers(tmp_path / "tmpdir")


def _start(cmd, tmpdir):
    tmpdir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal, even under nohup
    )


@pytest.mark.slow
def test_ctrl_c_mid_export_is_exit_130_and_leaves_nothing(checkpoint, data_root, tmp_path):
    tmpdir = tmp_path / "tmpdir"
    cmd = [str(BIN / "export-alexnet"), *map(str, run_args(checkpoint, data_root, tmp_path / "out")), "--quiet"]
    proc = _start([*cmd, *map(str, SMALL_RUN)], tmpdir)
    deadline = time.monotonic() + 300
    while not list(tmpdir.glob("alexnet-export-*/model.raw.onnx")):  # mid-export: its work folder exists
        assert proc.poll() is None and time.monotonic() < deadline, "the export ended before its work folder appeared"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "Aborted!" not in err, err[-2000:]
    assert err.strip().endswith("interrupted (SIGINT)")
    assert not leftovers(tmpdir) and not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


@pytest.mark.slow
def test_sigterm_while_compressing_the_bundle_leaves_the_earlier_run_whole(checkpoint, data_root, tmp_path):
    out, bundle = tmp_path / "out", tmp_path / "bundle"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"artifacts": [{"file": "report.md"}]}))
    (out / "report.md").write_text("the earlier run's report")
    bundle.mkdir()
    (bundle / "manifest.json").write_text(json.dumps({"format": BUNDLE_FORMAT, "files": {}}))
    (tmp_path / "bundle.tar.gz").write_bytes(b"the earlier run's archive")
    before = tree(tmp_path)
    cmd = [str(BIN / "export-alexnet"), *map(str, run_args(checkpoint, data_root, out)), *map(str, SMALL_RUN)]
    proc = _start([*cmd, "--quiet", "--bundle", str(bundle)], tmp_path.parent / f"{tmp_path.name}-tmpdir")
    lines = []

    def read():
        for line in proc.stderr:
            lines.append(line)
            if line.strip().startswith("compressing bundle.tar.gz"):
                proc.send_signal(signal.SIGTERM)

    reader = threading.Thread(target=read)
    reader.start()
    proc.wait(timeout=600)
    reader.join(timeout=60)
    assert proc.returncode == 143 and not any("Traceback" in line for line in lines), "".join(lines)[-2000:]
    assert any(line.strip().startswith("compressing") for line in lines)
    assert tree(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["bundle", "bundle.tar.gz", "out"]
