"""The evaluate stage: every runner (PyTorch, each ONNX model on each CPU backend, the engines) through the one
evaluation path, then timed; the results are the run's rows."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.pipeline.artifacts import Converted, Engines, EvalData, EvaluatedRunners, Reference
from alexnet_edge.export.pipeline.stages import Log
from alexnet_edge.runtime.backends import open_runner
from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.bench import device_timings, measure_latency
from alexnet_edge.runtime.compare import Tolerance
from alexnet_edge.runtime.evaluation import Row
from alexnet_edge.runtime.evaluation import evaluate as evaluate_runner
from alexnet_edge.runtime.precision import Precision


@dataclass(frozen=True)
class EvaluateOptions:
    """How the evaluate stage judges and times each runner (the pipeline's config fills it)."""

    tolerance: Callable[[Precision, int], Tolerance]  # precision, images -> bounds (the user's overrides in)
    bench: bool = True
    batch_sizes: tuple[int, ...] = (1,)
    bench_budget_s: float = 1.0
    progress: object = False  # runtime.progress: a bar (True), heartbeat lines (a log function) or nothing


def open_runners(
    stack: contextlib.ExitStack,
    torch_runner: TorchRunner,
    converted: Converted,
    engines: Engines,
    *,
    backends: tuple[str, ...] = ("onnxruntime",),
    ov_precision: str = "f32",
) -> list[tuple[BaseRunner, Precision]]:
    """Every runner to evaluate (each ONNX model on each CPU backend in ``backends``, then the engines),
    each entered on ``stack`` so an error anywhere closes them all."""
    runners: list[tuple[BaseRunner, Precision]] = [(torch_runner, Precision.FP32)]
    for backend in backends:
        for model in converted.models:
            name = f"{backend}:{model.precision.value}"
            runner = open_runner(model.path, backend, name=name, ov_precision=ov_precision, precision=model.precision)
            runners.append((stack.enter_context(runner), model.precision))
    for engine in engines.engines:
        runners.append((stack.enter_context(open_runner(engine.path, "tensorrt")), engine.precision))
    return runners


def time_row(
    row: Row, runner: BaseRunner, data: EvalData, batch_sizes, budget_s: float, log: Log | None = None
) -> None:
    stats = measure_latency(runner, data.images[:256], batch_sizes=batch_sizes, budget_s=budget_s, log=log)
    row.latency_ms = {k: {m: getattr(s, m) for m in ("p50", "p90", "p99", "mean", "runs")} for k, s in stats.items()}
    row.throughput = {k: s.throughput for k, s in stats.items()}
    row.extra.update(device_timings(runner))


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
        row.extra.update(runner.settings() | _weight_bits(runner, precision))
        if options.bench:
            log(f"timing {runner.name} at batch {', '.join(map(str, options.batch_sizes))}")
            beat = log if options.progress else None
            time_row(row, runner, data, options.batch_sizes, options.bench_budget_s, log=beat)
        evaluated.append(result)
        log(
            f"{runner.name}: accuracy {100 * row.accuracy:.2f}%, agreement {100 * row.top1_agreement:.2f}%, "
            f"max |Δlogit| {row.max_abs_diff:.3g}"
        )
    return EvaluatedRunners(tuple(evaluated))


def _weight_bits(runner: BaseRunner, precision: Precision) -> dict:
    """An INT8 row says how many bits its weights use (7 by default: exact int32 sums on every CPU)."""
    if precision is not Precision.INT8:
        return {}
    bits = (runner.metadata().get("int8") or {}).get("weight_bits")
    return {} if bits is None else {"weight_bits": bits}
