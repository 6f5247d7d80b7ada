"""The evaluate stage: every runner (PyTorch, each ONNX model on each CPU backend, the engines) through the one
evaluation path, then timed; the results are the run's rows."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.pipeline.artifacts import Converted, Engines, EvalData, EvaluatedRunners, Reference
from alexnet_edge.export.pipeline.stages import Log
from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.registry import BackendOptions, backend_spec, open_runner
from alexnet_edge.runtime.bench import (
    PIPELINE_TIMING,
    TimingPolicy,
    device_timings,
    measure_latency,
    quiet_idle_threads,
)
from alexnet_edge.runtime.evaluation import evaluate as evaluate_runner
from alexnet_edge.runtime.fidelity import Tolerance
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.results import Result


@dataclass(frozen=True)
class EvaluateOptions:
    """How the evaluate stage judges and times each runner (the pipeline's config fills it)."""

    tolerance: Callable[[Precision, int], Tolerance]  # precision, images -> bounds (the user's overrides in)
    bench: bool = True
    batch_sizes: tuple[int, ...] = (1,)
    bench_budget_s: float = PIPELINE_TIMING.min_seconds  # each figure: at least this many seconds of runs ...
    bench_min_runs: int = PIPELINE_TIMING.min_runs  # ... and this many runs (p90 needs 10, p99 100)
    progress: object = False  # runtime.progress: a bar (True), heartbeat lines (a log function) or nothing

    @property
    def timing(self) -> TimingPolicy:
        return replace(PIPELINE_TIMING, min_runs=self.bench_min_runs, min_seconds=self.bench_budget_s)


def open_runners(
    stack: contextlib.ExitStack,
    torch_runner: TorchRunner,
    converted: Converted,
    engines: Engines,
    *,
    backends: tuple[str, ...] = ("onnxruntime",),
    options: BackendOptions | None = None,
    log: Log | None = None,
) -> list[tuple[BaseRunner, Precision]]:
    """Every runner to evaluate (each ONNX model on each host backend in ``backends``, set by ``options``,
    then the engines on the backend that opens them), each entered on ``stack`` so an error anywhere closes
    them all. A model whose precision a backend does not run (its capabilities) is skipped in one line."""
    runners: list[tuple[BaseRunner, Precision]] = [(torch_runner, Precision.FP32)]
    for backend in backends:
        capabilities = backend_spec(backend).capabilities
        for model in converted.models:
            if not capabilities.runs(model.precision):
                if log is not None:
                    log(f"{backend}: skipping {model.path.name} ({backend} does not run {model.precision.value})")
                continue
            name = f"{backend}:{model.precision.value}"
            runner = open_runner(model.path, backend, name=name, precision=model.precision, options=options)
            quiet_idle_threads(runner)  # timed in turn in one process: no runner's idle threads spin into the next's
            runners.append((stack.enter_context(runner), model.precision))
    for engine in engines.engines:  # by the file: the backend whose suffixes name it
        runners.append((stack.enter_context(open_runner(engine.path, options=options)), engine.precision))
    return runners


def time_row(
    row: Result, runner: BaseRunner, data: EvalData, batch_sizes, timing: TimingPolicy, log: Log | None = None
) -> None:
    """Time ``runner`` alone (bench.measure_latency) on real images, each figure by ``timing``."""
    stats = measure_latency(runner, data.images[:256], batch_sizes=batch_sizes, policy=timing, log=log)
    row.latency = {int(batch): s for batch, s in stats.items()}
    device = device_timings(runner).get("latency_ms_device_p50", {})
    row.device_p50_ms = {int(batch): p50 for batch, p50 in device.items()}


def evaluate_runners(
    runners: list[tuple[BaseRunner, Precision]], data: EvalData, ref: Reference, options: EvaluateOptions, log: Log
) -> EvaluatedRunners:
    """The same comparison for every runner, the PyTorch reference first; then each is timed."""
    evaluated = []
    for runner, precision in runners:
        is_reference = isinstance(runner, TorchRunner)
        tolerance = None if is_reference else options.tolerance(precision, len(data.labels))
        result = evaluate_runner(
            runner,
            precision,
            data.images,
            data.labels,
            ref.logits,
            tolerance,
            logits=ref.logits if is_reference else None,
            progress=options.progress,
        )
        row = result.row
        row.backend_settings = runner.settings().get(row.backend) or {}
        row.weight_bits = _weight_bits(runner, precision)
        if options.bench:
            log(f"timing {runner.name} at batch {', '.join(map(str, options.batch_sizes))}")
            beat = log if options.progress else None
            time_row(row, runner, data, options.batch_sizes, options.timing, log=beat)
        evaluated.append(result)
        log(
            f"{runner.name}: accuracy {100 * row.comparison.accuracy:.2f}%, "
            f"agreement {100 * row.comparison.top1_agreement:.2f}%, max |Δlogit| {row.comparison.max_abs_diff:.3g}"
        )
    return EvaluatedRunners(tuple(evaluated))


def _weight_bits(runner: BaseRunner, precision: Precision) -> int | None:
    """An INT8 row says how many bits its weights use (7 by default: exact int32 sums on every CPU)."""
    if precision is not Precision.INT8:
        return None
    return (runner.metadata().get("int8") or {}).get("weight_bits")
