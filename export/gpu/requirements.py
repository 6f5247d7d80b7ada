"""One coherent GPU dependency set per deployment target, written into the bundle as requirements files.

Why per target (each fact checked 2026-12-02; sources in docs/jetson.md, "Sources and what could not be
confirmed" and "Which requirements file"):
- cuda-python 13 needs a CUDA 13 driver (>= 580; NVIDIA CUDA Compatibility guide, minor version table).
- onnxruntime-gpu 1.20-1.26 are CUDA 12 builds, 1.27+ CUDA 13 (each wheel's nvidia-cuda-runtime pin).
- Every onnxruntime-gpu 1.21.1-1.31.1 TensorRT provider NEEDs libnvinfer.so.10 (readelf on the x86_64 wheels:
  tests/support/gpu_wheels.json, tools/gpu_wheel_records.py): TensorRT 10 in every set that has the provider;
  TensorRT 11 (libnvinfer.so.11) would leave it unloadable and onnxruntime would fall back.
- onnxruntime-gpu ships no CUDA or cuDNN: its [cuda,cudnn] extras install them (nvidia-cudnn brings cuBLAS), and
  the runner calls onnxruntime.preload_dlls. 1.27.0's [cuda] extra names nvidia-*-cu13~=13.0, which PyPI has only
  as 0.0.1 placeholders (pip cannot resolve it); from 1.28 it names the nvidia-* 13.x wheels.
- The provider is built against TensorRT 10.8 (1.21) and 10.9 (1.22) (onnxruntime's TensorRT EP docs, Requirements):
  10.9 is the floor of the CUDA 12 set; PyPI's first CUDA 13 TensorRT is 10.13.2.
- PyPI has aarch64 onnxruntime-gpu from 1.29.0 on (``pip download onnxruntime-gpu==1.28.0 --platform
  manylinux_2_34_aarch64`` finds none; 1.29.0-1.31.1 are there, manylinux_2_34_aarch64, cp311+). They
  are SBSA server builds (libcudart.so.13, nvidia-cuda-runtime~=13.0) and ship only the CUDA provider:
  no libonnxruntime_providers_tensorrt.so in the 1.29.0 or 1.31.1 wheel. Jetson still takes JetPack's builds.
- PyPI has aarch64 TensorRT bindings only for CUDA 12, 10.5 to 10.13.0 (tensorrt-cu12-bindings); none for
  CUDA 13 or for 11.x, so an aarch64 server installs TensorRT 11 from NVIDIA's Linux SBSA packages.
- TensorRT 11.4.0 supports no Jetson; 11.4.1 adds Jetson AGX Orin and Thor on JetPack 7.2.2+ (SBSA build),
  with DLA on AGX Orin only (TensorRT 11.4.1 release notes and "Migrating ... on Jetson/JetPack").
- On Jetson, TensorRT comes from JetPack, whose Python bindings match only JetPack's own Python.
"""

from __future__ import annotations

from dataclasses import dataclass

from alexnet_edge.runtime.backends.onnxruntime.providers import ORT_TENSORRT_MAJOR
from alexnet_edge.runtime.backends.registry import ONNXRUNTIME_MIN

COMMON = ("numpy>=1.24", "pillow>=10.0", "click>=8.1", "tqdm>=4.66")
#: The TensorRT major onnxruntime-gpu's TensorRT provider loads (the same for every recorded release).
_TRT_MAJOR = max(ORT_TENSORRT_MAJOR.values())


@dataclass(frozen=True)
class GpuTarget:
    name: str  # requirements-<name>.txt
    title: str
    cuda_major: int
    tensorrt: str  # the TensorRT release line it runs
    packages: tuple[str, ...]
    notes: tuple[str, ...]
    machine: str = "x86_64"  # platform.machine() of the target: its markers are evaluated for it

    @property
    def filename(self) -> str:
        return f"requirements-{self.name}.txt"

    def render(self) -> str:
        lines = [f"# {self.title}: TensorRT {self.tensorrt}, CUDA {self.cuda_major}.", *(f"# {n}" for n in self.notes)]
        return "\n".join([*lines, *COMMON, *self.packages]) + "\n"


GPU_TARGETS = (
    GpuTarget(
        "gpu-cuda12",
        "x86-64 GPU server, NVIDIA driver for CUDA 12 (>= 525)",
        12,
        "10.9+",
        (
            f'onnxruntime-gpu[cuda,cudnn]>={ONNXRUNTIME_MIN},<1.27 ; platform_machine == "x86_64"',
            f'tensorrt-cu12>=10.9,<{_TRT_MAJOR + 1} ; platform_machine == "x86_64"',
            "cuda-python>=12.3,<13",
        ),
        ("Check the driver with nvidia-smi: 'CUDA Version: 12.x'. [cuda,cudnn] installs CUDA 12 and cuDNN 9 wheels.",),
    ),
    GpuTarget(
        "gpu-cuda13",
        "x86-64 GPU server, NVIDIA driver for CUDA 13 (>= 580)",
        13,
        "10.13+",
        (
            'onnxruntime-gpu[cuda,cudnn]>=1.28 ; platform_machine == "x86_64"',
            f'tensorrt-cu13>=10.13.2,<{_TRT_MAJOR + 1} ; platform_machine == "x86_64"',
            "cuda-python>=13,<14",
        ),
        (
            "onnxruntime-gpu's TensorRT provider (1.27-1.31) loads TensorRT 10 (libnvinfer.so.10), not 11.",
            "1.28+: 1.27.0's [cuda] extra cannot be resolved from PyPI (its nvidia-*-cu13 names are placeholders).",
        ),
    ),
    GpuTarget(
        "gpu-sbsa-cuda13",
        "aarch64 (SBSA) GPU server, e.g. Grace Hopper, driver for CUDA 13 (>= 580)",
        13,
        "11.4+ (NVIDIA's Linux SBSA package)",
        ('onnxruntime-gpu[cuda,cudnn]>=1.29 ; platform_machine == "aarch64"', "cuda-python>=13,<14"),
        (
            "onnxruntime-gpu has aarch64 wheels on PyPI from 1.29 (CUDA 13); they carry the CUDA provider only,",
            "no TensorRT provider. PyPI has no aarch64 TensorRT for CUDA 13: install NVIDIA's TensorRT 11.4 SBSA",
            "tar/deb package, then its python/ wheel. Not for Jetson boards: use requirements-jetpack*.txt.",
        ),
        machine="aarch64",
    ),
    GpuTarget(
        "jetpack5",
        "Jetson with JetPack 5.1.x (L4T 35)",
        11,
        "8.5.2",
        (f"onnxruntime>={ONNXRUNTIME_MIN}",),
        (
            "JetPack 5 ships Python 3.8 and TensorRT 8.5.2 bindings for 3.8 only; this runtime needs Python 3.10+.",
            "So: install Python 3.10, verify the ONNX models with onnxruntime (CPU) here, and build engines",
            "with trtexec (trtexec.md, section TensorRT 8.5). No pip tensorrt / cuda-python for this board.",
        ),
        machine="aarch64",
    ),
    GpuTarget(
        "jetpack6",
        "Jetson Orin with JetPack 6.1 / 6.2 (L4T 36.4, CUDA 12.6, Python 3.10)",
        12,
        "10.3",
        ("cuda-python>=12.6,<12.7", f"onnxruntime>={ONNXRUNTIME_MIN}"),
        (
            "TensorRT comes with JetPack: create the venv with --system-site-packages, never pip-install tensorrt.",
            "cuda-python is held at 12.6.x, the CUDA of JetPack 6's driver: newer 12.x relies on minor version",
            "compatibility, which is not confirmed for Jetson (docs/jetson.md). For onnxruntime on the GPU, replace",
            "onnxruntime by NVIDIA's JetPack 6 onnxruntime-gpu wheel (PyPI's aarch64 builds are CUDA 13 SBSA).",
        ),
        machine="aarch64",
    ),
    GpuTarget(
        "jetpack7",
        "Jetson Thor (JetPack 7.0+) or Orin (JetPack 7.2+: L4T 39.2, CUDA 13.2, Python 3.12)",
        13,
        "10.x from JetPack (10.16 on 7.2), or 11.4.1+ SBSA build on AGX Orin / Thor with JetPack 7.2.2+",
        ("cuda-python>=13,<14", f"onnxruntime>={ONNXRUNTIME_MIN}"),
        (
            "TensorRT 11.4.0 supports no Jetson; 11.4.1+ comes as NVIDIA's Linux SBSA package on JetPack 7.2.2+.",
            "DLA: AGX Orin only, from TensorRT 11.4.1 with JetPack 7.2.2+; Thor has none.",
            "PyPI's aarch64 onnxruntime-gpu (1.29+) is an SBSA server build without the TensorRT provider:",
            "for the GPU use NVIDIA's JetPack 7 onnxruntime-gpu wheel.",
        ),
        machine="aarch64",
    ),
)
