"""One TensorRT engine builder for 8.5, 8.6, 10.x and 11.x.

Precision comes from the ONNX model (FP16 tensors, Q/DQ nodes). Where the TensorRT version has
strongly typed networks (10.x, 11.x) they are used and no precision flag is set; 8.5 and 8.6 have
none, so there the builder sets the flag the model's precision needs (FP16, or INT8 for explicit
Q/DQ). INT8 on DLA is the exception: DLA runs only implicit quantization, so it is built from the
FP32 model with the calibration table's ranges on a weakly typed network (trt_dla). Every other
option is probed on the running TensorRT first and refused in one line where it
is missing (trt_features). TensorRT is imported when a build starts, never at import time.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from alexnet_edge.runtime.backends.tensorrt.common import (
    SIDECAR_FORMAT,
    current_gpu,
    error_name,
    import_tensorrt,
    open_cudart,
    sidecar_path,
    this_platform,
    version_tuple,
)
from alexnet_edge.runtime.backends.tensorrt.dla import (
    DlaInt8Error,
    check_dla_int8,
    is_dla_int8,
    read_ranges,
    set_dynamic_ranges,
)
from alexnet_edge.runtime.backends.tensorrt.features import HARDWARE_LEVELS, TensorRTFeatures, check_build_options
from alexnet_edge.runtime.constants import INPUT_NAME, input_shape
from alexnet_edge.runtime.errors import AlexNetEdgeError, BackendUnavailableError, ModelFileError
from alexnet_edge.runtime.fileio import atomic_output, sha256_file, write_bytes, write_json
from alexnet_edge.runtime.precision import Precision, spec_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineBuildConfig:
    min_batch: int = 1
    opt_batch: int = 32
    max_batch: int = 256
    workspace_mb: int = 1024
    timing_cache: Path | None = None  # read if present, written back after each build
    dla_core: int | None = None
    version_compatible: bool = False
    hardware_compatibility: str = "none"

    def to_dict(self) -> dict:
        """JSON form, used by the sidecar, the bundle manifest and report manifests alike."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> EngineBuildConfig:
        """Unknown keys (a newer writer's) are ignored; a stored timing cache path becomes a Path."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("timing_cache"), str):
            values["timing_cache"] = Path(values["timing_cache"])
        return cls(**values)

    def validate(self, precision: Precision) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise AlexNetEdgeError(
                "batch profile must satisfy 1 <= min <= opt <= max, "
                f"got {self.min_batch}/{self.opt_batch}/{self.max_batch}"
            )
        if self.workspace_mb < 1:
            raise AlexNetEdgeError(f"workspace must be at least 1 MiB, got {self.workspace_mb}")
        if self.hardware_compatibility not in HARDWARE_LEVELS:
            raise AlexNetEdgeError(
                f"unknown hardware compatibility {self.hardware_compatibility!r}; choose {', '.join(HARDWARE_LEVELS)}"
            )
        if self.dla_core is not None:
            if self.dla_core < 0:
                raise AlexNetEdgeError(f"DLA core must be >= 0, got {self.dla_core}")
            if precision is Precision.FP32:
                raise AlexNetEdgeError("DLA runs FP16 and INT8 only: build the fp16 or int8 model for --dla-core")
            if not self.min_batch == self.opt_batch == self.max_batch:
                raise AlexNetEdgeError(
                    "DLA needs a static shape: set min = opt = max batch (got "
                    f"{self.min_batch}/{self.opt_batch}/{self.max_batch})"
                )


@dataclass(frozen=True)
class EngineSupport:
    ok: bool
    reason: str


def engine_support() -> EngineSupport:
    """Whether engines can be built here: tensorrt imports and a CUDA GPU answers."""
    try:
        trt = import_tensorrt()
        cudart = open_cudart()
    except BackendUnavailableError as exc:
        return EngineSupport(False, str(exc))
    except Exception as exc:  # noqa: BLE001 - a driver library that will not even load
        return EngineSupport(False, f"no CUDA driver ({exc.__class__.__name__})")
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or not count:
        return EngineSupport(False, f"no CUDA GPU visible (cudaGetDeviceCount: {error_name(err)})")
    return EngineSupport(True, f"TensorRT {trt.__version__}")


def _flag(enum, name: str):
    """A member of a TensorRT enum, or None where this version does not have it."""
    return enum.__members__.get(name)


def network_flags(trt, *, weakly_typed: bool = False) -> tuple[int, bool]:
    """(flags for create_network, strongly_typed), decided by the major version.

    11.x networks are always strongly typed: STRONGLY_TYPED is "Deprecated: always enabled" there
    (python/src/infer/pyCore.cpp at v11.1), so its presence says nothing. 9.x/10.x are strongly typed
    when asked (``weakly_typed`` asks not to: implicit INT8 needs the INT8 flag). 8.x has no strong
    typing and needs EXPLICIT_BATCH for ONNX, which 10.0 deprecated and ignores.
    """
    major = version_tuple(trt.__version__)[0]
    if major >= 11:
        return 0, True
    creation = trt.NetworkDefinitionCreationFlag
    strongly = _flag(creation, "STRONGLY_TYPED")
    if strongly is not None and not weakly_typed:
        return 1 << int(strongly), True
    explicit = _flag(creation, "EXPLICIT_BATCH") if major < 10 else None
    return (1 << int(explicit) if explicit is not None else 0), False


def precision_flags(trt, precision: Precision, strongly_typed: bool, *, dla_int8: bool = False) -> list:
    """Builder flags a weakly typed network needs to run the model's precision; none when strongly typed.
    Implicit INT8 on DLA takes INT8 and FP16, so a tensor without a range stays on DLA in FP16."""
    if dla_int8:
        return [trt.BuilderFlag.INT8, trt.BuilderFlag.FP16]
    name = spec_for(precision).tensorrt.builder_flag  # runtime/precision.py: FP16's "FP16", FP32's none
    if strongly_typed or name is None:
        return []
    flag = _flag(trt.BuilderFlag, name)
    if flag is None:
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} has neither strongly typed networks nor BuilderFlag.{name}"
        )
    return [flag]


def profile_count(trt, config: EngineBuildConfig) -> int:
    """Two identical optimization profiles on 8.x, one from 10.x: the runner's CUDA-graph context is a second
    execution context, and on 8.x only the first context gets profile 0; "for other execution contexts,
    setOptimizationProfile() must be called with unique profile index" (NvInferRuntime.h at 8.5.2; at v8.6.1:
    profile 0 only "if there are no other execution contexts assigned to" it; NVIDIA/TensorRT#846). From
    10.x every new context "will be assigned optimization profile 0" (NvInferRuntime.h at v10.3.0). A DLA
    engine keeps one profile (its shape is static; the runner runs no CUDA graph on it on 8.x)."""
    return 2 if version_tuple(trt.__version__)[0] < 9 and config.dla_core is None else 1


def _parse(trt, network, logger, onnx_path: Path) -> None:
    parser = trt.OnnxParser(network, logger)
    data = onnx_path.read_bytes()
    if not parser.parse(data):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ModelFileError(f"TensorRT could not parse {onnx_path.name}: {errors[0] if errors else 'unknown error'}")


def _configure(trt, builder, config: EngineBuildConfig, precision: Precision, strongly_typed: bool):
    """The builder config for ``config``; every option was checked against this TensorRT first."""
    build_config = builder.create_builder_config()
    build_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace_mb << 20)
    flags_set = precision_flags(trt, precision, strongly_typed, dla_int8=is_dla_int8(precision, config))
    for _ in range(profile_count(trt, config)):
        profile = builder.create_optimization_profile()
        profile.set_shape(
            INPUT_NAME, input_shape(config.min_batch), input_shape(config.opt_batch), input_shape(config.max_batch)
        )
        build_config.add_optimization_profile(profile)
    if config.dla_core is not None:
        build_config.default_device_type = trt.DeviceType.DLA
        build_config.DLA_core = config.dla_core
        flags_set.append(trt.BuilderFlag.GPU_FALLBACK)
    if config.version_compatible:
        flags_set.append(trt.BuilderFlag.VERSION_COMPATIBLE)
    if config.hardware_compatibility != "none":
        member = HARDWARE_LEVELS[config.hardware_compatibility][0]
        build_config.hardware_compatibility_level = getattr(trt.HardwareCompatibilityLevel, member)
    for flag in flags_set:
        build_config.set_flag(flag)
    return build_config, flags_set, _clear_tf32(trt, build_config, precision)


def _clear_tf32(trt, build_config, precision: Precision) -> list:
    """An FP32 engine must be FP32: TF32 is on by default (NvInfer.h at v10.3.0, BuilderFlag::kTF32
    "Enabled by default") and rounds inputs to a 10-bit mantissa, beyond the 1e-3 FP32 tolerance."""
    tf32 = _flag(trt.BuilderFlag, "TF32")
    if not spec_for(precision).tensorrt.no_tf32 or tf32 is None:
        return []
    build_config.clear_flag(tf32)
    return [tf32]


def _use_timing_cache(build_config, path: Path | None) -> None:
    """Reuse the saved timing cache; one made by another TensorRT or GPU is replaced, and we say so.

    ``create_timing_cache`` returns None for bytes it does not accept (a corrupt or foreign file:
    NVIDIA's samples/utils/timingCache.cpp at v10.3.0 checks for it; Polygraphy falls back to an
    empty cache): that is a mismatch too, never something to hand to ``set_timing_cache``.
    """
    data = path.read_bytes() if path is not None and path.is_file() else b""
    cache = build_config.create_timing_cache(data)
    if cache is not None and build_config.set_timing_cache(cache, False):
        return
    logger.warning("warning: timing cache %s is from another TensorRT version or GPU; starting a fresh one", path)
    build_config.set_timing_cache(build_config.create_timing_cache(b""), False)


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    precision: Precision,
    config: EngineBuildConfig = EngineBuildConfig(),
    *,
    calibration_table: str | Path | None = None,
) -> dict:
    """Compile ``onnx_path`` into ``engine_path`` plus its JSON sidecar; returns the sidecar.

    Args:
        onnx_path: the model of ``precision``; for INT8 on DLA, the FP32 model (trt_dla.dla_int8_source).
        calibration_table: INT8 on DLA only: calibration/table.py's JSON for that FP32 model.
    Returns:
        the sidecar, also written next to the engine.
    """
    config.validate(precision)
    refusal = spec_for(precision).tensorrt.refusal
    if refusal:
        raise BackendUnavailableError(refusal)
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if not onnx_path.is_file():
        raise ModelFileError(f"{onnx_path}: no such ONNX model")
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    check_build_options(config, TensorRTFeatures.probe(trt, builder))
    dla_int8 = is_dla_int8(precision, config)
    ranges = _dla_int8_ranges(trt, onnx_path, calibration_table) if dla_int8 else None
    flags, strongly_typed = network_flags(trt, weakly_typed=dla_int8)
    network = builder.create_network(flags)
    _parse(trt, network, logger, onnx_path)
    quantization = set_dynamic_ranges(network, ranges) if dla_int8 else None
    build_config, flags_set, flags_cleared = _configure(trt, builder, config, precision, strongly_typed)
    _use_timing_cache(build_config, config.timing_cache)

    serialized = builder.build_serialized_network(network, build_config)
    if serialized is None:
        raise ModelFileError(f"TensorRT failed to build an engine from {onnx_path.name} (see the TensorRT log above)")
    write_bytes(engine_path, bytes(serialized))
    if config.timing_cache is not None:
        with atomic_output(config.timing_cache) as tmp:
            tmp.write_bytes(bytes(build_config.get_timing_cache().serialize()))
    sidecar = _sidecar(trt, onnx_path, engine_path, precision, config, strongly_typed, flags_set)
    sidecar["builder_flags_cleared"] = [str(getattr(f, "name", f)) for f in flags_cleared]
    if quantization is not None:
        table_name = Path(calibration_table).name
        sidecar["quantization"] = {"kind": "implicit (DLA)", "calibration_table": table_name, **quantization}
    write_json(sidecar_path(engine_path), sidecar)
    return sidecar


def _dla_int8_ranges(trt, onnx_path: Path, calibration_table) -> dict[str, float]:
    check_dla_int8(trt)
    if calibration_table is None:
        raise DlaInt8Error(
            f"INT8 on DLA is built from the FP32 model and its calibration table (DLA runs no Q/DQ "
            f"networks): pass calibration_table for {onnx_path.name}"
        )
    return read_ranges(Path(calibration_table), onnx_path)


def _sidecar(
    trt,
    onnx_path: Path,
    engine_path: Path,
    precision: Precision,
    config: EngineBuildConfig,
    strongly_typed: bool,
    flags_set: list,
) -> dict:
    gpu = current_gpu(open_cudart())
    return {
        "format": SIDECAR_FORMAT,
        "tensorrt_version": trt.__version__,
        "gpu": {"name": gpu.name, "compute_capability": gpu.compute_capability},
        "platform": this_platform(),  # plans are not portable across platforms (trt_common.check_sidecar)
        "precision": precision.value,
        "strongly_typed": strongly_typed,
        "builder_flags": [str(getattr(f, "name", f)) for f in flags_set],
        "source_onnx": onnx_path.name,
        "source_onnx_sha256": sha256_file(onnx_path),
        "engine_sha256": sha256_file(engine_path),
        "optimization_profiles": profile_count(trt, config),
        "profile": {
            INPUT_NAME: {
                "min": list(input_shape(config.min_batch)),
                "opt": list(input_shape(config.opt_batch)),
                "max": list(input_shape(config.max_batch)),
            }
        },
        "build_options": {**config.to_dict(), "hardware_compatibility_level": config.hardware_compatibility.upper()},
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
