import numpy as np
import pytest

from alexnet_edge.calibration import cifar10
from alexnet_edge.calibration.errors import DatasetError


def test_test_split_is_the_real_one(test_split):
    assert test_split.images.shape == (10000, 3, 32, 32) and test_split.images.dtype == np.uint8
    # Sanity values from ../shared/cifar10/SOURCE.md
    assert test_split.labels[:20].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6]
    assert np.bincount(test_split.labels).tolist() == [1000] * 10


def test_class_names_match_batches_meta(data_root):
    assert cifar10.load_class_names(data_root)[0] == "airplane"


def test_data_root_may_be_the_batches_folder_itself(data_root):
    images, labels = cifar10.load_batch(data_root / "cifar-10-batches-py", "test_batch")
    assert len(labels) == 10000


def test_corrupt_batch_is_refused_before_unpickling(data_root, tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    raw = bytearray((data_root / "cifar-10-batches-py" / "test_batch").read_bytes())
    raw[5000] ^= 0xFF
    (folder / "test_batch").write_bytes(bytes(raw))
    unpickled = []
    monkeypatch.setattr(cifar10.pickle, "load", lambda *a, **k: unpickled.append(1))
    with pytest.raises(
        DatasetError, match=r"test_batch has md5 [0-9a-f]{32}, expected 40351d587109b95175f43aff81a1287e"
    ):
        cifar10.load_test(tmp_path)
    assert not unpickled


def test_missing_file_names_the_file_and_where_to_put_it(tmp_path):
    with pytest.raises(DatasetError, match=r"missing: .*data_batch_3.*put the CIFAR-10 python files"):
        cifar10.load_split(tmp_path, ["data_batch_3"])


def test_only_the_named_batches_are_read(data_root, monkeypatch):
    read = []
    original = cifar10.verify_file
    monkeypatch.setattr(cifar10, "verify_file", lambda root, name: read.append(name) or original(root, name))
    cifar10.load_split(data_root, ["data_batch_1"])
    assert read == ["data_batch_1"]


def test_download_offline_says_what_to_do(tmp_path):
    with pytest.raises(DatasetError, match="cannot download CIFAR-10.*put the CIFAR-10 python files"):
        cifar10.download(tmp_path, url="http://127.0.0.1:9/cifar-10-python.tar.gz")
