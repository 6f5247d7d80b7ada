"""Hostile and unusual inputs across the four commands, the bundle scripts and the runtime API.

Every case checks the exit code, that no traceback is printed, that exactly the expected `error:`
lines appear and name the problem, and what is on disk afterwards.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_args import run_args
from click.testing import CliRunner
from hostile_support import npy_claiming, png_claiming, signature_model, tree
from onnx import TensorProto

from alexnet_edge.export.cli import export_alexnet
from alexnet_edge.export.drift_cli import alexnet_drift
from alexnet_edge.runtime.infer_cli import main as alexnet_infer


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


# -- inputs made here: tests/hostile_support.py ----------------------------------------------


@pytest.fixture(scope="module")
def good_png(tmp_path_factory, test_split):
    from PIL import Image

    path = tmp_path_factory.mktemp("good") / "good.png"
    Image.fromarray(test_split.images[3].transpose(1, 2, 0)).save(path)
    return path


# -- alexnet-infer -----------------------------------------------------------------------------
INFER_BAD_INPUTS = {
    "decompression_bomb_png": (
        lambda d: png_claiming(d / "bomb.png", 40000, 40000),
        "more pixels than this tool reads",
    ),
    "huge_image_header": (lambda d: png_claiming(d / "huge.png", 9000, 8000), "9000x8000 pixels"),
    "npy_absurd_shape": (lambda d: npy_claiming(d / "absurd.npy", (10**9, 32, 32, 3)), "header claims"),
    "npy_object_dtype": (lambda d: npy_claiming(d / "obj.npy", (2,), "|O"), "Python objects"),
    "npy_truncated": (lambda d: npy_claiming(d / "short.npy", (4, 32, 32, 3)), "header claims"),
    "npy_wrong_dtype": (
        lambda d: (np.save(d / "i64.npy", np.zeros((2, 32, 32, 3), np.int64)), d / "i64.npy")[1],
        "expected uint8",
    ),
    "npy_nan": (
        lambda d: (np.save(d / "nan.npy", np.full((1, 3, 32, 32), np.nan, np.float32)), d / "nan.npy")[1],
        "NaN",
    ),
    "text_as_image": (lambda d: (d / "notes.png", (d / "notes.png").write_text("hello"))[0], "not a readable image"),
    "empty_folder": (lambda d: (d / "empty").mkdir() or d / "empty", "holds no images"),
    "missing_file": (lambda d: d / "absent.png", "no such file"),
}


@pytest.mark.parametrize("case", sorted(INFER_BAD_INPUTS))
def test_infer_bad_input_is_one_error_and_good_images_still_classify(case, exported, good_png, tmp_path):
    make, match = INFER_BAD_INPUTS[case]
    bad = make(tmp_path)
    result, errors = invoke(alexnet_infer, "--model", exported.out / "model.int8.onnx", "--json", good_png, bad)
    assert result.exit_code == 1
    records = [
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
        for line in result.output.splitlines()
        if line.startswith("{")
    ]
    good = [r for r in records if r.get("class")]
    failed = [r for r in records if r.get("error")]
    assert [r["path"] for r in good] == [str(good_png)] and 0 < good[0]["probability"] <= 1
    assert failed and all(match in r["error"] and "probability" not in r for r in failed), failed


@pytest.mark.parametrize(
    "elem, side, shown",
    [(TensorProto.FLOAT, 64, "float [N, 3, 64, 64]"), (TensorProto.FLOAT16, 32, "float16 [N, 3, 32, 32]")],
)
def test_infer_refuses_a_model_with_another_input(elem, side, shown, good_png, tmp_path):
    model = signature_model(tmp_path / "other.onnx", elem=elem, side=side)
    line = one_error(alexnet_infer, "--model", model, good_png, match="takes")
    assert shown in line and "alexnet-edge models take float [N,3,32,32]" in line


@pytest.mark.parametrize(
    "content, match", [(b"", "not a loadable ONNX model"), (b"\x08\x01garbage" * 50, "not a loadable ONNX model")]
)
def test_infer_refuses_broken_model_files(content, match, good_png, tmp_path):
    model = tmp_path / "broken.onnx"
    model.write_bytes(content)
    one_error(alexnet_infer, "--model", model, good_png, match=match)


def _twin_classes(exported, paths):
    result, errors = invoke(alexnet_infer, "--model", exported.out / "model.fp32.onnx", "--json", *paths)
    assert result.exit_code == 0 and not errors, result.output
    return [json.loads(line)["class_index"] for line in result.output.splitlines() if line.startswith("{")]


def test_high_bit_depth_and_exif_rotated_images_classify_like_their_twins(exported, test_split, tmp_path):
    from PIL import Image

    classes = []
    for index in range(8):
        rgb = test_split.images[index].transpose(1, 2, 0)
        grey8 = np.asarray(Image.fromarray(rgb).convert("L"))
        Image.fromarray(grey8).save(tmp_path / f"g8_{index}.png")
        Image.fromarray(grey8.astype(np.uint16) * 257).save(tmp_path / f"g16_{index}.png")  # 16-bit grey PNG
        rotated = Image.fromarray(rgb).transpose(Image.Transpose.ROTATE_90)  # stored rotated,
        exif = Image.Exif()
        exif[0x0112] = 6  # ...with the tag that says "rotate 90 clockwise to display"
        rotated.save(tmp_path / f"exif_{index}.png", exif=exif)
        Image.fromarray(rgb).save(tmp_path / f"rgb_{index}.png")
        classes.append([tmp_path / f"{k}_{index}.png" for k in ("g8", "g16", "exif", "rgb")])
    found = _twin_classes(exported, [p for group in classes for p in group])
    for i in range(8):
        g8, g16, exif, rgb = found[4 * i : 4 * i + 4]
        assert g16 == g8 and exif == rgb, (i, found[4 * i : 4 * i + 4])


@pytest.mark.parametrize("mode", ["P", "RGBA", "CMYK", "L", "LA"])
def test_palette_alpha_cmyk_and_grey_images_keep_working(mode, exported, test_split, tmp_path):
    from PIL import Image

    rgb = Image.fromarray(test_split.images[0].transpose(1, 2, 0))
    path = tmp_path / f"img.{'jpg' if mode == 'CMYK' else 'png'}"
    rgb.convert(mode).save(path, **({"quality": 100} if mode == "CMYK" else {}))
    assert len(_twin_classes(exported, [path])) == 1


# -- alexnet-drift -----------------------------------------------------------------------------
DRIFT_BAD_BASELINES = {
    "random_bytes": (bytes(range(256)) * 4, "not a text file"),
    "json_list": (b"[1, 2, 3]", "holds a JSON list"),
    "missing_keys": (b'{"schema": "alexnet-edge-drift/1"}', "'settings' is missing"),
    "bad_figure": (
        b'{"schema": "alexnet-edge-drift/1", "settings": {}, "figures": {"x": 1},'
        b' "inputs": {"checkpoint": {"sha256": "0"}, "dataset": {}}}',
        "figure 'x' lacks",
    ),
    "truncated": (b'{"schema": "alexnet-edge-drift/1", "sett', "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(DRIFT_BAD_BASELINES))
def test_drift_bad_baseline_is_one_line(case, checkpoint, data_root, tmp_path):
    content, match = DRIFT_BAD_BASELINES[case]
    (tmp_path / "b.json").write_bytes(content)
    one_error(
        alexnet_drift,
        "--baseline",
        tmp_path / "b.json",
        "--checkpoint",
        checkpoint,
        "--data-root",
        data_root,
        match=match,
    )


def test_drift_missing_checkpoint_is_one_line(data_root, tmp_path):
    one_error(
        alexnet_drift, "--checkpoint", tmp_path / "none.pt", "--data-root", data_root, match="checkpoint not found"
    )


# -- export-alexnet: options and inputs refused before anything is written ----------------------
def _export_refused(checkpoint, data_root, out, *extra, match):
    before = tree(out)
    one_error(
        export_alexnet,
        *run_args(checkpoint, data_root, out),
        "--no-bench",
        *extra,
        match=match,
    )
    assert tree(out) == before  # nothing written, nothing deleted
    assert not list(out.parent.glob(f".{out.name}.run-*"))


@pytest.mark.parametrize(
    "option, match",
    [
        ("fp32.max_abs_diff=nan", "must be a finite number"),
        ("fp32.max_abs_diff=inf", "must be a finite number"),
        ("int8.min_top1_agreement=2", "must be between 0 and 1"),
        ("fp16.max_rel_diff=-1", "must be a finite number"),
        ("int8.min_cosine_similarity=-0.5", "must be between 0 and 1"),
        ("int8.nonsense=1", "unknown tolerance field"),
    ],
)
def test_bad_tolerance_override_is_exit_2(option, match, checkpoint, data_root, tmp_path):
    _export_refused(checkpoint, data_root, tmp_path / "out", "--tolerance", option, match=match)


def _state_file(path: Path, state) -> Path:
    torch.save(state, path)
    return path


class Hostile:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "case, match",
    [
        ("nan_weights", "holds NaN or infinite values in features.0.weight"),
        ("pickled_code", "refused: the pickle references print, which weights_only loading does not allow"),
        ("random_bytes", "not a PyTorch state_dict file"),
        ("list_of_tensors", "does not hold a state_dict of tensors"),
    ],
)
def test_bad_checkpoints_are_exit_2_with_a_complete_sentence(case, match, reference_model, data_root, tmp_path):
    path = tmp_path / "bad.pt"
    if case == "nan_weights":
        state = {k: v.clone() for k, v in reference_model.state_dict().items()}
        state["features.0.weight"][0, 0, 0, 0] = float("nan")
        _state_file(path, state)
    elif case == "pickled_code":
        torch.save({"x": Hostile()}, path)  # a pickle whose loading would call print("pwned")
    elif case == "random_bytes":
        path.write_bytes(bytes(range(256)) * 8)
    else:
        _state_file(path, [torch.zeros(3)])
    line = one_error(
        export_alexnet, "--checkpoint", path, "--data-root", data_root, "--out", tmp_path / "out", match=match
    )
    assert line.rstrip().endswith((")", "allow", "values in features.0.weight", "tensors")) and "Re-running" not in line
    assert not (tmp_path / "out").exists()


def test_out_equal_to_bundle_is_refused_and_deletes_nothing(checkpoint, data_root, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "model.fp32.onnx").write_text("an earlier run's model")
    _export_refused(checkpoint, data_root, out, "--bundle", out, match="would replace the output folder")


def test_bundle_over_a_users_folder_needs_force(checkpoint, data_root, tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "thesis.txt").write_text("irreplaceable")
    _export_refused(checkpoint, data_root, tmp_path / "out", "--bundle", users, match="not an alexnet-edge bundle")
    assert (users / "thesis.txt").read_text() == "irreplaceable"


@pytest.mark.parametrize(
    "extra, match",
    [
        (("--int8", "--calib-size", "20001"), "more than the 10,000 images"),
        (("--variant", "original"), "cannot take 32x32"),
        (("--eval-size", "0"), "0"),
    ],
)
def test_impossible_options_write_nothing(extra, match, checkpoint, data_root, tmp_path):
    _export_refused(checkpoint, data_root, tmp_path / "new-out", *extra, match=match)
    assert not (tmp_path / "new-out").exists()


def test_missing_dataset_leaves_no_empty_out(checkpoint, tmp_path):
    one_error(
        export_alexnet,
        *run_args(checkpoint, tmp_path / "nodata", tmp_path / "out"),
        match="",
    )
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_out_is_a_file_or_locked_is_exit_2(checkpoint, data_root, tmp_path):
    import fcntl

    (tmp_path / "file").write_text("x")
    one_error(
        export_alexnet, "--checkpoint", checkpoint, "--data-root", data_root, "--out", tmp_path / "file", match="file"
    )
    out = tmp_path / "busy"
    with open(tmp_path / ".busy.lock", "w") as lock:
        lock.write("export-alexnet pid 4242, started today")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        line = one_error(
            export_alexnet,
            *run_args(checkpoint, data_root, out),
            "--no-bench",
            match="is in use by export-alexnet pid 4242",
        )
    assert "choose another --out" in line and not out.exists()


# -- export-alexnet: what a run leaves in --out ----------------------------------------------
def _manifest_matches_disk(out: Path) -> None:
    from alexnet_edge.runtime.fileio import sha256_file

    manifest = json.loads((out / "manifest.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    for entry in manifest["artifacts"]:
        assert sha256_file(out / entry["file"]) == entry["sha256"], entry["file"]
    json.loads((out / "report.json").read_text(), parse_constant=lambda c: pytest.fail(c))


def test_a_run_replaces_its_own_files_keeps_the_users_and_cleans_leftovers(checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "model.int8.onnx").write_text("an earlier run's int8 model")
    (out / "manifest.json").write_text(json.dumps({"artifacts": [{"file": "model.int8.onnx"}]}))
    (out / ".model.fp32.onnx.abc.tmp").write_bytes(b"\0" * 1000)  # as a SIGKILL leaves them
    (tmp_path / ".out.run-99999").mkdir()
    result, errors = invoke(
        export_alexnet,
        *run_args(checkpoint, data_root, out),
        "--eval-size",
        100,
        "--no-bench",
        "--quiet",
    )
    assert result.exit_code == 0 and not errors, result.output
    assert "left by an interrupted run" in result.output
    assert (out / "notes.txt").read_text() == "mine" and not (out / "model.int8.onnx").exists()
    assert not list(out.glob(".*")) and not list(tmp_path.glob(".out.*"))
    _manifest_matches_disk(out)


def test_a_failed_run_leaves_out_exactly_as_it_was(exported, checkpoint, data_root, tmp_path):
    import shutil

    out = tmp_path / "good"
    shutil.copytree(exported.out, out, ignore=shutil.ignore_patterns("bundle"))
    before = tree(out)
    # Fails after export, at calibration: the train batch is not there.
    one_error(
        export_alexnet,
        *run_args(checkpoint, data_root, out),
        "--eval-size",
        50,
        "--no-bench",
        "--int8",
        "--calib-batches",
        "data_batch_4",
        match="data_batch_4",
    )
    assert tree(out) == before and not list(tmp_path.glob(".good.*"))


def test_reports_are_strict_json(exported):
    _manifest_matches_disk(exported.out)


# -- the bundle's scripts --------------------------------------------------------------------
@pytest.mark.parametrize(
    "content, match",
    [
        (b"{}", "lists no files"),
        (b'{"files": {"a": 1}}', "lists no files"),
        (b'{"files": {"models', "not valid JSON"),
        (b"[]", "lists no files"),
    ],
)
def test_verify_with_a_broken_manifest_is_one_line(content, match, exported, tmp_path):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(exported.out / "bundle", bundle)
    (bundle / "manifest.json").write_bytes(content)
    proc = subprocess.run(
        [sys.executable, str(bundle / "verify.py"), "--no-bench"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("error:") == 1 and match in proc.stderr


def test_bundle_infer_survives_a_bomb_beside_a_good_image(exported, good_png, tmp_path):
    bomb = png_claiming(tmp_path / "bomb.png", 50000, 50000)
    bundle = exported.out / "bundle"
    proc = subprocess.run(
        [
            sys.executable,
            str(bundle / "infer.py"),
            "--model",
            str(bundle / "models/model.int8.onnx"),
            str(good_png),
            str(bomb),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert str(good_png) in proc.stdout and proc.stderr.count("error:") == 1 and "bomb.png" in proc.stderr


# -- the runtime API -------------------------------------------------------------------------
def test_nan_logits_always_fail_the_check():
    from alexnet_edge.runtime.compare import DEFAULT_TOLERANCES, check, compare
    from alexnet_edge.runtime.precision import Precision

    reference = np.eye(10, dtype=np.float32)
    logits = reference.copy()
    logits[3, 3] = np.nan
    result = compare(logits, reference, np.arange(10))
    for precision in Precision:
        failures = check(result, reference_accuracy=1.0, tolerance=DEFAULT_TOLERANCES[precision], artifact="x")
        assert "non_finite_logits" in [f.metric for f in failures]


def test_write_json_never_writes_nan_or_infinity(tmp_path):
    from alexnet_edge.runtime.fileio import write_json

    write_json(tmp_path / "x.json", {"a": math.inf, "b": [math.nan, 1.5], "c": {"d": -math.inf}})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [None, 1.5], "c": {"d": None}}


def test_runner_refuses_a_model_with_another_input(tmp_path):
    from alexnet_edge.runtime.backends.onnxrt import OnnxRuntimeRunner
    from alexnet_edge.runtime.errors import ModelFileError

    with pytest.raises(ModelFileError, match="takes float16"):
        OnnxRuntimeRunner(signature_model(tmp_path / "m.onnx", elem=TensorProto.FLOAT16)).activate()


# -- concurrency and kills (slow, but they exist) ---------------------------------------------
def _export_process(checkpoint, data_root, out, *extra):
    cmd = [
        str(Path(sys.executable).parent / "export-alexnet"),
        *run_args(str(checkpoint), str(data_root), str(out)),
        "--eval-size",
        "300",
        "--no-bench",
        "--quiet",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_runs_on_one_out_never_mix(checkpoint, data_root, tmp_path):
    import time

    out = tmp_path / "out"
    first = _export_process(checkpoint, data_root, out, "--int8")
    time.sleep(3)
    second = _export_process(checkpoint, data_root, out, "--int8", "--calib-method", "minmax")
    _, err = second.communicate(timeout=300)
    assert second.returncode == 2 and "is in use by export-alexnet pid" in err and "Traceback" not in err
    assert first.wait(timeout=600) == 0
    _manifest_matches_disk(out)


@pytest.mark.slow
def test_a_killed_run_leaves_nothing_the_next_run_does_not_clean(checkpoint, data_root, tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    proc = _export_process(checkpoint, data_root, out)
    time.sleep(12)  # mid-export
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # nothing reached --out
    rerun = _export_process(checkpoint, data_root, out)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert not list(tmp_path.glob(".out.run-*"))
    _manifest_matches_disk(out)
