"""Classify image files, folders of images and .npy batches with any runner: the API behind ``alexnet-infer``.

Class names and normalization come from the model's metadata (``runner.metadata()``), so nothing else is
needed. ``classify`` returns one ``Prediction`` per input, in order; an input that cannot be read gets its
``error`` and the others are still classified.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.batching import pad_batch, plan_batches
from alexnet_edge.runtime.constants import CLASS_NAMES, MEAN, STD
from alexnet_edge.runtime.errors import AlexNetEdgeError, InputError
from alexnet_edge.runtime.npy_file import load_npy
from alexnet_edge.runtime.preprocess import IMAGE_SUFFIXES, load_image, normalize_uint8, validate_batch


@dataclass(frozen=True)
class ClassScore:
    name: str
    index: int
    probability: float


@dataclass(frozen=True)
class Prediction:
    """One input's ``top_k`` classes, most probable first; or why it has none."""

    path: str
    top: tuple[ClassScore, ...] = ()
    error: str | None = None
    latency_ms: float | None = None  # wall time of the runner.infer call that classified it
    batch: int | None = None  # the images in that call


@dataclass(frozen=True)
class Skipped:
    """A folder's entries that are not inputs (not images, not .npy files, subfolders)."""

    folder: str
    names: tuple[str, ...]


@dataclass
class Item:
    path: str
    tensor: np.ndarray | None = None  # float32 [3,32,32]
    error: str | None = None
    latency_ms: float | None = None
    batch: int | None = None


def _npy_items(path: Path, mean, std) -> list[Item]:
    try:
        array = load_npy(path)  # regular files only; the header is checked against the file's size first
    except AlexNetEdgeError as exc:
        return [Item(str(path), error=f"not a usable .npy file: {str(exc).removeprefix(f'{path}: ')}")]
    try:
        if array.dtype == np.uint8 and array.ndim == 4 and array.shape[-1] == 3:
            batch = normalize_uint8(array, layout="NHWC", mean=mean, std=std)
        elif array.dtype == np.float32:
            batch = validate_batch(array)
        else:
            raise InputError(
                "expected uint8 NHWC [N,32,32,3] or normalized float32 NCHW [N,3,32,32], "
                f"got {array.dtype} {list(array.shape)}"
            )
        validate_batch(batch)
    except AlexNetEdgeError as exc:
        return [Item(str(path), error=str(exc))]
    finite = np.isfinite(batch).reshape(len(batch), -1).all(axis=1)
    return [
        Item(f"{path}[{i}]", tensor=batch[i])
        if finite[i]
        else Item(f"{path}[{i}]", error="holds NaN or infinite values")
        for i in range(len(batch))
    ]


def _is_input(path: Path) -> bool:
    return not path.is_dir() and (path.suffix.lower() in IMAGE_SUFFIXES or path.suffix == ".npy")


def skipped_in_folders(inputs: Sequence[Path]) -> list[Skipped]:
    """What each input folder holds that is not classified (subfolders, other files), by folder."""
    skipped = []
    for path in inputs:
        if path.is_dir():
            names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir() if not _is_input(p))
            if names:
                skipped.append(Skipped(str(path), tuple(names)))
    return skipped


def collect(inputs: list[Path], mean, std) -> list[Item]:
    items: list[Item] = []
    for path in inputs:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if _is_input(p))
            if not files:
                items.append(Item(str(path), error="folder holds no images or .npy files"))
            items += collect(files, mean, std)
        elif path.suffix == ".npy":
            items += _npy_items(path, mean, std)
        else:
            try:
                pixels = load_image(path)[None]
                items.append(Item(str(path), tensor=normalize_uint8(pixels, layout="NHWC", mean=mean, std=std)[0]))
            except AlexNetEdgeError as exc:
                items.append(Item(str(path), error=str(exc).removeprefix(f"{path}: ")))
    return items


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def classify(runner, inputs: Sequence[Path], *, top_k: int = 1, batch_size: int = 64) -> list[Prediction]:
    """The ``top_k`` classes of every input (image files, folders, .npy batches) with the active ``runner``.

    Args:
        runner: an activated runner (any backend); its metadata gives class names and normalization.
        inputs: files and folders; a folder contributes its images and .npy files (not subfolders).
        top_k: how many classes per input, most probable first.
        batch_size: images per ``infer`` call (at most the runner's ``max_batch``).

    Returns:
        One Prediction per readable image or .npy row, in input order; unreadable inputs and non-finite
        logits get ``error`` instead of classes.
    """
    meta = runner.metadata()
    names = list(meta.get("class_names", CLASS_NAMES))
    items = collect(list(inputs), meta.get("mean", MEAN), meta.get("std", STD))
    probs = _probabilities(runner, items, batch_size)
    predictions = []
    for it in items:
        p = probs.get(id(it))
        if it.error is not None or p is None:
            predictions.append(Prediction(it.path, error=it.error))
            continue
        order = np.argsort(-p)[:top_k]
        top = tuple(ClassScore(names[i], int(i), float(p[i])) for i in order)
        predictions.append(Prediction(it.path, top, latency_ms=it.latency_ms, batch=it.batch))
    return predictions


def _probabilities(runner, items: list, batch_size: int) -> dict[int, np.ndarray]:
    """Class probabilities of every readable input, keyed by ``id(item)``, in batches the runner can take.

    An input whose logits are not finite gets its ``error`` set instead of probabilities.
    """
    good = [it for it in items if it.tensor is not None]
    probs = {}
    for planned in plan_batches(len(good), runner, batch_size):  # a fixed-batch engine gets padded batches
        chunk = good[planned.start : planned.stop]
        started = time.perf_counter()
        logits = runner.infer(pad_batch(np.stack([it.tensor for it in chunk]), planned.padded_size))[: len(chunk)]
        latency_ms = (time.perf_counter() - started) * 1000.0
        for it, p in zip(chunk, softmax(logits.astype(np.float64)), strict=False):
            it.latency_ms, it.batch = latency_ms, len(chunk)
            if np.isfinite(p).all():
                probs[id(it)] = p
            else:
                it.error = "the model returned NaN or infinite logits for this input"
    return probs
