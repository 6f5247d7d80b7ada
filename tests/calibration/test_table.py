import json

import pytest

from alexnet_edge.calibration.calib_set import build_calibration_set
from alexnet_edge.calibration.errors import CalibrationError
from alexnet_edge.calibration.table import calibrate


@pytest.fixture(scope="module")
def small_set(data_root, tmp_path_factory):
    return build_calibration_set(
        data_root, size=128, checkpoint_sha256="0" * 64, cache_dir=tmp_path_factory.mktemp("set"), batch_size=64
    )


def test_table_is_reused_until_model_set_or_method_change(exported, small_set, tmp_path):
    model = exported.out / "model.fp32.onnx"
    table_path = tmp_path / "table.json"
    first = calibrate(model, small_set, method="minmax", table_path=table_path)
    assert not first.reused
    saved = json.loads(table_path.read_text())
    assert saved["key"] == first.key and saved["calibration_set"]["size"] == 128 and "input" in saved["tensors"]["data"]
    assert calibrate(model, small_set, method="minmax", table_path=table_path).reused
    assert not calibrate(model, small_set, method="entropy", table_path=table_path).reused  # method changed
    assert not calibrate(model, small_set, method="minmax", table_path=table_path).reused  # and back
    import onnx

    changed = onnx.load(str(model))
    changed.doc_string = "re-exported"
    other_model = tmp_path / "other.onnx"
    onnx.save(changed, str(other_model))
    assert not calibrate(other_model, small_set, method="minmax", table_path=table_path).reused


def test_unknown_method_is_a_clear_error(exported, small_set, tmp_path):
    with pytest.raises(CalibrationError, match="unknown calibration method 'kl'"):
        calibrate(exported.out / "model.fp32.onnx", small_set, method="kl", table_path=tmp_path / "t.json")


def test_images_of_the_wrong_shape_are_a_clear_error(exported, small_set, tmp_path):
    import dataclasses

    import numpy as np

    bad = dataclasses.replace(small_set, images=np.zeros((128, 32, 32, 3), np.float32))
    with pytest.raises(CalibrationError, match=r"calibration images: expected input of shape \[N,3,32,32\]"):
        calibrate(exported.out / "model.fp32.onnx", bad, method="minmax", table_path=tmp_path / "t.json")
