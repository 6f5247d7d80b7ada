"""One evaluation path: run a runner on labelled images, compare with reference logits, check the
tolerance, and return a typed ``Result`` (runtime/results.py). The pipeline, the bundle's verify.py, the
drift gate and the cross-target run all use it; report.json stores ``Result.to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.compare import Comparison, accuracy, compare
from alexnet_edge.runtime.errors import ToleranceError
from alexnet_edge.runtime.fidelity import Tolerance, check
from alexnet_edge.runtime.precision import PrecisionKey
from alexnet_edge.runtime.results import Result


@dataclass
class Evaluated:
    row: Result
    logits: np.ndarray
    failures: list[ToleranceError]


def judge(
    logits: np.ndarray, labels: np.ndarray, reference: np.ndarray, tolerance: Tolerance | None, *, artifact: str
) -> tuple[Comparison, float, list[ToleranceError]]:
    """The comparison, the reference's own accuracy, and what is beyond ``tolerance`` (None: nothing)."""
    result = compare(logits, reference, labels)
    reference_accuracy = accuracy(reference, labels)
    failures = (
        []
        if tolerance is None
        else check(result, reference_accuracy=reference_accuracy, tolerance=tolerance, artifact=artifact)
    )
    return result, reference_accuracy, failures


def evaluate(
    runner: BaseRunner,
    precision: PrecisionKey,
    images: np.ndarray,
    labels: np.ndarray,
    reference: np.ndarray,
    tolerance: Tolerance | None,
    *,
    logits: np.ndarray | None = None,
    progress=False,
    batch_size: int = 256,
) -> Evaluated:
    """Compare ``runner`` (or the given ``logits``) with ``reference`` on ``labels``; ``tolerance``
    None marks the reference row itself (compared with itself, never failing)."""
    if logits is None:
        logits = runner.infer_many(images, batch_size=batch_size, progress=progress)  # batches it takes
    result, reference_accuracy, failures = judge(logits, labels, reference, tolerance, artifact=runner.name)
    artifact = runner.artifact_path
    row = Result(
        backend=runner.backend,
        device=runner.device,
        precision=precision,
        comparison=result,
        reference_accuracy=reference_accuracy,
        tolerance=tolerance,
        failures=[str(f) for f in failures],
        device_name=runner.device_name(),
        cpu=runner.cpu_features(),
        artifact=None if artifact is None else artifact.name,
        size_mb=None if artifact is None else artifact.stat().st_size / 1e6,
    )
    return Evaluated(row, logits, failures)
