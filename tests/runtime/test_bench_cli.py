"""alexnet-bench (issue #29 item 2): the controls in --help, figures with the runs behind each percentile
in --json, any ONNX model with one input, interleaving without onnxruntime's idle spinning, one error line."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from alexnet_edge.runtime.bench_cli import Setup, main, open_runner_for

CONTROLS = (
    "--backend",
    "--batch-sizes",
    "--threads",
    "--warmup",
    "--duration",
    "--iterations",
    "--interleave",
    "--json",
)


@pytest.fixture
def ours(tmp_path):
    from support.hostile import signature_model

    return signature_model(tmp_path / "model.tiny.onnx")


@pytest.fixture
def foreign(tmp_path):
    """Not our signature: one float16 input [n, 7] named x, output y."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["n", 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["n", 7])],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _bench(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_help_shows_the_controls():
    result = _bench("--help")
    assert result.exit_code == 0
    missing = [c for c in CONTROLS if c not in result.output]
    assert not missing


def test_json_carries_the_runs_behind_each_percentile_and_omits_p99_from_twenty(ours):
    result = _bench(ours, "--batch-sizes", "1,3", "--iterations", "20", "--warmup", "1", "--threads", "1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["batch_size"] for r in report["results"]] == [1, 3]
    for figure in report["results"]:
        assert figure["runs"] == 20 and figure["latency_ms"]["p50"]["runs"] == figure["latency_ms"]["p90"]["runs"] == 20
        assert "p99" not in figure["latency_ms"] and "100 runs" in figure["omitted"]["p99"]
    assert report["throughput_definition"].startswith("images/s = batch size")
    assert len(report["load_average"]["before"]) == 3 and report["cpu"]["name"]


def test_any_onnx_model_with_one_input_takes_its_shape_and_dtype(foreign):
    result = _bench(foreign, "--batch-sizes", "4", "--iterations", "3", "--warmup", "0", "--json")
    assert result.exit_code == 0, result.output
    (figure,) = json.loads(result.stdout)["results"]
    assert figure["batch_size"] == 4 and figure["runs"] == 3


def test_text_output_names_the_cpu_load_and_a_missing_percentile(ours):
    result = _bench(ours, "--iterations", "12", "--warmup", "0", "--threads", "1")
    assert result.exit_code == 0, result.output
    assert "load average" in result.output and "CPU:" in result.output
    assert "(12 runs)" in result.output and "p99 not given (needs at least 100 runs, had 12)" in result.output


def test_interleave_opens_onnxruntime_sessions_without_spinning(ours):
    runner = open_runner_for(Setup(ours, "onnxruntime", 1), allow_spinning=False)
    try:
        options = runner.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    finally:
        runner.deactivate()
    other = ours.with_name("model.copy.onnx")
    other.write_bytes(ours.read_bytes())
    result = _bench(ours, other, "--interleave", "--iterations", "4", "--warmup", "0", "--threads", "1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "interleaved" and len(report["results"]) == 2
    assert all(r["runs"] >= 4 for r in report["results"])  # at least: a round gives each figure several calls


def test_bad_options_are_one_error_line(ours, tmp_path):
    result = _bench(ours, "--batch-sizes", "0")
    assert result.exit_code == 2 and result.output.count("error:") == 1 and "Traceback" not in result.output
    result = _bench(tmp_path / "missing.onnx")
    assert result.exit_code == 2


def test_fixed_batch_model_skips_other_sizes_saying_so(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])],
    )
    path = tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    report = json.loads(_bench(path, "--batch-sizes", "1,2", "--iterations", "2", "--warmup", "0", "--json").stdout)
    assert [r["batch_size"] for r in report["results"]] == [2]
    assert report["skipped"][0]["batch_size"] == 1 and "2..2" in report["skipped"][0]["reason"]
    assert np.isfinite(report["results"][0]["mean_ms"])
