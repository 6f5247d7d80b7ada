"""The deployment bundle's text files: the on-target scripts, README.md and requirements.txt."""

from __future__ import annotations

import numpy as np

from alexnet_edge.runtime.backends.registry import ONNXRUNTIME_MIN

# Python 3.10 (JetPack 6) gets onnxruntime 1.23.2 at most: the last release for 3.10.
PY310_ONNXRUNTIME = f"onnxruntime>={ONNXRUNTIME_MIN},<1.24"

REQUIREMENTS_HEADER = """\
# CPU target (any machine): what verify.py --backend onnxruntime and infer.py need. No torch.
# Pinned: the onnxruntime and numpy this bundle was exported and verified with (manifest.json
# "tool_versions"), on the Pythons those releases exist for. On Python 3.10 (JetPack 6) pip can
# only take onnxruntime <= 1.23.2: that range is allowed but was not measured with this bundle,
# so run verify.py there. JetPack 5 ships Python 3.8, which this runtime does not run on: install
# a Python 3.10 first (README.md); the scripts say so in one line if started with 3.8.
# pillow, click and tqdm only read images and print: any release in the range works.
"""


def render_requirements(tool_versions: dict[str, str]) -> str:
    """requirements.txt pinned to the exporter's onnxruntime (``tool_versions``) and numpy.

    Args:
        tool_versions: the run's tool versions (onnx_export.tool_versions()).
    Returns:
        The file's text.
    """
    ort = tool_versions.get("onnxruntime")
    lines = [
        f'numpy=={np.__version__} ; python_version >= "3.11"',
        'numpy>=1.24 ; python_version < "3.11"',
        "pillow>=10.0",
        "click>=8.1",
        "tqdm>=4.66",
    ]
    if ort is None:  # no onnxruntime in the exporting environment: nothing measured to pin
        lines.append(f"onnxruntime>={ONNXRUNTIME_MIN}")
    elif tuple(int(p) for p in ort.split(".")[:2] if p.isdigit()) >= (1, 24):  # a release without Python 3.10 wheels
        lines += [f'onnxruntime=={ort} ; python_version >= "3.11"', f'{PY310_ONNXRUNTIME} ; python_version < "3.11"']
    else:
        lines.append(f"onnxruntime=={ort}")
    return REQUIREMENTS_HEADER + "\n".join(lines) + "\n"


SCRIPT = '''#!/usr/bin/env python3
"""{doc} (alexnet-edge bundle; run with --help)."""
import sys
from pathlib import Path

if sys.version_info < (3, 10):  # exit 2, as for any unusable environment (alexnet_edge/runtime/exit_status.py)
    print("error: this bundle needs Python >= 3.10, not %d.%d (JetPack 5 ships 3.8: see README.md)"
          % sys.version_info[:2], file=sys.stderr)
    sys.exit(2)

sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    from {module} import {function}
except ModuleNotFoundError as exc:  # this environment lacks the bundle's requirements
    if (exc.name or "").startswith("alexnet_edge"):
        raise
    print("error: no module %r: install this bundle's requirements first (README.md)" % exc.name, file=sys.stderr)
    sys.exit(2)

if __name__ == "__main__":
    {function}()
'''
DEPLOY, INFER = "alexnet_edge.runtime.bundle_cli", "alexnet_edge.runtime.infer_cli"
SCRIPTS = {  # file -> (docstring, module, function)
    "build_engines.py": ("Build TensorRT engines on this device", DEPLOY, "build_engines_main"),
    "verify.py": ("Verify the bundle's models or engines on the bundled labelled images", DEPLOY, "verify_main"),
    "infer.py": ("Classify images with a bundled model or engine (same as alexnet-infer)", INFER, "main"),
}
README = """\
# alexnet-edge deployment bundle

Python >= 3.10 is needed (JetPack 5: see the end of this file). In this folder:

1. Create a virtual environment and activate it:
   `python3 -m venv .venv && . .venv/bin/activate`
2. Install one requirement set into it. CPU (any machine): `pip install -r requirements.txt`
   (pinned to the onnxruntime this bundle was verified with).
   GPU: the file for your machine instead; each is one coherent set of TensorRT, CUDA and
   onnxruntime versions that work together:{gpu_files}
3. `python3 verify.py --backend onnxruntime` — checks manifest.json, then accuracy, agreement and
   |Δlogit| of every ONNX model on the {n} bundled images (the first {n} of {images}) against the
   PyTorch reference. Its accuracy is on those {n}, so it differs from a full-set figure.
   On an x86 CPU, `pip install openvino` then `python3 verify.py --backend openvino` runs the same
   checks on OpenVINO (f32 arithmetic); `infer.py --backend openvino` classifies with it.
4. `python3 build_engines.py` — builds `models/model.*.engine` here (TensorRT 8.5, 8.6, 10.x or 11.x),
   with the exporter's options:
   {options}
   (trtexec.md has the trtexec equivalents).
5. `python3 verify.py --backend tensorrt` — the same checks on the engines.
6. `python3 infer.py --model models/model.int8.onnx image.png` — classify images.

Each script's `--help` lists its options and defaults.

JetPack 6 has Python 3.10 (pip takes onnxruntime 1.23.2 there, not the pinned release: run verify.py).
JetPack 5 has 3.8: install Python 3.10 beside it (for example from the deadsnakes PPA on its Ubuntu
20.04), create the venv of step 1 with it, and install requirements.txt there. JetPack 5's TensorRT
Python bindings exist only for its Python 3.8, so build engines there with trtexec (trtexec.md),
not build_engines.py.

`model.int8.onnx` has 7-bit weights so that its int8 sums are exact on every CPU, those without
VNNI included; `verify.py` prints which int8 path this CPU takes.
"""
