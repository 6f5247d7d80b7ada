"""build_engines.py against the fake TensorRT 8.5 / 8.6 / 10.3 / 10.9 / 11.4 modules."""

import json

import pytest
from click.testing import CliRunner

from alexnet_edge.runtime.bundle_cli import build_engines_main
from alexnet_edge.runtime.precision import precisions, spec_for

pytestmark = pytest.mark.trt_contract
ALL = pytest.mark.parametrize("fake_trt", ["trt8.5", "trt8.6", "trt10.3", "trt10.9", "trt11.4"], indirect=True)


@ALL
def test_build_engines_script_uses_the_exporters_options(fake_trt, exported):
    bundle = exported.out / "bundle"
    result = CliRunner().invoke(build_engines_main, ["--bundle-dir", str(bundle), "--max-batch", "64"])
    try:
        assert result.exit_code == 0, result.output
        bundled = [p for p in precisions() if (bundle / "models" / f"model.{p.value}.onnx").is_file()]
        assert bundled and all(spec_for(p).tensorrt.refusal is None for p in bundled)
        for precision in bundled:
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
    fake_trt.trt.dla_cores = 2  # a Jetson AGX Orin
    args = ["--bundle-dir", str(bundle), "--dla-core", "0", "--min-batch", "8", "--opt-batch", "8", "--max-batch", "8"]
    result = CliRunner().invoke(build_engines_main, args)
    try:
        assert "skipping model.fp32.onnx: DLA runs FP16 and INT8 only" in result.output
        assert not (bundle / "models" / "model.fp32.engine").exists()
        assert ("BuilderConfig.DLA_core=", 0) in fake_trt.trt.calls
        if fake_trt.trt.__version__.startswith("11."):  # no implicit INT8 at all: one line, after fp16 is built
            assert result.exit_code == 2 and "error: TensorRT 11.4.0 has no INT8 path on DLA" in result.output
            return
        assert result.exit_code == 0, result.output
        # INT8 on DLA: the FP32 model with the bundle's calibration ranges, not the Q/DQ model (#19)
        sidecar = json.loads((bundle / "models" / "model.int8.json").read_text())
        assert sidecar["source_onnx"] == "model.fp32.onnx" and sidecar["quantization"]["kind"] == "implicit (DLA)"
        assert sidecar["quantization"]["tensors_with_ranges"] >= 10 and "INT8" in sidecar["builder_flags"]
    finally:
        for path in (bundle / "models").glob("*"):
            if path.suffix in (".engine", ".cache") or (path.suffix == ".json" and path.stem.startswith("model.")):
                path.unlink()


@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_build_engines_refuses_what_this_tensorrt_lacks(fake_trt, exported):
    bundle = exported.out / "bundle"
    args = ["--bundle-dir", str(bundle), "--hardware-compatibility", "same_compute_capability"]
    result = CliRunner().invoke(build_engines_main, args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        "error: --hardware-compatibility same_compute_capability needs TensorRT 10.9 or newer; "
        "this is TensorRT 10.3.0 (it offers: none, ampere_plus)"
    )
    assert "Traceback" not in result.output and not list((bundle / "models").glob("*.engine"))


@pytest.mark.parametrize("command", ["build_engines_main", "verify_main"])
def test_bundle_scripts_help_shows_metavars_help_and_defaults(command):
    import re

    from click.testing import CliRunner

    from alexnet_edge.runtime import bundle_cli

    script = getattr(bundle_cli, command)
    text = CliRunner().invoke(script, ["--help"]).output
    assert not re.search(r"\b(TEXT|INTEGER)\b", text)  # real metavars: DIR, N, MB, FILE, LIST, choices
    assert [p.name for p in script.params if not p.help] == []  # every option says what it does
    assert "[default:" in text and f"[{'|'.join(p.value for p in precisions())}]" in text
