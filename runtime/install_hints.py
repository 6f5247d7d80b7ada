"""What to install when an optional module is missing, said so that it works where the user is.

alexnet-edge is on no package index, so installing it by name with an extra installs nothing. From
a checkout (or a wheel built from one) the extras are named on the checkout; inside a deployment
bundle the answer is the bundle's own requirements files, and on Jetson TensorRT comes with JetPack.
Each backend's own lines live on its ``BackendSpec`` (runtime/backends/registry.py); this module says
them the same way for every backend, and holds the export extra's.
"""

from __future__ import annotations

from pathlib import Path

EXPORT_PACKAGES = "pip install torch onnx onnxscript onnxsim onnxslim onnxconverter-common matplotlib"
BUNDLE_REQUIREMENTS = (
    "pip install -r requirements.txt (CPU) or the requirements-*.txt for your GPU, in this bundle's folder"
)


def in_bundle(module_file: str | Path = __file__) -> bool:
    """True when this runtime is the copy inside a deployment bundle (bundle/alexnet_edge/runtime/)."""
    root = Path(module_file).resolve().parents[2]
    return (root / "manifest.json").is_file() and (root / "verify.py").is_file()


def hint(packages: str, extra: str | None, *, bundled_text: str = "", bundled: bool | None = None) -> str:
    """One clause saying how to install something, to follow "is not installed: ".

    Args:
        packages: the pip line from a checkout (the same pins as pyproject.toml's extra).
        extra: pyproject.toml's extra for it (None: there is none).
        bundled_text: the line inside a bundle ("": the bundle's requirements files).
        bundled: whether we run from a bundle; None detects it.
    """
    if in_bundle() if bundled is None else bundled:
        return bundled_text or BUNDLE_REQUIREMENTS
    return packages if extra is None else f"{packages}; from an alexnet-edge checkout: pip install -e '.[{extra}]'"


def export_hint() -> str:
    """How to install the export extra (torch, onnx, ...); never inside a bundle, which has no exporter."""
    return hint(EXPORT_PACKAGES, "export", bundled=False)
