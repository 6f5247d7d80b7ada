"""The drift gate's tables as text: figures against the baseline, and a baseline update old against new."""

from __future__ import annotations

import math

from alexnet_edge.export.drift.gate import Drift


def _num(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.6g}"


def render(drifts: list[Drift], *, only_failed: bool) -> str:
    shown = [d for d in drifts if not (only_failed and d.ok)]
    rule_text = {"abs": "±{}", "drop": "drop ≤ {}", "rise": "rise ≤ {}", "max": "≤ {}", "min": "≥ {}"}
    width = max([len(d.figure) for d in shown] + [6])
    lines = [f"{'figure':<{width}}  {'baseline':>10}  {'now':>10}  {'change':>11}  {'tolerance':<14}  status"]
    for d in shown:
        change = d.now - d.baseline if not (math.isnan(d.now) or math.isnan(d.baseline)) else float("nan")
        lines.append(
            f"{d.figure:<{width}}  {_num(d.baseline):>10}  {_num(d.now):>10}  {_num(change):>11}  "
            f"{rule_text[d.rule].format(_num(d.tolerance)):<14}  {'ok' if d.ok else 'MOVED'}"
        )
    return "\n".join(lines)


def render_update(old: dict | None, new: dict) -> str:
    old_figures = (old or {}).get("figures", {})
    width = max(len(k) for k in new["figures"])
    lines = [f"{'figure':<{width}}  {'old':>10}  {'new':>10}"]
    for name, entry in new["figures"].items():
        before = old_figures.get(name, {}).get("value", float("nan"))
        lines.append(f"{name:<{width}}  {_num(before):>10}  {_num(entry['value']):>10}")
    for name in sorted(set(old_figures) - set(new["figures"])):
        lines.append(f"{name:<{width}}  {_num(old_figures[name]['value']):>10}  {'(gone)':>10}")
    return "\n".join(lines)
