"""CPU instruction-set detection and the saturation warning, from /proc/cpuinfo texts of real CPUs."""

import pytest

from alexnet_edge.runtime.cpu_features import CpuFeatures, detect, parse_cpuinfo, saturation_warning

ZEN3 = "processor : 0\nflags : fpu sse sse2 ssse3 fma sse4_1 avx f16c avx2 bmi2\n"
ICELAKE = "processor : 0\nflags : fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni\n"
ALDERLAKE = "processor : 0\nflags : fpu avx avx2 fma avx_vnni\n"
SAPPHIRE = "processor : 0\nflags : avx2 avx512f avx512_vnni amx_int8 amx_tile avx512_fp16\n"
SKYLAKE_X = "processor : 0\nflags : avx2 fma avx512f avx512bw\n"
ORIN = (
    "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm "
    "lrcpc dcpop asimddp\n"
)
CORTEX_A57 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n"
# The fake cpuinfo files the emulated targets read (export/targets/env.py), and an Atom's flags.
from alexnet_edge.export.targets.env import CORTEX_A72_CPUINFO, CORTEX_A76_CPUINFO  # noqa: E402

SNOWRIDGE = "processor : 0\nflags : fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt aes sha_ni movbe\n"


@pytest.mark.parametrize(
    "text, arch, saturating, path_word",
    [
        (ZEN3, "x86_64", True, "avx2"),
        (SKYLAKE_X, "x86_64", True, "avx2"),  # AVX-512 without VNNI still adds pairs into int16
        (ICELAKE, "x86_64", False, "avx512_vnni"),
        (ALDERLAKE, "x86_64", False, "avx_vnni"),
        (SAPPHIRE, "x86_64", False, "amx_int8"),  # MLAS picks AMX for QGEMM over VNNI (platform.cpp)
        (ORIN, "aarch64", False, "dotprod"),
        (CORTEX_A76_CPUINFO, "aarch64", False, "dotprod"),
        # No dot product: the NEON kernel with int16 intermediate sums (Raspberry Pi 4, Jetson Nano).
        (CORTEX_A57, "aarch64", True, "without dot product"),
        (CORTEX_A72_CPUINFO, "aarch64", True, "without dot product"),
        # Atom class on Linux: MLAS's SSE2 kernel widens to int16 and sums pairs in int32 (pmaddwd).
        (SNOWRIDGE, "x86_64", False, "sse2 pmaddwd"),
    ],
)
def test_int8_path_of_real_cpus(text, arch, saturating, path_word):
    cpu = parse_cpuinfo(text, arch)
    assert cpu.saturating_int8 is saturating
    assert path_word in cpu.int8_path
    assert cpu.to_dict()["saturating_int8"] is saturating


def test_atom_class_saturates_only_in_msvc_builds():
    linux = parse_cpuinfo(SNOWRIDGE, "x86_64")
    assert "avx" not in linux.features and "sse4_2" in linux.features and not linux.saturating_int8
    windows = CpuFeatures("x86_64", linux.features, "/proc/cpuinfo", "Windows")
    assert windows.saturating_int8 and "pmaddubsw" in windows.int8_path  # MLAS's SSE4.1 kernel is MSVC-only


def test_unsafe_int8_warns_on_the_new_cpu_classes_too():
    unsafe = {"precision": "int8", "int8": {"saturation_safe": False}}
    line = saturation_warning(unsafe, parse_cpuinfo(CORTEX_A72_CPUINFO, "aarch64"))
    assert line and line.startswith("warning:") and "without dot product" in line
    assert saturation_warning(unsafe, parse_cpuinfo(SNOWRIDGE, "x86_64")) is None
    assert (
        saturation_warning(
            {"precision": "int8", "int8": {"saturation_safe": True}}, parse_cpuinfo(CORTEX_A72_CPUINFO, "aarch64")
        )
        is None
    )


def test_arm_fp16_arithmetic_is_detected():
    assert parse_cpuinfo(ORIN, "aarch64").fp16_arithmetic
    assert not parse_cpuinfo(CORTEX_A57, "aarch64").fp16_arithmetic
    assert not parse_cpuinfo(CORTEX_A72_CPUINFO, "aarch64").fp16_arithmetic
    assert parse_cpuinfo(CORTEX_A76_CPUINFO, "aarch64").fp16_arithmetic
    assert not parse_cpuinfo(SAPPHIRE, "x86_64").fp16_arithmetic  # onnxruntime's x86 CPU provider computes FP16 in FP32


def test_detect_reads_this_machine_and_survives_a_missing_file(tmp_path):
    here = detect()
    assert here.arch and here.source in ("/proc/cpuinfo", "unknown")
    missing = detect(tmp_path / "nope")
    assert missing.features == () and missing.source == "unknown" and missing.int8_path == "unknown"


def test_saturation_warning_only_for_unsafe_int8_on_saturating_cpus():
    avx2, vnni = parse_cpuinfo(ZEN3, "x86_64"), parse_cpuinfo(ICELAKE, "x86_64")
    unsafe = {"precision": "int8", "int8": {"saturation_safe": False}}
    unmarked = {"precision": "int8"}
    safe = {"precision": "int8", "int8": {"saturation_safe": True}}
    line = saturation_warning(unsafe, avx2)
    assert line and line.startswith("warning:") and "\n" not in line and "avx2" in line
    assert saturation_warning(unmarked, avx2)
    assert saturation_warning(safe, avx2) is None
    assert saturation_warning(unsafe, vnni) is None
    assert saturation_warning({"precision": "fp32"}, avx2) is None
    assert saturation_warning(unsafe, CpuFeatures("x86_64", (), "unknown")) is None  # unknown CPU: no claim
