"""Output comparison against the PyTorch FP32 reference: the figures. The bounds they are judged by live in
runtime/fidelity.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from alexnet_edge.runtime.constants import NUM_CLASSES
from alexnet_edge.runtime.errors import AlexNetEdgeError


@dataclass(frozen=True)
class Comparison:
    images: int
    accuracy: float
    per_class_accuracy: list[float]
    top1_agreement: float
    max_abs_diff: float
    mean_abs_diff: float
    cosine_similarity: float  # mean over images of cos(logits, reference logits)
    max_rel_diff: float = 0.0  # max over images of max|Δlogit| / max|reference logit|
    non_finite: int = 0  # NaN or infinite logits: always a failure (NaN compares false with every bound)
    # Images whose top-1 differs from the reference's, counted by the reference's top-1 margin (its top-1
    # minus its top-2 logit; bands of MARGIN_BANDS), and the largest such margin (0.0: no flip). A flip on
    # a near tie means nothing; a flip the reference was sure of is a bug (docs/precision.md).
    flips_by_margin: dict[str, int] = field(default_factory=dict)
    max_flipped_margin: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(1) == labels).mean())


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray) -> list[float]:
    predictions = logits.argmax(1)
    return [
        float((predictions[labels == c] == c).mean()) if np.any(labels == c) else float("nan")
        for c in range(NUM_CLASSES)
    ]


# Upper edges (logits) of the reference-margin bands that flips are counted in; the last band is open.
MARGIN_BANDS = (0.5, 1.0, 2.0, 4.0)


def margin_band_names(edges: tuple[float, ...] = MARGIN_BANDS) -> list[str]:
    lows = (0.0, *edges)
    return [f"{lo:g}-{hi:g}" for lo, hi in zip(lows, edges, strict=False)] + [f">={edges[-1]:g}"]


def top1_margins(logits: np.ndarray) -> np.ndarray:
    """Per image: the top-1 logit minus the top-2 logit (>= 0)."""
    top2 = np.sort(logits.astype(np.float64), axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def flipped_margins(logits: np.ndarray, reference: np.ndarray) -> tuple[dict[str, int], float]:
    """Flips (top-1 differs from the reference's) per band of the reference's margin, and the largest."""
    flipped = top1_margins(reference)[logits.argmax(1) != reference.argmax(1)]
    counts = np.bincount(np.searchsorted(MARGIN_BANDS, flipped, side="right"), minlength=len(MARGIN_BANDS) + 1)
    return dict(zip(margin_band_names(), (int(c) for c in counts), strict=True)), float(flipped.max(initial=0.0))


@dataclass(frozen=True)
class TensorDiff:
    """Two whole tensors (any shape) compared as flat vectors: alexnet-debug's per-layer figures."""

    cosine: float
    max_abs_diff: float
    mean_abs_diff: float
    relative_error: float  # ||a - b|| / ||b||


def tensor_diff(a: np.ndarray, b: np.ndarray) -> TensorDiff:
    """``a`` against the reference ``b`` (same shape), in float64."""
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    delta, norm_y = x - y, float(np.linalg.norm(y))
    return TensorDiff(
        cosine=float(x @ y / max(float(np.linalg.norm(x)) * norm_y, 1e-30)),
        max_abs_diff=float(np.abs(delta).max(initial=0.0)),
        mean_abs_diff=float(np.abs(delta).mean()) if delta.size else 0.0,
        relative_error=float(np.linalg.norm(delta) / max(norm_y, 1e-30)),
    )


def flips_text(flips_by_margin: dict[str, int]) -> str:
    """Flips per band of the reference's top-1 margin, only the bands that have any: ``2 (0-0.5), 1 (0.5-1)``."""
    return ", ".join(f"{n} ({band})" for band, n in (flips_by_margin or {}).items() if n) or "none"


def compare(logits: np.ndarray, reference: np.ndarray, labels: np.ndarray) -> Comparison:
    if logits.shape != reference.shape or len(labels) != len(logits):
        raise AlexNetEdgeError(
            f"cannot compare logits {list(logits.shape)} with reference {list(reference.shape)} "
            f"and {len(labels)} labels"
        )
    a = logits.astype(np.float64)
    b = reference.astype(np.float64)
    diff = np.abs(a - b)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cosine = np.sum(a * b, axis=1) / np.maximum(norms, 1e-30)
    relative = diff.max(axis=1) / np.maximum(np.abs(b).max(axis=1), 1e-30)
    flips_by_margin, max_flipped_margin = flipped_margins(a, b)
    return Comparison(
        images=len(labels),
        accuracy=accuracy(logits, labels),
        per_class_accuracy=per_class_accuracy(logits, labels),
        top1_agreement=float((logits.argmax(1) == reference.argmax(1)).mean()),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        cosine_similarity=float(cosine.mean()),
        max_rel_diff=float(relative.max()),
        non_finite=int((~np.isfinite(a)).sum()),
        flips_by_margin=flips_by_margin,
        max_flipped_margin=max_flipped_margin,
    )
