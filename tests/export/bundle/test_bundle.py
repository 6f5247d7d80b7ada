"""The deployment bundle: contents, manifest, a clean torch-free environment, tampering."""

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from alexnet_edge.runtime.fileio import sha256_file


@pytest.fixture(scope="module")
def bundle(exported):
    return exported.out / "bundle"


def test_bundle_contents_and_manifest(bundle, exported):
    for rel in (
        "models/model.fp32.onnx",
        "models/model.fp16.onnx",
        "models/model.int8.onnx",
        "models/calibration_table.json",
        "requirements.txt",
        "requirements-gpu-cuda12.txt",
        "requirements-jetpack6.txt",
        "build_engines.py",
        "verify.py",
        "infer.py",
        "trtexec.md",
        "data/verify_images.npz",
        "alexnet_edge/runtime/__init__.py",
        "alexnet_edge/runtime/backends/tensorrt/runner.py",
    ):
        assert (bundle / rel).is_file(), rel
    manifest = json.loads((bundle / "manifest.json").read_text())
    on_disk = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for rel, entry in manifest["files"].items():
        assert sha256_file(bundle / rel) == entry["sha256"], rel
    assert sha256_file(bundle / "models/model.int8.onnx") == sha256_file(exported.out / "model.int8.onnx")
    assert manifest["engine_defaults"]["max_batch"] == 256 and set(manifest["expected"]) == {"fp32", "fp16", "int8"}
    from packaging.requirements import Requirement

    reqs = [
        Requirement(req)
        for req in (bundle / "requirements.txt").read_text().splitlines()
        if req and not req.startswith("#")
    ]
    assert [r.name for r in reqs if r.marker is None or r.marker.evaluate()] == [
        "numpy",
        "pillow",
        "click",
        "tqdm",
        "onnxruntime",
    ]
    # pinned to what the bundle was exported and verified with, where that release exists
    pins = {
        r.name: str(r.specifier) for r in reqs if r.marker is not None and r.marker.evaluate({"python_version": "3.12"})
    }
    versions = manifest["source"]["tool_versions"]
    assert pins == {"numpy": f"=={__import__('numpy').__version__}", "onnxruntime": f"=={versions['onnxruntime']}"}
    assert [
        str(r.specifier) for r in reqs if r.name == "onnxruntime" and r.marker.evaluate({"python_version": "3.10"})
    ] == ["<1.24,>=1.21.1"]
    readme = (bundle / "README.md").read_text()
    assert "python3 -m venv .venv" in readme and "the first 500 of CIFAR-10 test_batch" in readme
    assert max(len(line) for line in readme.splitlines()) <= 120  # numbered steps, no 600-character line
    with tarfile.open(bundle.parent / "bundle.tar.gz") as tar:
        names = {n.removeprefix("bundle/") for n in tar.getnames()}
    assert on_disk | {"manifest.json"} <= names


def test_archive_uses_the_measured_gzip_level(bundle):
    """Level 1, chosen by measurement (docs/performance.md): level 9 cost 8x the CPU for 4% less size."""
    from alexnet_edge.export.bundle.writer import GZIP_LEVEL

    with open(bundle.parent / "bundle.tar.gz", "rb") as handle:
        header = handle.read(10)
    # RFC 1952: byte 8 (XFL) is 4 for the fastest compression, 2 for the best; Python's gzip writes it from the level.
    assert header[:2] == b"\x1f\x8b" and GZIP_LEVEL == 1 and header[8] == 4


def test_verify_in_a_clean_environment_without_torch(bundle, tmp_path):
    """Extract the archive into a fresh folder, make an environment with only requirements.txt,
    and run verify.py there: the accuracy on the bundled images must be the pipeline's."""
    from support.env_from_requirements import make_env

    with tarfile.open(bundle.parent / "bundle.tar.gz") as tar:
        tar.extractall(tmp_path / "target", filter="data")
    extracted = tmp_path / "target" / "bundle"
    python, names = make_env(extracted / "requirements.txt", tmp_path / "venv")
    assert "torch" not in names and "onnx" not in names
    probe = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True)
    assert probe.returncode != 0  # torch really is absent there
    proc = subprocess.run(
        [python, "verify.py", "--backend", "onnxruntime", "--json"],
        cwd=extracted,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    expected = json.loads((extracted / "manifest.json").read_text())["expected"]
    assert [r["precision"] for r in report["results"]] == ["fp32", "fp16", "int8"]
    assert report["cpu"]["int8_path"] and all(r["cpu"]["arch"] == report["cpu"]["arch"] for r in report["results"])
    for result in report["results"]:
        assert result["images"] == 500 and result["within_tolerance"]
        assert result["accuracy"] == expected[result["precision"]]["accuracy"]
        assert result["top1_agreement"] == expected[result["precision"]]["top1_agreement"]
    infer = subprocess.run(
        [python, "infer.py", "--model", "models/model.int8.onnx", "--json", "verify.py"],
        cwd=extracted,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert infer.returncode == 2 and "not a readable image" in infer.stdout  # runs; a .py is no image


def test_tampered_file_is_named(bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    with open(copy / "models" / "model.int8.onnx", "r+b") as handle:
        handle.seek(12345)
        handle.write(b"\x01")
    (copy / "trtexec.md").unlink()
    proc = subprocess.run([sys.executable, str(copy / "verify.py")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: bundle check failed: models/model.int8.onnx has been modified "
        "(sha256 differs from the manifest); trtexec.md is missing"
    )


def _old_python() -> str | None:
    import glob

    found = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.[6-9].*/bin/python3.[6-9]")))
    return found[-1] if found else None


@pytest.mark.skipif(_old_python() is None, reason="no Python < 3.10 interpreter on this machine")
def test_bundle_scripts_refuse_an_old_python_in_one_line(bundle):
    """JetPack 5 ships Python 3.8: the scripts must say what to do, not fail on 3.10 syntax."""
    for script in ("verify.py", "infer.py", "build_engines.py"):
        proc = subprocess.run([_old_python(), str(bundle / script)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().startswith("error: this bundle needs Python >= 3.10") and "JetPack 5" in proc.stderr


def test_build_engines_help_shows_this_bundles_defaults(bundle):
    """Options that default to the exporter's engine settings show the values in this bundle's manifest."""
    manifest = json.loads((bundle / "manifest.json").read_text())["engine_defaults"]
    proc = subprocess.run(
        [sys.executable, str(bundle / "build_engines.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # click wraps the help: compare with the line breaks undone
    for option, key in (("--max-batch", "max_batch"), ("--workspace-mb", "workspace_mb")):
        assert f"[default: {manifest[key]}, from manifest.json]" in text, (option, text)
    shown = "on" if manifest["version_compatible"] else "off"
    assert f"[default: {shown}, from manifest.json]" in text
