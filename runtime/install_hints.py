"""What to install when an optional module is missing, said so that it works where the user is.

alexnet-edge is on no package index, so installing it by name with an extra installs nothing. From
a checkout (or a wheel built from one) the extras are named on the checkout; inside a deployment
bundle the answer is the bundle's own requirements files, and on Jetson TensorRT comes with JetPack.
"""

from __future__ import annotations

from pathlib import Path

from alexnet_edge.runtime.backends.onnxruntime.providers import ONNXRUNTIME_MIN

# What each optional module is, as PyPI names it (the same pins as pyproject.toml's extras).
PACKAGES = {
    "onnxruntime": ("cpu", f"pip install 'onnxruntime>={ONNXRUNTIME_MIN}' (or onnxruntime-gpu on a CUDA machine)"),
    "tensorrt": (
        "gpu",
        "pip install 'tensorrt-cu12>=10.3,<11' 'cuda-python>=12.3,<13' on x86-64 with a CUDA 12 "
        "driver; on Jetson it comes with JetPack (python3-libnvinfer)",
    ),
    "openvino": ("openvino", "pip install openvino"),
    "export": ("export", "pip install torch onnx onnxscript onnxsim onnxslim onnxconverter-common matplotlib"),
}


def in_bundle(module_file: str | Path = __file__) -> bool:
    """True when this runtime is the copy inside a deployment bundle (bundle/alexnet_edge/runtime/)."""
    root = Path(module_file).resolve().parents[2]
    return (root / "manifest.json").is_file() and (root / "verify.py").is_file()


def install_hint(what: str, *, bundled: bool | None = None) -> str:
    """One clause saying how to install ``what`` (a key of PACKAGES).

    Args:
        what: a key of PACKAGES.
        bundled: whether we run from a bundle; None detects it.
    Returns:
        Text to follow "is not installed: ".
    """
    extra, packages = PACKAGES[what]
    if in_bundle() if bundled is None else bundled:
        if what == "openvino":
            return "pip install openvino (none of this bundle's requirement files names it)"
        if what == "tensorrt":
            return (
                "pip install -r the requirements-*.txt of this bundle that matches your GPU (README.md); "
                "on Jetson TensorRT comes with JetPack (python3-libnvinfer)"
            )
        return "pip install -r requirements.txt (CPU) or the requirements-*.txt for your GPU, in this bundle's folder"
    return f"{packages}; from an alexnet-edge checkout: pip install -e '.[{extra}]'"
