"""A bundle carries only the models asked for (``--bundle-precision``, repeatable; default: every one built):
a Jetson that runs INT8 need not download 142 MiB of three models. Asking for one the run does not build is
refused in one line before any work."""

import json

from click.testing import CliRunner

from alexnet_edge.export.cli.export import export_alexnet


def _export(*args):
    return CliRunner().invoke(export_alexnet, [str(a) for a in args])


def test_bundle_carries_only_the_precisions_asked_for(checkpoint, data_root, tmp_path):
    bundle = tmp_path / "bundle"
    result = _export(
        *("--checkpoint", checkpoint, "--data-root", data_root, "--out", tmp_path / "out", "--int8"),
        *("--eval-size", 64, "--calib-size", 64, "--no-bench", "--no-engines", "--backends", "onnxruntime"),
        *("--quiet", "--bundle", bundle, "--bundle-precision", "int8"),
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (bundle / "models").iterdir()) == ["calibration_table.json", "model.int8.onnx"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert set(manifest["expected"]) == {"int8"}
    assert not [f for f in manifest["files"] if "fp32" in f or "fp16" in f]
    assert (tmp_path / "out" / "model.fp32.onnx").is_file()  # the run itself still writes every model


def test_a_precision_the_run_does_not_build_is_refused_before_work(checkpoint, data_root, tmp_path):
    result = _export(
        *("--checkpoint", checkpoint, "--data-root", data_root, "--out", tmp_path / "out"),
        *("--bundle", tmp_path / "bundle", "--bundle-precision", "fp16", "--bundle-precision", "int8"),
    )
    assert result.exit_code == 2
    assert (
        "error: --bundle-precision fp16, int8: this run builds only fp32 (add --precision fp16 --precision int8)"
        in result.output
    )
    assert not (tmp_path / "out").exists()
