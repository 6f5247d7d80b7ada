"""Deployment bundle: models, calibration table, the torch-free runtime, on-target scripts, a few
hundred CIFAR-10 test images with reference logits, and a manifest of every file's sha256."""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from alexnet_edge import runtime as runtime_package
from alexnet_edge.runtime import deploy
from alexnet_edge.runtime.backends.trt_builder import EngineBuildConfig
from alexnet_edge.runtime.compare import compare
from alexnet_edge.runtime.errors import OutputDirError
from alexnet_edge.runtime.fileio import atomic_output, sha256_file, write_json
from alexnet_edge.runtime.precision import Precision

from .gpu_targets import GPU_TARGETS
from .trtexec import render_trtexec_md

VERIFY_IMAGES = 500

REQUIREMENTS_CPU = """\
# CPU target (any machine): what verify.py --backend onnxruntime and infer.py need. No torch.
# Needs Python >= 3.10. JetPack 6 (Python 3.10): pip takes onnxruntime 1.23.2 there, the last
# release for 3.10. JetPack 5 ships Python 3.8, which this runtime does not run on: install a
# Python 3.10 first (this bundle's README.md); the scripts say so in one line if started with 3.8.
numpy>=1.24
pillow>=10.0
click>=8.1
tqdm>=4.66
onnxruntime>=1.20
"""
SCRIPT = '''#!/usr/bin/env python3
"""{doc} (alexnet-edge bundle; run with --help)."""
import sys
from pathlib import Path

if sys.version_info < (3, 10):
    sys.exit("error: this bundle needs Python >= 3.10, not %d.%d (JetPack 5 ships 3.8: see README.md)" % sys.version_info[:2])

sys.path.insert(0, str(Path(__file__).resolve().parent))

from {module} import {function}  # noqa: E402

if __name__ == "__main__":
    {function}()
'''
SCRIPTS = {
    "build_engines.py": ("Build TensorRT engines on this device", "alexnet_edge.runtime.deploy", "build_engines_main"),
    "verify.py": ("Verify the bundle's models or engines on the bundled labelled images", "alexnet_edge.runtime.deploy", "verify_main"),
    "infer.py": ("Classify images with a bundled model or engine (same as alexnet-infer)", "alexnet_edge.runtime.infer_cli", "main"),
}
README = """\
# alexnet-edge deployment bundle

1. `pip install -r requirements.txt` (CPU), or the GPU file for your machine (each is one coherent
   set: TensorRT, CUDA and onnxruntime versions that work together): {gpu_files}.
2. `python3 verify.py --backend onnxruntime` — checks manifest.json, then accuracy, agreement and
   |Δlogit| of every ONNX model on {n} bundled images ({images}) against the PyTorch reference.
3. `python3 build_engines.py` — builds `models/model.*.engine` here (TensorRT 8.5, 8.6, 10.x or 11.x),
   with the exporter's options ({options}); see trtexec.md for the trtexec equivalents.
4. `python3 verify.py --backend tensorrt` — the same checks on the engines.
5. `python3 infer.py --model models/model.int8.onnx image.png` — classify images.

Python >= 3.10 is needed. JetPack 6 has 3.10 (pip takes onnxruntime 1.23.2). JetPack 5 has 3.8:
install Python 3.10 beside it (for example from the deadsnakes PPA on its Ubuntu 20.04), create a
venv with it, and install requirements.txt there. JetPack 5's TensorRT Python bindings exist only
for its Python 3.8, so build engines there with trtexec (trtexec.md), not build_engines.py.

`model.int8.onnx` has 7-bit weights so that its int8 sums are exact on every CPU, those without
VNNI included; `verify.py` prints which int8 path this CPU takes.
"""


def copy_runtime(target: Path) -> list[Path]:
    source = Path(runtime_package.__file__).resolve().parent
    shutil.copytree(source, target / "alexnet_edge" / "runtime", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "alexnet_edge" / "__init__.py").write_text('"""alexnet-edge runtime, as shipped in a deployment bundle."""\n')
    return sorted((target / "alexnet_edge").rglob("*.py"))


BUNDLE_FORMAT = "alexnet-edge-bundle/1"


def manifest_entry(path: Path) -> dict:
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def engine_defaults(config: EngineBuildConfig) -> dict:
    """The exporter's engine options as the bundle stores them (build_engines.py reads them back)."""
    return {k: v for k, v in config.to_dict().items() if k != "timing_cache"}


def check_bundle_target(bundle: Path, out_dir: Path, *, force: bool) -> None:
    """Refuse, before anything is written, a --bundle that would replace --out or a user's folder."""
    target, out = Path(bundle).resolve(), Path(out_dir).resolve()
    if target == out or target in out.parents:
        raise OutputDirError(f"--bundle {bundle} would replace the output folder {out_dir}: give the bundle a folder of its own")
    if target.is_file():
        raise OutputDirError(f"--bundle {bundle} is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not force and not _is_bundle(target):
        raise OutputDirError(f"--bundle {bundle} is a non-empty folder that is not an alexnet-edge bundle; "
                             "choose another path, or pass --force to replace it")  # fmt: skip


def _is_bundle(folder: Path) -> bool:
    try:
        return json.loads((folder / deploy.MANIFEST).read_text()).get("format") == BUNDLE_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def write_bundle(
    bundle: Path,
    *,
    models: dict[Precision, Path],
    calibration_table: Path | None,
    images_uint8: np.ndarray,
    labels: np.ndarray,
    reference_logits: np.ndarray,
    expected: dict[str, dict],
    engine_config: EngineBuildConfig,
    source: dict,
) -> list[Path]:
    """Write the folder ``bundle`` and ``bundle.tar.gz``; both appear only once complete."""
    bundle = Path(bundle)
    try:
        bundle.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=bundle.parent, prefix=f".{bundle.name}."))
    except OSError as exc:
        raise OutputDirError(f"cannot write bundle {bundle}: {exc.strerror or exc}") from None
    try:
        (staging / deploy.MODELS_DIR).mkdir()
        for precision, path in models.items():
            shutil.copyfile(path, staging / deploy.MODELS_DIR / precision.onnx_name)
        if calibration_table is not None:
            shutil.copyfile(calibration_table, staging / deploy.MODELS_DIR / "calibration_table.json")
        (staging / "data").mkdir()
        with open(staging / deploy.VERIFY_DATA, "wb") as handle:
            np.savez_compressed(handle, images=images_uint8, labels=labels, reference_logits=reference_logits)
        defaults = _write_texts(staging, list(models), engine_config, images=len(labels), source=source)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        write_json(staging / deploy.MANIFEST, {
            "format": BUNDLE_FORMAT,
            "source": source,
            "engine_defaults": defaults,
            "expected": expected,
            "files": {str(p.relative_to(staging)): manifest_entry(p) for p in files},
        })  # fmt: skip
        staging.chmod(0o755)  # mkdtemp makes it private
        if bundle.exists():
            shutil.rmtree(bundle)
        staging.rename(bundle)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    archive = bundle.parent / f"{bundle.name}.tar.gz"
    with atomic_output(archive) as tmp:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(bundle, arcname=bundle.name)
    return [bundle, archive]


def _write_texts(staging: Path, precisions: list[Precision], engine_config: EngineBuildConfig, *, images: int, source: dict) -> dict:
    """The runtime, the scripts, the requirement sets, trtexec.md and README.md; returns the engine defaults."""
    copy_runtime(staging)
    for name, (doc, module, function) in SCRIPTS.items():
        (staging / name).write_text(SCRIPT.format(doc=doc, module=module, function=function))
        (staging / name).chmod(0o755)
    (staging / "requirements.txt").write_text(REQUIREMENTS_CPU)
    for target in GPU_TARGETS:
        (staging / target.filename).write_text(target.render())
    # On the target the timing cache lives in the bundle, not where the exporter kept its own.
    (staging / "trtexec.md").write_text(render_trtexec_md(replace(engine_config, timing_cache=None), precisions))
    defaults = engine_defaults(engine_config)
    options = ", ".join(f"{k}={v}" for k, v in defaults.items() if v not in (None, False, "none"))
    gpu_files = ", ".join(f"`{t.filename}` ({t.title})" for t in GPU_TARGETS)
    (staging / "README.md").write_text(README.format(n=images, images=source.get("images", "CIFAR-10 test_batch"), options=options, gpu_files=gpu_files))
    return defaults


def expected_figures(evaluated: list, n: int, labels: np.ndarray, reference: np.ndarray) -> dict[str, dict]:
    """The pipeline's own onnxruntime CPU figures on the first ``n`` (bundled) images, per precision."""
    out = {}
    for item in evaluated:
        if item.row.backend == "onnxruntime":
            result = compare(item.logits[:n], reference, labels)
            out[item.row.precision] = {"accuracy": result.accuracy, "top1_agreement": result.top1_agreement, "max_abs_diff": result.max_abs_diff}
    return out
