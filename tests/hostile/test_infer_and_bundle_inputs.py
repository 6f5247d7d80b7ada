"""Hostile and unusual inputs to alexnet-infer, the bundle scripts and the runtime API (export-alexnet,
alexnet-drift and the output folder: test_export_and_drift_inputs.py).

Every case checks the exit code, that no traceback is printed, that exactly the expected `error:`
lines appear and name the problem, and what is on disk afterwards.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto
from support.hostile import invoke, manifest_matches_disk, npy_claiming, one_error, png_claiming, signature_model

from alexnet_edge.runtime.infer_cli import main as alexnet_infer

# -- inputs made here: tests/support/hostile.py ----------------------------------------------


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
    assert result.exit_code == 2
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


def test_reports_are_strict_json(exported):
    manifest_matches_disk(exported.out)


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
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(good_png) in proc.stdout and proc.stderr.count("error:") == 1 and "bomb.png" in proc.stderr


# -- the runtime API -------------------------------------------------------------------------
def test_nan_logits_always_fail_the_check():
    from alexnet_edge.runtime.compare import compare
    from alexnet_edge.runtime.fidelity import check
    from alexnet_edge.runtime.precision import precisions, tolerance_for

    reference = np.eye(10, dtype=np.float32)
    logits = reference.copy()
    logits[3, 3] = np.nan
    result = compare(logits, reference, np.arange(10))
    for precision in precisions():
        failures = check(result, reference_accuracy=1.0, tolerance=tolerance_for(precision), artifact="x")
        assert "non_finite_logits" in [f.metric for f in failures]


def test_write_json_never_writes_nan_or_infinity(tmp_path):
    from alexnet_edge.runtime.fileio import write_json

    write_json(tmp_path / "x.json", {"a": math.inf, "b": [math.nan, 1.5], "c": {"d": -math.inf}})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [None, 1.5], "c": {"d": None}}


def test_runner_refuses_a_model_with_another_input(tmp_path):
    from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
    from alexnet_edge.runtime.errors import ModelFileError

    with pytest.raises(ModelFileError, match="takes float16"):
        OnnxRuntimeRunner(signature_model(tmp_path / "m.onnx", elem=TensorProto.FLOAT16)).activate()


# -- concurrency and kills (slow, but they exist) ---------------------------------------------
