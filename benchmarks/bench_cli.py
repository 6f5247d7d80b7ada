"""The pieces both benchmarks share: the data and artifact options, resolved in one place, and the one
interleaved timing (runtime/bench.py ``measure_interleaved``, as ``alexnet-bench --interleave``).

Interleaving runners in one process must not time one runner's idle threads spinning beside another:
``measure_interleaved`` opens every onnxruntime session with ``session.intra_op.allow_spinning=0``, and
PyTorch's OpenMP threads are told to sleep when idle (``OMP_WAIT_POLICY=PASSIVE``, read when libgomp
starts: so set here, before torch is imported) unless the environment says otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.runtime.bench import THROUGHPUT_DEFINITION, TimingPolicy, measure_interleaved

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported (lazily, by the benchmarks)

MODELS = ("model.fp32.onnx", "model.int8.onnx")
BATCHES = (1, 256)


def parser(doc: str) -> argparse.ArgumentParser:
    """--checkpoint, --data-root (both by the ALEXNET_EDGE_DATA convention), --artifacts, --min-runs and
    --min-seconds."""

    out = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=data_paths.EPILOG
    )
    out.add_argument("--checkpoint", type=Path, default=None, help=data_paths.CHECKPOINT_HELP)
    out.add_argument("--data-root", type=Path, default=None, help=data_paths.DATA_ROOT_HELP)
    out.add_argument(
        "--artifacts", type=Path, default=Path("artifacts"), help="folder with model.fp32.onnx and model.int8.onnx"
    )
    out.add_argument("--min-runs", type=int, default=30, help="each figure: at least this many timed runs")
    out.add_argument(
        "--min-seconds", type=float, default=2.0, help="each figure: at least this many seconds of timed runs"
    )
    return out


def interleaved(runners: dict, images: np.ndarray, args: argparse.Namespace) -> dict:
    """Every runner (not yet active) at batch 1 and 256, alternated in rounds (50 calls at batch 1, 5 at 256
    per turn) until each figure has --min-runs runs and --min-seconds seconds: {(name, batch): LatencyStats}."""
    policy = TimingPolicy(warmup=2, min_runs=args.min_runs, min_seconds=args.min_seconds)
    return measure_interleaved(
        runners,
        images,
        batch_sizes=BATCHES,
        policy=policy,
        calls_per_turn=lambda batch: 50 if batch == 1 else 5,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )


def timing_text(stats: dict) -> str:
    """How the figures were timed, for the printed and written results."""
    runs = sorted(s.runs for s in stats.values())
    return (
        f"interleaved, {runs[0]}–{runs[-1]} runs per figure, onnxruntime without idle spinning; {THROUGHPUT_DEFINITION}"
    )


def resolve_data(args: argparse.Namespace) -> bool:
    """Fill in --checkpoint and --data-root; False (after one error line) when neither they nor the default say."""

    try:
        args.checkpoint, args.data_root = data_paths.checkpoint(args.checkpoint), data_paths.data_root(args.data_root)
    except data_paths.DataPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def missing_model(artifacts: Path, hint: str) -> bool:
    """True (after one error line naming the first missing model and ``hint``) when a model is not there."""
    missing = [name for name in MODELS if not (artifacts / name).is_file()]
    if missing:
        print(f"error: {artifacts / missing[0]} is missing: {hint}", file=sys.stderr)
    return bool(missing)
