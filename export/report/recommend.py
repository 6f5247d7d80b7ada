"""Which artifact and backend to deploy, per measured batch size, from a report's rows.

For each batch size every row was timed at: the fastest row within tolerance (by p50 latency per
call, i.e. images/s at that batch), the most accurate row within tolerance (ties: the faster one),
and whether INT8 is faster than FP32 there at all (on this CPU it may not be: say so plainly).
The PyTorch reference row is not an artifact and is never recommended.
"""

from __future__ import annotations

from collections.abc import Sequence


def _p50(row: dict, batch: str) -> float | None:
    return ((row.get("latency_ms") or {}).get(batch) or {}).get("p50")


def pick_figures(row: dict, batch: str) -> dict[str, object]:
    """What the report shows for one recommended row at one batch size."""
    p50 = _p50(row, batch)
    return {
        "backend": row["backend"],
        "device": row["device"],
        "precision": row["precision"],
        "artifact": row.get("artifact"),
        "p50_ms": p50,
        "images_per_s": None if not p50 else int(batch) * 1000.0 / p50,
        "accuracy": row["accuracy"],
        "accuracy_delta": row.get("accuracy_delta"),
        "top1_agreement": row.get("top1_agreement"),
    }


def _int8_against_fp32(rows: Sequence[dict], batch: str) -> dict[str, object] | None:
    """The fastest INT8 row against the fastest FP32 row at ``batch`` (either may be outside tolerance:
    this is about speed on this CPU); None unless both were timed."""
    fastest = {}
    for precision in ("int8", "fp32"):
        timed = [r for r in rows if r["precision"] == precision and r["backend"] != "torch" and _p50(r, batch)]
        if timed:
            fastest[precision] = min(timed, key=lambda r: _p50(r, batch))
    if len(fastest) < 2:
        return None
    int8_ms, fp32_ms = _p50(fastest["int8"], batch), _p50(fastest["fp32"], batch)
    return {
        "int8": f"{fastest['int8']['backend']} int8",
        "int8_p50_ms": int8_ms,
        "fp32": f"{fastest['fp32']['backend']} fp32",
        "fp32_p50_ms": fp32_ms,
        "speedup": fp32_ms / int8_ms,
        "int8_faster": int8_ms < fp32_ms,
    }


def recommend(rows: Sequence[dict]) -> dict[str, object]:
    """Args: rows: report rows (``Row.to_dict()``). Returns {"batch_sizes": {"1": {...}, ...}, "reason"}:
    per batch size the fastest and the most accurate row within tolerance (None if no row is), and the
    INT8-against-FP32 comparison; "reason" says why there is nothing when nothing was timed."""
    artifacts = [r for r in rows if r["backend"] != "torch"]
    batches = sorted({b for r in artifacts for b in (r.get("latency_ms") or {})}, key=int)
    out: dict[str, object] = {"batch_sizes": {}, "reason": None}
    if not batches:
        out["reason"] = "latency was not measured (--no-bench): no speed to choose by"
        return out
    for batch in batches:
        valid = [r for r in artifacts if r.get("within_tolerance", True) and _p50(r, batch)]
        fastest = min(valid, key=lambda r: _p50(r, batch), default=None)
        # ties in accuracy: the row closest to the reference, then the faster one
        accurate = max(
            valid,
            key=lambda r: (r["accuracy"], r.get("top1_agreement", 0.0), -r.get("mean_abs_diff", 0.0), -_p50(r, batch)),
            default=None,
        )
        out["batch_sizes"][batch] = {
            "fastest": None if fastest is None else pick_figures(fastest, batch),
            "most_accurate": None if accurate is None else pick_figures(accurate, batch),
            "int8_vs_fp32": _int8_against_fp32(artifacts, batch),
        }
    return out


def _pick_text(pick: dict) -> str:
    return (
        f"{pick['backend']} {pick['precision']} ({pick['artifact']}), {pick['p50_ms']:.2f} ms p50, "
        f"{pick['images_per_s']:.0f} images/s, {100 * pick['accuracy']:.2f}%"
    )


def render_recommendation(recommendation: dict | None) -> list[str]:
    """The report.md section "Which to deploy" (empty when nothing was timed, or for an older report)."""
    if not recommendation or recommendation.get("reason"):  # the timing line already says nothing was timed
        return []
    lines = ["", "## Which to deploy", ""]
    for batch, entry in recommendation["batch_sizes"].items():
        fastest, accurate = entry["fastest"], entry["most_accurate"]
        if fastest is None:
            lines.append(f"- **batch {batch}**: no artifact is within tolerance; deploy none of them.")
            continue
        same = (fastest["backend"], fastest["precision"]) == (accurate["backend"], accurate["precision"])
        lines.append(
            f"- **batch {batch}**: fastest within tolerance: **{_pick_text(fastest)}**; "
            + ("it is also the most accurate." if same else f"most accurate: {_pick_text(accurate)}.")
        )
        versus = entry.get("int8_vs_fp32")
        if versus and not versus["int8_faster"]:
            lines.append(
                f"  - INT8 is **not** faster than FP32 at batch {batch} on this CPU: {versus['int8']} "
                f"{versus['int8_p50_ms']:.2f} ms against {versus['fp32']} {versus['fp32_p50_ms']:.2f} ms."
            )
    return lines
