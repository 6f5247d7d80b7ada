"""build_engines.py and the trtexec lines, against the fake TensorRT 8.6 / 10.3 / 11.4 modules."""

import json

import pytest
from click.testing import CliRunner

from alexnet_edge.runtime.backends.trt_builder import EngineBuildConfig
from alexnet_edge.runtime.deploy import build_engines_main, trtexec_command
from alexnet_edge.runtime.precision import Precision

pytestmark = pytest.mark.trt_contract
ALL = pytest.mark.parametrize("fake_trt", ["trt8.6", "trt10.3", "trt11.4"], indirect=True)


@ALL
def test_build_engines_script_uses_the_exporters_options(fake_trt, exported):
    bundle = exported.out / "bundle"
    result = CliRunner().invoke(build_engines_main, ["--bundle-dir", str(bundle), "--max-batch", "64"])
    try:
        assert result.exit_code == 0, result.output
        for precision in Precision:
            sidecar = json.loads((bundle / "models" / f"model.{precision.value}.json").read_text())
            assert sidecar["profile"]["input"]["max"] == [64, 3, 32, 32]  # override
            assert sidecar["profile"]["input"]["opt"] == [32, 3, 32, 32]  # exporter's default kept
            assert sidecar["tensorrt_version"] == fake_trt.trt.__version__
        flags = sorted(c[1] for c in fake_trt.trt.calls if c[0] == "config.set_flag")
        assert flags == (["FP16", "INT8"] if fake_trt.trt.__version__.startswith("8.") else [])
        assert (bundle / "models" / "timing.cache").is_file()
    finally:
        for path in (bundle / "models").glob("*"):
            if path.suffix in (".engine", ".cache") or (path.suffix == ".json" and path.stem.startswith("model.")):
                path.unlink()


@ALL
def test_build_engines_dla_skips_fp32(fake_trt, exported):
    bundle = exported.out / "bundle"
    args = ["--bundle-dir", str(bundle), "--dla-core", "0", "--min-batch", "8", "--opt-batch", "8", "--max-batch", "8"]
    result = CliRunner().invoke(build_engines_main, args)
    try:
        assert result.exit_code == 0, result.output
        assert "skipping model.fp32.onnx: DLA runs FP16 and INT8 only" in result.output
        assert not (bundle / "models" / "model.fp32.engine").exists()
        assert ("BuilderConfig.DLA_core=", 0) in fake_trt.trt.calls
    finally:
        for path in (bundle / "models").glob("*"):
            if path.suffix in (".engine", ".cache") or (path.suffix == ".json" and path.stem.startswith("model.")):
                path.unlink()


@pytest.mark.parametrize(
    ("line", "precision", "present", "absent"),
    [
        ("8.6", Precision.FP16, ["--fp16"], ["--stronglyTyped", "--int8"]),
        ("8.6", Precision.INT8, ["--int8"], ["--fp16", "--stronglyTyped"]),
        ("10.x", Precision.INT8, ["--stronglyTyped"], ["--int8", "--fp16"]),
        ("11.x", Precision.FP16, [], ["--fp16", "--int8", "--stronglyTyped"]),
        ("11.x", Precision.INT8, [], ["--fp16", "--int8", "--stronglyTyped"]),
    ],
)
def test_trtexec_lines_per_version(line, precision, present, absent):
    config = EngineBuildConfig(min_batch=4, opt_batch=4, max_batch=4, dla_core=1, version_compatible=True)
    command = trtexec_command(line, precision, config)
    tokens = command.split()
    assert tokens[:3] == ["trtexec", f"--onnx=models/model.{precision.value}.onnx", f"--saveEngine=models/model.{precision.value}.engine"]
    assert "--minShapes=input:4x3x32x32" in tokens and "--maxShapes=input:4x3x32x32" in tokens
    assert "--useDLACore=1" in tokens and "--allowGPUFallback" in tokens and "--versionCompatible" in tokens
    assert "--memPoolSize=workspace:1024" in tokens
    for flag in present:
        assert flag in tokens
    for flag in absent:
        assert flag not in tokens


@ALL
def test_trtexec_md_matches_the_builder(fake_trt, exported):
    """The flags each trtexec line uses are the ones the Python builder sets on that version."""
    text = (exported.out / "bundle" / "trtexec.md").read_text()
    section = {"8.6.1": "8.6", "10.3.0": "10.x", "11.4.0": "11.x"}[fake_trt.trt.__version__]
    block = text.split(f"## TensorRT {section}")[1].split("```")[1]
    int8_line = next(l for l in block.splitlines() if "model.int8.onnx" in l)
    builder_flags = "INT8" in fake_trt.trt.BuilderFlag.__members__ and section == "8.6"
    assert ("--int8" in int8_line) == builder_flags
    assert "--timingCacheFile=models/timing.cache" in int8_line
