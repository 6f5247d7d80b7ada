"""The evaluate stage: every runner (PyTorch, each ONNX model on each CPU backend, the engines) through the one
evaluation path, then timed; the results are the run's rows."""

from __future__ import annotations

import contextlib

from alexnet_edge.runtime.backends import open_runner
from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.bench import measure_latency
from alexnet_edge.runtime.evaluation import Row
from alexnet_edge.runtime.evaluation import evaluate as evaluate_runner
from alexnet_edge.runtime.precision import Precision

from .stages import EvalData, Evaluation, Exported, Log, Reference
from .torch_runner import TorchRunner


def open_runners(
    stack: contextlib.ExitStack,
    torch_runner: TorchRunner,
    exported: Exported,
    *,
    backends: tuple[str, ...] = ("onnxruntime",),
    ov_precision: str = "f32",
) -> list[tuple[BaseRunner, Precision]]:
    """Every runner to evaluate (each ONNX model on each CPU backend in ``backends``, then the engines),
    each entered on ``stack`` so an error anywhere closes them all."""
    runners: list[tuple[BaseRunner, Precision]] = [(torch_runner, Precision.FP32)]
    for backend in backends:
        for precision, path in exported.models.items():
            runner = open_runner(path, backend, name=f"{backend}:{precision.value}", ov_precision=ov_precision)
            runners.append((stack.enter_context(runner), precision))
    for path in (p for p in exported.engines if p.suffix == ".engine"):
        runners.append((stack.enter_context(open_runner(path, "tensorrt")), Precision.parse(path.name.split(".")[1])))
    return runners


def time_row(
    row: Row, runner: BaseRunner, data: EvalData, batch_sizes, budget_s: float, log: Log | None = None
) -> None:
    stats = measure_latency(runner, data.images[:256], batch_sizes=batch_sizes, budget_s=budget_s, log=log)
    row.latency_ms = {k: {m: getattr(s, m) for m in ("p50", "p90", "p99", "mean", "runs")} for k, s in stats.items()}
    row.throughput = {k: s.throughput for k, s in stats.items()}
    row.extra.update(runner.extra_timings())


def evaluate(
    config, runners: list[tuple[BaseRunner, Precision]], data: EvalData, ref: Reference, log: Log
) -> Evaluation:
    """The same comparison for every runner, the PyTorch reference first."""
    evaluation = Evaluation([])
    for runner, precision in runners:
        is_reference = isinstance(runner, TorchRunner)
        tolerance = None if is_reference else config.tolerance(precision, len(data.labels))
        evaluated = evaluate_runner(
            runner,
            precision,
            data.images,
            data.labels,
            ref.logits,
            tolerance,
            logits=ref.logits if is_reference else None,
            progress=config.progress_sink(log),
        )
        row = evaluated.row
        row.extra.update(runner.settings() | _weight_bits(runner, precision))
        if config.bench:
            log(f"timing {runner.name} at batch {', '.join(map(str, config.batch_sizes))}")
            time_row(
                row,
                runner,
                data,
                config.batch_sizes,
                config.bench_budget_s,
                log=log if config.progress_sink(log) else None,
            )
        evaluation.evaluated.append(evaluated)
        log(
            f"{runner.name}: accuracy {100 * row.accuracy:.2f}%, agreement {100 * row.top1_agreement:.2f}%, "
            f"max |Δlogit| {row.max_abs_diff:.3g}"
        )
    return evaluation


def _weight_bits(runner: BaseRunner, precision: Precision) -> dict:
    """An INT8 row says how many bits its weights use (7 by default: exact int32 sums on every CPU)."""
    if precision is not Precision.INT8:
        return {}
    bits = (runner.metadata().get("int8") or {}).get("weight_bits")
    return {} if bits is None else {"weight_bits": bits}
