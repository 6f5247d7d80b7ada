"""--calib-data and --eval-data through the command line and the pipeline's Python API."""

import json

import numpy as np
from click.testing import CliRunner
from support.cli_args import run_args
from support.image_files import write_pngs

from alexnet_edge.calibration.config import CalibrationConfig
from alexnet_edge.export.cli.export import export_alexnet
from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
from alexnet_edge.export.pipeline.run import run
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.preprocess import normalize_uint8


def test_own_calibration_and_evaluation_images(checkpoint, data_root, test_split, reference_model, tmp_path):
    eval_dir, calib_dir, out = tmp_path / "eval", tmp_path / "calib", tmp_path / "out"
    chosen = np.arange(150)  # the first 150 test images, filed by class
    for c in range(10):
        write_pngs(eval_dir / CLASS_NAMES[c], test_split.images[chosen][test_split.labels[chosen] == c])
    write_pngs(calib_dir, test_split.images[5000:5200])
    (calib_dir / "README.txt").write_text("not an image")
    args = [
        *run_args(checkpoint, data_root, out),
        "--int8",
        "--no-bench",
        "--quiet",
        "--calib-data",
        calib_dir,
        "--eval-data",
        eval_dir,
    ]
    result = CliRunner().invoke(export_alexnet, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "skipped 1 unreadable file(s)" in result.output and "README.txt" in result.output
    report = json.loads((out / "report.json").read_text())
    assert (
        report["eval_images"] == 150
        and report["eval_source"] == str(eval_dir)
        and report["eval_subset"] == f"all of {eval_dir}"
    )
    calibration = report["calibration"]
    assert (
        calibration["source"] == str(calib_dir)
        and calibration["size"] == 200
        and len(calibration["content_sha256"]) == 64
    )
    with TorchRunner(reference_model) as runner:
        expected = float(
            (runner.infer_many(normalize_uint8(test_split.images[:150])).argmax(1) == test_split.labels[:150]).mean()
        )
    torch_row = next(r for r in report["rows"] if r["backend"] == "torch")
    assert torch_row["accuracy"] == expected  # the same 150 images, read back from PNG bit-identically
    assert any("apply only to CIFAR-10's test_batch" in note for note in report["notes"])
    assert f"150 images (all of {eval_dir})" in (out / "report.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset_md5"]["eval_data"] == str(eval_dir)


def test_calib_data_needs_int8_and_an_existing_path(data_root, tmp_path):
    import pytest

    from alexnet_edge.runtime.errors import AlexNetEdgeError

    with pytest.raises(AlexNetEdgeError, match="--calib-data calibrates the INT8 model: add --int8"):
        run(ExportSpec(calibration=CalibrationConfig(data=tmp_path)), options=RunOptions(data_root, tmp_path / "o"))
    with pytest.raises(AlexNetEdgeError, match="--eval-data .*missing: no such file or folder"):
        run(
            ExportSpec(precisions=(Precision.FP32,)),
            EvaluationSpec(eval_data=tmp_path / "missing"),
            RunOptions(data_root=data_root, out_dir=tmp_path / "o"),
        )
    assert not (tmp_path / "o").exists()
