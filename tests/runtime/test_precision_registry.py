"""The precision registry (runtime/precision.py, export/convert/transforms.py, runtime/fidelity.py): a toy
precision plugs in from this file alone and is gone after its block; an unknown precision fails closed in one
line wherever it is looked up; and the tolerances have one table."""

import ast
import json
from pathlib import Path

import click
import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from alexnet_edge.export.cli.export import export_alexnet
from alexnet_edge.export.cli.targets import alexnet_targets
from alexnet_edge.export.convert.onnx_export import load_onnx, read_metadata, set_metadata
from alexnet_edge.export.convert.transforms import convert, register_transform, registered_transform, transform_for
from alexnet_edge.export.gpu.trtexec import render_trtexec_md
from alexnet_edge.export.targets import judge as targets_judge
from alexnet_edge.export.targets.cpus import default_targets
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.constants import INPUT_NAME, NUM_CLASSES, OUTPUT_NAME
from alexnet_edge.runtime.errors import UnknownPrecisionError
from alexnet_edge.runtime.evaluation import evaluate
from alexnet_edge.runtime.fidelity import Bounds, DriftBounds, Tolerance
from alexnet_edge.runtime.precision import (
    NamedPrecision,
    Precision,
    PrecisionSpec,
    TensorRTBuild,
    default_target_images,
    parse_precision,
    parse_tolerance_overrides,
    precisions,
    register_precision,
    registered_precision,
    spec_for,
    tolerance_for,
    unregister_precision,
)

REPO = Path(__file__).resolve().parents[2]
TOY = NamedPrecision("toy4")
TOY_TOLERANCE = Tolerance(min_top1_agreement=0.9, max_accuracy_drop=0.05, max_flipped_margin=2.0)
TOY_SPEC = PrecisionSpec(
    TOY,
    "TOY4",
    "a toy precision",
    Bounds(TOY_TOLERANCE, DriftBounds(max_abs_diff_rise=1.0, mean_abs_diff_rise=0.1)),
    tensorrt=TensorRTBuild(refusal="TensorRT has no toy4 kernels"),
    target_images=7,
    plot_colour="tab:purple",
)


def _toy_transform(src: Path, inputs) -> tuple[onnx.ModelProto, dict[str, object]]:
    """The FP32 model unchanged, with the metadata a real transform adds."""
    return load_onnx(src), {"precision_tool": "toy (identity)"}


@pytest.fixture
def fp32_model(tmp_path) -> Path:
    """A tiny model shaped like ours: float [N,3,32,32] -> logits [N,10] (Flatten, MatMul)."""
    weights = np.random.default_rng(0).normal(size=(3 * 32 * 32, NUM_CLASSES)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", [INPUT_NAME], ["flat"]), helper.make_node("MatMul", ["flat", "w"], [OUTPUT_NAME])],
        "tiny",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", NUM_CLASSES])],
        [onnx.numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    set_metadata(model, {"precision": Precision.FP32.value})
    path = tmp_path / Precision.FP32.onnx_name
    onnx.save(model, str(path))
    return path


def _parsed_precisions(command: click.Command, args: list[str]):
    with command.make_context(command.name, args) as ctx:
        return ctx.params["precisions"]


def test_a_toy_precision_plugs_in_from_its_test_file_alone(fp32_model, tmp_path, monkeypatch):
    with registered_precision(TOY_SPEC), registered_transform(TOY, _toy_transform):
        assert TOY in precisions() and parse_precision("TOY4") == TOY and spec_for(TOY) is TOY_SPEC
        # the export side: its transform writes the model and records how
        out = convert(fp32_model, TOY, tmp_path / TOY.onnx_name)
        metadata = read_metadata(load_onnx(out))
        assert (metadata["precision"], metadata["precision_tool"]) == ("toy4", "toy (identity)")
        # the CLI's choice is read from the registry: export-alexnet takes it, FP32 first
        assert _parsed_precisions(export_alexnet, ["--precision", "toy4", "--fp16"]) == (TOY,)
        # evaluation judges it by its own tolerance (widened for a sample like any other)
        tolerance = tolerance_for(TOY, 40)
        assert tolerance == TOY_TOLERANCE.for_sample(40)
        images = np.random.default_rng(1).normal(size=(40, 3, 32, 32)).astype(np.float32)
        with OnnxRuntimeRunner(fp32_model) as runner:
            reference = runner.infer(images)
        with OnnxRuntimeRunner(out, precision=TOY) as runner:
            evaluated = evaluate(runner, TOY, images, reference.argmax(1), reference, tolerance)
        assert evaluated.row.precision is TOY and evaluated.row.within_tolerance
        assert parse_tolerance_overrides(["toy4.max_accuracy_drop=0.1"]) == {TOY: {"max_accuracy_drop": 0.1}}
        # TensorRT's refusal is written instead of a command; targets run it by its spec's count
        assert "model.toy4.onnx: TensorRT has no toy4 kernels" in render_trtexec_md(EngineBuildConfig(), [TOY])
        assert default_target_images()[TOY] == 7
        assert all(t.counts.get(TOY) == 7 for t in default_targets() if t.name != "host")
        configs = []

        def no_run(config, log):  # alexnet-targets' options as parsed; nothing is run
            configs.append(config)
            return [], []

        monkeypatch.setattr(targets_judge, "run_targets", no_run)
        args = ["--size", "toy4=2", "--size", "int8=5", "--fp32-size", "3"]
        result = CliRunner().invoke(alexnet_targets, args, env={"ALEXNET_EDGE_DATA": str(tmp_path)})
        assert result.exit_code == 0, result.output
        assert configs[0].images == {**default_target_images(), TOY: 2, Precision.INT8: 5, Precision.FP32: 3}
    # gone after the block, everywhere
    assert TOY not in precisions()
    for lookup in (spec_for, transform_for, tolerance_for):
        with pytest.raises(UnknownPrecisionError, match="unknown precision"):
            lookup(TOY)
    with pytest.raises(click.BadParameter, match="'toy4' is not one of"):
        _parsed_precisions(export_alexnet, ["--precision", "toy4"])


def test_export_alexnet_writes_judges_and_reports_the_toy(checkpoint, data_root, tmp_path):
    """The whole pipeline, from the command line, with nothing but this file's registration."""
    args = ["--checkpoint", str(checkpoint), "--data-root", str(data_root), "--out", str(tmp_path / "out")]
    args += ["--precision", "toy4", "--eval-size", "64", "--no-bench", "--no-engines", "--quiet"]
    with registered_precision(TOY_SPEC), registered_transform(TOY, _toy_transform):
        result = CliRunner().invoke(export_alexnet, [*args, "--backends", "onnxruntime"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (row,) = [r for r in report["rows"] if r["precision"] == "toy4"]
    assert row["within_tolerance"] and row["tolerance"]["min_top1_agreement"] == TOY_TOLERANCE.min_top1_agreement
    assert read_metadata(load_onnx(tmp_path / "out" / TOY.onnx_name))["precision_tool"] == "toy (identity)"


def test_an_unknown_precision_fails_closed_in_one_line(fp32_model, tmp_path):
    """The transform no longer sends a precision it does not know down the INT8 path (e9b3804's ``else:``)."""
    unknown = NamedPrecision("int3")
    for call in (
        lambda: convert(fp32_model, unknown, tmp_path / unknown.onnx_name),
        lambda: tolerance_for(unknown, 100),
        lambda: parse_precision("int3"),
        lambda: parse_tolerance_overrides(["int3.max_abs_diff=1"]),
    ):
        with pytest.raises(UnknownPrecisionError) as caught:
            call()
        assert "\n" not in str(caught.value) and "unknown precision" in str(caught.value)
    assert not (tmp_path / unknown.onnx_name).exists()
    with pytest.raises(TypeError, match="parse_precision"):  # a bare name is not a precision: a caller's bug
        spec_for("int8")
    # registered, but no transform: refused, not defaulted
    with registered_precision(TOY_SPEC), pytest.raises(UnknownPrecisionError, match="no ONNX transform"):
        convert(fp32_model, TOY, tmp_path / TOY.onnx_name)
    # on the command line: one error line, exit 2
    result = CliRunner().invoke(alexnet_targets, ["--size", "int3=5"], env={"ALEXNET_EDGE_DATA": str(tmp_path)})
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        "error: unknown precision 'int3'; choose one of " + ", ".join(p.value for p in precisions())
    ]


def test_the_registry_refuses_a_second_spec_or_transform_and_keeps_its_built_ins():
    with pytest.raises(UnknownPrecisionError, match="registered already"):
        register_precision(PrecisionSpec(Precision.INT8, "INT8", "again", spec_for(Precision.INT8).bounds))
    with pytest.raises(UnknownPrecisionError, match="has an ONNX transform already"):
        register_transform(Precision.INT8, _toy_transform)
    with pytest.raises(UnknownPrecisionError, match="built in"):
        unregister_precision(Precision.FP32)
    assert precisions()[:3] == (Precision.FP32, Precision.FP16, Precision.INT8)


# -- one tolerance table -------------------------------------------------------------------------------------
BOUND_TYPES = {"Tolerance", "Bounds", "DriftBounds"}
PRECISION_NAMES = {p.value for p in Precision}


def _sources():
    for package in ("runtime", "export", "calibration"):
        for path in sorted((REPO / package).rglob("*.py")):
            yield path.relative_to(REPO).as_posix(), ast.parse(path.read_text(), str(path))


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def test_every_bound_is_defined_in_runtime_fidelity_only():
    """No module but runtime/fidelity.py writes a bound (a Tolerance, Bounds or DriftBounds from literal
    numbers; ``Tolerance(**stored)`` reads one back), and none keys a table of its own by precision names."""
    written, keyed = [], []
    for name, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in BOUND_TYPES and name != "runtime/fidelity.py":
                if node.args or any(k.arg is not None for k in node.keywords):
                    written.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
                if len(keys) >= 2 and keys <= PRECISION_NAMES:  # {"fp32": ..., "int8": ...}: a table by precision
                    keyed.append(f"{name}:{node.lineno}")
    assert not written, f"bounds written outside runtime/fidelity.py: {written}"
    assert not keyed, f"tables keyed by precision names instead of the registry: {keyed}"


def test_the_one_table_check_can_fail(tmp_path):
    """The check above catches what it is for: a Tolerance written in place and a string-keyed table."""
    tree = ast.parse(
        "T = Tolerance(min_top1_agreement=0.9, max_accuracy_drop=0.1)\nCOLOURS = {'fp32': 'g', 'int8': 'o'}\n"
    )
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _called_name(n) in BOUND_TYPES]
    tables = [n for n in ast.walk(tree) if isinstance(n, ast.Dict)]
    assert calls and calls[0].keywords[0].arg is not None
    assert {k.value for k in tables[0].keys} <= PRECISION_NAMES
