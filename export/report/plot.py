"""report.png: throughput against batch size, and accuracy change against batch-1 latency.

Every point is labelled (FP32 and FP16 often sit on one spot), the accuracy axis spans the widest
tolerance band rather than the data alone (a 0.07-point drop must not fill the panel), the band of
each precision's allowed drop is drawn, and the recommended rows are ringed. Marker area is the
model file's size; the PyTorch reference (no file) is a star of the FP32 model's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alexnet_edge.runtime.fileio import atomic_output

_BAND_COLOURS = {"fp32": "tab:green", "fp16": "tab:green", "int8": "tab:orange"}


def label(row: dict) -> str:
    return f"{row['backend']} {row['precision']}"


def render_plot(
    rows: Sequence[dict], path: str | Path, *, title: str = "", recommendation: dict | None = None
) -> Path | None:
    """Write the two panels to ``path``; None (nothing written) if no row was timed."""
    timed = [r for r in rows if r.get("latency_ms")]
    if not timed:
        return None
    # A Figure of its own, not pyplot: no process-wide backend switch and no global figure registry.
    from matplotlib.figure import Figure

    picks = (recommendation or {}).get("batch_sizes", {})
    fig = Figure(figsize=(13, 5.2), dpi=110)
    left, right = fig.subplots(1, 2)
    for row in timed:
        _throughput_line(left, row, picks)
    ticks = sorted({int(k) for r in timed for k in r["latency_ms"]})
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xticks(ticks, [str(t) for t in ticks])
    left.set(
        xlabel="batch size",
        ylabel="images/s (p50; bar down to p90), log scale",
        title="throughput (ringed: fastest within tolerance)",
    )
    left.legend(fontsize=7)
    _accuracy_panel(right, rows, timed, picks.get("1"))
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title or "AlexNet CIFAR-10", fontsize=10)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def _is_pick(row: dict, pick: dict | None) -> bool:
    return bool(pick) and (row["backend"], row["precision"]) == (pick["backend"], pick["precision"])


def _throughput_line(ax, row: dict, picks: dict) -> None:
    sizes = sorted(int(k) for k in row["latency_ms"])
    stats = [row["latency_ms"][str(s)] for s in sizes]
    at_p50 = [s * 1000.0 / st["p50"] for s, st in zip(sizes, stats, strict=True)]
    at_p90 = [s * 1000.0 / st["p90"] for s, st in zip(sizes, stats, strict=True)]
    lower = [max(m - p, 0.0) for m, p in zip(at_p50, at_p90, strict=True)]
    style = "--" if row["backend"] == "torch" else "-"
    line = ax.errorbar(
        sizes, at_p50, yerr=[lower, [0.0] * len(sizes)], marker="o", ls=style, capsize=3, label=label(row)
    )
    for size, value in zip(sizes, at_p50, strict=True):
        if _is_pick(row, (picks.get(str(size)) or {}).get("fastest")):
            ax.scatter(
                [size], [value], s=260, facecolors="none", edgecolors=line[0].get_color(), linewidths=2, zorder=5
            )
            ax.annotate(
                f"{label(row)}\n{value:.0f}/s", (size, value), textcoords="offset points", xytext=(6, 8), fontsize=7
            )


def _accuracy_panel(ax, rows: Sequence[dict], timed: Sequence[dict], pick: dict | None) -> None:
    fp32_mb = next((r["size_mb"] for r in rows if r["precision"] == "fp32" and r.get("size_mb")), 100.0)
    drops = _bands(ax, rows)
    deltas = []
    for row in timed:
        p50 = (row["latency_ms"].get("1") or {}).get("p50")
        if p50 is None:
            continue
        delta = 100 * (row.get("accuracy_delta") or 0.0)
        deltas.append(delta)
        is_torch = row["backend"] == "torch"
        area = 30 + 2 * (fp32_mb if is_torch else (row.get("size_mb") or fp32_mb))
        points = ax.scatter([p50], [delta], s=area, marker="*" if is_torch else "o", alpha=0.6, label=label(row))
        if _is_pick(row, (pick or {}).get("fastest")):
            ax.scatter(
                [p50], [delta], s=area * 2.2, facecolors="none", edgecolors=points.get_facecolor()[0][:3], linewidths=2
            )
        ax.annotate(
            label(row), (p50, delta), textcoords="offset points", xytext=(5, 4 + 9 * (len(deltas) % 3)), fontsize=7
        )
    widest = max(drops, default=0.3)
    ax.set_ylim(min(-1.6 * widest, min(deltas, default=0) - 0.1), max(0.6 * widest, max(deltas, default=0) + 0.1))
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(
        xlabel="p50 latency at batch 1 (ms)",
        ylabel="accuracy − PyTorch FP32 (points)",
        title="accuracy against latency at batch 1 (area: model MB; ringed: fastest)",
    )
    ax.legend(fontsize=7, loc="lower right")


def _bands(ax, rows: Sequence[dict]) -> list[float]:
    """Shade each precision's allowed accuracy drop; returns the drops in points."""
    drops: dict[float, list[str]] = {}
    for row in rows:
        tolerance = row.get("tolerance") or {}
        if "max_accuracy_drop" in tolerance:
            drops.setdefault(round(100 * tolerance["max_accuracy_drop"], 4), []).append(row["precision"])
    for drop, precisions in sorted(drops.items(), reverse=True):
        names = "/".join(sorted(set(precisions)))
        colour = _BAND_COLOURS.get(precisions[0], "tab:grey")
        ax.axhspan(-drop, 0, color=colour, alpha=0.08)
        ax.axhline(-drop, color=colour, lw=0.8, ls=":", label=f"{names} allowed drop ({drop:.2f} pt)")
    return list(drops)
