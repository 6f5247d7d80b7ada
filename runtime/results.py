"""One result type for every figure the project reports, and the one list of metrics that lays them out.

A ``Result`` is one model (or the PyTorch reference) run by one backend on one device at one precision and
compared with the PyTorch FP32 reference on the same labelled images: the pipeline's report rows, the bundle's
verify.py lines, the drift gate's figures and alexnet-targets' rows are all Results. ``METRICS`` says what of a
Result is shown where: each ``Metric`` names its report.json key, its column header, its format and unit, the
tables (``View``) that show it and the drift rule (runtime/fidelity.py) that watches it. report.md, report.json,
the drift figures, verify.py's lines and targets.md are built from it, so a new figure is one more entry here.

Throughput has one definition everywhere: ``bench.images_per_s`` (batch size / p50 latency of one call).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from alexnet_edge.runtime.bench import LatencyStats, images_per_s
from alexnet_edge.runtime.compare import Comparison, flips_text
from alexnet_edge.runtime.constants import NUM_CLASSES
from alexnet_edge.runtime.fidelity import Tolerance
from alexnet_edge.runtime.precision import PrecisionKey, parse_precision


@dataclass(frozen=True)
class TargetRun:
    """What a cross-target run (alexnet-targets) adds to a Result: where it ran and how it compares with the host."""

    label: str  # "host", "x86-avx2", "aarch64@1.23.2", "host (openvino)"
    runtime: str  # the target's onnxruntime version ("openvino 2025.3 (f32)" for the host's OpenVINO row)
    seconds: float  # wall time of the run: what emulation cost, nothing about the target's speed
    cpu: str  # the target's int8 path, or the last features numpy saw under emulation
    vs_host: Comparison  # against the host's own run of the same model on the same images
    host_accuracy: float
    died: str | None = None  # how the guest died (no figures then: every one is NaN)

    @property
    def accuracy_delta(self) -> float:
        """This target's accuracy minus the host's, same model and images."""
        return self.vs_host.accuracy - self.host_accuracy


def unmeasured(images: int) -> Comparison:
    """The comparison of a run that gave no logits (a guest that died): every figure NaN, shown as "–"."""
    nan = float("nan")
    return Comparison(
        images=images,
        accuracy=nan,
        per_class_accuracy=[nan] * NUM_CLASSES,
        top1_agreement=nan,
        max_abs_diff=nan,
        mean_abs_diff=nan,
        cosine_similarity=nan,
        max_rel_diff=nan,
        max_flipped_margin=nan,
    )


@dataclass
class Result:
    """One runner's figures against the PyTorch FP32 reference; ``tolerance`` None: this row is the reference."""

    backend: str  # the registered backend's name (runtime/backends/registry.py); "torch" for the reference
    device: str
    precision: PrecisionKey
    comparison: Comparison
    reference_accuracy: float
    tolerance: Tolerance | None
    failures: list[str] = field(default_factory=list)
    device_name: str = ""
    cpu: dict | None = None  # cpu_features().to_dict() where the runner computes on the host CPU
    artifact: str | None = None  # the model file's name
    size_mb: float | None = None
    latency: dict[int, LatencyStats] = field(default_factory=dict)  # batch size -> timings; empty: not timed
    device_p50_ms: dict[int, float] = field(default_factory=dict)  # device-only p50 (TensorRT: no copies)
    weight_bits: int | None = None  # a quantized model: bits its weights use (INT8 7: exact int32 sums on every CPU)
    backend_settings: dict = field(default_factory=dict)  # how the runner computes (runner.settings(): OpenVINO's)
    target: TargetRun | None = None

    @property
    def key(self) -> str:
        """ "backend/device/precision": the drift gate's figure prefix and the logits' key, built only here."""
        return f"{self.backend}/{self.device}/{self.precision.value}"

    def figure(self, *parts: str) -> str:
        """A drift figure's name: the key, then the metric (and its detail)."""
        return "/".join((self.key, *parts))

    @property
    def is_reference(self) -> bool:
        return self.tolerance is None

    @property
    def within_tolerance(self) -> bool:
        return not self.failures

    @property
    def accuracy_delta(self) -> float:
        return self.comparison.accuracy - self.reference_accuracy

    def p50_ms(self, batch_size: int) -> float | None:
        stats = self.latency.get(batch_size)
        return None if stats is None else stats.p50

    def images_per_s(self, batch_size: int) -> float | None:
        p50 = self.p50_ms(batch_size)
        return None if not p50 else images_per_s(batch_size, p50)

    def to_dict(self) -> dict[str, Any]:
        """report.json's row: the schema of before (identity, the comparison's fields, tolerance, timings),
        plus one key per metric that has a value here."""
        out = {
            "backend": self.backend,
            "device": self.device,
            "device_name": self.device_name,
            "cpu": self.cpu,
            "precision": self.precision.value,
            "artifact": self.artifact,
            "size_mb": self.size_mb,
            **self.comparison.to_dict(),
            "accuracy_delta": self.accuracy_delta,
            "tolerance": None if self.tolerance is None else asdict(self.tolerance),
            "within_tolerance": self.within_tolerance,
            "failures": list(self.failures),
        }
        if self.latency:
            out["latency_ms"] = {str(b): s.to_dict() for b, s in sorted(self.latency.items())}
            out["throughput"] = {str(b): self.images_per_s(b) for b in sorted(self.latency)}
        if self.device_p50_ms:
            out["latency_ms_device_p50"] = {str(b): v for b, v in sorted(self.device_p50_ms.items())}
            out["latency_includes_copies"] = True
        if self.weight_bits is not None:
            out["weight_bits"] = self.weight_bits
        if self.backend_settings:
            out[self.backend] = dict(self.backend_settings)
        if self.target is not None:
            out["target"] = asdict(self.target)
        for metric in METRICS:
            value = metric.value(self)
            if metric.name not in out and value is not None:
                out[metric.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        """A row of report.json (or targets.json) back as a Result; the metric keys are derived, not read."""
        target = data.get("target")
        return cls(
            backend=data["backend"],
            device=data["device"],
            precision=parse_precision(data["precision"]),
            comparison=_comparison(data),
            reference_accuracy=data["accuracy"] - data.get("accuracy_delta", 0.0),
            tolerance=_tolerance(data.get("tolerance")),
            failures=list(data.get("failures", [])),
            device_name=data.get("device_name", ""),
            cpu=data.get("cpu"),
            artifact=data.get("artifact"),
            size_mb=data.get("size_mb"),
            latency={int(b): LatencyStats.from_dict(int(b), e) for b, e in (data.get("latency_ms") or {}).items()},
            device_p50_ms={int(b): v for b, v in (data.get("latency_ms_device_p50") or {}).items()},
            weight_bits=data.get("weight_bits"),
            backend_settings=dict(data.get(data["backend"]) or {}),
            target=None if target is None else TargetRun(**{**target, "vs_host": _comparison(target["vs_host"])}),
        )


def _comparison(data: dict) -> Comparison:
    names = {f.name for f in fields(Comparison)}
    return Comparison(**{k: v for k, v in data.items() if k in names})


def _tolerance(data: dict | None) -> Tolerance | None:
    """report.json writes an unbounded figure (inf) as null (strict JSON)."""
    if data is None:
        return None
    names = {f.name for f in fields(Tolerance)}
    return Tolerance(**{k: math.inf if v is None else v for k, v in data.items() if k in names})


# -- what is shown of a Result, and where -------------------------------------------------------------------
class View(Enum):
    REPORT = "report.md"  # the report's table, one row per Result
    VERIFY = "verify.py"  # the bundle's verify.py, one line per model
    TARGETS = "targets.md"  # alexnet-targets' table, one row per (target, model)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Metric:
    """One figure of a Result: how to read it, how to show it, where, and which drift rule watches it."""

    name: str  # report.json's key and the drift figure's last part
    header: str  # the column header (and the label on verify.py's line)
    read: Callable[[Result], Any]
    spec: str = ".3g"  # format() spec of value * scale
    scale: float = 1.0
    unit: str = ""
    views: frozenset[View] = frozenset()
    drift: str | None = None  # the drift rule's name in runtime/fidelity.py; None: the gate does not watch it
    drift_on_reference: bool = False  # watched on the reference row too (agreement with itself is not a figure)
    show: Callable[[Result, Any], str] | None = None  # the text where spec/scale/unit cannot say it

    def value(self, result: Result) -> Any:
        value = self.read(result)
        return None if _missing(value) else value

    def text(self, result: Result, missing: str = "–") -> str:
        value = self.read(result)
        if _missing(value):
            return missing
        if self.show:
            return self.show(result, value)
        return format(value if self.scale == 1 else value * self.scale, self.spec) + self.unit


def _max_abs_diff_text(result: Result, value: float) -> str:
    """max |Δlogit|, saying so when the row's tolerance sets no bound on it (INT8 by default)."""
    bounded = result.tolerance is None or math.isfinite(result.tolerance.max_abs_diff)
    return f"{value:.3g}" + ("" if bounded else " (not bounded)")


def _flips(result: Result) -> dict[str, int] | None:
    return None if math.isnan(result.comparison.accuracy) else result.comparison.flips_by_margin


def _on_target(read: Callable[[TargetRun], float]) -> Callable[[Result], float | None]:
    return lambda r: None if r.target is None else read(r.target)


_ALL = frozenset(View)
_REPORT, _VERIFY, _TARGETS = frozenset({View.REPORT}), frozenset({View.VERIFY}), frozenset({View.TARGETS})
THROUGHPUT_BATCH = 256  # the batch size of the report's images/s column

# In column order. A new figure is one more entry: report.md, report.json, the drift figures (with a drift rule),
# verify.py's lines and targets.md show it from here.
METRICS: tuple[Metric, ...] = (
    Metric("size_mb", "size MB", lambda r: r.size_mb, spec=".1f", views=_REPORT),
    Metric("images", "images", lambda r: r.comparison.images, spec="d", views=_TARGETS),
    Metric(
        "accuracy",
        "accuracy",
        lambda r: r.comparison.accuracy,
        spec=".2f",
        scale=100,
        unit="%",
        views=_ALL,
        drift="accuracy",
        drift_on_reference=True,
    ),
    Metric(
        "accuracy_delta", "Δ vs FP32", lambda r: r.accuracy_delta, spec="+.2f", scale=100, unit=" pt", views=_REPORT
    ),
    Metric(
        "top1_agreement",
        "top-1 agreement",
        lambda r: r.comparison.top1_agreement,
        spec=".2f",
        scale=100,
        unit="%",
        views=_ALL,
        drift="top1_agreement",
    ),
    Metric(
        "max_abs_diff",
        "max |Δlogit|",
        lambda r: r.comparison.max_abs_diff,
        views=_REPORT | _VERIFY,
        drift="max_abs_diff",
        show=_max_abs_diff_text,
    ),
    Metric("mean_abs_diff", "mean |Δlogit|", lambda r: r.comparison.mean_abs_diff, spec=".3g", drift="mean_abs_diff"),
    Metric(
        "flips_by_margin",
        "flips by reference's top-1 margin",
        _flips,
        views=_REPORT | _TARGETS,
        show=lambda r, flips: flips_text(flips),
    ),
    Metric(
        "max_flipped_margin",
        "max flipped margin",
        lambda r: r.comparison.max_flipped_margin,
        spec=".2f",
        views=_REPORT | _TARGETS,
        drift="max_flipped_margin",
    ),
    Metric("p50_ms@1", "p50 ms @1", lambda r: r.p50_ms(1), spec=".2f", views=_REPORT | _VERIFY),
    Metric("p50_ms@32", "p50 ms @32", lambda r: r.p50_ms(32), spec=".2f", views=_VERIFY),
    Metric(
        f"images_per_s@{THROUGHPUT_BATCH}",
        f"images/s @{THROUGHPUT_BATCH}",
        lambda r: r.images_per_s(THROUGHPUT_BATCH),
        spec=".0f",
        views=_REPORT,
    ),
    Metric(
        "accuracy_delta_vs_host",
        "Δ accuracy vs host",
        _on_target(lambda t: t.accuracy_delta),
        spec="+.2f",
        scale=100,
        unit=" pt",
        views=_TARGETS,
    ),
    Metric(
        "agreement_vs_host",
        "agreement vs host",
        _on_target(lambda t: t.vs_host.top1_agreement),
        spec=".2f",
        scale=100,
        unit="%",
        views=_TARGETS,
    ),
    Metric(
        "max_abs_diff_vs_host", "max |Δlogit| vs host", _on_target(lambda t: t.vs_host.max_abs_diff), views=_TARGETS
    ),
    Metric("seconds", "wall s", _on_target(lambda t: t.seconds), spec=".0f", views=_TARGETS),
)


def metrics(view: View) -> tuple[Metric, ...]:
    """The metrics ``view`` shows, in METRICS' order."""
    return tuple(m for m in METRICS if view in m.views)


def drift_metrics() -> tuple[Metric, ...]:
    """The metrics the drift gate watches (those naming a drift rule), in METRICS' order."""
    return tuple(m for m in METRICS if m.drift)
