"""Run ONNX models on a prepared image array and save every graph output: the part of a cross-target
run that executes on the target CPU (natively, or under qemu), so it needs only numpy and onnxruntime.
This is the guest's command line: its progress lines go to stderr, which the host forwards.

    python -m alexnet_edge.runtime.target_eval --images images.npy --out DIR [--threads 1] \\
        model.int8.onnx:400 model.fp32.onnx:100

Each ``MODEL:N`` runs on the first N images and writes ``DIR/<model file stem>.npz`` (one array per
graph output). ``DIR/cpu.json`` records what the CPU offers, as the OS and as numpy's own CPUID probe
see it: under qemu-user the OS's /proc/cpuinfo may describe the host, while CPUID is the emulated CPU's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.errors import AlexNetEdgeError

CHUNK = 5  # images per call: small, so that progress shows often even under emulation (FP16: 6 s an image)
PROGRESS_EVERY_S = 10.0


def numpy_cpu_features() -> list[str]:
    """The CPU features numpy's dispatcher found (CPUID on x86, HWCAP on ARM)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return sorted(name for name, present in __cpu_features__.items() if present)


def cpu_record() -> dict[str, object]:
    import onnxruntime

    return {
        "os": detect().to_dict(),
        "numpy_features": numpy_cpu_features(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }


def run_model(path: Path, images: np.ndarray, *, threads: int, label: str) -> dict[str, np.ndarray]:
    """Every graph output of ``path`` on ``images``, through the runtime's OnnxRuntimeRunner on the CPU (the
    runner every other path uses), in small chunks with a progress line at least every 10 s."""

    chunks: list[dict[str, np.ndarray]] = []
    with OnnxRuntimeRunner(path, providers="cpu", threads=threads, name=f"{label}:{path.name}") as runner:
        names = runner.output_names  # the logits, and what alexnet-debug marked
        start = shown = time.perf_counter()
        for first in range(0, len(images), CHUNK):
            chunks.append(runner.infer_outputs(images[first : first + CHUNK], names))
            done, now = min(first + CHUNK, len(images)), time.perf_counter()
            if now - shown >= PROGRESS_EVERY_S or done == len(images):
                shown = now
                print(
                    f"[{label}] {path.name}: {done}/{len(images)} images, {now - start:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return {name: np.concatenate([c[name] for c in chunks]) for name in names}


def _model_spec(text: str) -> tuple[Path, int]:
    path, _, count = text.rpartition(":")
    if not path or not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"expected MODEL:N with N >= 1, got {text!r}")
    return Path(path), int(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="float32 [N,3,32,32] normalized images (.npy)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--label", default=platform.machine())
    parser.add_argument("models", nargs="+", type=_model_spec)
    args = parser.parse_args(argv)
    images = np.load(args.images)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / f".cpu.{os.getpid()}.tmp"  # several processes of one target write the same record
    tmp.write_text(json.dumps(cpu_record(), indent=1))
    tmp.replace(args.out / "cpu.json")
    for path, count in args.models:
        start = time.perf_counter()
        try:
            outputs = run_model(path, images[:count], threads=args.threads, label=args.label)
        except AlexNetEdgeError as exc:  # a model this runtime refuses: one line for the host to show
            print(f"error: {exc}", file=sys.stderr)
            return 2
        outputs["__seconds__"] = np.array(time.perf_counter() - start)
        tmp = args.out / f".{path.stem}.{os.getpid()}.tmp.npz"
        np.savez(tmp, **outputs)
        tmp.replace(args.out / f"{path.stem}.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
