"""alexnet-infer given an export's output folder (or a bundle) instead of a model file: it runs the model
report.json recommends, says which and why and which model files it left; --json lines carry the model, its
precision and the latency of the call, not the CPU record again and again; a folder of inputs says what in it
was skipped."""

import json
import shutil

import onnx
from click.testing import CliRunner
from support.hostile import signature_model

from alexnet_edge.runtime.infer_cli import main as alexnet_infer


def _model(path, precision: str):
    signature_model(path)
    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "precision", precision
    onnx.save(model, str(path))
    return path


def _out_folder(tmp_path, recommended: str | None):
    out = tmp_path / "out"
    out.mkdir()
    for precision in ("fp32", "int8"):
        _model(out / f"model.{precision}.onnx", precision)
    by_batch = {}
    if recommended is not None:
        pick = {"artifact": recommended, "backend": "onnxruntime"}
        by_batch = {"8": {"fastest": {**pick, "artifact": "model.fp32.onnx"}}, "1": {"fastest": pick}}
    (out / "report.json").write_text(json.dumps({"recommendation": {"batch_sizes": by_batch}}))
    return out


def _invoke(*args):
    return CliRunner().invoke(alexnet_infer, [str(a) for a in args])


def test_an_output_folder_runs_its_recommended_model(tmp_path, hostile_files):
    out = _out_folder(tmp_path, "model.int8.onnx")
    result = _invoke("--model", out, "--json", hostile_files / "good.png")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    said = [line for line in lines if line.startswith("model: ")]
    assert said == [
        f"model: {out / 'model.int8.onnx'} (report.json's recommendation at batch 1: onnxruntime); "
        "not used: model.fp32.onnx"
    ]
    (record,) = [json.loads(line) for line in lines if line.startswith("{")]
    assert record["model"] == "model.int8.onnx" and record["precision"] == "int8" and record["batch"] == 1
    assert record["latency_ms"] > 0 and "cpu" not in record


def test_without_a_recommendation_the_fp32_model_of_a_bundle(tmp_path, hostile_files):
    bundle = tmp_path / "bundle"
    (bundle / "models").mkdir(parents=True)
    _model(bundle / "models" / "model.fp32.onnx", "fp32")
    _model(bundle / "models" / "model.fp16.onnx", "fp16")
    result = _invoke("--model", bundle, hostile_files / "good.png")
    assert result.exit_code == 0, result.output
    assert f"model: {bundle / 'models' / 'model.fp32.onnx'} (no report.json: the FP32 model)" in result.output
    assert "not used: models/model.fp16.onnx" in result.output


def test_an_input_folder_says_what_it_skipped(tmp_path, hostile_files):
    out = _out_folder(tmp_path, None)
    inputs = tmp_path / "inputs"
    shutil.copytree(hostile_files / "three", inputs)
    (inputs / "notes.txt").write_text("not an image")
    (inputs / "more").mkdir()
    result = _invoke("--model", out, inputs)
    assert result.exit_code == 0, result.output
    assert f"{inputs}: skipped 2 (not images or .npy): more/, notes.txt" in result.output
    assert "no timed recommendation in report.json: the FP32 model" in result.output
    assert sum(line.startswith(str(inputs / "img")) for line in result.output.splitlines()) == 3
