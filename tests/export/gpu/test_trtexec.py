"""trtexec.md: each release's lines use only options that release's trtexec parses (tests/support/trt_api/)."""

import pytest
from support.trt_fakes import api_listing

from alexnet_edge.export.gpu.trtexec import render_trtexec_md, trtexec_command
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.backends.tensorrt.features import KNOWN_RELEASES, UnsupportedOptionError
from alexnet_edge.runtime.precision import Precision, spec_for

pytestmark = pytest.mark.trt_contract
FULL = EngineBuildConfig(
    min_batch=4, opt_batch=4, max_batch=4, dla_core=1, version_compatible=True, hardware_compatibility="ampere_plus"
)


def _flags(command: str) -> list[str]:
    return [token.split("=", 1)[0] for token in command.split()[1:]]


@pytest.mark.parametrize("release", list(KNOWN_RELEASES))
@pytest.mark.parametrize("level", ["none", "ampere_plus", "same_compute_capability"])
@pytest.mark.parametrize("precision", list(Precision))
def test_every_flag_exists_in_that_releases_trtexec(release, level, precision):
    listing = api_listing(f"trt{release}")["trtexec"]
    config = EngineBuildConfig(
        min_batch=8, opt_batch=8, max_batch=8, dla_core=0, version_compatible=True, hardware_compatibility=level
    )
    try:
        command = trtexec_command(KNOWN_RELEASES[release], precision, config)
    except UnsupportedOptionError as exc:  # refused: the option really is missing from that trtexec
        level_value = {"ampere_plus": "ampere+", "same_compute_capability": "samecomputecapability"}.get(level)
        level_missing = level_value is not None and level_value not in listing["hardware_levels"]
        dla_int8 = precision is Precision.INT8 and "DLA" in str(exc)  # implicit INT8: no Q/DQ line (trt_dla)
        refused = str(exc) == spec_for(precision).tensorrt.refusal  # no TensorRT path at all (runtime/precision.py)
        assert level_missing or dla_int8 or refused or "--versionCompatible" not in listing["options"], str(exc)
        return
    assert set(_flags(command)) <= set(listing["options"])
    if level != "none":
        value = command.split("--hardwareCompatibilityLevel=")[1].split()[0]
        assert value.lower() in listing["hardware_levels"]


@pytest.mark.parametrize(
    ("release", "precision", "present", "absent"),
    [
        ("8.5", Precision.FP16, ["--fp16"], ["--stronglyTyped", "--int8"]),
        ("8.6", Precision.INT8, ["--int8"], ["--fp16", "--stronglyTyped"]),
        ("10.3", Precision.INT8, ["--stronglyTyped"], ["--int8", "--fp16"]),
        ("11.4", Precision.FP16, ["--stronglyTyped"], ["--fp16", "--int8"]),
    ],
)
def test_precision_flags_per_release(release, precision, present, absent):
    tokens = trtexec_command(KNOWN_RELEASES[release], precision, EngineBuildConfig()).split()
    assert tokens[:3] == [
        "trtexec",
        f"--onnx=models/model.{precision.value}.onnx",
        f"--saveEngine=models/model.{precision.value}.engine",
    ]
    assert "--memPoolSize=workspace:1024" in tokens and "--minShapes=input:1x3x32x32" in tokens
    assert all(flag in tokens for flag in present) and not any(flag in tokens for flag in absent)


def test_a_release_without_an_option_says_so_instead_of_a_wrong_line():
    text = render_trtexec_md(FULL, list(Precision))
    section_85 = text.split("## TensorRT 8.5")[1].split("## TensorRT 8.6")[0]
    assert "```" not in section_85 and "needs TensorRT 8.6 or newer; this is TensorRT 8.5.2" in section_85
    section_86 = text.split("## TensorRT 8.6")[1].split("## TensorRT 10.3")[0]
    assert "--hardwareCompatibilityLevel=ampere+" in section_86 and "--useDLACore=1 --allowGPUFallback" in section_86
    assert "model.fp32" not in section_86  # DLA runs FP16 and INT8 only
    same_cc = render_trtexec_md(EngineBuildConfig(hardware_compatibility="same_compute_capability"), [Precision.INT8])
    assert "--hardwareCompatibilityLevel=sameComputeCapability" in same_cc.split("## TensorRT 10.9")[1]
    assert (
        "needs TensorRT 10.9 or newer; this is TensorRT 10.3.0"
        in same_cc.split("## TensorRT 10.3")[1].split("## TensorRT 10.9")[0]
    )


def test_every_listing_is_a_release_row_and_every_row_has_a_listing():
    from support.trt_fakes import VERSIONS

    from alexnet_edge.export.gpu.trtexec import WHERE

    assert list(KNOWN_RELEASES) == list(VERSIONS.values()) == list(WHERE)
    assert {"10.13", "10.16"} <= set(KNOWN_RELEASES)


def test_the_11_4_row_says_which_point_release_runs_where():
    """11.4.0 supports no Jetson; 11.4.1 adds AGX Orin and Thor on JetPack 7.2.2+ (TensorRT 11.4.1 release notes)."""
    from alexnet_edge.export.gpu.trtexec import WHERE

    where = WHERE["11.4"]
    assert KNOWN_RELEASES["11.4"].version == "11.4.0"  # the listing is 11.4.0's binary
    server, jetson = where.split("11.4.1")
    assert "11.4.0" in server and "no Jetson" in server and "JetPack 7.2.2+" in jetson
    assert "unconfirmed" in WHERE["10.16"] and "Thor only" in WHERE["10.13"]


@pytest.mark.parametrize("release", list(KNOWN_RELEASES))
def test_fp32_lines_turn_tf32_off_as_the_builder_does(release):
    """trtexec's --noTF32: TF32 is on by default (NvInfer.h at v10.3.0), and the builder clears it for FP32."""
    assert "--noTF32" in trtexec_command(KNOWN_RELEASES[release], Precision.FP32, EngineBuildConfig()).split()
    assert "--noTF32" not in trtexec_command(KNOWN_RELEASES[release], Precision.FP16, EngineBuildConfig()).split()


@pytest.mark.parametrize("release", ["10.3", "10.16", "11.4"])
def test_a_dla_fp16_line_is_weakly_typed_while_precision_constraints_exist(release):
    """trtexec v10.3.0 sets PREFER_PRECISION_CONSTRAINTS on every --useDLACore build (sampleEngines.cpp), which
    NVIDIA calls invalid for a strongly typed DLA build (TensorRT 11.3.0 docs); 11.x has no such flag."""
    config = EngineBuildConfig(min_batch=8, opt_batch=8, max_batch=8, dla_core=0)
    line = trtexec_command(KNOWN_RELEASES[release], Precision.FP16, config)
    assert "--useDLACore=0" in line
    if release.startswith("10."):
        assert "--fp16" in line.split() and "--stronglyTyped" not in line
    else:
        assert "--stronglyTyped" in line and "--fp16" not in line.split()
    gpu_line = trtexec_command(KNOWN_RELEASES[release], Precision.FP16, EngineBuildConfig())
    assert "--stronglyTyped" in gpu_line  # off DLA, 10.x builds strongly typed as before
