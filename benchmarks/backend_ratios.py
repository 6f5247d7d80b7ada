"""Our best CPU runtime against onnxruntime alone and against PyTorch, side by side in one run.

Needs the ONNX models of a pipeline run (``make demo``). Times, in interleaved rounds so that the
machine's drifting speed (other jobs) hits every runner alike, at batch 1 and 256:

  PyTorch FP32 (eager), onnxruntime FP32 / INT8, OpenVINO FP32 (f32 arithmetic) / INT8 with the
  LATENCY hint, and OpenVINO with the THROUGHPUT hint (which hint is faster per batch size).

"Best" is, per precision and batch size, the faster of onnxruntime and OpenVINO (LATENCY hint).
Prints the table and the ratios, and writes them into docs/performance.md between the markers
``<!-- backend-ratios:begin -->`` / ``<!-- backend-ratios:end -->`` with the CPU and its load
(``--no-write`` only prints). Without openvino installed it says so and compares what there is.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
from pathlib import Path

import bench_cli
from bench_cli import BATCHES

from alexnet_edge.calibration.cifar10 import load_test
from alexnet_edge.export.model.alexnet import alexnet_cifar10
from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.report.render import host_info
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.backends.openvino.runner import OpenVINORunner, PerformanceHints
from alexnet_edge.runtime.backends.registry import host_backends
from alexnet_edge.runtime.bench import images_per_s
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.preprocess import normalize_uint8

BEGIN, END = "<!-- backend-ratios:begin -->", "<!-- backend-ratios:end -->"


def make_runners(artifacts: Path, checkpoint: Path, with_openvino: bool) -> dict:

    runners = {"torch fp32": TorchRunner(alexnet_cifar10(weights=checkpoint))}
    for precision in ("fp32", "int8"):
        runners[f"onnxruntime {precision}"] = OnnxRuntimeRunner(artifacts / f"model.{precision}.onnx")
    if with_openvino:
        for precision in ("fp32", "int8"):
            model = artifacts / f"model.{precision}.onnx"
            runners[f"openvino {precision}"] = OpenVINORunner(model, hints=PerformanceHints.fixed("LATENCY"))
            runners[f"openvino {precision} THROUGHPUT"] = OpenVINORunner(
                model, hints=PerformanceHints.fixed("THROUGHPUT")
            )
    return runners


def ratios(stats: dict, with_openvino: bool) -> list[dict]:
    """Per precision and batch size: the best CPU runtime, and its speed against onnxruntime and PyTorch."""
    out = []
    for precision in ("fp32", "int8"):
        for batch in BATCHES:
            candidates = [f"onnxruntime {precision}"] + ([f"openvino {precision}"] if with_openvino else [])
            best = min(candidates, key=lambda n: stats[(n, batch)].p50)
            ort, torch = stats[(f"onnxruntime {precision}", batch)], stats[("torch fp32", batch)]
            mine = stats[(best, batch)]
            out.append(
                {
                    "precision": precision,
                    "batch": batch,
                    "best": best,
                    "best_p50_ms": mine.p50,
                    "best_images_per_s": images_per_s(batch, mine.p50),
                    "vs_onnxruntime": ort.p50 / mine.p50,
                    "vs_torch": torch.p50 / mine.p50,
                }
            )
    return out


def hint_lines(stats: dict) -> list[str]:
    lines = []
    for precision in ("fp32", "int8"):
        for batch in BATCHES:
            latency, throughput = (
                stats[(f"openvino {precision}", batch)].p50,
                stats[(f"openvino {precision} THROUGHPUT", batch)].p50,
            )
            better = "LATENCY" if latency <= throughput else "THROUGHPUT"
            ratio = max(latency, throughput) / min(latency, throughput)
            lines.append(f"| {precision} | {batch} | {latency:.2f} | {throughput:.2f} | {better} ({ratio:.2f}x) |")
    return lines


def render(stats: dict, rows: list[dict], *, cpu: str, load: tuple, load_after: tuple, versions: dict) -> str:
    names = sorted({n for n, _ in stats}, key=list(dict.fromkeys(n for n, _ in stats)).index)
    version_text = ", ".join(f"{k} {v}" for k, v in versions.items())
    lines = [
        BEGIN,
        "",
        f"`make bench` (`benchmarks/backend_ratios.py`), {_dt.date.today().isoformat()}, "
        f"{bench_cli.timing_text(stats)}; "
        f"CPU: {cpu}, {os.cpu_count()} cores; load average {load[0]:.2f} at the start, {load_after[0]:.2f} at the end "
        f"(other jobs share this machine: compare ratios within this run only). {version_text}.",
        "",
        "| runner | p50 ms @1 | images/s @256 (p50) |",
        "|---|---:|---:|",
    ]
    for name in names:
        lines.append(f"| {name} | {stats[(name, 1)].p50:.2f} | {stats[(name, 256)].throughput:.0f} |")
    lines += [
        "",
        "| precision | batch | best CPU runtime | p50 ms | images/s | vs onnxruntime | vs PyTorch FP32 |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['precision']} | {r['batch']} | {r['best']} | {r['best_p50_ms']:.2f} | "
            f"{r['best_images_per_s']:.0f} | {r['vs_onnxruntime']:.2f}x | {r['vs_torch']:.2f}x |"
        )
    if any(n.endswith("THROUGHPUT") for n in names):
        lines += [
            "",
            "OpenVINO performance hint, one synchronous request (p50 ms):",
            "",
            "| precision | batch | LATENCY | THROUGHPUT | faster |",
            "|---|---:|---:|---:|---|",
            *hint_lines(stats),
        ]
    return "\n".join(lines + ["", END])


def write_doc(doc: Path, section: str) -> None:
    text = doc.read_text() if doc.is_file() else ""
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: section, text, flags=re.S)
    else:
        text = (
            text.rstrip()
            + "\n\n## Best CPU runtime against onnxruntime and PyTorch (`make bench`)\n\n"
            + section
            + "\n"
        )
    doc.write_text(text)


def _versions(with_openvino: bool) -> dict:
    import onnxruntime
    import torch

    out = {"onnxruntime": onnxruntime.__version__, "torch": torch.__version__}
    if with_openvino:
        import openvino

        out["openvino"] = openvino.get_version().split("-")[0]
    return out


def main() -> int:

    parser = bench_cli.parser(__doc__)
    parser.add_argument("--doc", type=Path, default=Path("docs/performance.md"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave --doc as it is")
    args = parser.parse_args()
    if not bench_cli.resolve_data(args) or bench_cli.missing_model(args.artifacts, "run `make demo` first"):
        return 2
    if args.min_runs < 2 or args.min_seconds < 0:
        print("error: --min-runs must be at least 2 (a median) and --min-seconds not negative", file=sys.stderr)
        return 2
    with_openvino = "openvino" in host_backends(installed=True)
    if not with_openvino:
        print(
            "note: openvino is not installed (pip install 'alexnet-edge[openvino]'): "
            "comparing onnxruntime and PyTorch only",
            file=sys.stderr,
        )

    images = normalize_uint8(load_test(args.data_root).images[:256])
    load = os.getloadavg()
    stats = bench_cli.interleaved(make_runners(args.artifacts, args.checkpoint, with_openvino), images, args)
    section = render(
        stats,
        ratios(stats, with_openvino),
        cpu=_cpu(),
        load=load,
        load_after=os.getloadavg(),
        versions=_versions(with_openvino),
    )
    print(section)
    if not args.no_write:
        write_doc(args.doc, section)
        print(f"written into {args.doc}", file=sys.stderr)
    return 0


def _cpu() -> str:

    return f"{host_info()['cpu']} ({detect().summary()})"


if __name__ == "__main__":
    sys.exit(main())
