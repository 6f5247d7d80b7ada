"""report.png: throughput against batch size, and accuracy change against batch-1 latency.

Every point is labelled (FP32 and FP16 often sit on one spot): each label takes the first of a few
places around its point that stays inside the panel and clear of the labels and legend already
drawn (a leader line joins a label set further off), and is clipped to the panel. The accuracy axis spans the widest
tolerance band rather than the data alone (a 0.07-point drop must not fill the panel), the band of
each precision's allowed drop is drawn, and the recommended rows are ringed. Marker area is the
model file's size; the PyTorch reference (no file) is a star of the FP32 model's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from alexnet_edge.runtime.bench import images_per_s
from alexnet_edge.runtime.fileio import atomic_output
from alexnet_edge.runtime.precision import Precision, parse_precision, spec_for

# Where a label may sit around its point (offset in points), nearest first.
_OFFSETS = tuple((dx, dy) for dy in (5, -5, 16, -16, 28, -28, 40, -40) for dx in (6, -6))
_FONT = 7


@dataclass(frozen=True)
class Label:
    """A label for the point (x, y) in data coordinates, placed by ``place_labels``."""

    text: str
    x: float
    y: float


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
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(13, 5.2), dpi=110)
    FigureCanvasAgg(fig)  # a renderer to measure the labels with (no pyplot, no global backend)
    left, right = fig.subplots(1, 2)
    left_labels = [label for row in timed for label in _throughput_line(left, row, picks)]
    ticks = sorted({int(k) for r in timed for k in r["latency_ms"]})
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set_xticks(ticks, [str(t) for t in ticks])
    left.set(
        xlabel="batch size",
        ylabel="images/s = batch ÷ p50 latency (bar: p25–p75), log",
        title="throughput (ringed: fastest within tolerance)",
    )
    left.legend(fontsize=_FONT)
    right_labels = _accuracy_panel(right, rows, timed, picks.get("1"))
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title or "AlexNet CIFAR-10", fontsize=10)
    fig.tight_layout()  # before the labels: they are placed against the panels' final frames
    place_labels(left, left_labels)
    place_labels(right, right_labels)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def _is_pick(row: dict, pick: dict | None) -> bool:
    return bool(pick) and (row["backend"], row["precision"]) == (pick["backend"], pick["precision"])


def _throughput_line(ax, row: dict, picks: dict) -> list[Label]:
    """The row's images/s per batch size (bar: its p25–p75 spread); a label for each ringed pick."""
    sizes = sorted(int(k) for k in row["latency_ms"] if row["latency_ms"][k].get("p50"))
    stats = [row["latency_ms"][str(s)] for s in sizes]
    at_p50 = [images_per_s(s, st["p50"]) for s, st in zip(sizes, stats, strict=True)]
    spreads = [st.get("spread_ms") or [st["p50"], st["p50"]] for st in stats]
    lower = [max(m - images_per_s(s, sp[1]), 0.0) for m, s, sp in zip(at_p50, sizes, spreads, strict=True)]
    upper = [max(images_per_s(s, sp[0]) - m, 0.0) for m, s, sp in zip(at_p50, sizes, spreads, strict=True)]
    style = "--" if row["backend"] == "torch" else "-"
    line = ax.errorbar(sizes, at_p50, yerr=[lower, upper], marker="o", ls=style, capsize=3, label=label(row))
    labels = []
    for size, value in zip(sizes, at_p50, strict=True):
        if _is_pick(row, (picks.get(str(size)) or {}).get("fastest")):
            ax.scatter(
                [size], [value], s=260, facecolors="none", edgecolors=line[0].get_color(), linewidths=2, zorder=5
            )
            labels.append(Label(f"{label(row)}\n{value:.0f}/s", size, value))
    return labels


def _accuracy_panel(ax, rows: Sequence[dict], timed: Sequence[dict], pick: dict | None) -> list[Label]:
    """Points, bands and legend; returns the points' labels for ``place_labels`` (once the layout is final)."""
    fp32_mb = next((r["size_mb"] for r in rows if r["precision"] == Precision.FP32.value and r.get("size_mb")), 100.0)
    drops = _bands(ax, rows)
    deltas, labels = [], []
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
        labels.append(Label(label(row), p50, delta))
    widest = max(drops, default=0.3)
    ax.set_ylim(min(-1.6 * widest, min(deltas, default=0) - 0.1), max(0.6 * widest, max(deltas, default=0) + 0.1))
    ax.margins(x=0.12)  # room beside the outermost points for their labels
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(
        xlabel="p50 latency at batch 1 (ms)",
        ylabel="accuracy − PyTorch FP32 (points)",
        title="accuracy against latency at batch 1 (area: model MB; ringed: fastest)",
    )
    ax.legend(fontsize=_FONT, loc="lower right")
    return labels


def place_labels(ax, labels: Sequence[Label]) -> None:
    """Annotate each point at the first offset (``_OFFSETS``) whose text lies inside the panel and clear of
    the legend and of the labels placed before it; failing that, where it overlaps least. Clipped to the panel."""
    from matplotlib.text import Text

    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    legend = ax.get_legend()
    taken = [legend.get_window_extent(renderer)] if legend is not None else []
    for item in sorted(labels, key=lambda lab: (-lab.y, lab.x)):
        best = None
        for dx, dy in _OFFSETS:
            text = _annotate(ax, item, dx, dy)
            text.update_positions(renderer)
            box = Text.get_window_extent(text, renderer)  # the text alone, not its leader line
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            score = (not inside, sum(_overlap(box, other) for other in taken))
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, text, box)
            else:
                text.remove()
            if score == (False, 0.0):
                break
        taken.append(best[2])


def _annotate(ax, item: Label, dx: float, dy: float):
    far = abs(dy) > 10
    return ax.annotate(
        item.text,
        (item.x, item.y),
        textcoords="offset points",
        xytext=(dx, dy),
        ha="left" if dx > 0 else "right",
        va="bottom" if dy > 0 else "top",
        fontsize=_FONT,
        annotation_clip=True,
        clip_on=True,
        arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "grey", "shrinkA": 0, "shrinkB": 3} if far else None,
    )


def _overlap(a, b) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def _bands(ax, rows: Sequence[dict]) -> list[float]:
    """Shade each precision's allowed accuracy drop; returns the drops in points."""
    drops: dict[float, list[str]] = {}
    for row in rows:
        tolerance = row.get("tolerance") or {}
        if "max_accuracy_drop" in tolerance:
            drops.setdefault(round(100 * tolerance["max_accuracy_drop"], 4), []).append(row["precision"])
    for drop, precisions in sorted(drops.items(), reverse=True):
        names = "/".join(sorted(set(precisions)))
        colour = spec_for(parse_precision(precisions[0])).plot_colour  # runtime/precision.py
        ax.axhspan(-drop, 0, color=colour, alpha=0.08)
        ax.axhline(-drop, color=colour, lw=0.8, ls=":", label=f"{names} allowed drop ({drop:.2f} pt)")
    return list(drops)
