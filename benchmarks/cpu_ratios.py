"""Speed goals, measured side by side in one run on this machine (never as absolute times).

Needs the artifacts of a pipeline run (``make demo``, or export-alexnet --fp16 --int8); runs the
PyTorch FP32 reference and the onnxruntime FP32/INT8 models in interleaved rounds so drift in the
machine's speed hits all of them alike, then prints the ratios against the goals:

  onnxruntime FP32  >= 1.7x PyTorch images/s at batch 256; p50 at batch 1 <= 0.6x PyTorch's
  onnxruntime INT8  >= 3.5x PyTorch images/s at batch 256; p50 at batch 1 <= 3 ms
  onnxruntime INT8  >= 2.0x onnxruntime FP32 images/s at batch 256

Exit status 1 when any goal is missed (use --no-fail to only report). ``--pipeline`` also times the
whole CPU pipeline (export, simplify, FP16, INT8 calibration, 10,000-image evaluation, benchmark).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import bench_cli
import numpy as np

from alexnet_edge.calibration.cifar10 import load_test
from alexnet_edge.export.model.alexnet import alexnet_cifar10
from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.preprocess import normalize_uint8


def main() -> int:
    parser = bench_cli.parser(__doc__)
    parser.add_argument("--pipeline", action="store_true", help="also time the whole export-alexnet --fp16 --int8 run")
    parser.add_argument("--no-fail", action="store_true")
    args = parser.parse_args()
    if not bench_cli.resolve_data(args):
        return 2
    pipeline_s = _time_pipeline(args) if args.pipeline else None
    if bench_cli.missing_model(args.artifacts, "run `make demo` (or pass --pipeline) first"):
        return 2

    images = normalize_uint8(load_test(args.data_root).images[:256])
    runners = {
        "torch fp32": TorchRunner(alexnet_cifar10(weights=args.checkpoint)),
        "onnxruntime fp32": OnnxRuntimeRunner(args.artifacts / "model.fp32.onnx"),
        "onnxruntime int8": OnnxRuntimeRunner(args.artifacts / "model.int8.onnx"),
    }
    stats = bench_cli.interleaved(runners, images, args)
    print(bench_cli.timing_text(stats))

    print(f"{'runner':<20} {'p50 ms @1':>10} {'images/s @256':>14}")
    for name in runners:
        print(f"{name:<20} {stats[(name, 1)].p50:>10.2f} {stats[(name, 256)].throughput:>14.0f}")
    missed = 0
    print()
    for label, value, op, target in _goals(stats, pipeline_s):
        ok = value >= target if op == ">=" else value <= target
        missed += not ok
        print(f"{label:<45} {value:8.2f}  goal {op} {target:<5}  {'PASS' if ok else 'MISS'}")
    return 1 if missed and not args.no_fail else 0


def _time_pipeline(args) -> float:
    """Seconds of one whole export-alexnet --fp16 --int8 run into --artifacts."""
    started = time.perf_counter()
    command = [str(Path(sys.executable).parent / "export-alexnet")]
    command += ["--checkpoint", str(args.checkpoint), "--data-root", str(args.data_root), "--out", str(args.artifacts)]
    subprocess.run([*command, "--fp16", "--int8", "--quiet"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _goals(stats: dict, pipeline_s: float | None) -> list[tuple[str, float, str, float]]:
    """(label, measured, ">=" or "<=", goal) for each speed goal of the module docstring."""
    torch_tp, torch_p50 = stats[("torch fp32", 256)].throughput, stats[("torch fp32", 1)].p50
    ort_fp32_tp, ort_int8_tp = stats[("onnxruntime fp32", 256)].throughput, stats[("onnxruntime int8", 256)].throughput
    goals = [
        ("onnxruntime fp32 images/s @256 vs torch", ort_fp32_tp / torch_tp, ">=", 1.7),
        ("onnxruntime fp32 p50 @1 vs torch", stats[("onnxruntime fp32", 1)].p50 / torch_p50, "<=", 0.6),
        ("onnxruntime int8 images/s @256 vs torch", ort_int8_tp / torch_tp, ">=", 3.5),
        ("onnxruntime int8 images/s @256 vs ort fp32", ort_int8_tp / ort_fp32_tp, ">=", 2.0),
        ("onnxruntime int8 p50 @1 (ms)", stats[("onnxruntime int8", 1)].p50, "<=", 3.0),
    ]
    if pipeline_s is not None:
        goals.append(("whole CPU pipeline (s)", pipeline_s, "<=", 180.0))
    return goals


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
