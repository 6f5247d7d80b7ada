"""report.json, report.md, report.png and manifest.json: what a user reads first, and what it came from."""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from pathlib import Path

from alexnet_edge.runtime.fileio import atomic_output, sha256_file, write_json

REPORT_SCHEMA = "alexnet-edge-report/1"


def _fmt(value, spec: str, missing: str = "–") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return format(value, spec)


def render_markdown(report: dict) -> str:
    rows = report["rows"]
    lines = [
        "# alexnet-edge report",
        "",
        f"{report['eval_images']} images ({report['eval_subset']}); reference: PyTorch FP32 on "
        f"{report['reference']['device']}. {_timing_line(report)}",
        "",
        *_cpu_line(rows),
        "| backend | device | precision | size MB | accuracy | Δ vs FP32 | top-1 agreement | max \\|Δlogit\\| | p50 ms @1 | images/s @256 | within tolerance |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        latency = (row.get("latency_ms") or {}).get("1", {})
        throughput = (row.get("throughput") or {}).get("256")
        delta_points = None if row.get("accuracy_delta") is None else 100 * row["accuracy_delta"]
        lines.append(
            f"| {row['backend']} | {row['device']} | {row['precision']} | {_fmt(row.get('size_mb'), '.1f')} | "
            f"{_fmt(100 * row['accuracy'], '.2f')}% | {_fmt(delta_points, '+.2f')} pt | "
            f"{_fmt(100 * row['top1_agreement'], '.2f')}% | {_fmt(row['max_abs_diff'], '.3g')} | "
            f"{_fmt(latency.get('p50'), '.2f')} | {_fmt(throughput, '.0f')} | "
            f"{_verdict(row)} |"
        )
    notes = report.get("notes") or []
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _timing_line(report: dict) -> str:
    timing = report.get("timing") or {}
    if not timing.get("measured", any(r.get("latency_ms") for r in report["rows"])):
        return "Latency was not measured (--no-bench)."
    runs = sorted({v.get("runs") for r in report["rows"] for v in (r.get("latency_ms") or {}).values() if v.get("runs")})
    counted = f", {runs[0]}–{runs[-1]} timed runs per figure" if runs else ""
    line = f"Latency measured on {report.get('host', {}).get('cpu', 'this machine')}{counted}."
    load = timing.get("load_average_at_start")
    if timing.get("busy"):
        line += (f" **The machine was busy** (load average {load[0]:.2f} on {timing.get('cores')} cores at the start): "
                 "treat the timings as noisy and rerun on an idle machine.")  # fmt: skip
    elif load is not None:
        line += f" Load average {load[0]:.2f} on {timing.get('cores')} cores at the start (idle enough)."
    return line


def _verdict(row: dict) -> str:
    if row.get("within_tolerance", True):
        return "yes"
    return "NO: " + "; ".join(row["failures"]).replace("|", "\\|")  # a bare | would split the table cell


def _cpu_line(rows: Sequence[dict]) -> list[str]:
    cpu = next((r["cpu"] for r in rows if r.get("cpu")), None)
    if not cpu:
        return []
    return [f"CPU: {cpu['arch']} with {', '.join(cpu['features']) or 'no listed features'}; int8 path: {cpu['int8_path']}.", ""]


def render_plot(rows: Sequence[dict], path: str | Path, *, title: str = "") -> Path | None:
    """Two panels: throughput against batch size (p90 as the lower error bar), and accuracy change
    against batch-1 latency (marker area: model size). None if nothing was timed."""
    timed = [r for r in rows if r.get("latency_ms")]
    if not timed:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=110)
    for row in timed:
        _throughput_line(left, row)
        _accuracy_point(right, row)
    ticks = sorted({int(k) for r in timed for k in r["latency_ms"]})
    left.set_xscale("log", base=2)
    left.set_xticks(ticks, [str(t) for t in ticks])
    left.set(xlabel="batch size", ylabel="images/s (mean; bar down to p90)", title="throughput")
    right.set(xlabel="p50 latency at batch 1 (ms)", ylabel="accuracy − PyTorch FP32 (points)", title="accuracy against latency (area: model MB)")
    right.axhline(0, color="grey", lw=0.8)
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title or "AlexNet CIFAR-10", fontsize=10)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


def _label(row: dict) -> str:
    return f"{row['backend']} {row['device']} {row['precision']}"


def _throughput_line(ax, row: dict) -> None:
    sizes = sorted(int(k) for k in row["latency_ms"])
    stats = [row["latency_ms"][str(s)] for s in sizes]
    mean = [s * 1000.0 / st["mean"] for s, st in zip(sizes, stats)]
    at_p90 = [s * 1000.0 / st["p90"] for s, st in zip(sizes, stats)]
    lower = [max(m - p, 0.0) for m, p in zip(mean, at_p90)]
    ax.errorbar(sizes, mean, yerr=[lower, [0.0] * len(sizes)], marker="o", capsize=3, label=_label(row))


def _accuracy_point(ax, row: dict) -> None:
    p50 = (row["latency_ms"].get("1") or {}).get("p50")
    if p50 is None:
        return
    size = row.get("size_mb") or 1.0
    ax.scatter([p50], [100 * (row.get("accuracy_delta") or 0.0)], s=20 + 3 * size, alpha=0.7, label=_label(row))


def plot_title(report: dict) -> str:
    timing, host = report.get("timing") or {}, report.get("host") or {}
    state = "busy machine: timings noisy" if timing.get("busy") else "idle machine"
    load = timing.get("load_average_at_start")
    load_text = f", load {load[0]:.2f}/{timing.get('cores')} cores" if load else ""
    return f"AlexNet CIFAR-10 on {host.get('cpu', 'this machine')} — {report.get('created', '')[:10]} ({state}{load_text})"


def artifact_entry(path: Path, base: Path) -> dict[str, object]:
    """One manifest line; ``file`` is relative to the output folder (calibration/... for the cache)."""
    name = path.relative_to(base).as_posix() if base in path.parents else path.name
    return {"file": name, "size": path.stat().st_size, "sha256": sha256_file(path)}


def host_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {"cpu": cpu, "cores": str(os.cpu_count()), "platform": platform.platform()}


def write_reports(out_dir: Path, report: dict, manifest: dict, artifacts: Sequence[Path]) -> list[Path]:
    """Write the four report files; manifest lists every artifact (the reports included) with its hash."""
    written = [write_json(out_dir / "report.json", report)]
    md = out_dir / "report.md"
    with atomic_output(md) as tmp:
        tmp.write_text(render_markdown(report))
    written.append(md)
    plot = render_plot(report["rows"], out_dir / "report.png", title=plot_title(report))
    if plot is not None:
        written.append(plot)
    manifest = {**manifest, "artifacts": [artifact_entry(p, out_dir) for p in [*artifacts, *written] if p.is_file()]}
    written.append(write_json(out_dir / "manifest.json", manifest))
    return written
