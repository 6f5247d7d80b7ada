"""Timing a runner: warm-up, then timed calls per batch size until a figure has at least
``min_runs`` runs AND ``min_seconds`` of timed calls; percentiles only where the runs support them.

The one timing path of the project: ``alexnet-bench``, ``make bench`` (benchmarks/*.py) and the
pipeline's rows (export/pipeline/evaluate.py ``time_row``) all call ``measure_latency`` (one runner
at a time) or ``measure_interleaved`` (runners alternated in rounds, so that a machine whose speed
drifts, other jobs on it, hits all of them alike).

- A percentile ``q`` is given only from at least ``ceil(100 / (100 - q))`` runs (p50: 2, p90: 10,
  p99: 100): below that no sample lies beyond it, and the figure would be the maximum under another
  name. ``LatencyStats.omitted`` names what was left out and why.
- The spread is the interquartile range (p25..p75, from at least 4 runs): what ``recommend`` calls a
  tie when two rows' ranges overlap.
- Interleaving onnxruntime sessions whose idle threads spin measures the spinning, not the model
  (measured on a 2-core host: p50 3-64 ms with spinning against 1.4 ms without, issue #28):
  ``measure_interleaved`` opens every runner with ``allow_spinning = False``.

Times are wall-clock around ``runner.infer`` (perf_counter), so for GPU runners they include the
host<->device copies; the TensorRT runner adds device-only CUDA-event timings of its own.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alexnet_edge.runtime.backends.registry import capabilities_of
from alexnet_edge.runtime.batching import describe, runnable_sizes
from alexnet_edge.runtime.constants import CHANNELS, INPUT_SIZE
from alexnet_edge.runtime.errors import InputError, RunnerStateError

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 8, 32, 256)
PERCENTILES: tuple[int, ...] = (50, 90, 99)
SPREAD: tuple[int, int] = (25, 75)
Clock = Callable[[], float]
THROUGHPUT_DEFINITION = "images/s = batch size ÷ p50 latency of one call"


def images_per_s(batch_size: int, p50_ms: float) -> float:
    """THE throughput of the project (console, report.md/json/png, recommendation, alexnet-bench)."""
    return batch_size * 1000.0 / p50_ms


def runs_needed(q: float) -> int:
    """The fewest runs that support percentile ``q``: at least one run must lie above it."""
    return math.ceil(100.0 / (100.0 - q) - 1e-9)


@dataclass(frozen=True)
class TimingPolicy:
    """How long each figure (one runner at one batch size) is timed: ``warmup`` untimed calls, then
    timed calls until there are at least ``min_runs`` of them AND they add up to ``min_seconds``."""

    warmup: int = 3
    min_runs: int = 10
    min_seconds: float = 1.0

    def __post_init__(self):
        if self.warmup < 0 or self.min_runs < 1 or not self.min_seconds >= 0:
            raise InputError(
                f"timing needs warmup >= 0, min_runs >= 1 and min_seconds >= 0; got warmup {self.warmup}, "
                f"min_runs {self.min_runs}, min_seconds {self.min_seconds}"
            )

    def done(self, runs: int, seconds: float) -> bool:
        return runs >= self.min_runs and seconds >= self.min_seconds

    def to_dict(self) -> dict:
        return {"warmup": self.warmup, "min_runs": self.min_runs, "min_seconds": self.min_seconds}


# The pipeline's rows (export-alexnet --bench-min-runs/--bench-seconds): 10 runs give p50 and p90; a fast
# batch gets far more within the second, a slow one (batch 256) at least 10.
PIPELINE_TIMING = TimingPolicy(warmup=3, min_runs=10, min_seconds=1.0)


@dataclass(frozen=True)
class LatencyStats:
    """One figure: ``runs`` timed calls at ``batch_size`` adding up to ``seconds``; milliseconds."""

    batch_size: int
    runs: int
    seconds: float
    percentiles: dict[str, float]  # "p50" -> ms, only those the runs support
    omitted: dict[str, str]  # "p99" -> why it is not given
    mean: float
    spread: tuple[float, float] | None  # p25..p75 ms; None under 4 runs
    throughput: float | None  # images_per_s at the p50; None without a p50

    @property
    def p50(self) -> float | None:
        return self.percentiles.get("p50")

    @property
    def p90(self) -> float | None:
        return self.percentiles.get("p90")

    @property
    def p99(self) -> float | None:
        return self.percentiles.get("p99")

    def to_dict(self) -> dict:
        """A report row's ``latency_ms[batch]``: the percentiles given, mean, runs, seconds, spread, omitted."""
        out: dict = dict(self.percentiles)
        out |= {"mean": self.mean, "runs": self.runs, "seconds": self.seconds}
        if self.spread is not None:
            out["spread_ms"] = list(self.spread)
        if self.omitted:
            out["omitted"] = dict(self.omitted)
        return out

    @classmethod
    def from_dict(cls, batch_size: int, data: dict) -> LatencyStats:
        """Back from ``to_dict`` (or an older row: p50/p90/p99/mean/runs only)."""
        given = {f"p{q}": float(data[f"p{q}"]) for q in PERCENTILES if data.get(f"p{q}") is not None}
        spread = data.get("spread_ms")
        return cls(
            batch_size=batch_size,
            runs=int(data.get("runs", 0)),
            seconds=float(data.get("seconds", math.nan)),
            percentiles=given,
            omitted=dict(data.get("omitted", {})),
            mean=float(data.get("mean", math.nan)),
            spread=None if spread is None else (float(spread[0]), float(spread[1])),
            throughput=None if "p50" not in given else images_per_s(batch_size, given["p50"]),
        )

    def to_json(self) -> dict:
        """``alexnet-bench --json``: each percentile with the number of runs behind it."""
        return {
            "batch_size": self.batch_size,
            "runs": self.runs,
            "seconds": self.seconds,
            "latency_ms": {k: {"value": v, "runs": self.runs} for k, v in self.percentiles.items()},
            "omitted": dict(self.omitted),
            "mean_ms": self.mean,
            "spread_ms": None if self.spread is None else {"p25": self.spread[0], "p75": self.spread[1]},
            "images_per_s": self.throughput,
        }

    def text(self) -> str:
        return figure_text(self.to_json())


def figure_text(figure: dict) -> str:
    """One figure (``LatencyStats.to_json``) as a line: ``p50 1.24 ms (612 runs), ...; p99 not given (...)``."""
    parts = [f"{k} {v['value']:.3g} ms ({v['runs']} runs)" for k, v in figure["latency_ms"].items()]
    parts += [f"{k} not given ({why})" for k, why in figure["omitted"].items()]
    spread = figure.get("spread_ms")
    if spread is not None:
        parts.append(f"p25-p75 {spread['p25']:.3g}-{spread['p75']:.3g} ms")
    if figure.get("images_per_s") is not None:
        parts.append(f"{figure['images_per_s']:.0f} images/s")
    return ", ".join(parts) + f"; {figure['seconds']:.1f} s timed"


def summarize(batch_size: int, samples_ms: Sequence[float]) -> LatencyStats:
    samples = np.asarray(samples_ms, dtype=np.float64)
    runs = len(samples)
    given, omitted = {}, {}
    for q in PERCENTILES:
        if runs >= runs_needed(q):
            given[f"p{q}"] = float(np.percentile(samples, q))
        else:
            omitted[f"p{q}"] = f"needs at least {runs_needed(q)} runs, had {runs}"
    spread = None
    if runs >= runs_needed(SPREAD[1]):
        low, high = np.percentile(samples, SPREAD)
        spread = (float(low), float(high))
    p50 = given.get("p50")
    return LatencyStats(
        batch_size=batch_size,
        runs=runs,
        seconds=float(samples.sum()) / 1000.0,
        percentiles=given,
        omitted=omitted,
        mean=float(samples.mean()) if runs else math.nan,
        spread=spread,
        throughput=None if p50 is None else images_per_s(batch_size, p50),
    )


def _timed(call: Callable[[], object], clock: Clock) -> float:
    t0 = clock()
    call()
    return (clock() - t0) * 1000.0


def time_call(call: Callable[[], object], policy: TimingPolicy, *, clock: Clock = time.perf_counter) -> list[float]:
    """``policy.warmup`` untimed calls, then timed ones until ``policy.done``; milliseconds each."""
    for _ in range(policy.warmup):
        call()
    samples: list[float] = []
    while not policy.done(len(samples), sum(samples) / 1000.0):
        samples.append(_timed(call, clock))
    return samples


def batch_of(images: np.ndarray, batch_size: int) -> np.ndarray:
    """``batch_size`` images, tiling ``images`` if there are fewer; contiguous."""
    reps = -(-batch_size // len(images))
    return np.ascontiguousarray(np.concatenate([images] * reps)[:batch_size] if reps > 1 else images[:batch_size])


def _sizes_for(runner, batch_sizes: Sequence[int]) -> list[int]:
    """The batch sizes ``runner`` takes; one log line naming those it cannot."""
    takes, skipped = runnable_sizes(runner, batch_sizes)
    if skipped:
        logger.info("%s: skipping batch %s (it takes %s)", runner.name, ", ".join(map(str, skipped)), describe(runner))
    return takes


def measure_latency(
    runner,
    images: np.ndarray,
    *,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    policy: TimingPolicy = TimingPolicy(),
    log: Callable[[str], None] | None = None,
    clock: Clock = time.perf_counter,
) -> dict[str, LatencyStats]:
    """One active runner, timed alone, per batch size it takes (others skipped with one log line), on
    ``images`` (tiled if fewer than needed). ``log``, when given, gets one line per batch size as it
    finishes: a piped log is never silent for a whole runner's benchmark."""
    results: dict[str, LatencyStats] = {}
    for size in _sizes_for(runner, batch_sizes):
        batch = batch_of(images, size)
        stats = summarize(size, time_call(lambda b=batch: runner.infer(b), policy, clock=clock))
        results[str(size)] = stats
        if log is not None:
            log(f"  batch {size}: {stats.text()}")
    return results


def measure_interleaved(
    runners: Mapping[str, object],
    images: np.ndarray | Mapping[str, np.ndarray],
    *,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    policy: TimingPolicy = TimingPolicy(),
    calls_per_turn: Callable[[int], int] = lambda size: max(1, 32 // size),
    log: Callable[[str], None] | None = None,
    clock: Clock = time.perf_counter,
) -> dict[tuple[str, int], LatencyStats]:
    """Runners alternated in rounds until every figure meets ``policy``: each round gives every
    (runner, batch size) ``calls_per_turn(size)`` timed calls, after ``policy.warmup`` untimed ones on
    its first turn. ``images``: one array for all, or one per runner name.

    A runner whose idle threads can spin (``allow_spinning``, onnxruntime) must not: one that is not
    active yet gets it turned off and is activated here (and closed at the end); an active one that
    spins is refused."""
    for name, runner in runners.items():
        quiet_idle_threads(runner, name)
    sizes = {name: _sizes_for(runner, batch_sizes) for name, runner in runners.items()}
    samples: dict[tuple[str, int], list[float]] = {(n, s): [] for n in runners for s in sizes[n]}
    with contextlib.ExitStack() as stack:
        for runner in runners.values():
            if not runner.is_active:
                stack.enter_context(runner)
        batches = {
            (name, size): batch_of(images[name] if isinstance(images, Mapping) else images, size)
            for name, size in samples
        }
        rounds = 0
        while not all(policy.done(len(v), sum(v) / 1000.0) for v in samples.values()):
            for (name, size), values in samples.items():
                call = _call_of(runners[name], batches[(name, size)])
                for _ in range(policy.warmup if rounds == 0 else 0):
                    call()
                values += [_timed(call, clock) for _ in range(calls_per_turn(size))]
            rounds += 1
            if log is not None:
                log(f"round {rounds}: at least {min(len(v) for v in samples.values())} runs per figure")
    return {key: summarize(key[1], values) for key, values in samples.items()}


def _call_of(runner, batch: np.ndarray) -> Callable[[], object]:
    return lambda: runner.infer(batch)


def quiet_idle_threads(runner, name: str | None = None) -> None:
    """Turn idle-thread spinning off before ``runner`` opens (a runner whose ``allow_spinning`` is False has nothing
    to turn off); refuse a runner already open with it on. For any process that holds several runners."""
    if not runner.allow_spinning:
        return
    if runner.is_active:
        raise RunnerStateError(
            f"{name or runner.name}: active with idle-spinning threads, which would slow down the runners "
            "interleaved with it; open it with allow_spinning=False"
        )
    runner.allow_spinning = False


def device_timings(runner) -> dict:
    """A report row's addition for a runner that can time execution alone on its device (TensorRT's
    ``device_latency_ms``, CUDA events, no host<->device copies): the p50 at batch 1 and at its largest
    batch (at most 256). Empty for runners whose backend does not declare the ``device_timing``
    capability: their latency is all there is."""
    if not capabilities_of(runner).device_timing:
        return {}
    smallest, largest = runner.min_batch or 1, runner.max_batch or 256
    out = {}
    for n in sorted({1, min(256, largest)}):
        if smallest <= n:
            batch = np.zeros((n, CHANNELS, INPUT_SIZE, INPUT_SIZE), dtype=np.float32)
            out[str(n)] = float(np.percentile(runner.device_latency_ms(batch), 50))
    return {"latency_ms_device_p50": out, "latency_includes_copies": True}
