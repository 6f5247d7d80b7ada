"""Hostile inputs, second round (issue 22), part 2: alexnet-targets, alexnet-debug, alexnet-drift --update,
verify.py's manifest paths and unreadable folder entries (part 1: test_data_options_inputs.py).

Every command runs as a user runs it, in a subprocess with a TMPDIR of its own and a timeout (a hang
fails); each case checks the exit code, one ``error:`` line, no traceback and nothing left in TMPDIR.
HELD_OUT cases are of the same kinds with other hostile_files, sizes and names.
"""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest
from support.cli_args import run_args
from support.hostile import assert_one_error, leftovers, run_command, signature_model
from support.hostile_cases import fifo, tmpdir_of


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
        tmpdir=tmpdir_of(tmp_path),
        timeout=120,
    )
    assert_one_error(proc, code=2, match="every image count is 0")
    assert not (tmp_path / "res").exists() and not leftovers(tmpdir_of(tmp_path))


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
        tmpdir=tmpdir_of(tmp_path),
        timeout=120,
    )
    assert_one_error(proc, code=2, match=match)
    assert not leftovers(tmpdir_of(tmp_path))


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
            tmpdir=tmpdir_of(tmp_path),
            timeout=120,
        )
    assert_one_error(proc, code=2, match="is in use by alexnet-drift --update pid 4242")
    assert baseline.read_text() == '{"an": "earlier baseline"}' and not leftovers(tmpdir_of(tmp_path))


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
        tmpdir=tmpdir_of(tmp_path),
        timeout=60,
    )
    assert_one_error(proc, code=2, match="is outside the bundle")


# -- calibration/evaluation folders: what cannot be read is listed, never silently dropped -------
@pytest.mark.parametrize("case", ["symlink_loop", "held_out:dangling_link_and_fifo_in_class_folder"])
def test_unreadable_entries_are_listed_as_skipped(case, hostile_files, tmp_path):
    from alexnet_edge.calibration.user_data import read_labelled, read_unlabelled
    from alexnet_edge.runtime.constants import CLASS_NAMES

    if case == "symlink_loop":
        folder = tmp_path / "calib"
        folder.mkdir()
        for p in (hostile_files / "three").iterdir():
            (folder / p.name).write_bytes(p.read_bytes())
        (folder / "a.png").symlink_to(folder / "b.png")
        (folder / "b.png").symlink_to(folder / "a.png")
        data = read_unlabelled(folder)
        expected = {"a.png", "b.png"}
    else:
        folder = tmp_path / "eval"
        (folder / "cat").mkdir(parents=True)
        (folder / "cat" / "good.png").write_bytes((hostile_files / "good.png").read_bytes())
        (folder / "cat" / "gone.png").symlink_to(tmp_path / "deleted.png")
        fifo(folder / "cat" / "pipe.png")
        data = read_labelled(folder, CLASS_NAMES)
        expected = {"gone.png", "pipe.png"}
    assert len(data) == (3 if case == "symlink_loop" else 1)
    assert {Path(s.split(":")[0]).name for s in data.skipped} == expected, data.skipped
