"""Cached calibration files in a reused --out are checked before they are trusted (issue 28 §2): each
records its content sha256 when written; a truncated calib_set.*.npz or a calibration table whose
ranges are empty or changed is rebuilt, said in one line. On e9b3804 the first raised BadZipFile and
the second was reused with no ranges (a KeyError at quantization)."""

import json
import logging

import numpy as np
import pytest
from support.hostile import signature_model

from alexnet_edge.calibration.calib_set import CalibrationSet, build_calibration_set
from alexnet_edge.calibration.table import calibrate

CHECKPOINT = "0" * 64
pytestmark = pytest.mark.filterwarnings("ignore:calibration size 64 is under")


def _calib_set(data_root, cache_dir):
    return build_calibration_set(data_root, size=64, checkpoint_sha256=CHECKPOINT, cache_dir=cache_dir)


def test_a_truncated_calibration_set_is_rebuilt(data_root, tmp_path, caplog):
    first = _calib_set(data_root, tmp_path)
    (cache,) = tmp_path.glob("calib_set.*.npz")
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    with caplog.at_level(logging.WARNING, logger="alexnet_edge"):
        again = _calib_set(data_root, tmp_path)
    assert not again.reused and np.array_equal(again.images, first.images)
    assert any("damaged" in r.getMessage() and cache.name in r.getMessage() for r in caplog.records)
    assert _calib_set(data_root, tmp_path).reused  # the rebuilt file is whole again


def test_a_calibration_set_whose_images_changed_is_rebuilt(data_root, tmp_path):
    first = _calib_set(data_root, tmp_path)
    (cache,) = tmp_path.glob("calib_set.*.npz")
    with np.load(cache) as saved:
        arrays = dict(saved)
    arrays["images"] = np.zeros_like(arrays["images"])  # same key and indices, other pixels
    np.savez(cache, **arrays)
    again = _calib_set(data_root, tmp_path)
    assert not again.reused and np.array_equal(again.images, first.images)


@pytest.fixture
def small_set():
    images = np.random.default_rng(0).standard_normal((64, 3, 32, 32)).astype(np.float32)
    return CalibrationSet(images, np.zeros(64, np.int64), np.arange(64), ("data_batch_1",), 0, "k" * 64, False)


@pytest.mark.parametrize("damage", ["no ranges", "changed ranges", "not JSON"])
def test_a_damaged_calibration_table_is_recomputed(damage, small_set, tmp_path, caplog):
    model = signature_model(tmp_path / "model.onnx")
    table_path = tmp_path / "calibration_table.percentile.json"
    first = calibrate(model, small_set, table_path=table_path)
    assert first.tensors and calibrate(model, small_set, table_path=table_path).reused
    saved = json.loads(table_path.read_text())
    if damage == "no ranges":
        saved["tensors"] = {}
    elif damage == "changed ranges":
        name = next(iter(saved["tensors"]))
        saved["tensors"][name] = {"lowest": -1e9, "highest": 1e9}
    table_path.write_text(json.dumps(saved) if damage != "not JSON" else json.dumps(saved)[:40])
    with caplog.at_level(logging.WARNING, logger="alexnet_edge"):
        again = calibrate(model, small_set, table_path=table_path)
    assert not again.reused and again.tensors == first.tensors
    assert any("recomputing" in r.getMessage() for r in caplog.records)
