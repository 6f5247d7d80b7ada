"""The INT8 calibration set: class-balanced, seeded, drawn from the CIFAR-10 train split only.

Saved beside the artifacts and reused while its key (checkpoint sha256, dataset files, chosen
indices, preprocessing) is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.calibration.cifar10 import PUBLISHED_MD5, TRAIN_BATCHES, load_split
from alexnet_edge.calibration.config import BATCH_SIZE, DEFAULT_CALIB_SIZE, DEFAULTS, MAX_USER_CALIB_IMAGES
from alexnet_edge.calibration.errors import CalibrationError
from alexnet_edge.runtime.constants import MEAN, NUM_CLASSES, STD
from alexnet_edge.runtime.fileio import atomic_output
from alexnet_edge.runtime.preprocess import normalize_uint8
from alexnet_edge.runtime.progress import Progress, track

DEFAULT_CALIB_FILES: tuple[str, ...] = DEFAULTS.files
MIN_RECOMMENDED = 300
logger = logging.getLogger(__name__)
PREPROCESSING_ID = f"rgb/255,mean={list(MEAN)},std={list(STD)},nchw,float32"


@dataclass(frozen=True)
class CalibrationSet:
    images: np.ndarray  # float32 [N,3,32,32], normalized exactly like inference inputs
    labels: np.ndarray
    indices: np.ndarray  # into the concatenation of ``files``
    files: tuple[str, ...]
    seed: int
    key: str
    reused: bool
    source: str = "CIFAR-10 train split"
    content_sha256: str | None = None  # of the user's images (--calib-data); CIFAR-10 files carry their md5

    def __len__(self) -> int:
        return len(self.indices)

    def to_dict(self) -> dict[str, object]:
        labelled = len(self.labels) and (self.labels >= 0).all()
        return {
            "source": self.source,
            "size": len(self),
            "files": list(self.files),
            "seed": self.seed,
            "key": self.key,
            "content_sha256": self.content_sha256,
            "per_class": np.bincount(self.labels, minlength=NUM_CLASSES).tolist() if labelled else None,
            "preprocessing": PREPROCESSING_ID,
        }


def select_balanced(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` indices, as equal per class as possible, drawn without replacement with ``seed``."""
    rng = np.random.default_rng(seed)
    per_class = [size // NUM_CLASSES + (1 if c < size % NUM_CLASSES else 0) for c in range(NUM_CLASSES)]
    chosen = []
    for cls, count in enumerate(per_class):
        pool = np.flatnonzero(labels == cls)
        if count > len(pool):
            raise CalibrationError(
                f"calibration size {size} needs {count} images of class {cls}, only {len(pool)} there"
            )
        chosen.append(rng.choice(pool, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def _key(source: dict[str, object], indices: np.ndarray, checkpoint_sha256: str) -> str:
    """What a saved set and its table are keyed by: the model, the images' identity (``source``: CIFAR-10's
    published md5s, or the user's content sha256), which of them, and the preprocessing."""
    payload = {
        "checkpoint_sha256": checkpoint_sha256,
        **source,
        "indices_sha256": hashlib.sha256(indices.astype(np.int64).tobytes()).hexdigest(),
        "preprocessing": PREPROCESSING_ID,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _normalized(images_uint8: np.ndarray, indices: np.ndarray, batch_size: int, progress: Progress) -> np.ndarray:
    """The chosen images, normalized a batch at a time (the progress bar counts batches)."""
    chunks = range(0, len(indices), batch_size)
    return np.concatenate(
        [
            normalize_uint8(images_uint8[indices[i : i + batch_size]])
            for i in track(chunks, total=len(chunks), desc="calibration set", unit="batches", progress=progress)
        ]
    )


def validate_request(size: int, files: Sequence[str], *, batch_size: int) -> None:
    if size <= 0:
        raise CalibrationError(f"calibration set is empty (--calib-size {size}); use at least {MIN_RECOMMENDED}")
    if size < batch_size:
        raise CalibrationError(f"calibration size {size} is smaller than one calibration batch ({batch_size})")
    bad = [f for f in files if f not in TRAIN_BATCHES]
    if bad:
        raise CalibrationError(f"calibration draws from the train split only; {', '.join(bad)} is not a train batch")
    if size < MIN_RECOMMENDED:
        warnings.warn(f"calibration size {size} is under {MIN_RECOMMENDED}: INT8 ranges may be unstable", stacklevel=2)


def build_calibration_set(
    data_root: str | Path,
    *,
    size: int = DEFAULT_CALIB_SIZE,
    seed: int = 0,
    files: Sequence[str] = DEFAULT_CALIB_FILES,
    checkpoint_sha256: str,
    cache_dir: str | Path,
    batch_size: int = BATCH_SIZE,
    progress: Progress = False,
) -> CalibrationSet:
    """Choose, preprocess and save the set; reuse the saved one when its key matches."""
    validate_request(size, files, batch_size=batch_size)
    split = load_split(data_root, files)  # md5-checked
    if size > len(split):
        raise CalibrationError(f"calibration size {size} exceeds the {len(split)} images in {', '.join(files)}")
    indices = select_balanced(split.labels, size, seed)
    key = _key({"files": {name: PUBLISHED_MD5[name] for name in files}}, indices, checkpoint_sha256)
    cache = Path(cache_dir) / f"calib_set.{key[:16]}.npz"
    saved = _saved_set(cache, key, indices)
    if saved is not None:
        return CalibrationSet(*saved, indices, tuple(files), seed, key, True)
    images = _normalized(split.images, indices, batch_size, progress)
    labels = split.labels[indices]
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with atomic_output(cache) as tmp:
        with open(tmp, "wb") as handle:
            content = np.array(_content_sha256(images, labels))  # checked before the set is reused
            np.savez(handle, images=images, labels=labels, indices=indices, key=np.array(key), content_sha256=content)
    return CalibrationSet(images, labels, indices, tuple(files), seed, key, False)


def _content_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()


def _saved_set(cache: Path, key: str, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The images and labels saved for ``key``, when the file is whole (its content sha256 as recorded);
    None when there is none, or it is damaged (said in one line: it is then rebuilt)."""
    if not cache.is_file():
        return None
    try:
        with np.load(cache, allow_pickle=False) as saved:
            if str(saved["key"]) != key or not np.array_equal(saved["indices"], indices):
                return None
            images, labels, recorded = saved["images"], saved["labels"], str(saved["content_sha256"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        logger.warning("calibration set %s is damaged (%s): rebuilding it", cache, exc.__class__.__name__)
        return None
    if recorded != _content_sha256(images, labels):
        logger.warning("calibration set %s differs from the sha256 recorded when it was written: rebuilding it", cache)
        return None
    return images, labels


def build_user_calibration_set(
    data,  # calibration.user_data.UserData
    *,
    size: int | None,
    seed: int = 0,
    checkpoint_sha256: str,
    cache_dir: str | Path,
    batch_size: int = BATCH_SIZE,
    progress: Progress = False,
) -> CalibrationSet:
    """The calibration set from the user's images: ``size`` drawn with ``seed``, or all of them up to
    MAX_USER_CALIB_IMAGES. Keyed by their content, so other images never reuse a saved set or table."""
    n = len(data)
    wanted = min(n, MAX_USER_CALIB_IMAGES) if size is None else size
    if wanted > n:
        raise CalibrationError(f"--calib-size {wanted} is more than the {n} readable images of {data.source}")
    if wanted < batch_size:
        raise CalibrationError(
            f"{data.source} gives {wanted} images for calibration; it needs at least {batch_size} (one batch), "
            f"better {MIN_RECOMMENDED}+"
        )
    if wanted < MIN_RECOMMENDED:
        warnings.warn(
            f"calibration size {wanted} is under {MIN_RECOMMENDED}: INT8 ranges may be unstable", stacklevel=2
        )
    indices = (
        np.arange(n) if wanted == n else np.sort(np.random.default_rng(seed).choice(n, size=wanted, replace=False))
    )
    key = _key({"content_sha256": data.sha256}, indices, checkpoint_sha256)
    Path(cache_dir).mkdir(parents=True, exist_ok=True)  # the calibration table is saved there, keyed by this set
    images = _normalized(data.images, indices, batch_size, progress)
    return CalibrationSet(
        images, data.labels[indices], indices, (), seed, key, False, source=data.source, content_sha256=data.sha256
    )
