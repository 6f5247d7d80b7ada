"""The bundle trusts its manifest, not the disk (issue 28 §4): verify.py and build_engines.py use only the
models manifest.json lists (each sha256-checked); an ONNX model in models/ it does not list is refused.
On e9b3804 verify.py --precision int8 evaluated a model.int8.onnx dropped from the manifest and said "ok"."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from support.hostile import signature_model

from alexnet_edge.runtime.bundle_cli import verify_main
from alexnet_edge.runtime.deploy import MANIFEST, VERIFY_DATA, ManifestError, build_bundle_engines, verify_bundle
from alexnet_edge.runtime.fileio import sha256_file


@pytest.fixture
def tiny_bundle(tmp_path):
    """A bundle holding one listed FP32 model (a small stand-in) and its verification data."""
    bundle = tmp_path / "bundle"
    (bundle / "models").mkdir(parents=True)
    (bundle / "data").mkdir()
    signature_model(bundle / "models" / "model.fp32.onnx")
    rng = np.random.default_rng(0)
    np.savez(
        bundle / VERIFY_DATA,
        images=rng.integers(0, 256, size=(8, 3, 32, 32), dtype=np.uint8),
        labels=rng.integers(0, 10, size=8),
        reference_logits=rng.standard_normal((8, 10)).astype(np.float32),
    )
    files = ("models/model.fp32.onnx", VERIFY_DATA)
    manifest = {
        "format": "alexnet-edge-bundle/1",
        "files": {rel: {"sha256": sha256_file(bundle / rel)} for rel in files},
    }
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    return bundle


def test_verify_evaluates_only_the_models_the_manifest_lists(tiny_bundle):
    (tiny_bundle / "models" / "notes.txt").write_text("not a model: no reason to refuse the bundle")
    result = verify_bundle(tiny_bundle, bench=False)
    assert len(result.rows) == 1  # the one listed model


@pytest.mark.parametrize("chosen", [(), ("int8",)])
def test_a_model_the_manifest_does_not_list_is_refused_not_evaluated(tiny_bundle, chosen):
    signature_model(tiny_bundle / "models" / "model.int8.onnx", classes=10, names=("y", "n"))  # another model
    with pytest.raises(ManifestError, match=r"models/model\.int8\.onnx is not in manifest\.json"):
        verify_bundle(tiny_bundle, chosen=chosen, bench=False)


def test_build_engines_refuses_an_unlisted_model_before_building(tiny_bundle):
    signature_model(tiny_bundle / "models" / "model.fp16.onnx")
    with pytest.raises(ManifestError, match=r"models/model\.fp16\.onnx is not in manifest\.json"):
        build_bundle_engines(tiny_bundle)


def test_verify_script_says_so_in_one_line_with_exit_2(tiny_bundle):
    signature_model(tiny_bundle / "models" / "model.int8.onnx")
    result = CliRunner().invoke(verify_main, ["--bundle-dir", str(tiny_bundle), "--precision", "int8", "--no-bench"])
    errors = [line for line in result.output.splitlines() if "error:" in line]
    assert result.exit_code == 2 and len(errors) == 1 and "models/model.int8.onnx is not in manifest.json" in errors[0]
