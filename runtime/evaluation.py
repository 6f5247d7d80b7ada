"""One evaluation path: run a runner on labelled images, compare with reference logits, check the
tolerance, and return a typed row. The pipeline, the bundle's verify.py, the drift gate and the
cross-target run all use it; report.json stores ``Row.to_dict()`` (the schema only gains fields: the
flipped-margin figures ``flips_by_margin`` and ``max_flipped_margin`` of compare.Comparison).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.compare import Comparison, Tolerance, accuracy, check, compare
from alexnet_edge.runtime.errors import ToleranceError
from alexnet_edge.runtime.precision import Precision

_IDENTITY = ("backend", "device", "device_name", "cpu", "precision", "artifact", "size_mb")
_TIMING = ("latency_ms", "throughput")


@dataclass
class Row:
    backend: str
    device: str
    device_name: str
    cpu: dict | None
    precision: str
    artifact: str | None
    size_mb: float | None
    comparison: Comparison
    accuracy_delta: float
    tolerance: dict | None  # None: this row is the reference itself
    failures: list[str] = field(default_factory=list)
    latency_ms: dict | None = None  # batch size -> {p50, p90, p99, mean}; None when not timed
    throughput: dict | None = None
    extra: dict = field(default_factory=dict)  # runner-specific timings (TensorRT device-only p50, ...)

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.device}/{self.precision}"

    @property
    def within_tolerance(self) -> bool:
        return not self.failures

    def __getattr__(self, name: str):  # row.accuracy, row.top1_agreement, ... read through to the comparison
        if name != "comparison" and name in {f.name for f in fields(Comparison)}:
            return getattr(self.comparison, name)
        raise AttributeError(name)

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in _IDENTITY}
        out |= {
            **self.comparison.to_dict(),
            "accuracy_delta": self.accuracy_delta,
            "tolerance": self.tolerance,
            "within_tolerance": self.within_tolerance,
            "failures": list(self.failures),
        }
        out |= {name: getattr(self, name) for name in _TIMING if getattr(self, name) is not None}
        return out | self.extra

    @classmethod
    def from_dict(cls, data: dict) -> Row:
        comparison_fields = {f.name for f in fields(Comparison)}
        known = (
            set(_IDENTITY)
            | comparison_fields
            | set(_TIMING)
            | {"accuracy_delta", "tolerance", "within_tolerance", "failures"}
        )
        return cls(
            **{name: data.get(name) for name in _IDENTITY},
            comparison=Comparison(**{k: v for k, v in data.items() if k in comparison_fields}),
            accuracy_delta=data["accuracy_delta"],
            tolerance=data.get("tolerance"),
            failures=list(data.get("failures", [])),
            latency_ms=data.get("latency_ms"),
            throughput=data.get("throughput"),
            extra={k: v for k, v in data.items() if k not in known},
        )


@dataclass
class Evaluated:
    row: Row
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
    precision: Precision,
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
        logits = runner.infer_many(
            images, batch_size=min(batch_size, runner.max_batch or batch_size), progress=progress
        )
    result, reference_accuracy, failures = judge(logits, labels, reference, tolerance, artifact=runner.name)
    artifact = runner.artifact_path
    row = Row(
        backend=runner.backend,
        device=runner.device,
        device_name=runner.device_name(),
        cpu=runner.cpu_features(),
        precision=precision.value,
        artifact=None if artifact is None else artifact.name,
        size_mb=None if artifact is None else artifact.stat().st_size / 1e6,
        comparison=result,
        accuracy_delta=result.accuracy - reference_accuracy,
        tolerance=None if tolerance is None else asdict(tolerance),
        failures=[str(f) for f in failures],
    )
    return Evaluated(row, logits, failures)
