"""The cross-target run's results as files and text: targets.json, and the table of targets.md."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from alexnet_edge.runtime.compare import flips_text
from alexnet_edge.runtime.fileio import write_json, write_text

if TYPE_CHECKING:  # targets.py imports this module
    from alexnet_edge.export.targets.judge import TargetRow


def render_targets_md(rows: list[TargetRow]) -> str:
    lines = [
        "| target | onnxruntime | precision | images | accuracy | top-1 agreement (PyTorch FP32) | flips by PyTorch's "
        "top-1 margin | max flipped margin | Δ accuracy vs host "
        "| agreement vs host | max \\|Δlogit\\| vs host | wall s "
        "| within tolerance |",
        "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if math.isnan(r.accuracy):  # the guest died: no figures; its failure says how
            lines.append(f"| {r.target} | {r.onnxruntime} | {r.precision} | {r.images} |" + " – |" * 8 + " NO: died |")
            continue
        lines.append(
            f"| {r.target} | {r.onnxruntime} | {r.precision} | {r.images} "
            f"| {100 * r.accuracy:.2f}% | {100 * r.top1_agreement:.2f}% | "
            f"{flips_text(r.flips_by_margin)} | {r.max_flipped_margin:.2f} | "
            f"{100 * r.accuracy_delta_vs_host:+.2f} pt | "
            f"{100 * r.agreement_vs_host:.2f}% | {r.max_abs_diff_vs_host:.3g} "
            f"| {r.seconds:.0f} | {'yes' if r.ok else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def write_results(out: Path, rows: list[TargetRow], cpus: dict[str, dict], sample: dict) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    js = write_json(
        out / "targets.json",
        {"schema": "alexnet-edge-targets/1", "sample": sample, "cpus": cpus, "rows": [asdict(r) for r in rows]},
    )
    md = write_text(out / "targets.md", "# alexnet-edge: cross-target fidelity\n\n" + render_targets_md(rows))
    return [js, md]
