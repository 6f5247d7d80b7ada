"""Typed Results made from seeded logits, without a model: for the tests of what is shown of a Result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alexnet_edge.runtime.bench import summarize
from alexnet_edge.runtime.evaluation import judge
from alexnet_edge.runtime.precision import PrecisionKey, tolerance_for
from alexnet_edge.runtime.results import Result

IMAGES = 400


def reference_logits(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(logits, labels): a confident 10-class reference, 90% of it right."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=IMAGES)
    logits = rng.normal(size=(IMAGES, 10)).astype(np.float32)
    logits[np.arange(IMAGES), labels] += 6.0
    wrong = np.arange(IMAGES) % 10 == 0
    logits[wrong, (labels[wrong] + 1) % 10] += 12.0
    return logits, labels


def make_result(
    backend: str, precision: PrecisionKey, logits: np.ndarray, reference: np.ndarray, labels: np.ndarray, **fields
) -> Result:
    """A Result as the evaluation path makes it; ``backend`` "torch" is the reference row (no tolerance)."""
    tolerance = None if backend == "torch" else tolerance_for(precision, len(labels))
    comparison, reference_accuracy, failures = judge(logits, labels, reference, tolerance, artifact=backend)
    return Result(
        backend=backend,
        device="cpu",
        precision=precision,
        comparison=comparison,
        reference_accuracy=reference_accuracy,
        tolerance=tolerance,
        failures=[str(f) for f in failures],
        **fields,
    )


def timed(*batch_p50_ms: tuple[int, float]) -> dict:
    """``latency=`` for make_result: 20 runs per batch size around each p50."""
    return {b: summarize(b, [p50 * f for f in np.linspace(0.9, 1.1, 21)]) for b, p50 in batch_p50_ms}


@dataclass
class FakeRun:
    """What the drift gate reads of a pipeline run (PipelineResult): rows, labels, logits by Result.key."""

    rows: list[Result]
    labels: np.ndarray
    logits: dict[str, np.ndarray] = field(default_factory=dict)
