"""Users' own images: folders and arrays read like alexnet-infer reads them, with content hashes,
skipped files listed, and one-line refusals."""

import numpy as np
import pytest
from support.image_files import write_pngs

from alexnet_edge.calibration.calib_set import build_user_calibration_set
from alexnet_edge.calibration.errors import CalibrationError, DatasetError
from alexnet_edge.calibration.user_data import read_labelled, read_unlabelled
from alexnet_edge.runtime.constants import CLASS_NAMES


def test_folder_of_images_is_read_bit_identically_and_sorted(test_split, tmp_path):
    write_pngs(tmp_path / "a" / "b", test_split.images[:6])
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "broken.png").write_bytes(b"\x89PNG broken")
    data = read_unlabelled(tmp_path / "a")
    assert len(data) == 6 and np.array_equal(data.images, test_split.images[:6]) and not data.labelled
    assert (
        len(data.skipped) == 2
        and any("broken.png" in s for s in data.skipped)
        and any("notes.txt" in s for s in data.skipped)
    )
    again = read_unlabelled(tmp_path / "a")
    assert again.sha256 == data.sha256
    np.save(tmp_path / "x.npy", test_split.images[:6].transpose(0, 2, 3, 1))
    assert read_unlabelled(tmp_path / "x.npy").sha256 == data.sha256  # same pixels, same hash


def test_labelled_folder_and_npz(test_split, tmp_path):
    for c in (0, 3):
        write_pngs(tmp_path / "eval" / CLASS_NAMES[c], test_split.images[test_split.labels == c][:4])
    data = read_labelled(tmp_path / "eval", CLASS_NAMES)
    assert data.labelled and data.labels.tolist() == [0] * 4 + [3] * 4
    np.savez(tmp_path / "e.npz", images=data.images.transpose(0, 2, 3, 1), labels=data.labels)
    assert read_labelled(tmp_path / "e.npz", CLASS_NAMES).sha256 == data.sha256


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: (p / "eval" / "giraffe").mkdir(parents=True),
            r"subfolder\(s\) giraffe are not classes of this model",
        ),
        (lambda p: (p / "eval").mkdir(), "no readable images in class subfolders"),
        (
            lambda p: np.savez(p / "eval.npz", images=np.zeros((2, 32, 32, 3), np.uint8)),
            "needs arrays 'images' and 'labels'",
        ),
        (
            lambda p: np.savez(p / "eval.npz", images=np.zeros((2, 32, 32, 3), np.uint8), labels=np.array([0, 12])),
            "integers in 0..9",
        ),
        (
            lambda p: np.savez(p / "eval.npz", images=np.zeros((2, 3, 32, 32), np.uint8), labels=np.array([0, 1])),
            r"expected uint8 images \[N,32,32,3\]",
        ),
        (lambda p: (p / "eval.npz").write_bytes(b"junk"), "not a readable numpy file"),
    ],
)
def test_bad_eval_data_is_one_line(tmp_path, make, message):
    make(tmp_path)
    target = tmp_path / ("eval.npz" if (tmp_path / "eval.npz").exists() else "eval")
    with pytest.raises(DatasetError, match=message):
        read_labelled(target, CLASS_NAMES)


def test_calibration_set_from_user_images(test_split, tmp_path):
    np.save(tmp_path / "c.npy", test_split.images[:300].transpose(0, 2, 3, 1))
    data = read_unlabelled(tmp_path / "c.npy")
    every = build_user_calibration_set(data, size=None, checkpoint_sha256="ab", cache_dir=tmp_path)
    some = build_user_calibration_set(data, size=128, seed=1, checkpoint_sha256="ab", cache_dir=tmp_path)
    assert len(every) == 300 and len(some) == 128 and every.key != some.key
    assert (
        some.key == build_user_calibration_set(data, size=128, seed=1, checkpoint_sha256="ab", cache_dir=tmp_path).key
    )
    described = some.to_dict()
    assert (
        described["source"] == str(tmp_path / "c.npy")
        and described["content_sha256"] == data.sha256
        and described["per_class"] is None
    )
    with pytest.raises(CalibrationError, match="gives 10 images for calibration; it needs at least 64"):
        build_user_calibration_set(data, size=10, checkpoint_sha256="ab", cache_dir=tmp_path)
    with pytest.raises(CalibrationError, match="--calib-size 400 is more than the 300 readable images"):
        build_user_calibration_set(data, size=400, checkpoint_sha256="ab", cache_dir=tmp_path)
    with pytest.raises(DatasetError, match="no readable images in it"):
        (tmp_path / "empty").mkdir()
        read_unlabelled(tmp_path / "empty")


def test_calibration_batches_divide_the_set():
    from alexnet_edge.calibration.table import even_batch

    assert (
        even_batch(512, 64) == 64
        and even_batch(200, 64) == 50
        and even_batch(509, 64) == 1
        and even_batch(10, 64) == 10
    )


def test_calibration_config_owns_its_defaults_and_round_trips(tmp_path):
    import json

    from alexnet_edge.calibration.config import DEFAULT_CALIB_SIZE, CalibrationConfig

    config = CalibrationConfig(
        size=None, method="minmax", seed=3, files=("data_batch_1", "data_batch_2"), data=tmp_path
    )
    assert CalibrationConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert CalibrationConfig().cifar_size == DEFAULT_CALIB_SIZE and CalibrationConfig(size=64).cifar_size == 64
