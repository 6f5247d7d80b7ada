"""One result type and one list of metrics (runtime/results.py): a figure added to METRICS, and nothing else,
appears in report.md, report.json, the drift gate's figures and table, verify.py's lines and targets.md."""

import json
from dataclasses import replace

import numpy as np
import pytest
from support.results import FakeRun, make_result, reference_logits, timed

from alexnet_edge.export.drift.gate import Drift, figures_from
from alexnet_edge.export.drift.text import render as render_drift
from alexnet_edge.export.report.render import render_report_md
from alexnet_edge.export.targets.judge import judge_target
from alexnet_edge.export.targets.report import render_targets_md
from alexnet_edge.runtime import results
from alexnet_edge.runtime.bench import images_per_s, summarize
from alexnet_edge.runtime.bundle_cli import _print_verification
from alexnet_edge.runtime.deploy import VerifyResult
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.results import Metric, Result, View

NEW = Metric(
    "mean_cosine",
    "mean cosine vs reference",
    lambda r: r.comparison.cosine_similarity,
    spec=".6f",
    views=frozenset(View),
    drift="top1_agreement",  # a rule fidelity.py already has (a new kind of rule would be its second file)
)


@pytest.fixture
def run():
    reference, labels = reference_logits()
    noisy = reference + np.random.default_rng(1).normal(scale=0.05, size=reference.shape).astype(np.float32)
    rows = [
        make_result("torch", Precision.FP32, reference, reference, labels, latency=timed((1, 9.0), (256, 400.0))),
        make_result("onnxruntime", Precision.INT8, noisy, reference, labels, latency=timed((1, 2.0), (256, 100.0))),
    ]
    return FakeRun(rows, labels, {r.key: (reference if r.backend == "torch" else noisy) for r in rows}), noisy


def _report(rows: list[Result]) -> dict:
    return {
        "eval_images": rows[0].comparison.images,
        "eval_subset": "seeded",
        "reference": {"device": "cpu"},
        "rows": [json.loads(json.dumps(r.to_dict(), default=str)) for r in rows],
        "timing": {"measured": True},
    }


def _shown(fake: FakeRun, noisy: np.ndarray) -> dict[str, str]:
    """Every place a figure is shown, rendered from the same rows."""
    rows, labels, reference = fake.rows, fake.labels, fake.logits["torch/cpu/fp32"]
    figures = figures_from(fake, golden={})
    target = judge_target(
        "x86-avx2", Precision.INT8, noisy, 1.0, torch_logits=reference, labels=labels, host_logits=noisy, cpu="AVX2"
    )
    return {
        "report.md": render_report_md(_report(rows)),
        "report.json": json.dumps(rows[1].to_dict(), default=str),
        "drift": render_drift(
            [Drift(n, f.value, f.value, f.rule, f.tolerance) for n, f in figures.items()], only_failed=False
        ),
        "targets.md": render_targets_md([target]),
    }


def test_a_new_metric_is_one_entry_in_the_list(run, monkeypatch, capsys):
    fake, noisy = run
    before = _shown(fake, noisy)
    assert not any("mean_cosine" in text or "mean cosine vs reference" in text for text in before.values())
    monkeypatch.setattr(results, "METRICS", (*results.METRICS, NEW))  # the one edit
    after = _shown(fake, noisy)
    value = f"{fake.rows[1].comparison.cosine_similarity:.6f}"
    assert "| mean cosine vs reference |" in after["report.md"] and f"| {value} |" in after["report.md"]
    assert json.loads(after["report.json"])["mean_cosine"] == fake.rows[1].comparison.cosine_similarity
    assert "onnxruntime/cpu/int8/mean_cosine" in after["drift"] and "torch/cpu/fp32/mean_cosine" not in after["drift"]
    assert "| mean cosine vs reference |" in after["targets.md"]
    verify = VerifyResult("seeded", 400, 0.9, [fake.rows[1]], {Precision.INT8: None}, [])
    _print_verification(verify)
    assert f"mean cosine vs reference {value}" in capsys.readouterr().out


def test_the_report_table_has_one_column_per_report_metric(run):
    fake, _ = run
    text = render_report_md(_report(fake.rows))
    header = next(line for line in text.splitlines() if line.startswith("| backend |"))
    expected = ["backend", "device", "precision", *(m.header for m in results.metrics(View.REPORT))]
    assert [c.strip().replace("\\|", "|") for c in header.strip("|").split(" | ")][:-2] == expected


def test_one_throughput_everywhere_at_the_p50(run):
    """Issue 28 §6: the console said 119 images/s (at the mean) and report.md 507 (at the p50) for one figure."""
    fake, _ = run
    stats = summarize(256, [100.0] * 19 + [1000.0])  # one slow call pulls the mean to 145 ms, not the p50
    row = replace(fake.rows[1], latency={256: stats})
    assert stats.p50 == 100.0 and stats.mean == pytest.approx(145.0)
    assert row.images_per_s(256) == stats.throughput == images_per_s(256, 100.0) == pytest.approx(2560.0)
    report = _report([fake.rows[0], row])
    assert report["rows"][1]["throughput"]["256"] == pytest.approx(2560.0)
    text = render_report_md(report)
    assert "| 2560 |" in text and "batch size ÷ p50 latency" in text
