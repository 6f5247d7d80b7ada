"""report.json, report.md, report.png and manifest.json: what a user reads first, and what it came from."""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from pathlib import Path

from alexnet_edge.export.report.plot import render_plot  # noqa: F401 - part of this module's API since before the split
from alexnet_edge.export.report.recommend import recommend, render_recommendation
from alexnet_edge.runtime.compare import flips_text
from alexnet_edge.runtime.fileio import sha256_file, write_json, write_text

REPORT_SCHEMA = "alexnet-edge-report/1"


def _fmt(value, spec: str, missing: str = "–") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return format(value, spec)


TABLE_HEADER = (
    "| backend | device | precision | size MB | accuracy | Δ vs FP32 | top-1 agreement | max \\|Δlogit\\| "
    "| flips by reference's top-1 margin | max flipped margin "
    "| p50 ms @1 | images/s @256 | tolerance | within tolerance |"
)


def render_report_md(report: dict) -> str:
    rows = report["rows"]
    lines = [
        "# alexnet-edge report",
        "",
        f"{report['eval_images']} images ({report['eval_subset']}); reference: PyTorch FP32 on "
        f"{report['reference']['device']}. {_timing_line(report)}",
        "",
        *_cpu_line(rows),
        TABLE_HEADER,
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        latency = (row.get("latency_ms") or {}).get("1", {})
        throughput = (row.get("throughput") or {}).get("256")
        delta_points = None if row.get("accuracy_delta") is None else 100 * row["accuracy_delta"]
        lines.append(
            f"| {row['backend']} | {row['device']} | {_precision(row)} | {_fmt(row.get('size_mb'), '.1f')} | "
            f"{_fmt(100 * row['accuracy'], '.2f')}% | {_fmt(delta_points, '+.2f')} pt | "
            f"{_fmt(100 * row['top1_agreement'], '.2f')}% | {_max_diff(row)} | "
            f"{flips_text(row.get('flips_by_margin'))} | {_fmt(row.get('max_flipped_margin'), '.2f')} | "
            f"{_fmt(latency.get('p50'), '.2f')} | {_fmt(throughput, '.0f')} | "
            f"{_tolerance_text(row.get('tolerance'))} | "
            f"{_verdict(row)} |"
        )
    lines += render_recommendation(report.get("recommendation"))
    notes = report.get("notes") or []
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _precision(row: dict) -> str:
    bits, settings = row.get("weight_bits"), (row.get("openvino") or {})
    text = row["precision"] + (f" ({bits}-bit weights)" if bits else "")
    computed = settings.get("inference_precision")
    return text + (f", computed in {computed}" if computed and computed != "f32" else "")


def _max_diff(row: dict) -> str:
    """max |Δlogit|, saying so when the row's tolerance sets no bound on it (INT8 by default)."""
    value = _fmt(row["max_abs_diff"], ".3g")
    tolerance = row.get("tolerance")
    bound = None if tolerance is None else tolerance.get("max_abs_diff")
    if tolerance is not None and (bound is None or not math.isfinite(bound)):  # strict JSON writes inf as null
        return f"{value} (not bounded)"
    return value


def _tolerance_text(tolerance: dict | None) -> str:
    """The bounds a row was judged against, short enough for a table cell; the reference has none."""
    if tolerance is None:
        return "reference"
    parts = [
        f"agreement ≥ {100 * tolerance['min_top1_agreement']:.2f}%",
        f"drop ≤ {100 * tolerance['max_accuracy_drop']:.2f} pt",
    ]
    bounds = (
        ("max_abs_diff", "\\|Δ\\| ≤ {:.3g}"),
        ("max_rel_diff", "rel ≤ {:.3g}"),
        ("min_cosine_similarity", "cos ≥ {:.6g}"),
        ("max_flipped_margin", "flipped margin ≤ {:.3g}"),
    )
    for key, text in bounds:
        value = tolerance.get(key)
        if value is not None and math.isfinite(value) and value > 0:
            parts.append(text.format(value))
    return ", ".join(parts)


def _timing_line(report: dict) -> str:
    timing = report.get("timing") or {}
    if not timing.get("measured", any(r.get("latency_ms") for r in report["rows"])):
        return (
            "Latency was not measured (--no-bench). No plot (report.png) was written "
            "and nothing is recommended by speed."
        )
    runs = sorted(
        {v.get("runs") for r in report["rows"] for v in (r.get("latency_ms") or {}).values() if v.get("runs")}
    )
    counted = f", {runs[0]}–{runs[-1]} timed runs per figure" if runs else ""
    line = f"Latency measured on {report.get('host', {}).get('cpu', 'this machine')}{counted}."
    load = timing.get("load_average_at_start")
    if timing.get("busy"):
        line += (
            f" **The machine was busy** (load average {load[0]:.2f} on {timing.get('cores')} cores at the start): "
            "treat the timings as noisy and rerun on an idle machine."
        )
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
    return [
        f"CPU: {cpu['arch']} with {', '.join(cpu['features']) or 'no listed features'}; int8 path: {cpu['int8_path']}.",
        "",
    ]


def plot_title(report: dict) -> str:
    timing, host = report.get("timing") or {}, report.get("host") or {}
    state = "busy machine: timings noisy" if timing.get("busy") else "idle machine"
    load = timing.get("load_average_at_start")
    load_text = f", load {load[0]:.2f}/{timing.get('cores')} cores" if load else ""
    return (
        f"AlexNet CIFAR-10 on {host.get('cpu', 'this machine')} — {report.get('created', '')[:10]} ({state}{load_text})"
    )


def artifact_entry(path: Path, base: Path) -> dict[str, object]:
    """One manifest line; ``file`` is relative to the output folder (calibration/... for the cache)."""
    name = path.relative_to(base).as_posix() if base in path.parents else path.name
    return {"file": name, "size": path.stat().st_size, "sha256": sha256_file(path)}


def host_info() -> dict[str, str]:
    """The report's host: the CPU as ``cpu_features.detect`` names it (the one place that reads it)."""
    import os

    from alexnet_edge.runtime.cpu_features import detect

    return {"cpu": detect().name, "cores": str(os.cpu_count()), "platform": platform.platform()}


def write_reports(out_dir: Path, report: dict, manifest: dict, artifacts: Sequence[Path]) -> list[Path]:
    """Write the four report files; manifest lists every artifact (the reports included) with its hash.
    The per-batch recommendation is added to ``report`` here when it has none."""
    report.setdefault("recommendation", recommend(report["rows"]))
    written = [write_json(out_dir / "report.json", report)]
    written.append(write_text(out_dir / "report.md", render_report_md(report)))
    plot = render_plot(
        report["rows"], out_dir / "report.png", title=plot_title(report), recommendation=report.get("recommendation")
    )
    if plot is not None:
        written.append(plot)
    manifest = {**manifest, "artifacts": [artifact_entry(p, out_dir) for p in [*artifacts, *written] if p.is_file()]}
    written.append(write_json(out_dir / "manifest.json", manifest))
    return written
