"""``alexnet-bench``: time any of our artifacts, or any ONNX model with one input, on a chosen backend
(like trtexec, ``benchmark_app -m`` or ``polygraphy run``), through runtime/bench.py.

Prints, per model, backend, thread count and batch size, p50/p90/p99 with the runs behind them (a
percentile the runs cannot support is not given, and the line says so), the spread (p25-p75) and
images/s by the one definition (``bench.THROUGHPUT_DEFINITION``), with the CPU and its load average
before and after. Exit status: 0 measured; 2 bad input or an unusable environment (one ``error:`` line).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from alexnet_edge.runtime.any_model import AnyOnnxRuntimeModel, AnyOpenVINOModel
from alexnet_edge.runtime.backends import registry
from alexnet_edge.runtime.backends.onnxruntime.runner import usable_cpus
from alexnet_edge.runtime.batching import describe
from alexnet_edge.runtime.bench import (
    THROUGHPUT_DEFINITION,
    TimingPolicy,
    figure_text,
    measure_interleaved,
    measure_latency,
    quiet_idle_threads,
)
from alexnet_edge.runtime.cli_support import one_line_errors
from alexnet_edge.runtime.constants import CHANNELS, INPUT_SIZE
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.errors import BackendUnavailableError, InputError, ModelFileError

DEFAULT_RUNS, DEFAULT_SECONDS = 100, 3.0
# Backends that can also time an ONNX model that is not ours (any one input): the runner for it.
ANY_MODEL = {"onnxruntime": AnyOnnxRuntimeModel, "openvino": AnyOpenVINOModel}


def _int_list(value: str, option: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        out = ()
    if not out or min(out) < 1:
        raise InputError(f"{option} takes positive integers separated by commas, got {value!r}")
    return out


@dataclass(frozen=True)
class Setup:
    """One runner to time: a model on a backend, with a thread count where the backend takes one."""

    model: Path
    backend: str
    threads: int | None = None

    @property
    def label(self) -> str:
        return f"{self.model.name} {self.backend}" + (f" threads={self.threads}" if self.threads else "")


def open_runner_for(setup: Setup, *, allow_spinning: bool = True):
    """An active runner: the backend's own for our models and engines (registry.open_runner), else one for
    any ONNX model with one input. ``allow_spinning=False``: no idle-spinning threads (interleaving)."""
    options = registry.BackendOptions.parse([f"{setup.backend}.threads={setup.threads}"] if setup.threads else [])
    candidates = [lambda: registry.open_runner(setup.model, setup.backend, name=setup.label, options=options)]
    if setup.backend in ANY_MODEL:
        candidates.append(lambda: ANY_MODEL[setup.backend](setup.model, threads=setup.threads, name=setup.label))
    for index, make in enumerate(candidates):
        runner = make()
        if not allow_spinning:
            quiet_idle_threads(runner)
        try:
            return runner.activate()
        except ModelFileError:  # not our signature: time it as any model (a missing file fails alike)
            if index == len(candidates) - 1 or not setup.model.is_file():
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def inputs_for(runner, size: int) -> np.ndarray:
    """``size`` random inputs the runner takes (seeded): the model's own input, or ours [N,3,32,32]."""
    if runner.model_input is not None:
        return runner.model_input.random(size)
    return np.random.default_rng(0).standard_normal((size, CHANNELS, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)


def _policy(warmup: int, iterations: int | None, duration: float | None) -> TimingPolicy:
    """--iterations and --duration are both minimums; given one, the other is not; given none, both defaults."""
    if iterations is None and duration is None:
        return TimingPolicy(warmup=warmup, min_runs=DEFAULT_RUNS, min_seconds=DEFAULT_SECONDS)
    return TimingPolicy(warmup=warmup, min_runs=iterations or 1, min_seconds=duration or 0.0)


def _backends(value: str | None, models) -> list[str]:
    """The backends named (each known and installed), or the one the models' file suffix chooses."""
    if value is None:
        chosen = {registry.spec_for_file(m).name for m in models}
        if len(chosen) > 1:
            raise InputError(f"the models need different backends ({', '.join(sorted(chosen))}): name --backend")
        names = sorted(chosen)
    else:
        names = [v.strip() for v in value.split(",") if v.strip()]
    for name in names:
        spec = registry.backend_spec(name)
        if not spec.installed():
            raise BackendUnavailableError(f"{name} not installed: {spec.install_hint()}")
    return names


def _setups(models, backends, thread_counts) -> list[Setup]:
    """Every model on every backend, at every thread count where the backend takes one."""
    out = []
    for model in models:
        for backend in backends:
            takes_threads = any(o.name == "threads" for o in registry.backend_spec(backend).options)
            out += [Setup(model, backend, t) for t in thread_counts] if takes_threads else [Setup(model, backend)]
    return out


def _versions(backends) -> dict[str, str]:
    """Each backend's version, from its module (imported by now: its runners were activated)."""
    out = {}
    for backend in backends:
        module = sys.modules.get(registry.backend_spec(backend).requires[0])
        out[backend] = str(getattr(module, "__version__", "unknown"))
    return out


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--backend",
    "backend",
    default=None,
    metavar="LIST",
    help=f"comma-separated, from {', '.join(registry.names())} [default: by the file: tensorrt for "
    ".engine/.plan/.trt, else onnxruntime]",
)
@click.option("--batch-sizes", default="1", show_default=True, help="comma-separated batch sizes to time")
@click.option(
    "--threads", default=None, metavar="LIST", help="comma-separated CPU thread counts [default: every usable CPU]"
)
@click.option("--warmup", type=click.IntRange(min=0), default=5, show_default=True, help="untimed calls first")
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=None,
    help=f"time each figure for at least this many seconds [default: {DEFAULT_SECONDS:g} with no --iterations]",
)
@click.option(
    "--iterations",
    type=click.IntRange(min=1),
    default=None,
    help=f"time each figure for at least this many runs [default: {DEFAULT_RUNS} with no --duration]",
)
@click.option(
    "--interleave",
    is_flag=True,
    help="alternate the runners in rounds (machine drift hits all alike; onnxruntime threads do not spin idle)",
)
@click.option("--json", "as_json", is_flag=True, help="one JSON object on stdout instead of lines")
@one_line_errors
def main(models, backend, batch_sizes, threads, warmup, duration, iterations, interleave, as_json) -> None:
    """Time MODELS (model.*.onnx, model.*.engine, or any ONNX model with one input) per batch size.

    \b
    Each figure (model, backend, threads, batch size) runs --warmup untimed calls, then timed calls
    until it has at least --iterations runs AND --duration seconds. A percentile is given only from
    enough runs (p50: 2, p90: 10, p99: 100); one left out is named with the reason.
    """
    sizes = _int_list(batch_sizes, "--batch-sizes")
    thread_counts = _int_list(threads, "--threads") if threads else (usable_cpus(),)
    policy = _policy(warmup, iterations, duration)
    setups = list(dict.fromkeys(_setups(models, _backends(backend, models), thread_counts)))  # each once
    report = run(setups, sizes, policy, interleave=interleave)
    if as_json:
        click.echo(json.dumps(report, indent=1))
    else:
        for line in render(report):
            click.echo(line)


def run(setups: list[Setup], sizes, policy: TimingPolicy, *, interleave: bool) -> dict:
    """Time every setup and return the JSON report. One at a time: each runner is opened, timed and closed
    before the next (no idle session beside it); interleaved: all open at once, none spinning idle."""
    load_before = os.getloadavg()
    stats, ranges = {}, {}
    with contextlib.ExitStack() as stack:
        runners = {}
        for setup in setups:
            runner = open_runner_for(setup, allow_spinning=not interleave)
            ranges[setup.label] = describe(runner)
            if not interleave:
                try:
                    batch = inputs_for(runner, max(sizes))
                    figures = measure_latency(
                        runner, batch, batch_sizes=sizes, policy=policy, log=_progress(setup.label)
                    )
                finally:
                    runner.deactivate()
                stats |= {(setup.label, int(size)): figure for size, figure in figures.items()}
                continue
            stack.callback(runner.deactivate)
            runners[setup.label] = runner
        if interleave:
            inputs = {label: inputs_for(r, max(sizes)) for label, r in runners.items()}
            stats = measure_interleaved(runners, inputs, batch_sizes=sizes, policy=policy, log=_progress("interleaved"))
    load_after = os.getloadavg()
    results, skipped = [], []
    for setup in setups:
        where = {"model": str(setup.model), "backend": setup.backend, "threads": setup.threads}
        for size in sizes:
            figure = stats.get((setup.label, size))
            if figure is None:
                skipped.append(where | {"batch_size": size, "reason": f"the runner takes batch {ranges[setup.label]}"})
            else:
                results.append(where | figure.to_json())
    return {
        "cpu": _cpu(),
        "load_average": {"before": list(load_before), "after": list(load_after)},
        "versions": _versions(sorted({s.backend for s in setups})),
        "mode": "interleaved" if interleave else "one runner at a time",
        "policy": policy.to_dict(),
        "throughput_definition": THROUGHPUT_DEFINITION,
        "results": results,
        "skipped": skipped,
    }


def _progress(prefix: str, every_s: float = 10.0):
    """A log function for the timing: one stderr line at most every ``every_s`` seconds (a long run is never
    silent for longer, and a fast one is not flooded)."""
    last = [-every_s]

    def log(line: str) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            click.echo(f"{prefix}: {line.strip()}", err=True)

    return log


def _cpu() -> dict:
    cpu = detect()
    return {"name": cpu.name, "summary": cpu.summary(), "logical_cpus": os.cpu_count(), "usable_cpus": usable_cpus()}


def render(report: dict) -> list[str]:
    """The console lines of a report."""
    load, cpu = report["load_average"], report["cpu"]
    lines = [
        f"CPU: {cpu['name']}, {cpu['usable_cpus']} of {cpu['logical_cpus']} logical CPUs usable; {cpu['summary']}",
        f"load average (1, 5, 15 min): {_load(load['before'])} before, {_load(load['after'])} after"
        + ("; other jobs share this machine: compare figures within one run" if load["before"][0] > 0.5 else ""),
        f"{report['mode']}; " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()),
        f"each figure: {report['policy']['warmup']} warm-up calls, then at least {report['policy']['min_runs']} runs "
        f"and {report['policy']['min_seconds']:g} s; {report['throughput_definition']}",
    ]
    for r in report["results"]:
        lines.append(f"{_where(r)} batch {r['batch_size']}: {figure_text(r)}")
    for s in report["skipped"]:
        lines.append(f"{_where(s)} batch {s['batch_size']}: skipped ({s['reason']})")
    return lines


def _where(figure: dict) -> str:
    return Setup(Path(figure["model"]), figure["backend"], figure["threads"]).label


def _load(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)
