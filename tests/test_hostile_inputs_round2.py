"""Hostile inputs, second round (issue 22): the commands and data options added since the first.

Every command runs as a user runs it, in a subprocess with a TMPDIR of its own and a timeout (a
hang fails). Each case checks the exit code, that no traceback is printed, that exactly one
``error:`` line appears and names the problem, that nothing is left in TMPDIR, and that an
existing ``--out`` is as it was. HELD_OUT cases are of the same kinds with other files, sizes and
names: a fix that only matches the first set fails them.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from cli_args import run_args
from hostile_support import assert_one_error, leftovers, npy_claiming, run_command, signature_model, tree


@pytest.fixture(scope="module")
def files(tmp_path_factory, test_split):
    """A good PNG, a tiny model that takes our input, and a folder of three good PNGs."""
    from PIL import Image

    root = tmp_path_factory.mktemp("inputs")
    Image.fromarray(test_split.images[3].transpose(1, 2, 0)).save(root / "good.png")
    (root / "three").mkdir()
    for i in range(3):
        Image.fromarray(test_split.images[i].transpose(1, 2, 0)).save(root / "three" / f"img{i}.png")
    return root


@pytest.fixture
def tiny(tmp_path):
    return signature_model(tmp_path / "tiny.onnx")


def _tmp(tmp_path: Path) -> Path:
    return tmp_path / "tmpdir"


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))  # the file stays after close
    sock.close()
    return path


def _folder_with(files: Path, d: Path, make) -> Path:
    folder = d / "imgs"
    folder.mkdir()
    (folder / "good.png").write_bytes((files / "good.png").read_bytes())
    make(folder)
    return folder


# -- alexnet-infer: non-regular files never block, and never stop the inputs beside them -------
INFER_CASES = {
    "fifo_named_png": lambda d, f: [f / "good.png", _fifo(d / "pipe.png")],
    "fifo_inside_folder": lambda d, f: [_folder_with(f, d, lambda x: _fifo(x / "pipe.png"))],
}
INFER_HELD_OUT = {
    "fifo_named_npy": lambda d, f: [_fifo(d / "batch.npy"), f / "good.png"],
    "socket_named_jpg_inside_folder": lambda d, f: [_folder_with(f, d, lambda x: _socket(x / "s.jpg"))],
    "fifo_npy_inside_folder": lambda d, f: [_folder_with(f, d, lambda x: _fifo(x / "zz.npy"))],
}


@pytest.mark.parametrize("case", sorted(INFER_CASES) + [f"held_out:{c}" for c in sorted(INFER_HELD_OUT)])
def test_infer_refuses_non_regular_files_and_classifies_the_rest(case, files, tiny, tmp_path):
    make = {**INFER_CASES, **{f"held_out:{k}": v for k, v in INFER_HELD_OUT.items()}}[case]
    inputs = make(tmp_path, files)
    proc = run_command("alexnet-infer", "--model", tiny, "--json", *inputs, tmpdir=_tmp(tmp_path), timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [r["path"].endswith("good.png") for r in records if r.get("class")] == [True]
    failed = [r for r in records if r.get("error")]
    assert len(failed) == 1 and "not a regular file" in failed[0]["error"], failed
    assert not leftovers(_tmp(tmp_path))


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
    "calib_fifo_named_npy": (lambda d: ["--int8", "--calib-data", _fifo(d / "calib.npy")], "not a regular file"),
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
        tmpdir=_tmp(tmp_path),
        timeout=120,
    )
    assert_one_error(proc, code=2, match=match)
    assert tree(out) == before and not list(tmp_path.glob(".out.*"))
    assert not leftovers(_tmp(tmp_path))


# -- alexnet-targets and alexnet-debug: refusals, and no work folder left behind --------------
@pytest.mark.parametrize(
    "case, targets, precisions",
    [
        ("host_fp32", ["host"], ["fp32"]),
        ("held_out:emulated_targets_three_models", ["x86-avx2", "aarch64"], ["fp32", "fp16", "int8"]),
    ],
)
def test_targets_with_every_image_count_zero_is_one_line(
    case, targets, precisions, checkpoint, data_root, tiny, tmp_path
):
    models = tmp_path / "models"
    models.mkdir()
    for precision in precisions:
        (models / f"model.{precision}.onnx").write_bytes(tiny.read_bytes())
    proc = run_command(
        "alexnet-targets",
        "--models",
        models,
        *run_args(checkpoint, data_root, tmp_path / "res"),
        *(f"--target={t}" for t in targets),
        "--int8-size",
        0,
        "--fp32-size",
        0,
        "--fp16-size",
        0,
        tmpdir=_tmp(tmp_path),
        timeout=120,
    )
    assert_one_error(proc, code=2, match="every image count is 0")
    assert not (tmp_path / "res").exists() and not leftovers(_tmp(tmp_path))


DEBUG_CASES = {
    # (make(d, tiny) -> (--model, --against), what the one error line says)
    "not_onnx": (
        lambda d, t: ((d / "notes.onnx", (d / "notes.onnx").write_text("hello"))[0], t),
        "not a readable ONNX model",
    ),
    "share_no_tensor": (
        lambda d, t: (signature_model(d / "other.onnx", names=("p", "q")), t),
        "share no intermediate tensor",
    ),
    "logits_differ_in_shape": (lambda d, t: (signature_model(d / "five.onnx", classes=5), t), "logits differ in shape"),
}
DEBUG_HELD_OUT = {
    "against_is_random_bytes": (
        lambda d, t: (t, (d / "ref.onnx", (d / "ref.onnx").write_bytes(bytes(range(256)) * 9))[0]),
        "not a readable ONNX model",
    ),
    "share_no_tensor_other_names": (
        lambda d, t: (t, signature_model(d / "b.onnx", names=("cast_out", "mean_out"))),
        "share no intermediate tensor",
    ),
    "logits_100_classes": (lambda d, t: (t, signature_model(d / "c100.onnx", classes=100)), "logits differ in shape"),
    "no_logits_output": (lambda d, t: (signature_model(d / "o.onnx", output="probs"), t), "no output named 'logits'"),
}


@pytest.mark.parametrize("case", sorted(DEBUG_CASES) + [f"held_out:{c}" for c in sorted(DEBUG_HELD_OUT)])
def test_debug_refuses_models_it_cannot_compare(case, data_root, tiny, tmp_path):
    make, match = {**DEBUG_CASES, **{f"held_out:{k}": v for k, v in DEBUG_HELD_OUT.items()}}[case]
    model, against = make(tmp_path, tiny)
    proc = run_command(
        "alexnet-debug",
        "--model",
        model,
        "--against",
        against,
        "--data-root",
        data_root,
        "--sample-size",
        8,
        tmpdir=_tmp(tmp_path),
        timeout=120,
    )
    assert_one_error(proc, code=2, match=match)
    assert not leftovers(_tmp(tmp_path))


# -- alexnet-drift --update: one writer per baseline ------------------------------------------
@pytest.mark.parametrize("name", ["baseline.json", "held_out:other name.json"])
def test_drift_update_on_a_baseline_in_use_is_one_line(name, checkpoint, data_root, tmp_path):
    baseline = tmp_path / name.removeprefix("held_out:")
    baseline.write_text('{"an": "earlier baseline"}')
    with open(baseline.parent / f".{baseline.name}.lock", "w") as lock:
        lock.write("alexnet-drift --update pid 4242, started today")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = run_command(
            "alexnet-drift",
            "--update",
            "--baseline",
            baseline,
            "--checkpoint",
            checkpoint,
            "--data-root",
            data_root,
            "--reference-dir",
            tmp_path / "none",
            "--eval-size",
            50,
            tmpdir=_tmp(tmp_path),
            timeout=120,
        )
    assert_one_error(proc, code=2, match="is in use by alexnet-drift --update pid 4242")
    assert baseline.read_text() == '{"an": "earlier baseline"}' and not leftovers(_tmp(tmp_path))


# -- verify.py: manifest paths outside the bundle are refused, never read ----------------------
def _bundle_listing(tmp_path: Path, rel: str, make) -> Path:
    from alexnet_edge.runtime.fileio import sha256_file

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    target = make(tmp_path, bundle)
    (bundle / "manifest.json").write_text(
        json.dumps({"format": "alexnet-edge-bundle/1", "files": {rel: {"sha256": sha256_file(target), "size": 1}}})
    )
    return bundle


def _secret(tmp_path: Path, bundle: Path) -> Path:
    (tmp_path / "secret.txt").write_text("not the bundle's")
    return tmp_path / "secret.txt"


def _link_out(tmp_path: Path, bundle: Path) -> Path:
    (bundle / "models").mkdir()
    (bundle / "models" / "model.fp32.onnx").symlink_to(_secret(tmp_path, bundle))
    return tmp_path / "secret.txt"


@pytest.mark.parametrize(
    "case, rel, make",
    [
        ("dotdot", "../secret.txt", _secret),
        ("held_out:absolute", "ABS", _secret),
        ("held_out:symlink_out", "models/model.fp32.onnx", _link_out),
    ],
)
def test_verify_refuses_manifest_paths_outside_the_bundle(case, rel, make, tmp_path):
    rel = str(tmp_path / "secret.txt") if rel == "ABS" else rel
    bundle = _bundle_listing(tmp_path, rel, make)
    proc = run_command(
        "python",
        "-c",
        "from alexnet_edge.runtime.bundle_cli import verify_main; verify_main()",
        "--bundle-dir",
        bundle,
        "--no-bench",
        tmpdir=_tmp(tmp_path),
        timeout=60,
    )
    assert_one_error(proc, code=2, match="is outside the bundle")


# -- calibration/evaluation folders: what cannot be read is listed, never silently dropped -------
@pytest.mark.parametrize("case", ["symlink_loop", "held_out:dangling_link_and_fifo_in_class_folder"])
def test_unreadable_entries_are_listed_as_skipped(case, files, tmp_path):
    from alexnet_edge.calibration.user_data import read_labelled, read_unlabelled
    from alexnet_edge.runtime.constants import CLASS_NAMES

    if case == "symlink_loop":
        folder = tmp_path / "calib"
        folder.mkdir()
        for p in (files / "three").iterdir():
            (folder / p.name).write_bytes(p.read_bytes())
        (folder / "a.png").symlink_to(folder / "b.png")
        (folder / "b.png").symlink_to(folder / "a.png")
        data = read_unlabelled(folder)
        expected = {"a.png", "b.png"}
    else:
        folder = tmp_path / "eval"
        (folder / "cat").mkdir(parents=True)
        (folder / "cat" / "good.png").write_bytes((files / "good.png").read_bytes())
        (folder / "cat" / "gone.png").symlink_to(tmp_path / "deleted.png")
        _fifo(folder / "cat" / "pipe.png")
        data = read_labelled(folder, CLASS_NAMES)
        expected = {"gone.png", "pipe.png"}
    assert len(data) == (3 if case == "symlink_loop" else 1)
    assert {Path(s.split(":")[0]).name for s in data.skipped} == expected, data.skipped
