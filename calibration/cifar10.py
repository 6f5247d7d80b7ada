"""CIFAR-10, python layout (``cifar-10-batches-py/``), read only after each file's md5 is checked.

Unpickling runs code, so a file is unpickled only when its md5 equals the published one.
"""

from __future__ import annotations

import pickle
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.calibration.errors import DatasetError
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.fileio import file_digest

BATCHES_DIR = "cifar-10-batches-py"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
PUBLISHED_MD5 = {
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
}
TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
IMAGES_PER_BATCH = 10_000


@dataclass(frozen=True)
class Split:
    """uint8 images [N,3,32,32] (RGB, NCHW) and int64 labels [N], in the files' original order."""

    images: np.ndarray
    labels: np.ndarray
    files: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)


def file_md5(path: Path) -> str:
    return file_digest(path, "md5")


def batches_dir(data_root: str | Path) -> Path:
    """Accept either the folder that holds ``cifar-10-batches-py/`` or that folder itself."""
    root = Path(data_root)
    if root.name == BATCHES_DIR:
        return root
    return root / BATCHES_DIR


def _offline_hint(folder: Path) -> str:
    # Only export-alexnet has --download: it adds that hint itself (stages.load_data).
    return (
        f"put the CIFAR-10 python files in {folder} (unpack cifar-10-python.tar.gz from {ARCHIVE_URL}), "
        f"or pass --data-root to the folder that holds {BATCHES_DIR}/"
    )


def verify_file(data_root: str | Path, name: str) -> Path:
    """Return the path of a dataset file after checking it exists and has the published md5."""
    if name not in PUBLISHED_MD5:
        raise DatasetError(f"unknown CIFAR-10 file {name!r}; expected one of {', '.join(PUBLISHED_MD5)}")
    folder = batches_dir(data_root)
    path = folder / name
    if not path.is_file():
        raise DatasetError(f"CIFAR-10 file missing: {path}; {_offline_hint(folder)}", path=str(path))
    actual = file_md5(path)
    if actual != PUBLISHED_MD5[name]:
        raise DatasetError(
            f"CIFAR-10 file corrupt: {path} has md5 {actual}, expected {PUBLISHED_MD5[name]}; "
            "refusing to unpickle it (replace it with the official file)",
            path=str(path),
        )
    return path


def _unpickle_verified(path: Path) -> dict:
    with open(path, "rb") as handle:
        return pickle.load(handle, encoding="bytes")  # noqa: S301 - md5-verified above


def load_batch(data_root: str | Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 [10000,3,32,32] and int64 labels."""
    entry = _unpickle_verified(verify_file(data_root, name))
    images = np.asarray(entry[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(entry[b"labels"], dtype=np.int64)
    return images, labels


def load_split(data_root: str | Path, files: Sequence[str]) -> Split:
    """Concatenate the named batch files in order. Only those files are read."""
    if not files:
        raise DatasetError("no CIFAR-10 batch files named")
    parts = [load_batch(data_root, name) for name in files]
    return Split(
        images=np.concatenate([p[0] for p in parts]),
        labels=np.concatenate([p[1] for p in parts]),
        files=tuple(files),
    )


def load_test(data_root: str | Path) -> Split:
    return load_split(data_root, [TEST_BATCH])


def load_class_names(data_root: str | Path) -> tuple[str, ...]:
    """Class names from ``batches.meta``, checked against the package's own list."""
    meta = _unpickle_verified(verify_file(data_root, "batches.meta"))
    names = tuple(n.decode() for n in meta[b"label_names"])
    if names != CLASS_NAMES:
        raise DatasetError(f"batches.meta lists classes {names}, expected {CLASS_NAMES}")
    return names


def available_train_batches(data_root: str | Path) -> tuple[str, ...]:
    folder = batches_dir(data_root)
    return tuple(name for name in TRAIN_BATCHES if (folder / name).is_file())


def download(data_root: str | Path, *, url: str = ARCHIVE_URL) -> Path:
    """Fetch and unpack the official archive (md5-checked, with a progress bar) into ``data_root``.

    Offline this fails with one line saying where to put the files.
    """
    import urllib.error
    import urllib.request

    from tqdm.auto import tqdm

    root = Path(data_root)
    folder = batches_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
        archive = Path(tmp) / "cifar-10-python.tar.gz"
        try:
            with urllib.request.urlopen(url, timeout=30) as response, open(archive, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc="CIFAR-10") as bar:
                    while block := response.read(1 << 20):
                        out.write(block)
                        bar.update(len(block))
        except (urllib.error.URLError, OSError) as exc:
            raise DatasetError(f"cannot download CIFAR-10 ({exc}); {_offline_hint(folder)}") from None
        actual = file_md5(archive)
        if actual != ARCHIVE_MD5:
            raise DatasetError(f"downloaded archive has md5 {actual}, expected {ARCHIVE_MD5}")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        (Path(tmp) / BATCHES_DIR).replace(folder)
    for name in PUBLISHED_MD5:
        verify_file(root, name)
    return folder


def split_fingerprint(split: Split) -> dict[str, str]:
    """The md5 of each file a split was read from (each was verified when it was read)."""
    return {name: PUBLISHED_MD5[name] for name in split.files}
