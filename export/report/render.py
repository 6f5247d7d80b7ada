"""report.json, report.md, report.png and manifest.json: what a user reads first, and what it came from."""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from pathlib import Path

from alexnet_edge.export.report.plot import render_plot  # noqa: F401 - part of this module's API since before the split
from alexnet_edge.export.report.recommend import recommend, render_recommendation
from alexnet_edge.runtime.bench import THROUGHPUT_DEFINITION
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.fidelity import Tolerance
from alexnet_edge.runtime.fileio import sha256_file, write_json, write_text
from alexnet_edge.runtime.results import Result, View, metrics

REPORT_SCHEMA = "alexnet-edge-report/1"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a bare | would split the table cell


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> list[str]:
    """A GitHub table: ``align`` per column ("---" or "---:"); every cell's pipes escaped."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def report_table(results: Sequence[Result]) -> list[str]:
    """report.md's table: who ran it, then every metric of View.REPORT (results.METRICS), then the verdict."""
    columns = metrics(View.REPORT)
    header = ["backend", "device", "precision", *(m.header for m in columns), "tolerance", "within tolerance"]
    rows = [
        [r.backend, r.device, _precision(r), *(m.text(r) for m in columns), _tolerance_text(r.tolerance), _verdict(r)]
        for r in results
    ]
    return markdown_table(header, rows, ["---"] * 3 + ["---:"] * len(columns) + ["---", "---"])


def render_report_md(report: dict) -> str:
    results = [Result.from_dict(row) for row in report["rows"]]
    lines = [
        "# alexnet-edge report",
        "",
        f"{report['eval_images']} images ({report['eval_subset']}); reference: PyTorch FP32 on "
        f"{report['reference']['device']}. {_timing_line(report)}",
        "",
        *_cpu_line(report["rows"]),
        *report_table(results),
    ]
    if any(r.latency for r in results):
        lines += ["", f"Throughput everywhere in this report: {THROUGHPUT_DEFINITION} at that batch size."]
    lines += render_recommendation(report.get("recommendation"))
    notes = report.get("notes") or []
    if notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _precision(result: Result) -> str:
    bits, computed = result.weight_bits, result.backend_settings.get("inference_precision")
    text = result.precision.value + (f" ({bits}-bit weights)" if bits else "")
    return text + (f", computed in {computed}" if computed and computed != "f32" else "")


def _tolerance_text(tolerance: Tolerance | None) -> str:
    """The bounds a row was judged against, short enough for a table cell; the reference has none."""
    if tolerance is None:
        return "reference"
    parts = [
        f"agreement ≥ {100 * tolerance.min_top1_agreement:.2f}%",
        f"drop ≤ {100 * tolerance.max_accuracy_drop:.2f} pt",
    ]
    bounds = (
        (tolerance.max_abs_diff, "|Δ| ≤ {:.3g}"),
        (tolerance.max_rel_diff, "rel ≤ {:.3g}"),
        (tolerance.min_cosine_similarity, "cos ≥ {:.6g}"),
        (tolerance.max_flipped_margin, "flipped margin ≤ {:.3g}"),
    )
    parts += [text.format(value) for value, text in bounds if math.isfinite(value) and value > 0]
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


def _verdict(result: Result) -> str:
    return "yes" if result.within_tolerance else "NO: " + "; ".join(result.failures)


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
