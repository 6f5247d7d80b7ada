"""What instruction set this CPU offers for onnxruntime's int8 and FP16 kernels, read from the OS.

Why it matters: onnxruntime's x86 int8 kernels without VNNI (AVX2, and AVX-512 without VNNI) multiply
u8 activations by s8 weights with ``vpmaddubsw``, which adds each pair of products into an int16
*with saturation*. Symmetric int8 activations are shifted to u8 (+128), so pairs of 8-bit weights can
overflow and the logits go wrong. VNNI, AMX and ARM's dot-product kernels accumulate in int32.
A model whose int8 weights stay within +-64 cannot overflow there: 2 * 255 * 64 = 32640 <= 32767.

x86 without AVX2 (Atom class): Linux builds of MLAS take the SSE2 kernel, which widens both operands
to int16 and sums with ``pmaddwd`` into int32 (exact); the SSE4.1 ``pmaddubsw`` kernel, which
saturates like AVX2's, is built for MSVC only (onnxruntime/core/mlas/lib/platform.cpp,
qgemm_kernel_sse41.cpp). ARM without dot product (Cortex-A72/A57): the NEON kernel whose int16
intermediate overflowed (onnxruntime #31573, fixed by #32057, 2026-08) -- treated as at risk for a
model with 8-bit weights, like AVX2.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, replace
from pathlib import Path

from alexnet_edge.runtime.precision import Precision

# The widest int8 weight magnitude for which no u8*s8 pair sum can saturate an int16.
SATURATION_SAFE_WEIGHT_MAX = 64

# /proc/cpuinfo flag -> our name. x86 "flags", ARM "Features".
_X86_FLAGS = {
    "sse4_1": "sse4_1",
    "sse4_2": "sse4_2",
    "avx": "avx",
    "avx2": "avx2",
    "fma": "fma",
    "f16c": "f16c",
    "avx512f": "avx512f",
    "avx512bw": "avx512bw",
    "avx512_vnni": "avx512_vnni",
    "avx_vnni": "avx_vnni",
    "amx_int8": "amx_int8",
    "avx512_fp16": "avx512_fp16",
}
_ARM_FLAGS = {"asimd": "neon", "asimddp": "dotprod", "i8mm": "i8mm", "asimdhp": "fp16", "sve": "sve", "bf16": "bf16"}
# In MLAS's order of preference (platform.cpp: AMX for QGEMM where the OS grants it (MlasInitAMX), else
# AVX-512 VNNI, else AVX-VNNI); all three sum int8 products in int32.
_INT32_ACCUMULATING_X86 = ("amx_int8", "avx512_vnni", "avx_vnni")


@dataclass(frozen=True)
class CpuFeatures:
    arch: str  # "x86_64", "aarch64", ... as platform.machine() names it
    features: tuple[str, ...]  # sorted names from the tables above that this CPU has
    source: str  # where they were read: "/proc/cpuinfo" or "unknown"
    system: str = "Linux"  # platform.system(): which MLAS build (MSVC's has other x86 kernels)
    model: str = ""  # /proc/cpuinfo's "model name" (x86); else platform.processor() or the architecture

    @property
    def name(self) -> str:
        """The CPU as a person reads it: "AMD EPYC 9R14 96-Core Processor", else the architecture."""
        return self.model or platform.processor() or self.arch

    @property
    def int8_path(self) -> str:
        """The int8 dot-product path onnxruntime's CPU kernels take here."""
        if self.arch in ("x86_64", "AMD64", "i686", "x86"):
            vnni = [f for f in _INT32_ACCUMULATING_X86 if f in self.features]
            if vnni:
                return f"{vnni[0]} (int32 accumulation)"
            if "avx2" in self.features:
                return "avx2 vpmaddubsw (int16 pair saturation)"
            if self.source == "unknown":
                return "unknown"
            if self.system == "Windows" and "sse4_1" in self.features:
                return "sse4.1 pmaddubsw (int16 pair saturation)"
            return "sse2 pmaddwd, no AVX (int32 accumulation)"
        if self.arch in ("aarch64", "arm64"):
            if "dotprod" in self.features:
                return "arm dotprod (int32 accumulation)"
            return "arm neon without dot product (int16 intermediate sums, overflowed before onnxruntime #32057)"
        return "unknown"

    @property
    def saturating_int8(self) -> bool:
        """Whether int8 products are summed in int16 here (saturating or overflowing for 8-bit weights)."""
        return "int16" in self.int8_path

    @property
    def fp16_arithmetic(self) -> bool:
        """Whether onnxruntime's CPU provider computes FP16 nodes in FP16 here (ARM fp16 only)."""
        return self.arch in ("aarch64", "arm64") and "fp16" in self.features

    def to_dict(self) -> dict[str, object]:
        return {
            "arch": self.arch,
            "features": list(self.features),
            "int8_path": self.int8_path,
            "saturating_int8": self.saturating_int8,
            "fp16_arithmetic": self.fp16_arithmetic,
            "source": self.source,
        }

    def summary(self) -> str:
        shown = ", ".join(self.features) or "none detected"
        return f"{self.arch} [{shown}]; int8: {self.int8_path}"


def parse_cpuinfo(text: str, arch: str) -> CpuFeatures:
    """Features from the text of /proc/cpuinfo (its first processor's flag line)."""
    table = _ARM_FLAGS if arch in ("aarch64", "arm64") else _X86_FLAGS
    flags: set[str] | None = None
    model = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("flags", "features") and flags is None:
            flags = set(value.split())
        elif key == "model name" and not model:
            model = value.strip()
        if flags is not None and model:
            break
    found = tuple(sorted(name for flag, name in table.items() if flag in (flags or set())))
    return CpuFeatures(arch, found, "/proc/cpuinfo", model=model)


def detect(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuFeatures:
    arch, system = platform.machine() or "unknown", platform.system()
    try:
        return replace(parse_cpuinfo(cpuinfo.read_text(errors="replace"), arch), system=system)
    except OSError:
        return CpuFeatures(arch, (), "unknown", system)


def saturation_warning(metadata: dict[str, object], cpu: CpuFeatures) -> str | None:
    """One line when an int8 model not marked saturation-safe runs where int8 pairs saturate."""
    if metadata.get("precision") != Precision.INT8.value or not cpu.saturating_int8:
        return None
    scheme = metadata.get("int8")
    if isinstance(scheme, dict) and scheme.get("saturation_safe") is True:
        return None
    return (
        f"warning: this int8 model is not marked saturation-safe and this CPU's int8 path is "
        f"{cpu.int8_path}: its outputs may differ from other CPUs; re-export it with alexnet-edge's "
        f"default int8 scheme (weights within +-{SATURATION_SAFE_WEIGHT_MAX})"
    )
