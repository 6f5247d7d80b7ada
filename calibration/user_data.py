"""Users' own images: a folder of image files, or arrays, for INT8 calibration (``--calib-data``) and
for evaluation (``--eval-data``). Read with the same loader and preprocessing as ``alexnet-infer``.

- Calibration: a folder of images (searched recursively, sorted), or a ``.npy`` of uint8 NHWC images.
- Evaluation: a folder with one subfolder per class, named as the model's classes (torchvision's
  ImageFolder layout), or a ``.npz`` with ``images`` (uint8 NHWC) and ``labels``.

Unreadable files are skipped and listed; an empty source, or one with too few readable images, is
a DatasetError (one line, exit 2). Every source gets a content hash over its pixels and labels.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.calibration.errors import DatasetError
from alexnet_edge.runtime.constants import CHANNELS, INPUT_SIZE
from alexnet_edge.runtime.errors import InputError
from alexnet_edge.runtime.exit_status import shown_path
from alexnet_edge.runtime.npy_file import check_regular_file, load_npy, load_npz, npy_header
from alexnet_edge.runtime.preprocess import IMAGE_SUFFIXES, load_image

UNLABELLED = -1


@dataclass(frozen=True)
class UserData:
    """Like cifar10.Split: uint8 images [N,3,32,32] (RGB, NCHW) and int64 labels (-1: none)."""

    images: np.ndarray
    labels: np.ndarray
    source: str
    sha256: str
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def labelled(self) -> bool:
        return bool(len(self.labels)) and bool((self.labels >= 0).all())

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "images": len(self), "content_sha256": self.sha256, "skipped": len(self.skipped)}


def content_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(repr((images.shape, str(images.dtype))).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(labels.astype(np.int64)).tobytes())
    return digest.hexdigest()


def _from_nhwc(images: np.ndarray, labels: np.ndarray, source: str, skipped: Sequence[str] = ()) -> UserData:
    expected = (INPUT_SIZE, INPUT_SIZE, CHANNELS)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != expected:
        raise DatasetError(
            f"{source}: expected uint8 images [N,{INPUT_SIZE},{INPUT_SIZE},{CHANNELS}] (NHWC), "
            f"got {images.dtype} {list(images.shape)}",
            path=source,
        )
    nchw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    labels = labels.astype(np.int64)
    return UserData(nchw, labels, source, content_sha256(nchw, labels), tuple(skipped))


def _read_files(paths: Sequence[Path]) -> tuple[list[np.ndarray], list[str], list[int]]:
    """Pixels of every readable file, the unreadable ones (with why), and which paths were read."""
    pixels, skipped, read = [], [], []
    for index, path in enumerate(paths):
        try:
            pixels.append(load_image(path))
            read.append(index)
        except InputError as exc:
            skipped.append(str(exc))
    return pixels, skipped, read


def _image_files(root: Path) -> tuple[list[Path], list[str]]:
    """Regular files under ``root`` (recursive, sorted), and what was passed over (with why): also a
    folder that cannot be listed (a path longer than PATH_MAX, no permission), never followed through
    a symlink."""
    passed_over: list[str] = []

    def unlisted(exc: OSError) -> None:
        passed_over.append(f"{shown_path(exc.filename)}: folder not read ({exc.strerror or exc})")

    entries = []
    for folder, folders, names in os.walk(root, onerror=unlisted):
        here = Path(folder)
        entries += [here / name for name in names] + [here / name for name in folders if _is_link(here / name)]
    files = []
    for p in sorted(entries):
        if p.name.startswith("."):
            continue
        try:
            check_regular_file(p)
            files.append(p)
        except InputError as exc:
            if _is_link(p) or not _is_folder(p):  # a symlink loop, a dangling link, a FIFO: listed, never opened
                passed_over.append(str(exc))
    return files, passed_over


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:  # a path longer than PATH_MAX: os.walk lists it as not read
        return False


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _empty(path: Path, option: str) -> DatasetError:
    return DatasetError(f"{option} {path}: holds no images (0 of them)", path=str(path))


def _load_array(path: Path, what: str, names: tuple[str, ...] = ()):
    """The .npy's array, or the .npz's arrays ``names``: headers checked first, objects never unpickled."""
    try:
        if names:
            arrays = load_npz(path, names)
            return tuple(arrays[n] for n in names)
        return load_npy(path)
    except InputError as exc:
        raise DatasetError(f"{what} {exc}", path=str(path)) from None


def probe(path: str | Path, what: str) -> None:
    """Check a .npy or .npz source's headers (no pixels read): refused up front, not after the export.

    Raises:
        DatasetError: a header the file does not match, object arrays, a file that is not a numpy one.
    """
    path = Path(path)
    try:
        if path.suffix == ".npy" and not path.is_dir():
            shape, _ = npy_header(path)
            if not shape or not shape[0]:
                raise _empty(path, what)
        elif path.suffix == ".npz" and not path.is_dir():
            load_npz(path, (), check_all=True)
    except InputError as exc:
        raise DatasetError(f"{what} {exc}", path=str(path)) from None


def read_unlabelled(path: str | Path) -> UserData:
    """``--calib-data``: a folder of images (recursive, sorted) or a ``.npy`` of uint8 NHWC images."""
    path = Path(path)
    if path.suffix == ".npy" and not path.is_dir():
        images = _load_array(path, "--calib-data")
        if not len(images):
            raise _empty(path, "--calib-data")
        return _from_nhwc(images, np.full(len(images), UNLABELLED), str(path))
    if not path.is_dir():
        raise DatasetError(f"--calib-data {path}: no such folder or .npy file", path=str(path))
    every, passed_over = _image_files(path)
    files = [p for p in every if p.suffix.lower() in IMAGE_SUFFIXES] or every  # no image suffix at all: try them all
    pixels, skipped, _ = _read_files(files)
    skipped += passed_over + [f"{p}: not an image file" for p in every if p not in files]
    if not pixels:
        raise DatasetError(
            f"--calib-data {path}: no readable images in it ({len(skipped)} files skipped)", path=str(path)
        )
    return _from_nhwc(np.stack(pixels), np.full(len(pixels), UNLABELLED), str(path), skipped)


def read_labelled(path: str | Path, class_names: Sequence[str]) -> UserData:
    """``--eval-data``: class subfolders named as ``class_names``, or a ``.npz`` with images and labels."""
    path = Path(path)
    if path.suffix == ".npz" and not path.is_dir():
        images, labels = _load_array(path, "--eval-data", ("images", "labels"))
        if not len(images):
            raise _empty(path, "--eval-data")
        if (
            labels.shape != (len(images),)
            or not np.issubdtype(labels.dtype, np.integer)
            or (len(labels) and not 0 <= labels.min() <= labels.max() < len(class_names))
        ):
            raise DatasetError(
                f"--eval-data {path}: 'labels' must be {len(images)} integers in 0..{len(class_names) - 1}",
                path=str(path),
            )
        return _from_nhwc(images, labels, str(path))
    if not path.is_dir():
        raise DatasetError(f"--eval-data {path}: no such folder or .npz file", path=str(path))
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in folders if p.name not in class_names]
    if unknown:
        raise DatasetError(
            f"--eval-data {path}: subfolder(s) {', '.join(unknown)} are not classes of this model "
            f"({', '.join(class_names)})",
            path=str(path),
        )
    pixels, labels, skipped = [], [], []
    for folder in folders:
        files, passed_over = _image_files(folder)
        got, bad, _ = _read_files(files)
        pixels += got
        labels += [class_names.index(folder.name)] * len(got)
        skipped += bad + passed_over
    if not pixels:
        raise DatasetError(
            f"--eval-data {path}: no readable images in class subfolders named {', '.join(class_names)}", path=str(path)
        )
    return _from_nhwc(np.stack(pixels), np.asarray(labels), str(path), skipped)
