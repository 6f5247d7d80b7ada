"""The cross-target run's results as files and text: targets.json, and the table of targets.md."""

from __future__ import annotations

from pathlib import Path

from alexnet_edge.export.report.render import markdown_table
from alexnet_edge.runtime.fileio import write_json, write_text
from alexnet_edge.runtime.results import Result, View, metrics

SCHEMA = "alexnet-edge-targets/2"  # /2: each row is a Result.to_dict() (its target figures under "target")


_INTRO = (
    "Accuracy, top-1 agreement, flips and the largest flipped margin: against PyTorch FP32 on the host, on the "
    "same images. *vs host*: against the host's own run of the same model. Wall seconds are what the run (or its "
    "emulation) cost, nothing about the target's speed.\n\n"
)


def render_targets_md(rows: list[Result]) -> str:
    """One row per (target, model): where it ran, every metric of View.TARGETS (results.METRICS), the verdict.
    Agreement, flips and flipped margins are against PyTorch FP32 on the host; "vs host" is the host's own run."""
    columns = metrics(View.TARGETS)
    header = ["target", "onnxruntime", "precision", *(m.header for m in columns), "within tolerance"]
    cells = [
        [r.target.label, r.target.runtime, r.precision.value, *(m.text(r) for m in columns), _verdict(r)] for r in rows
    ]
    return "\n".join(markdown_table(header, cells, ["---"] * 3 + ["---:"] * len(columns) + ["---"])) + "\n"


def _verdict(row: Result) -> str:
    if row.target.died:
        return "NO: died"  # the guest died: no figures; its failure says how
    return "yes" if row.within_tolerance else "NO"


def write_results(out: Path, rows: list[Result], cpus: dict[str, dict], sample: dict) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    js = write_json(
        out / "targets.json",
        {"schema": SCHEMA, "sample": sample, "cpus": cpus, "rows": [r.to_dict() for r in rows]},
    )
    md = write_text(out / "targets.md", "# alexnet-edge: cross-target fidelity\n\n" + _INTRO + render_targets_md(rows))
    return [js, md]
