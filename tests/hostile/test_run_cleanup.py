"""Hostile conditions around whole runs (issue 22): work folders in TMPDIR on every exit path
(errors, SIGTERM, SIGKILL and the next run's sweep), and exit 1 that still writes its report.

Commands run in subprocesses with a TMPDIR of their own and a timeout (tests/support/hostile.py).
"""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.cli_args import run_args
from support.hostile import BIN, assert_one_error, error_lines, leftovers, run_command, signature_model


@pytest.fixture
def tiny(tmp_path):
    return signature_model(tmp_path / "tiny.onnx")


def _tmp(tmp_path: Path) -> Path:
    return tmp_path / "tmpdir"


def _dead_run_folder(tmpdir: Path, name: str) -> Path:
    """A work folder as a killed run leaves it: its owner lock is there, but nobody holds it."""
    folder = tmpdir / name
    folder.mkdir(parents=True)
    (folder / ".owner.lock").write_text("pid 999999\n")
    (folder / "model.raw.onnx").write_bytes(b"\0" * 4096)
    return folder


def test_debug_leaves_nothing_in_tmpdir_and_sweeps_dead_runs(data_root, tiny, tmp_path):
    tmpdir = _tmp(tmp_path)
    _dead_run_folder(tmpdir, "alexnet-export-deadbeef")
    _dead_run_folder(tmpdir, "alexnet-targets-held")  # held out: another kind, and one that is alive
    live = tmpdir / "alexnet-debug-alive"
    live.mkdir()
    with open(live / ".owner.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        twin = tmp_path / "twin.onnx"
        twin.write_bytes(tiny.read_bytes())
        proc = run_command(
            "alexnet-debug",
            "--model",
            twin,
            "--against",
            tiny,
            "--data-root",
            data_root,
            "--sample-size",
            8,
            tmpdir=tmpdir,
            timeout=240,
        )
    assert proc.returncode == 0 and not error_lines(proc) and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "first tensor below cosine" in proc.stdout
    assert leftovers(tmpdir) == ["alexnet-debug-alive"], leftovers(tmpdir)


@pytest.mark.parametrize("case", ["judged", "held_out:guest_fails"])
def test_targets_leave_nothing_in_tmpdir(case, checkpoint, data_root, tiny, tmp_path):
    from onnx import TensorProto

    models = tmp_path / "models"
    models.mkdir()
    if case == "judged":  # a model that runs but is far from PyTorch: exit 1, judged
        tiny.rename(models / "model.fp32.onnx")
    else:  # a model the guest's runner refuses (float16 input): the guest run fails, exit 2
        signature_model(models / "model.fp32.onnx", elem=TensorProto.FLOAT16)
    proc = run_command(
        "alexnet-targets",
        "--models",
        models,
        *run_args(checkpoint, data_root, tmp_path / "res"),
        "--target",
        "host",
        "--int8-size",
        0,
        "--fp32-size",
        6,
        "--fp16-size",
        0,
        tmpdir=_tmp(tmp_path),
        timeout=240,
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if case == "judged":
        assert proc.returncode == 1 and all("outside tolerance" in e for e in error_lines(proc)), proc.stderr[-2000:]
    else:
        line = assert_one_error(proc, code=2, match="target host: the guest run failed (exit 2: ")
        assert "takes float16 [N, 3, 32, 32]" in line and "Error:" not in line  # the runner's sentence, no class
    assert not leftovers(_tmp(tmp_path)), leftovers(_tmp(tmp_path))


# -- whole runs (slow, but present) -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("override", ["fp32.max_abs_diff=1e-9", "held_out:fp32.min_cosine_similarity=1"])
def test_parity_failure_exits_1_with_its_report(override, checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    proc = run_command(
        "export-alexnet",
        *run_args(checkpoint, data_root, out),
        "--no-bench",
        "--quiet",
        "--eval-size",
        100,
        "--tolerance",
        override.removeprefix("held_out:"),
        tmpdir=_tmp(tmp_path),
        timeout=600,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = error_lines(proc)
    assert (
        errors and all("outside tolerance" in e for e in errors) and any("export (model.raw.onnx)" in e for e in errors)
    )
    report = json.loads((out / "report.json").read_text())
    assert report["checks"][0]["within_tolerance"] is False and "parity check" in (out / "report.md").read_text()
    assert not leftovers(_tmp(tmp_path))


@pytest.mark.slow
def test_force_over_a_users_folder_says_so(checkpoint, data_root, tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "thesis.txt").write_text("replaced on request")
    proc = run_command(
        "export-alexnet",
        *run_args(checkpoint, data_root, tmp_path / "out"),
        "--no-bench",
        "--quiet",
        "--eval-size",
        100,
        "--bundle",
        users,
        "--force",
        tmpdir=_tmp(tmp_path),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"replacing {users}: a folder that is not an alexnet-edge bundle (--force), 1 files removed" in proc.stderr
    assert not (users / "thesis.txt").exists() and not leftovers(_tmp(tmp_path))


def _export_until_its_work_folder(checkpoint, data_root, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """An export started as a user starts it, once its $TMPDIR work folder exists (mid-export)."""
    import os

    tmpdir = _tmp(tmp_path)
    tmpdir.mkdir()
    cmd = [
        str(BIN / "export-alexnet"),
        *run_args(str(checkpoint), str(data_root), str(tmp_path / "out")),
        "--eval-size",
        "100",
        "--no-bench",
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmpdir)}
    )
    deadline = time.monotonic() + 300
    while not list(
        tmpdir.glob("alexnet-export-*/model.raw.onnx")
    ):  # exported, before its parity check and simplification
        assert proc.poll() is None and time.monotonic() < deadline, "the export ended before its work folder appeared"
        time.sleep(0.05)
    return proc, tmpdir


@pytest.mark.slow
def test_sigterm_mid_export_leaves_nothing(checkpoint, data_root, tmp_path):
    proc, tmpdir = _export_until_its_work_folder(checkpoint, data_root, tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err, err[-2000:]
    assert not leftovers(tmpdir) and not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


@pytest.mark.slow
def test_sigkill_mid_export_is_swept_by_the_next_run(checkpoint, data_root, tiny, tmp_path):
    proc, tmpdir = _export_until_its_work_folder(checkpoint, data_root, tmp_path)
    proc.kill()
    proc.wait(timeout=60)
    assert leftovers(tmpdir), "a SIGKILL leaves the work folder (nothing can clean up then)"
    twin = tmp_path / "twin.onnx"
    twin.write_bytes(tiny.read_bytes())
    nxt = run_command(
        "alexnet-debug", "--model", twin, "--against", tiny, "--data-root", data_root, "--sample-size", 4, tmpdir=tmpdir
    )
    assert nxt.returncode == 0 and "the work folder of a run that was killed" in nxt.stderr, nxt.stderr[-2000:]
    assert not leftovers(tmpdir), leftovers(tmpdir)
