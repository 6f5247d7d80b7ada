"""What the running TensorRT can do, probed from the module itself, and the build options it refuses.

Each feature is looked up by name (an enum member or an attribute), never inferred from the version
string, so a point release that adds or drops something is seen as it is. The versions in messages
say where NVIDIA added each feature (read from the Python bindings at each release tag; see
tests/support/trt_api/).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from alexnet_edge.runtime.errors import UnsupportedOptionError

#: Lower-case option value -> TensorRT enum member name and the first release that has it.
HARDWARE_LEVELS = {
    "none": ("NONE", "8.6"),
    "ampere_plus": ("AMPERE_PLUS", "8.6"),
    "same_compute_capability": ("SAME_COMPUTE_CAPABILITY", "10.9"),
}
VERSION_COMPATIBLE_SINCE = "8.6"


@dataclass(frozen=True)
class TensorRTFeatures:
    version: str
    strongly_typed: bool  # NetworkDefinitionCreationFlag.STRONGLY_TYPED (9.x, 10.x); always on 11.x
    precision_flags: bool  # BuilderFlag.FP16 / INT8 (gone in 11.0)
    version_compatible: bool  # BuilderFlag.VERSION_COMPATIBLE (8.6+)
    hardware_levels: tuple[str, ...]  # lower-case names of HardwareCompatibilityLevel members
    engine_host_code: bool  # Runtime.engine_host_code_allowed (8.6+)
    dla_cores: int  # Builder.num_DLA_cores on this machine

    @classmethod
    def probe(cls, trt, builder=None) -> TensorRTFeatures:
        members = lambda enum_name: set(getattr(getattr(trt, enum_name, None), "__members__", {}))  # noqa: E731
        levels = members("HardwareCompatibilityLevel")
        return cls(
            version=trt.__version__,
            # 11.x: always strongly typed, whatever the deprecated flag says (pyCore.cpp at v11.1)
            strongly_typed=(
                int(trt.__version__.split(".")[0]) >= 11 or "STRONGLY_TYPED" in members("NetworkDefinitionCreationFlag")
            ),
            precision_flags={"FP16", "INT8"} <= members("BuilderFlag"),
            version_compatible="VERSION_COMPATIBLE" in members("BuilderFlag"),
            hardware_levels=tuple(n for n, (member, _) in HARDWARE_LEVELS.items() if n == "none" or member in levels),
            engine_host_code=hasattr(trt.Runtime, "engine_host_code_allowed"),
            dla_cores=int(getattr(builder, "num_DLA_cores", 0) or 0) if builder is not None else 0,
        )


def dla_platform_note(version: str) -> str:
    """Where DLA exists, for the message refusing --dla-core (TensorRT release notes, 11.0 to 11.4.1)."""
    major = version.split(".")[0]
    where = "Jetson AGX Orin / Orin NX / Xavier with JetPack 5 or 6"
    if major == "11":
        where = (
            "TensorRT 11.0-11.3 have no DLA; 11.4.0 only on Windows on ARM; 11.4.1+ on Jetson AGX Orin with "
            "JetPack 7.2.2+; never on Jetson Thor"
        )
    return f"DLA exists only on some Jetson boards ({where})"


def check_build_options(config, features: TensorRTFeatures) -> None:
    """Refuse, in one line naming what is needed, any option the running TensorRT lacks."""
    running = f"TensorRT {features.version}"
    level = config.hardware_compatibility
    if level != "none" and level not in features.hardware_levels:
        since = HARDWARE_LEVELS[level][1]
        offered = ", ".join(features.hardware_levels) or "none (no hardware compatibility at all)"
        raise UnsupportedOptionError(
            f"--hardware-compatibility {level} needs TensorRT {since} "
            f"or newer; this is {running} (it offers: {offered})",
            option="hardware_compatibility",
            running=features.version,
            needs=since,
        )
    if config.version_compatible and not features.version_compatible:
        raise UnsupportedOptionError(
            f"--version-compatible needs TensorRT {VERSION_COMPATIBLE_SINCE} or newer; this is {running}",
            option="version_compatible",
            running=features.version,
            needs=VERSION_COMPATIBLE_SINCE,
        )
    if config.dla_core is not None and config.dla_core >= features.dla_cores:
        machine = f"{platform.machine()} {platform.system()}"
        raise UnsupportedOptionError(
            f"--dla-core {config.dla_core}: this {machine} has {features.dla_cores} DLA core(s) under {running}; "
            f"{dla_platform_note(features.version)}",
            option="dla_core",
            running=features.version,
            needs=f"{config.dla_core + 1} DLA cores",
        )


#: What each TensorRT release line offers, as probe() finds it (checked against tests/support/trt_api/ by
#: the contract tests). Used to write trtexec lines for a device this machine is not.
KNOWN_RELEASES = {
    "8.5": TensorRTFeatures("8.5.2", False, True, False, ("none",), False, 0),
    "8.6": TensorRTFeatures("8.6.1", False, True, True, ("none", "ampere_plus"), True, 0),
    "10.3": TensorRTFeatures("10.3.0", True, True, True, ("none", "ampere_plus"), True, 0),
    "10.9": TensorRTFeatures("10.9.0", True, True, True, tuple(HARDWARE_LEVELS), True, 0),
    # JetPack 7.0 / 7.1 (Jetson Thor only) ship 10.13.3 (NVIDIA JetPack 7.1 downloads page)
    "10.13": TensorRTFeatures("10.13.3", True, True, True, tuple(HARDWARE_LEVELS), True, 0),
    # JetPack 7.2: 10.16 per a third-party build (OE4T/meta-tegra PR #2224), not yet confirmed by NVIDIA
    "10.16": TensorRTFeatures("10.16.0", True, True, True, tuple(HARDWARE_LEVELS), True, 0),
    # The listing is checked against 11.4.0's binary; 11.4.0 supports no Jetson, 11.4.1 adds AGX Orin and Thor
    # on JetPack 7.2.2+ (TensorRT 11.4.1 release notes). export/gpu/trtexec.py's WHERE says which is which.
    "11.4": TensorRTFeatures("11.4.0", True, False, True, tuple(HARDWARE_LEVELS), True, 0),
}
