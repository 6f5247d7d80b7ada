"""deploy.verify_bundle, the API that the bundle's verify.py prints: driven from Python, on a small bundle
made of the exported bundle's INT8 model and verification images (the manifest rewritten to list them)."""

import json
import shutil

import numpy as np
import pytest

from alexnet_edge.runtime.deploy import MANIFEST, VERIFY_DATA, ManifestError, VerifyResult, verify_bundle
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision

KEPT = ("models/model.int8.onnx", VERIFY_DATA)


@pytest.fixture
def small_bundle(exported, tmp_path):
    source, bundle = exported.out / "bundle", tmp_path / "bundle"
    for rel in KEPT:
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, bundle / rel)
    manifest = json.loads((source / MANIFEST).read_text())
    manifest["files"] = {rel: {"sha256": sha256_file(bundle / rel)} for rel in KEPT}
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    return bundle


def _relist(bundle, files):
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"] = {rel: {"sha256": sha256_file(bundle / rel)} for rel in files}
    (bundle / MANIFEST).write_text(json.dumps(manifest))


def test_verify_bundle_returns_the_rows_and_no_failures(small_bundle):
    result = verify_bundle(small_bundle, bench=False)
    assert isinstance(result, VerifyResult) and result.failures == []
    (row,) = result.rows
    assert row.precision is Precision.INT8 and row.comparison.images == result.images == 500 and row.within_tolerance
    assert 0.85 < row.comparison.accuracy <= 1 and row.comparison.top1_agreement >= 0.985 and row.latency == {}
    assert result.expected_accuracy[Precision.INT8] is not None


def test_verify_bundle_fails_a_model_whose_logits_moved(small_bundle):
    data = dict(np.load(small_bundle / VERIFY_DATA))
    data["reference_logits"] = np.roll(data["reference_logits"], 1, axis=1)  # another "reference" top-1
    np.savez(small_bundle / VERIFY_DATA, **data)
    _relist(small_bundle, KEPT)
    result = verify_bundle(small_bundle, bench=False)
    assert result.failures and not result.rows[0].within_tolerance
    assert any(f.metric == "top1_agreement" for f in result.failures)


def test_missing_verification_images_are_one_manifest_error(small_bundle):
    (small_bundle / VERIFY_DATA).unlink()
    _relist(small_bundle, KEPT[:1])  # the manifest no longer lists them, so the sha256 check cannot catch it
    with pytest.raises(ManifestError, match="does not list data/verify_images.npz"):
        verify_bundle(small_bundle, bench=False)


def test_verification_data_without_its_arrays_is_refused(small_bundle):
    np.savez(small_bundle / VERIFY_DATA, images=np.zeros((1, 3, 32, 32), np.uint8))
    _relist(small_bundle, KEPT)
    with pytest.raises(ManifestError, match="lacks labels, reference_logits"):
        verify_bundle(small_bundle, bench=False)
