"""Hostile inputs, second round (issue 22): the commands and data options added since the first.

Every command runs as a user runs it, in a subprocess with a TMPDIR of its own and a timeout (a
hang fails). Each case checks the exit code, that no traceback is printed, that exactly one
``error:`` line appears and names the problem, that nothing is left in TMPDIR, and that an
existing ``--out`` is as it was. HELD_OUT cases are of the same kinds with other hostile_files, sizes and
names: a fix that only matches the first set fails them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.cli_args import run_args
from support.hostile import assert_one_error, leftovers, npy_claiming, run_command, tree
from support.hostile_cases import fifo, folder_with, tmpdir_of, unix_socket

# -- alexnet-infer: non-regular files never block, and never stop the inputs beside them -------
INFER_CASES = {
    "fifo_named_png": lambda d, f: [f / "good.png", fifo(d / "pipe.png")],
    "fifo_inside_folder": lambda d, f: [folder_with(f, d, lambda x: fifo(x / "pipe.png"))],
}
INFER_HELD_OUT = {
    "fifo_named_npy": lambda d, f: [fifo(d / "batch.npy"), f / "good.png"],
    "socket_named_jpg_inside_folder": lambda d, f: [folder_with(f, d, lambda x: unix_socket(x / "s.jpg"))],
    "fifo_npy_inside_folder": lambda d, f: [folder_with(f, d, lambda x: fifo(x / "zz.npy"))],
}


@pytest.mark.parametrize("case", sorted(INFER_CASES) + [f"held_out:{c}" for c in sorted(INFER_HELD_OUT)])
def test_infer_refuses_non_regular_files_and_classifies_the_rest(case, hostile_files, tiny, tmp_path):
    make = {**INFER_CASES, **{f"held_out:{k}": v for k, v in INFER_HELD_OUT.items()}}[case]
    inputs = make(tmp_path, hostile_files)
    proc = run_command("alexnet-infer", "--model", tiny, "--json", *inputs, tmpdir=tmpdir_of(tmp_path), timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["path"].endswith("good.png") for r in records if r.get("class")] == [True]
    failed = [r for r in records if r.get("error")]
    assert len(failed) == 1 and "not a regular file" in failed[0]["error"], failed
    assert not leftovers(tmpdir_of(tmp_path))


# -- export-alexnet: data options and paths refused before any work, --out untouched ------------
def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


EXPORT_CASES = {
    # (make(d) -> extra options, what the one error line says)
    "calib_npy_header_claims_more": (
        lambda d: ["--int8", "--calib-data", npy_claiming(d / "c.npy", (10**13, 32, 32, 3))],
        "header claims",
    ),
    "eval_npz_object_images": (
        lambda d: [
            "--eval-data",
            _npz(d / "o.npz", images=np.array([None, 1], dtype=object), labels=np.zeros(2, np.int64)),
        ],
        "holds Python objects",
    ),
    "eval_npz_no_images": (
        lambda d: [
            "--eval-data",
            _npz(d / "e.npz", images=np.zeros((0, 32, 32, 3), np.uint8), labels=np.zeros(0, np.int64)),
        ],
        "holds no images",
    ),
    "log_file_dev_full": (lambda d: ["--log-file", "/dev/full"], "No space left on device"),
    "bundle_below_a_file": (
        lambda d: ["--bundle", (d / "afile", (d / "afile").write_text("x"))[0] / "bundle"],
        "which is a file",
    ),
    "eval_size_above_10000": (lambda d: ["--eval-size", "10001"], "more than the 10,000 images"),
}
EXPORT_HELD_OUT = {
    "calib_npy_truncated_other_size": (
        lambda d: ["--int8", "--calib-data", npy_claiming(d / "t.npy", (1000, 32, 32, 3))],
        "header claims",
    ),
    "calib_fifo_named_npy": (lambda d: ["--int8", "--calib-data", fifo(d / "calib.npy")], "not a regular file"),
    "calib_npy_no_images": (
        lambda d: [
            "--int8",
            "--calib-data",
            (np.save(d / "z.npy", np.zeros((0, 32, 32, 3), np.uint8)), d / "z.npy")[1],
        ],
        "holds no images",
    ),
    "eval_npz_object_labels": (
        lambda d: [
            "--eval-data",
            _npz(d / "ol.npz", images=np.zeros((2, 32, 32, 3), np.uint8), labels=np.array(["cat", 3], dtype=object)),
        ],
        "holds Python objects",
    ),
    "eval_npz_member_claims_more": (lambda d: ["--eval-data", _npz_claiming(d / "big.npz")], "header claims"),
    "log_file_symlink_to_dev_full": (
        lambda d: ["--log-file", (d / "run.log", (d / "run.log").symlink_to("/dev/full"))[0]],
        "No space left on device",
    ),
    "bundle_two_levels_below_a_file": (
        lambda d: ["--bundle", (d / "f.txt", (d / "f.txt").write_text("x"))[0] / "a" / "b"],
        "which is a file",
    ),
    "eval_size_50000": (lambda d: ["--eval-size", "50000"], "more than the 10,000 images"),
}


def _npz_claiming(path: Path) -> Path:
    """A .npz whose 'images' member header claims 10^12 images."""
    import zipfile

    header = npy_claiming(path.with_suffix(".npy"), (10**12, 32, 32, 3)).read_bytes()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images.npy", header)
        archive.writestr("labels.npy", _npy_bytes(np.zeros(1, np.int64)))
    return path


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(EXPORT_CASES) + [f"held_out:{c}" for c in sorted(EXPORT_HELD_OUT)])
def test_export_refuses_in_one_line_before_any_work(case, checkpoint, data_root, tmp_path):
    make, match = {**EXPORT_CASES, **{f"held_out:{k}": v for k, v in EXPORT_HELD_OUT.items()}}[case]
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.fp32.onnx").write_text("an earlier run's model")
    before = tree(out)
    proc = run_command(
        "export-alexnet",
        *run_args(checkpoint, data_root, out),
        "--no-bench",
        "--quiet",
        *make(tmp_path),
        tmpdir=tmpdir_of(tmp_path),
        timeout=120,
    )
    assert_one_error(proc, code=2, match=match)
    assert tree(out) == before and not list(tmp_path.glob(".out.*"))
    assert not leftovers(tmpdir_of(tmp_path))
