"""Which batches a runner can take, and how a run over N images is cut into them.

A runner declares the batch sizes one ``infer`` call takes through ``min_batch`` / ``max_batch`` (None:
1 / no limit): a TensorRT engine takes its optimization profile's range, and a DLA engine exactly one
size (NVIDIA's DLA layer restrictions: "min, max, and opt values must be equal"). Every caller that
runs many images (evaluation, the bundle's verification, the benchmark) plans its batches here: the
images are cut into chunks the runner takes, a short last chunk is padded up to the smallest size the
runner takes (by repeating its last image), and the padding's logits are dropped.

A "capability" is anything with ``min_batch`` and ``max_batch`` attributes: a runner, or a backend's
declared capabilities.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from alexnet_edge.runtime.errors import InputError


class Batch(NamedTuple):
    """Images ``start:stop`` run as one ``infer`` call of ``padded_size`` (>= stop - start) images."""

    start: int
    stop: int
    padded_size: int


def batch_range(capability) -> tuple[int, int | None]:
    """(smallest, largest) batch one ``infer`` call takes; largest None: no limit."""
    low, high = capability.min_batch or 1, capability.max_batch
    if high is not None and high < low:
        raise InputError(f"batch range [{low}, {high}] is empty: min_batch is above max_batch")
    return low, high


def describe(capability) -> str:
    """``32..32`` or ``1..any``: the range as a log line says it."""
    low, high = batch_range(capability)
    return f"{low}..{'any' if high is None else high}"


def supports_batch(capability, size: int) -> bool:
    """Whether one ``infer`` call of ``size`` images is within the capability's range."""
    low, high = batch_range(capability)
    return low <= size and (high is None or size <= high)


def runnable_sizes(capability, sizes: Iterable[int]) -> tuple[list[int], list[int]]:
    """(the sizes the capability takes, the sizes it cannot), each in the given order."""
    sizes = list(sizes)
    return [s for s in sizes if supports_batch(capability, s)], [s for s in sizes if not supports_batch(capability, s)]


def plan_batches(n_images: int, capability, batch_size: int = 256) -> list[Batch]:
    """Cut ``n_images`` into batches of ``batch_size`` clamped into the capability's range; the last
    batch, when shorter than the smallest size it takes, is padded up to that size."""
    if batch_size < 1 or n_images < 0:
        raise InputError(f"cannot plan {n_images} images in batches of {batch_size}")
    low, high = batch_range(capability)
    step = max(batch_size, low) if high is None else min(max(batch_size, low), high)
    batches = []
    for start in range(0, n_images, step):
        stop = min(start + step, n_images)
        batches.append(Batch(start, stop, max(stop - start, low)))
    return batches


def pad_batch(images: np.ndarray, padded_size: int) -> np.ndarray:
    """``images`` followed by copies of its last image, ``padded_size`` rows in all."""
    missing = padded_size - len(images)
    if missing <= 0:
        return images
    return np.ascontiguousarray(np.concatenate([images, np.repeat(images[-1:], missing, axis=0)]))
