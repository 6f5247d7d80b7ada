"""Which artifact and backend to deploy, per measured batch size, from a report's rows.

For each batch size every row was timed at: the fastest row within tolerance (lowest p50 latency per
call; images/s by ``bench.images_per_s``), and every other row within tolerance whose measured spread
(p25..p75 latency) overlaps the fastest's: a tie, said as such, since a difference inside the spread is
noise on this machine. The most accurate row within tolerance, unless several rows score the same
accuracy (the same number of correct images): then that is a tie too, and no row is called "most
accurate". And whether INT8 is faster than FP32 there at all (faster, slower, or a tie within the
spread). The PyTorch reference row is not an artifact and is never recommended.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from alexnet_edge.runtime.bench import THROUGHPUT_DEFINITION, images_per_s
from alexnet_edge.runtime.precision import Precision

TIE_RULE = "rows whose p25–p75 latency ranges overlap are a tie"


def _figure(row: dict, batch: str) -> dict:
    return (row.get("latency_ms") or {}).get(batch) or {}


def _p50(row: dict, batch: str) -> float | None:
    return _figure(row, batch).get("p50")


def _spread(row: dict, batch: str) -> tuple[float, float]:
    """p25..p75 ms; a row without a spread (too few runs, or an older report) is its p50 alone."""
    spread = _figure(row, batch).get("spread_ms")
    p50 = _p50(row, batch)
    return (spread[0], spread[1]) if spread else (p50, p50)


def within_spread(a: dict, b: dict, batch: str) -> bool:
    """True when the two rows' measured latency ranges at ``batch`` overlap: no measured difference."""
    (a_low, a_high), (b_low, b_high) = _spread(a, batch), _spread(b, batch)
    return a_low <= b_high and b_low <= a_high


def _same_accuracy(a: dict, b: dict) -> bool:
    return math.isclose(a["accuracy"], b["accuracy"], rel_tol=0.0, abs_tol=1e-12)


def pick_figures(row: dict, batch: str) -> dict[str, object]:
    """What the report shows for one recommended row at one batch size."""
    p50, spread = _p50(row, batch), _figure(row, batch).get("spread_ms")
    return {
        "backend": row["backend"],
        "device": row["device"],
        "precision": row["precision"],
        "artifact": row.get("artifact"),
        "p50_ms": p50,
        "spread_ms": list(spread) if spread else None,  # p25..p75; None: too few runs (or an older report)
        "images_per_s": None if not p50 else images_per_s(int(batch), p50),
        "accuracy": row["accuracy"],
        "accuracy_delta": row.get("accuracy_delta"),
        "top1_agreement": row.get("top1_agreement"),
    }


def _int8_against_fp32(rows: Sequence[dict], batch: str) -> dict[str, object] | None:
    """The fastest INT8 row against the fastest FP32 row at ``batch`` (either may be outside tolerance:
    this is about speed on this CPU); None unless both were timed."""
    fastest = {}
    int8, fp32 = Precision.INT8.value, Precision.FP32.value  # also the keys report.json stores
    for precision in (int8, fp32):
        timed = [r for r in rows if r["precision"] == precision and r["backend"] != "torch" and _p50(r, batch)]
        if timed:
            fastest[precision] = min(timed, key=lambda r: _p50(r, batch))
    if len(fastest) < 2:
        return None
    int8_ms, fp32_ms = _p50(fastest[int8], batch), _p50(fastest[fp32], batch)
    tie = within_spread(fastest[int8], fastest[fp32], batch)
    return {
        int8: f"{fastest[int8]['backend']} {int8}",
        "int8_p50_ms": int8_ms,
        fp32: f"{fastest[fp32]['backend']} {fp32}",
        "fp32_p50_ms": fp32_ms,
        "speedup": fp32_ms / int8_ms,
        "verdict": "tie" if tie else ("faster" if int8_ms < fp32_ms else "slower"),
        "int8_faster": int8_ms < fp32_ms and not tie,
    }


def _by_accuracy(valid: Sequence[dict], batch: str) -> list[dict]:
    """Every row with the top accuracy (one row, or a tie), the one closest to the reference first."""
    if not valid:
        return []
    best = max(r["accuracy"] for r in valid)
    tied = [r for r in valid if _same_accuracy(r, {"accuracy": best})]
    return sorted(tied, key=lambda r: (-r.get("top1_agreement", 0.0), r.get("mean_abs_diff", 0.0), _p50(r, batch)))


def recommend(rows: Sequence[dict]) -> dict[str, object]:
    """Args: rows: report rows (``to_dict()``). Returns {"batch_sizes": {"1": {...}, ...}, "reason", "tie_rule",
    "throughput"}: per batch size the fastest row within tolerance (None if no row is) with the rows that tie
    with it, the most accurate rows (more than one: a tie), and INT8 against FP32; "reason" says why there
    is nothing when nothing was timed."""
    artifacts = [r for r in rows if r["backend"] != "torch"]
    batches = sorted({b for r in artifacts for b in (r.get("latency_ms") or {})}, key=int)
    out: dict[str, object] = {
        "batch_sizes": {},
        "reason": None,
        "tie_rule": TIE_RULE,
        "throughput": THROUGHPUT_DEFINITION,
    }
    if not batches:
        out["reason"] = "latency was not measured (--no-bench): no speed to choose by"
        return out
    for batch in batches:
        valid = [r for r in artifacts if r.get("within_tolerance", True) and _p50(r, batch)]
        fastest = min(valid, key=lambda r: _p50(r, batch), default=None)
        ties = [r for r in valid if r is not fastest and within_spread(r, fastest, batch)] if fastest else []
        accurate = _by_accuracy(valid, batch)
        out["batch_sizes"][batch] = {
            "fastest": None if fastest is None else pick_figures(fastest, batch),
            "fastest_ties": [pick_figures(r, batch) for r in sorted(ties, key=lambda r: _p50(r, batch))],
            "most_accurate": pick_figures(accurate[0], batch) if len(accurate) == 1 else None,
            "accuracy_ties": [pick_figures(r, batch) for r in accurate] if len(accurate) > 1 else [],
            "int8_vs_fp32": _int8_against_fp32(artifacts, batch),
        }
    return out


def _name(pick: dict) -> str:
    return f"{pick['backend']} {pick['precision']}"


def _pick_text(pick: dict) -> str:
    spread = pick.get("spread_ms")
    shown = f" (p25–p75 {spread[0]:.2f}–{spread[1]:.2f})" if spread else ""
    return (
        f"{_name(pick)} ({pick['artifact']}), {pick['p50_ms']:.2f} ms p50{shown}, "
        f"{pick['images_per_s']:.0f} images/s, {100 * pick['accuracy']:.2f}%"
    )


def _accuracy_text(entry: dict, fastest: dict) -> str:
    tied = entry.get("accuracy_ties") or []
    if tied:
        names = ", ".join(_name(p) for p in tied)
        return f"accuracy: a tie at {100 * tied[0]['accuracy']:.2f}% between {names} (none is the most accurate)."
    accurate = entry.get("most_accurate")
    if accurate is None:
        return ""
    if (accurate["backend"], accurate["precision"]) == (fastest["backend"], fastest["precision"]):
        return "it is also the most accurate."
    return f"most accurate: {_pick_text(accurate)}."


def render_recommendation(recommendation: dict | None) -> list[str]:
    """The report.md section "Which to deploy" (empty when nothing was timed, or for an older report)."""
    if not recommendation or recommendation.get("reason"):  # the timing line already says nothing was timed
        return []
    lines = [
        "",
        "## Which to deploy",
        "",
        f"Throughput: {recommendation.get('throughput', THROUGHPUT_DEFINITION)}; "
        f"{recommendation.get('tie_rule', TIE_RULE)}, since that difference is within the noise measured.",
        "",
    ]
    for batch, entry in recommendation["batch_sizes"].items():
        fastest = entry["fastest"]
        if fastest is None:
            lines.append(f"- **batch {batch}**: no artifact is within tolerance; deploy none of them.")
            continue
        ties = entry.get("fastest_ties") or []
        speed = f"fastest within tolerance: **{_pick_text(fastest)}**"
        if ties:
            speed = (
                f"a tie for fastest within tolerance, within the measured spread: **{_pick_text(fastest)}**, "
                + "; ".join(f"**{_pick_text(p)}**" for p in ties)
            )
        lines.append(f"- **batch {batch}**: {speed}; {_accuracy_text(entry, fastest)}")
        versus = entry.get("int8_vs_fp32")
        if versus:
            lines += _versus_lines(versus, batch)
    return lines


def _versus_lines(versus: dict, batch: str) -> list[str]:
    figures = f"{versus['int8']} {versus['int8_p50_ms']:.2f} ms against {versus['fp32']} {versus['fp32_p50_ms']:.2f} ms"
    verdict = versus.get("verdict", "faster" if versus["int8_faster"] else "slower")
    if verdict == "tie":
        return [f"  - INT8 and FP32 are a tie at batch {batch} on this CPU (within the measured spread): {figures}."]
    if verdict == "slower":
        return [f"  - INT8 is **not** faster than FP32 at batch {batch} on this CPU: {figures}."]
    return []
