"""export-alexnet end to end, and every kind of bad input ending in one line and a nonzero exit."""

import json
import re
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from support.cli_args import run_args

from alexnet_edge.export.cli.export import export_alexnet
from alexnet_edge.export.model.alexnet import AlexNet
from alexnet_edge.runtime.bench import PIPELINE_TIMING, runs_needed


def invoke(*args):
    return CliRunner().invoke(export_alexnet, [str(a) for a in args])


def test_end_to_end_small_eval(checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    result = invoke(
        *run_args(checkpoint, data_root, out),
        "--eval-size",
        200,
        "--batch-sizes",
        "1,8",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rows = {(r["backend"], r["precision"]): r for r in report["rows"]}
    # The default --backends is every installed CPU backend: OpenVINO rows appear when its extra is installed.
    from alexnet_edge.runtime.backends.registry import host_backends

    expected = {("torch", "fp32")} | {(name, "fp32") for name in host_backends(installed=True)}
    assert set(rows) == expected
    ort_row = rows[("onnxruntime", "fp32")]
    assert ort_row["max_abs_diff"] <= 1e-3 and ort_row["top1_agreement"] == 1.0
    assert ort_row["accuracy"] == rows[("torch", "fp32")]["accuracy"]
    assert set(ort_row["latency_ms"]) == {"1", "8"} and ort_row["throughput"]["8"] > 0
    assert [c["stage"] for c in report["checks"]] == ["export", "simplify"]
    assert "TensorRT engines skipped" in result.output
    assert "| onnxruntime | cpu | fp32 |" in (out / "report.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert {a["file"] for a in manifest["artifacts"]} >= {"model.fp32.onnx", "report.json", "report.md", "report.png"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    png = (out / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    from PIL import Image

    with Image.open(out / "report.png") as image:
        image.verify()
    assert report["schema"] == "alexnet-edge-report/1" and report["eval_images"] == 200
    for row in report["rows"]:
        assert {
            "backend",
            "device",
            "precision",
            "artifact",
            "accuracy",
            "top1_agreement",
            "max_abs_diff",
            "size_mb",
            "latency_ms",
            "throughput",
            "per_class_accuracy",
            "cosine_similarity",
        } <= set(row)
        figure = row["latency_ms"]["1"]
        # p99 is given only from runs_needed(99) == 100 timed runs; below that "omitted" says why (runtime/bench.py)
        has_p99 = figure["runs"] >= runs_needed(99)
        assert set(figure) == {"p50", "p90", "mean", "runs", "seconds", "spread_ms"} | (
            {"p99"} if has_p99 else {"omitted"}
        )
        assert figure["runs"] >= PIPELINE_TIMING.min_runs and figure["seconds"] > 0
        assert has_p99 or set(figure["omitted"]) == {"p99"}
        assert figure["spread_ms"][0] <= figure["p50"] <= figure["spread_ms"][1]
    assert (
        manifest["tool_versions"]["onnxruntime"]
        and manifest["config"]["evaluation"]["eval_size"] == 200
        and manifest["devices"]
    )


def _assert_clean_failure(result, out, pattern, code=2):
    assert result.exit_code == code, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and re.search(pattern, last), last
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_missing_checkpoint(data_root, tmp_path):
    out = tmp_path / "out"
    _assert_clean_failure(
        invoke("--checkpoint", tmp_path / "none.pt", "--data-root", data_root, "--out", out),
        out,
        "checkpoint not found",
    )


def test_corrupt_checkpoint(data_root, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    _assert_clean_failure(
        invoke("--checkpoint", bad, "--data-root", data_root, "--out", out), out, "cannot read checkpoint"
    )


def test_checkpoint_of_another_architecture(data_root, tmp_path):
    state = AlexNet().state_dict()
    state["classifier.6.weight"] = torch.zeros(100, 4096)
    path = tmp_path / "cifar100.pt"
    torch.save(state, path)
    out = tmp_path / "out"
    _assert_clean_failure(
        invoke("--checkpoint", path, "--data-root", data_root, "--out", out),
        out,
        r"not this architecture: mis-shaped classifier.6.weight \[100, 4096\]",
    )


def test_missing_dataset(checkpoint, tmp_path):
    out = tmp_path / "out"
    _assert_clean_failure(
        invoke("--checkpoint", checkpoint, "--data-root", tmp_path / "nodata", "--out", out),
        out,
        "CIFAR-10 file missing: .*test_batch",
    )


def test_corrupt_dataset(checkpoint, tmp_path):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "test_batch").write_bytes(b"garbage")
    out = tmp_path / "out"
    _assert_clean_failure(
        invoke("--checkpoint", checkpoint, "--data-root", tmp_path / "data", "--out", out),
        out,
        "CIFAR-10 file corrupt: .*test_batch has md5",
    )


def test_input_size_the_net_cannot_take(checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    result = invoke("--checkpoint", checkpoint, "--data-root", data_root, "--out", out, "--variant", "original")
    _assert_clean_failure(result, out, "original net cannot take 32x32 input: features.12 MaxPool2d")


def test_unwritable_out(checkpoint, data_root, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("--checkpoint", checkpoint, "--data-root", data_root, "--out", blocker / "out")
    # refused before any work by the preflight check (export/pipeline/preflight.py -> fileio.check_writable)
    _assert_clean_failure(result, blocker / "out", rf"--out {re.escape(str(blocker / 'out'))}: .*file is not a folder")


def test_bad_dla_profile_is_refused_up_front(checkpoint, data_root, tmp_path):
    result = invoke(
        "--checkpoint", checkpoint, "--data-root", data_root, "--out", tmp_path / "o", "--fp16", "--dla-core", "0"
    )
    assert result.exit_code == 2 and "DLA runs FP16 and INT8 only" in result.output


def test_bad_tolerance_override(checkpoint, data_root, tmp_path):
    result = invoke(
        "--checkpoint", checkpoint, "--data-root", data_root, "--out", tmp_path / "o", "--tolerance", "int8.speed=3"
    )
    assert result.exit_code == 2 and "unknown tolerance field(s) speed" in result.output


def test_tolerance_breach_exits_1_and_still_writes_the_report(checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    result = invoke(
        *run_args(checkpoint, data_root, out),
        "--eval-size",
        100,
        "--no-bench",
        "--fp16",
        "--tolerance",
        "fp16.max_abs_diff=1e-9",
        "--quiet",
    )
    assert result.exit_code == 1
    assert "error: outside tolerance: onnxruntime:fp16: max_abs_diff" in result.output
    rows = json.loads((out / "report.json").read_text())["rows"]
    assert [r["within_tolerance"] for r in rows if r["backend"] == "onnxruntime"] == [True, False]
    row = rows[-1]
    assert not row["within_tolerance"] and "max_abs_diff" in row["failures"][0]


def test_installed_entry_point_prints_one_line(tmp_path):
    """The real console script, not CliRunner: a bad checkpoint gives one stderr line, exit 2."""
    exe = __import__("shutil").which("export-alexnet") or str(
        __import__("pathlib").Path(sys.executable).parent / "export-alexnet"
    )
    proc = subprocess.run(
        [exe, "--checkpoint", str(tmp_path / "x.pt"), "--data-root", str(tmp_path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    # "[data]" is the stage header, written as the stage starts (a piped log never waits); then one error line
    assert proc.stderr.strip().splitlines() == [
        "[data]",
        f"error: CIFAR-10 file missing: {tmp_path}/cifar-10-batches-py/test_batch; "
        f"put the CIFAR-10 python files in {tmp_path}/cifar-10-batches-py (unpack "
        "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz), "
        f"or pass --data-root to the folder that holds cifar-10-batches-py/, "
        "or add --download where the network is reachable",
    ]


def test_training_needs_the_named_train_batches(data_root, tmp_path):
    out = tmp_path / "out"
    result = invoke("--data-root", data_root, "--out", out, "--epochs", 1, "--train-size", 64)
    assert result.exit_code == 2
    assert "pass --train-batches to train on what is there" in result.output.strip().splitlines()[-1]


@pytest.mark.slow
def test_without_checkpoint_it_trains_then_exports(data_root, tmp_path):
    out = tmp_path / "out"
    result = invoke(
        "--data-root",
        data_root,
        "--out",
        out,
        "--epochs",
        1,
        "--train-size",
        256,
        "--train-batches",
        "data_batch_1",
        "--eval-size",
        200,
        "--no-bench",
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert "the full recipe (60 epochs x 45,000 images) would take about 10 h here" in result.output
    assert (out / "alexnet_cifar10.pt").is_file() and (out / "model.fp32.onnx").is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["checkpoint"]["path"].endswith("alexnet_cifar10.pt")
