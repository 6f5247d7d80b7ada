import numpy as np
import pytest

from alexnet_edge.calibration.calib_set import build_calibration_set, select_balanced
from alexnet_edge.calibration.errors import CalibrationError
from alexnet_edge.runtime.preprocess import normalize_uint8

SHA = "0" * 64


def test_selection_is_class_balanced_and_seeded():
    labels = np.repeat(np.arange(10), 100)
    a = select_balanced(labels, 512, seed=0)
    assert np.bincount(labels[a]).tolist() == [52, 52] + [51] * 8
    assert np.array_equal(a, select_balanced(labels, 512, seed=0))
    assert not np.array_equal(a, select_balanced(labels, 512, seed=1))


def test_set_is_preprocessed_like_inference_and_reused(data_root, tmp_path):
    from alexnet_edge.calibration.cifar10 import load_batch

    first = build_calibration_set(data_root, size=100, seed=3, checkpoint_sha256=SHA, cache_dir=tmp_path, batch_size=10)
    assert not first.reused and first.images.dtype == np.float32 and first.images.shape == (100, 3, 32, 32)
    raw, _ = load_batch(data_root, "data_batch_1")
    assert np.array_equal(first.images, normalize_uint8(raw[first.indices]))
    again = build_calibration_set(data_root, size=100, seed=3, checkpoint_sha256=SHA, cache_dir=tmp_path, batch_size=10)
    assert again.reused and again.key == first.key
    other_seed = build_calibration_set(
        data_root, size=100, seed=4, checkpoint_sha256=SHA, cache_dir=tmp_path, batch_size=10
    )
    other_ckpt = build_calibration_set(
        data_root, size=100, seed=3, checkpoint_sha256="1" * 64, cache_dir=tmp_path, batch_size=10
    )
    assert not other_seed.reused and not other_ckpt.reused
    assert len({first.key, other_seed.key, other_ckpt.key}) == 3


@pytest.mark.parametrize(
    ("size", "files", "message"),
    [
        (0, ("data_batch_1",), "calibration set is empty"),
        (10, ("data_batch_1",), "smaller than one calibration batch"),
        (512, ("test_batch",), "train split only"),
    ],
)
def test_bad_requests_are_clear_errors(data_root, tmp_path, size, files, message):
    with pytest.raises(CalibrationError, match=message):
        build_calibration_set(
            data_root, size=size, files=files, checkpoint_sha256=SHA, cache_dir=tmp_path, batch_size=64
        )


def test_small_set_warns(data_root, tmp_path):
    with pytest.warns(UserWarning, match="under 300"):
        build_calibration_set(data_root, size=200, checkpoint_sha256=SHA, cache_dir=tmp_path, batch_size=64)
