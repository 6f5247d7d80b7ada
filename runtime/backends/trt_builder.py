"""One TensorRT engine builder for 8.5, 8.6, 10.x and 11.x.

Precision comes from the ONNX model (FP16 tensors, Q/DQ nodes). Where the TensorRT version has
strongly typed networks (10.x, 11.x) they are used and no precision flag is set; 8.5 and 8.6 have
none, so there the builder sets the flag the model's precision needs (FP16, or INT8 for explicit
Q/DQ). Every other option is probed on the running TensorRT first and refused in one line where it
is missing (trt_features). TensorRT is imported when a build starts, never at import time.
"""

from __future__ import annotations

import datetime as _dt
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..constants import CHANNELS, INPUT_NAME, INPUT_SIZE
from ..errors import AlexNetEdgeError, BackendUnavailableError, ModelFileError
from ..fileio import atomic_output, sha256_file, write_bytes, write_json
from ..precision import Precision
from .trt_common import (
    SIDECAR_FORMAT,
    current_gpu,
    import_tensorrt,
    open_cudart,
    sidecar_path,
)
from .trt_features import HARDWARE_LEVELS, TensorRTFeatures, check_build_options


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
                f"batch profile must satisfy 1 <= min <= opt <= max, got {self.min_batch}/{self.opt_batch}/{self.max_batch}"
            )
        if self.workspace_mb < 1:
            raise AlexNetEdgeError(f"workspace must be at least 1 MiB, got {self.workspace_mb}")
        if self.hardware_compatibility not in HARDWARE_LEVELS:
            raise AlexNetEdgeError(f"unknown hardware compatibility {self.hardware_compatibility!r}; choose {', '.join(HARDWARE_LEVELS)}")
        if self.dla_core is not None:
            if self.dla_core < 0:
                raise AlexNetEdgeError(f"DLA core must be >= 0, got {self.dla_core}")
            if precision is Precision.FP32:
                raise AlexNetEdgeError("DLA runs FP16 and INT8 only: build the fp16 or int8 model for --dla-core")
            if not self.min_batch == self.opt_batch == self.max_batch:
                raise AlexNetEdgeError(
                    f"DLA needs a static shape: set min = opt = max batch (got {self.min_batch}/{self.opt_batch}/{self.max_batch})"
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
        return EngineSupport(False, f"no CUDA GPU visible (cudaGetDeviceCount: {err})")
    return EngineSupport(True, f"TensorRT {trt.__version__}")


def _flag(enum, name: str):
    """A member of a TensorRT enum, or None where this version does not have it."""
    return enum.__members__.get(name)


def network_flags(trt) -> tuple[int, bool]:
    """(flags for create_network, strongly_typed)."""
    creation = trt.NetworkDefinitionCreationFlag
    strongly = _flag(creation, "STRONGLY_TYPED")
    if strongly is not None:
        return 1 << int(strongly), True
    explicit = _flag(creation, "EXPLICIT_BATCH")  # 8.x: required for ONNX; deprecated and ignored from 10.0
    return (1 << int(explicit) if explicit is not None else 0), False


def precision_flags(trt, precision: Precision, strongly_typed: bool) -> list:
    """Builder flags a weakly typed network needs to run the model's precision; none when strongly typed."""
    if strongly_typed or precision is Precision.FP32:
        return []
    name = {Precision.FP16: "FP16", Precision.INT8: "INT8"}[precision]
    flag = _flag(trt.BuilderFlag, name)
    if flag is None:
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} has neither strongly typed networks nor BuilderFlag.{name}"
        )
    return [flag]


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
    flags_set = precision_flags(trt, precision, strongly_typed)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, _shape(config.min_batch), _shape(config.opt_batch), _shape(config.max_batch))
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
    return build_config, flags_set


def _shape(batch: int) -> tuple[int, int, int, int]:
    return (batch, CHANNELS, INPUT_SIZE, INPUT_SIZE)


def _use_timing_cache(build_config, path: Path | None) -> None:
    """Reuse the saved timing cache; one made by another TensorRT or GPU is replaced, and we say so."""
    data = path.read_bytes() if path is not None and path.is_file() else b""
    if build_config.set_timing_cache(build_config.create_timing_cache(data), False):
        return
    print(f"warning: timing cache {path} is from another TensorRT version or GPU; starting a fresh one", file=sys.stderr)
    build_config.set_timing_cache(build_config.create_timing_cache(b""), False)


def build_engine(onnx_path: str | Path, engine_path: str | Path, precision: Precision, config: EngineBuildConfig = EngineBuildConfig()) -> dict:
    """Compile ``onnx_path`` into ``engine_path`` plus its JSON sidecar; returns the sidecar."""
    config.validate(precision)
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if not onnx_path.is_file():
        raise ModelFileError(f"{onnx_path}: no such ONNX model")
    trt = import_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    check_build_options(config, TensorRTFeatures.probe(trt, builder))
    flags, strongly_typed = network_flags(trt)
    network = builder.create_network(flags)
    _parse(trt, network, logger, onnx_path)
    build_config, flags_set = _configure(trt, builder, config, precision, strongly_typed)
    _use_timing_cache(build_config, config.timing_cache)

    serialized = builder.build_serialized_network(network, build_config)
    if serialized is None:
        raise ModelFileError(f"TensorRT failed to build an engine from {onnx_path.name} (see the TensorRT log above)")
    write_bytes(engine_path, bytes(serialized))
    if config.timing_cache is not None:
        with atomic_output(config.timing_cache) as tmp:
            tmp.write_bytes(bytes(build_config.get_timing_cache().serialize()))
    sidecar = _sidecar(trt, onnx_path, engine_path, precision, config, strongly_typed, flags_set)
    write_json(sidecar_path(engine_path), sidecar)
    return sidecar


def _sidecar(trt, onnx_path: Path, engine_path: Path, precision: Precision, config: EngineBuildConfig, strongly_typed: bool, flags_set: list) -> dict:
    gpu = current_gpu(open_cudart())
    return {
        "format": SIDECAR_FORMAT,
        "tensorrt_version": trt.__version__,
        "gpu": {"name": gpu.name, "compute_capability": gpu.compute_capability},
        "precision": precision.value,
        "strongly_typed": strongly_typed,
        "builder_flags": [str(getattr(f, "name", f)) for f in flags_set],
        "source_onnx": onnx_path.name,
        "source_onnx_sha256": sha256_file(onnx_path),
        "engine_sha256": sha256_file(engine_path),
        "profile": {INPUT_NAME: {"min": list(_shape(config.min_batch)), "opt": list(_shape(config.opt_batch)), "max": list(_shape(config.max_batch))}},
        "build_options": {**config.to_dict(), "hardware_compatibility_level": config.hardware_compatibility.upper()},
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
