"""Latency benchmark: warm-up, then timed runs per batch size; p50/p90/p99/mean and images/s.

Times are wall-clock around ``runner.infer`` (perf_counter), so for GPU runners they include the
host<->device copies; the TensorRT runner adds device-only CUDA-event timings of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from alexnet_edge.runtime.constants import CHANNELS, INPUT_SIZE

DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 8, 32, 256)


@dataclass(frozen=True)
class LatencyStats:
    batch_size: int
    runs: int
    p50: float  # milliseconds
    p90: float
    p99: float
    mean: float
    throughput: float  # images per second at the mean latency

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(batch_size: int, samples_ms: Sequence[float]) -> LatencyStats:
    samples = np.asarray(samples_ms, dtype=np.float64)
    p50, p90, p99 = np.percentile(samples, [50, 90, 99])
    mean = float(samples.mean())
    return LatencyStats(batch_size, len(samples), float(p50), float(p90), float(p99), mean, batch_size * 1000.0 / mean)


def time_call(call: Callable[[], object], *, warmup: int, min_runs: int, max_runs: int, budget_s: float) -> list[float]:
    """Run ``call`` ``warmup`` times untimed, then at least ``min_runs`` and up to ``max_runs``
    timed runs, stopping once ``budget_s`` seconds of timed runs have passed."""
    for _ in range(warmup):
        call()
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < max_runs:
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000.0)
        if len(samples) >= min_runs and time.perf_counter() - started >= budget_s:
            break
    return samples


def measure_latency(
    runner,
    images: np.ndarray,
    *,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    warmup: int = 3,
    min_runs: int = 5,
    max_runs: int = 200,
    budget_s: float = 1.0,
    log: Callable[[str], None] | None = None,
) -> dict[str, LatencyStats]:
    """Latency of an active runner per batch size, on real images (tiled if fewer than needed).

    ``log``, when given, gets one line per batch size as it finishes: a piped log is never silent
    for a whole runner's benchmark (each batch size takes warm-up + ``budget_s`` or ``min_runs``).
    """
    results: dict[str, LatencyStats] = {}
    for batch_size in batch_sizes:
        reps = -(-batch_size // len(images))
        batch = np.ascontiguousarray(np.concatenate([images] * reps)[:batch_size]) if reps > 1 else images[:batch_size]
        samples = time_call(
            lambda batch=batch: runner.infer(batch),
            warmup=warmup,
            min_runs=min_runs,
            max_runs=max_runs,
            budget_s=budget_s,
        )
        results[str(batch_size)] = summarize(batch_size, samples)
        if log is not None:
            stats = results[str(batch_size)]
            log(f"  batch {batch_size}: p50 {stats.p50:.2f} ms, {stats.throughput:.0f} images/s ({stats.runs} runs)")
    return results


def device_timings(runner) -> dict:
    """A report row's addition for a runner that can time execution alone on its device (TensorRT's
    ``device_latency_ms``, CUDA events, no host<->device copies): the p50 at batch 1 and at its largest
    batch (at most 256). Empty for runners that cannot: their latency is all there is."""
    timer = getattr(runner, "device_latency_ms", None)
    if timer is None:
        return {}
    smallest, largest = runner.min_batch or 1, runner.max_batch or 256
    out = {}
    for n in sorted({1, min(256, largest)}):
        if smallest <= n:
            batch = np.zeros((n, CHANNELS, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
            out[str(n)] = float(np.percentile(timer(batch), 50))
    return {"latency_ms_device_p50": out, "latency_includes_copies": True}
