"""The bundle's trtexec.md: the trtexec line that builds what build_engines.py builds, per TensorRT release.

Each line uses only the options that release's trtexec parses (samples/common/sampleOptions.cpp at
its tag; the contract tests check every rendered flag against tests/support/trt_api/). An option a release
lacks is not silently dropped: that release gets one line saying what it would need instead.
"""

from __future__ import annotations

from dataclasses import replace

from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.backends.tensorrt.features import (
    KNOWN_RELEASES,
    TensorRTFeatures,
    UnsupportedOptionError,
    check_build_options,
)
from alexnet_edge.runtime.constants import input_shape_text
from alexnet_edge.runtime.deploy import MODELS_DIR  # the bundle's layout, defined once
from alexnet_edge.runtime.precision import Precision, spec_for

TRTEXEC_LEVEL = {"ampere_plus": "ampere+", "same_compute_capability": "sameComputeCapability"}
WHERE = {
    "8.5": "JetPack 5.1.x (Xavier, Orin)",
    "8.6": "x86 GPU servers; JetPack 6.0 ships 8.6.2",
    "10.3": "JetPack 6.1 / 6.2 (Orin)",
    "10.9": "10.9 and newer 10.x on GPU servers",
    "10.13": "JetPack 7.0 (10.13) and 7.1 (10.13.3), Jetson Thor only",
    "10.16": "JetPack 7.2, unconfirmed: third-party source OE4T/meta-tegra #2224",
    "11.4": (
        "11.4.0: GPU servers and pip tensorrt 11, no Jetson; 11.4.1: also Jetson AGX Orin and Thor on "
        "JetPack 7.2.2+, DLA on AGX Orin only"
    ),
}


def trtexec_command(
    release: TensorRTFeatures, precision: Precision, config: EngineBuildConfig, *, models_dir: str = MODELS_DIR
) -> str:
    """One trtexec line for ``release``; UnsupportedOptionError where that release lacks an option."""
    build = spec_for(precision).tensorrt  # runtime/precision.py
    if build.refusal:
        raise UnsupportedOptionError(build.refusal, option=precision.value, running=release.version, needs="none")
    check_build_options(config, _with_dla(release, config))
    if precision is Precision.INT8 and config.dla_core is not None:
        _refuse_dla_int8(release)
    parts = [
        "trtexec",
        f"--onnx={models_dir}/{precision.onnx_name}",
        f"--saveEngine={models_dir}/{precision.engine_name}",
        f"--minShapes={input_shape_text(config.min_batch)}",
        f"--optShapes={input_shape_text(config.opt_batch)}",
        f"--maxShapes={input_shape_text(config.max_batch)}",
        f"--memPoolSize=workspace:{config.workspace_mb}",
        f"--timingCacheFile={config.timing_cache or models_dir + '/timing.cache'}",
    ]
    # trtexec sets PREFER_PRECISION_CONSTRAINTS on every --useDLACore build while that flag exists (10.x:
    # samples/common/sampleEngines.cpp at v10.3.0, setDLACore branch; gone at v11.1), and NVIDIA's docs call it
    # invalid for a strongly typed DLA build (TensorRT 11.3.0, "Strongly Typed Networks for DLA"): on DLA, while the
    # precision flags exist, trtexec builds the weakly typed way.
    weak_for_dla = config.dla_core is not None and release.precision_flags
    if release.strongly_typed and not weak_for_dla:
        parts.append("--stronglyTyped")  # 11.x: the default, and still accepted
    elif build.trtexec_flag:  # weakly typed: the flag the model's precision needs
        parts.append(build.trtexec_flag)
    if build.no_tf32:
        parts.append("--noTF32")  # as the builder: TF32 is on by default (trt_builder._clear_tf32)
    if config.dla_core is not None:
        parts += [f"--useDLACore={config.dla_core}", "--allowGPUFallback"]
    if config.version_compatible:
        parts.append("--versionCompatible")
    if config.hardware_compatibility != "none":
        parts.append(f"--hardwareCompatibilityLevel={TRTEXEC_LEVEL[config.hardware_compatibility]}")
    return " ".join(parts)


def _is_dla_int8(precision: Precision, config: EngineBuildConfig) -> bool:
    return precision is Precision.INT8 and config.dla_core is not None


def _refuse_dla_int8(release: TensorRTFeatures) -> None:
    """DLA runs implicit INT8 only (runtime/backends/tensorrt/dla.py): not the Q/DQ model. trtexec takes
    implicit ranges only as a TensorRT calibration cache (--calib), which this bundle does not ship."""
    if not release.precision_flags:
        why = f"TensorRT {release.version} has no INT8 path on DLA (no --int8, no calibration): build fp16 for DLA"
    else:
        why = (
            "INT8 on DLA is implicit quantization (the FP32 model plus per-tensor ranges), which trtexec takes only "
            "as a calibration cache (--calib) that this bundle does not ship: use build_engines.py"
        )
    raise UnsupportedOptionError(why, option="dla_int8", running=release.version, needs="build_engines.py")


def _with_dla(release: TensorRTFeatures, config: EngineBuildConfig) -> TensorRTFeatures:
    """DLA cores are a property of the board, not the release: assume the board has the one asked for."""
    return replace(release, dla_cores=(config.dla_core or 0) + 1)


def render_trtexec_md(config: EngineBuildConfig, precisions: list[Precision]) -> str:
    lines = [
        "# trtexec equivalents of build_engines.py",
        "",
        "Run from the bundle folder. Precision is carried by each ONNX model (FP16 tensors; Q/DQ for",
        "INT8), so the lines differ by TensorRT release: 8.5 and 8.6 are weakly typed and need the flag",
        "the model's precision uses; 10.x compiles it strongly typed; 11.x is always strongly typed and",
        "has no --fp16/--int8 at all. Each line uses only options that release's trtexec has. Write the",
        "JSON sidecar yourself or prefer build_engines.py, which does.",
        "",
    ]
    for name, release in KNOWN_RELEASES.items():
        lines += [f"## TensorRT {name} ({WHERE[name]})", ""]
        wanted = [p for p in precisions if not (config.dla_core is not None and p is Precision.FP32)]
        refused = [f"{p.onnx_name}: {spec_for(p).tensorrt.refusal}" for p in wanted if spec_for(p).tensorrt.refusal]
        lines += [*refused, ""] if refused else []
        wanted = [p for p in wanted if not spec_for(p).tensorrt.refusal]
        try:
            commands = [trtexec_command(release, p, config) for p in wanted if not _is_dla_int8(p, config)]
        except UnsupportedOptionError as exc:
            lines += [f"Not available: {exc}", ""]
            continue
        lines += ["```sh", *commands, "```", ""] if commands else []
        if Precision.INT8 in wanted and _is_dla_int8(Precision.INT8, config):
            try:
                _refuse_dla_int8(release)
            except UnsupportedOptionError as exc:
                lines += [f"{Precision.INT8.onnx_name} on DLA: {exc}", ""]
    return "\n".join(lines)
