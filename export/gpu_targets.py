"""One coherent GPU dependency set per deployment target, written into the bundle as requirements files.

Why per target: cuda-python 13 needs a CUDA 13 driver (>= 580); onnxruntime-gpu 1.27+ is built for
CUDA 13 and TensorRT 11 (1.20-1.26: CUDA 12, TensorRT 10); PyPI has no aarch64 onnxruntime-gpu, and
on Jetson TensorRT comes from JetPack, whose Python bindings match only JetPack's own Python.
Versions read from PyPI metadata (onnxruntime-gpu's nvidia-cuda-runtime pins) and NVIDIA's
JetPack / TensorRT release notes; see docs/jetson.md.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMON = ("numpy>=1.24", "pillow>=10.0", "click>=8.1", "tqdm>=4.66")


@dataclass(frozen=True)
class GpuTarget:
    name: str  # requirements-<name>.txt
    title: str
    cuda_major: int
    tensorrt: str  # the TensorRT release line it runs
    packages: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def filename(self) -> str:
        return f"requirements-{self.name}.txt"

    def render(self) -> str:
        lines = [f"# {self.title}: TensorRT {self.tensorrt}, CUDA {self.cuda_major}.", *(f"# {n}" for n in self.notes)]
        return "\n".join([*lines, *COMMON, *self.packages]) + "\n"


GPU_TARGETS = (
    GpuTarget("gpu-cuda12", "x86-64 GPU server, NVIDIA driver for CUDA 12 (>= 525)", 12, "10.x",
              ('onnxruntime-gpu>=1.20,<1.27 ; platform_machine == "x86_64"', 'tensorrt-cu12>=10.3,<11 ; platform_machine == "x86_64"',
               "cuda-python>=12.3,<13"),
              ("Check the driver with nvidia-smi: 'CUDA Version: 12.x'.",)),
    GpuTarget("gpu-cuda13", "x86-64 GPU server, NVIDIA driver for CUDA 13 (>= 580)", 13, "11.x",
              ('onnxruntime-gpu>=1.27 ; platform_machine == "x86_64"', 'tensorrt-cu13>=11.4,<12 ; platform_machine == "x86_64"',
               "cuda-python>=13,<14"),
              ("onnxruntime-gpu 1.27+ is the first built for CUDA 13 and TensorRT 11.",)),
    GpuTarget("jetpack5", "Jetson with JetPack 5.1.x (L4T 35)", 11, "8.5.2",
              ("onnxruntime>=1.20",),
              ("JetPack 5 ships Python 3.8 and TensorRT 8.5.2 bindings for 3.8 only; this runtime needs Python >= 3.10.",
               "So: install Python 3.10, verify the ONNX models with onnxruntime (CPU) here, and build engines",
               "with trtexec (trtexec.md, section TensorRT 8.5). No pip tensorrt / cuda-python for this board.")),
    GpuTarget("jetpack6", "Jetson Orin with JetPack 6.1 / 6.2 (L4T 36.4, Python 3.10)", 12, "10.3",
              ("cuda-python>=12.6,<13", "onnxruntime>=1.20"),
              ("TensorRT comes with JetPack: create the venv with --system-site-packages, never pip-install tensorrt.",
               "For onnxruntime on the GPU, replace onnxruntime by the onnxruntime-gpu wheel NVIDIA builds for",
               "JetPack 6 (PyPI has no aarch64 onnxruntime-gpu).")),
    GpuTarget("jetpack7", "Jetson AGX Orin / Thor with JetPack 7.2.2+ (L4T 38, CUDA 13)", 13, "11.4 (SBSA build)",
              ("cuda-python>=13,<14", "onnxruntime>=1.20"),
              ("TensorRT 11.4.1+ is installed as NVIDIA's Linux SBSA package (with JetPack) or the tensorrt-cu13 wheel.",
               "DLA: AGX Orin only, from TensorRT 11.4.1 with JetPack 7.2.2+; Thor has none.",
               "PyPI has no aarch64 onnxruntime-gpu: use NVIDIA's JetPack 7 wheel for the GPU.")),
)  # fmt: skip
