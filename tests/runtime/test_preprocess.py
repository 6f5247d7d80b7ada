import numpy as np
import pytest
from PIL import Image

from alexnet_edge.runtime.constants import MEAN, STD
from alexnet_edge.runtime.errors import InputError
from alexnet_edge.runtime.preprocess import load_image, normalize_uint8, preprocess_images, validate_batch


def test_normalization_is_the_reference_convention(test_split):
    pixels = test_split.images[:4]
    expected = (pixels.astype(np.float64) / 255 - np.array(MEAN).reshape(1, 3, 1, 1)) / np.array(STD).reshape(
        1, 3, 1, 1
    )
    got = normalize_uint8(pixels)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert np.abs(got - expected).max() < 1e-5
    assert np.array_equal(normalize_uint8(pixels.transpose(0, 2, 3, 1), layout="NHWC"), got)


def test_png_round_trip_is_exact_and_matches_training_preprocessing(test_split, tmp_path):
    """Training, calibration and evaluation normalize the dataset with the same function as image files."""
    paths = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.fromarray(test_split.images[i].transpose(1, 2, 0)).save(path)
        paths.append(path)
    assert np.array_equal(preprocess_images(paths), normalize_uint8(test_split.images[:3]))


def test_any_size_any_mode_becomes_rgb_32(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("L", (200, 120), color=128).save(path)
    pixels = load_image(path)
    assert pixels.shape == (32, 32, 3) and pixels.dtype == np.uint8


def test_not_an_image_is_a_clear_error(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"this is not a png")
    with pytest.raises(InputError, match="not a readable image"):
        load_image(path)
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.zeros((2, 3, 32, 32), np.float64), "expected float32 input, got float64"),
        (np.zeros((2, 3, 32, 32), np.uint8), "expected float32 input, got uint8"),
        (np.zeros((2, 32, 32, 3), np.float32), r"shape \[N,3,32,32\]"),
        (np.zeros((3, 32, 32), np.float32), r"shape \[N,3,32,32\]"),
        (np.zeros((0, 3, 32, 32), np.float32), "N >= 1"),
        ([[1.0]], "numpy array"),
    ],
)
def test_bad_batches(batch, message):
    with pytest.raises(InputError, match=message):
        validate_batch(batch)
