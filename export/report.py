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
        f"{report['eval_images']} CIFAR-10 test images ({report['eval_subset']}); reference: PyTorch FP32 on "
        f"{report['reference']['device']}. Latency measured on {report.get('host', {}).get('cpu', 'this machine')}.",
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


def _verdict(row: dict) -> str:
    if row.get("within_tolerance", True):
        return "yes"
    return "NO: " + "; ".join(row["failures"]).replace("|", "\\|")  # a bare | would split the table cell


def _cpu_line(rows: Sequence[dict]) -> list[str]:
    cpu = next((r["cpu"] for r in rows if r.get("cpu")), None)
    if not cpu:
        return []
    return [f"CPU: {cpu['arch']} with {', '.join(cpu['features']) or 'no listed features'}; int8 path: {cpu['int8_path']}.", ""]


def render_plot(rows: Sequence[dict], path: str | Path) -> Path | None:
    """p50 latency against batch size, one line per backend and precision. None if nothing was timed."""
    timed = [r for r in rows if r.get("latency_ms")]
    if not timed:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for row in timed:
        sizes = sorted(int(k) for k in row["latency_ms"])
        ax.plot(sizes, [row["latency_ms"][str(s)]["p50"] for s in sizes], marker="o",
                label=f"{row['backend']} {row['device']} {row['precision']}")  # fmt: skip
    ax.set_xscale("log", base=2)
    ticks = sorted({int(k) for r in timed for k in r["latency_ms"]})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title("AlexNet CIFAR-10: latency against batch size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)


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
    plot = render_plot(report["rows"], out_dir / "report.png")
    if plot is not None:
        written.append(plot)
    manifest = {**manifest, "artifacts": [artifact_entry(p, out_dir) for p in [*artifacts, *written] if p.is_file()]}
    written.append(write_json(out_dir / "manifest.json", manifest))
    return written
