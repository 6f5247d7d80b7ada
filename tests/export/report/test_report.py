"""report.md must render as a table on GitHub (parsed with a CommonMark+tables parser), give each row's
tolerance, and recommend per batch size; report.png labels its points and scales its axis honestly."""

import math

import pytest
from markdown_it import MarkdownIt

from alexnet_edge.export.report.recommend import recommend, render_recommendation
from alexnet_edge.export.report.render import render_report_md
from alexnet_edge.runtime.precision import parse_precision, tolerance_for
from alexnet_edge.runtime.results import View, metrics

COLUMNS = 3 + len(metrics(View.REPORT)) + 2  # backend, device, precision; the report's metrics; tolerance, verdict
TOLERANCE = COLUMNS - 2  # the tolerance column's index


def _table_rows(markdown: str) -> list[list[str]]:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    rows, cells = [], None
    for token in tokens:
        if token.type == "tr_open":
            cells = []
        elif token.type == "inline" and cells is not None:
            cells.append(token.content)
        elif token.type == "tr_close":
            rows.append(cells)
            cells = None
    return rows


def test_report_md_parses_as_one_table_with_every_row(exported):
    rows = _table_rows((exported.out / "report.md").read_text())
    header, body = rows[0], rows[1:]
    assert len(header) == COLUMNS and header[7] == "max |Δlogit|" and header[TOLERANCE] == "tolerance"
    assert len(body) == len(exported.report["rows"]) and all(len(r) == COLUMNS for r in body)


def test_each_row_states_its_tolerance_and_int8_says_max_diff_is_unbounded(exported):
    body = {(r[0], r[2].split(" ")[0]): r for r in _table_rows((exported.out / "report.md").read_text())[1:]}
    assert body[("torch", "fp32")][TOLERANCE] == "reference"
    fp32, int8 = body[("onnxruntime", "fp32")], body[("onnxruntime", "int8")]
    assert (
        "agreement ≥ 99.90%" in fp32[TOLERANCE] and "|Δ| ≤ 0.001" in fp32[TOLERANCE] and "(not bounded)" not in fp32[7]
    )
    assert int8[2] == "int8 (7-bit weights)" and int8[7].endswith("(not bounded)") and "|Δ|" not in int8[TOLERANCE]
    assert "agreement ≥ 98.50%" in int8[TOLERANCE] and "drop ≤ 0.30 pt" in int8[TOLERANCE]
    assert "flipped margin ≤ 1.5" in int8[TOLERANCE] and "flipped margin ≤ 0.01" in fp32[TOLERANCE]


def test_each_row_shows_its_flips_by_margin_and_the_largest(exported):
    header, *body = _table_rows((exported.out / "report.md").read_text())
    assert header[8:10] == ["flips by reference's top-1 margin", "max flipped margin"]
    by_key = {(r["backend"], r["precision"]): r for r in exported.report["rows"]}
    for cells in body:
        row = by_key[(cells[0], cells[2].split(" ")[0])]
        flips = [f"{n} ({band})" for band, n in row["flips_by_margin"].items() if n]
        assert cells[8] == (", ".join(flips) or "none") and cells[9] == f"{row['max_flipped_margin']:.2f}"


def test_no_bench_says_no_plot_and_recommends_nothing(exported):
    text = (exported.out / "report.md").read_text()
    assert "No plot (report.png) was written" in text and "## Which to deploy" not in text
    assert not (exported.out / "report.png").exists()
    assert exported.report["recommendation"]["reason"].startswith("latency was not measured")


def test_a_failure_message_with_a_pipe_stays_in_its_cell(exported):
    report = dict(exported.report)
    row = dict(report["rows"][-1], within_tolerance=False, failures=["x: max |Δ| = 3 is above 1"])
    report["rows"] = [*report["rows"][:-1], row]
    rows = _table_rows(render_report_md(report))
    assert all(len(r) == COLUMNS for r in rows) and rows[-1][-1] == "NO: x: max |Δ| = 3 is above 1"


def _row(backend, precision, p50, accuracy, *, ok=True, size_mb=10.0, delta=0.0):
    tolerance = (
        None
        if backend == "torch"
        else {k: (None if v == math.inf else v) for k, v in vars(tolerance_for(parse_precision(precision))).items()}
    )
    return {
        "backend": backend,
        "device": "cpu",
        "precision": precision,
        "artifact": None if backend == "torch" else f"model.{precision}.onnx",
        "size_mb": None if backend == "torch" else size_mb,
        "accuracy": accuracy,
        "accuracy_delta": delta,
        "top1_agreement": 1.0,
        "mean_abs_diff": 0.0,
        "max_abs_diff": 0.0,
        "tolerance": tolerance,
        "within_tolerance": ok,
        "failures": [] if ok else ["bad"],
        "latency_ms": {b: {"p50": v, "p90": 1.2 * v, "p99": 1.3 * v, "mean": v, "runs": 9} for b, v in p50.items()},
    }


ROWS = [
    _row("torch", "fp32", {"1": 9.0, "256": 2000.0}, 0.8866),
    _row("onnxruntime", "fp32", {"1": 6.6, "256": 530.0}, 0.8866),
    _row("onnxruntime", "int8", {"1": 2.9, "256": 195.0}, 0.8859, delta=-0.0007),
    _row("openvino", "fp32", {"1": 10.9, "256": 470.0}, 0.8866),
    _row("openvino", "int8", {"1": 3.5, "256": 180.0}, 0.8859, delta=-0.0007),
    _row("openvino", "fp16", {"1": 1.0, "256": 100.0}, 0.70, ok=False),  # fastest, but outside tolerance
]


def test_recommendation_is_the_fastest_row_within_tolerance_and_the_most_accurate():
    rec = recommend(ROWS)["batch_sizes"]
    assert (rec["1"]["fastest"]["backend"], rec["1"]["fastest"]["precision"]) == ("onnxruntime", "int8")
    assert (rec["256"]["fastest"]["backend"], rec["256"]["fastest"]["precision"]) == ("openvino", "int8")
    assert rec["256"]["fastest"]["images_per_s"] == pytest.approx(256 * 1000 / 180.0)
    # onnxruntime fp32 and openvino fp32 score the same: a tie, not "most accurate" (issue #28 §6);
    # torch (no artifact) is never recommended
    assert rec["1"]["most_accurate"] is None and rec["256"]["most_accurate"] is None
    tied = {(p["backend"], p["precision"]) for p in rec["1"]["accuracy_ties"]}
    assert tied == {("onnxruntime", "fp32"), ("openvino", "fp32")}
    text = "\n".join(render_recommendation(recommend(ROWS)))
    assert (
        "**batch 1**: fastest within tolerance: "
        "**onnxruntime int8 (model.int8.onnx), 2.90 ms p50, 345 images/s, 88.59%**" in text
    )
    assert "not** faster" not in text


def test_int8_not_faster_than_fp32_is_said_plainly():
    rows = [
        _row("onnxruntime", "fp32", {"1": 2.0, "256": 500.0}, 0.8866),
        _row("onnxruntime", "int8", {"1": 2.5, "256": 200.0}, 0.8859),
    ]
    rec = recommend(rows)
    assert rec["batch_sizes"]["1"]["int8_vs_fp32"]["int8_faster"] is False
    assert rec["batch_sizes"]["256"]["int8_vs_fp32"]["int8_faster"] is True
    text = "\n".join(render_recommendation(rec))
    assert (
        "INT8 is **not** faster than FP32 at batch 1 on this CPU: "
        "onnxruntime int8 2.50 ms against onnxruntime fp32 2.00 ms." in text
    )
    assert "at batch 256 on this CPU" not in text


def test_nothing_within_tolerance_recommends_nothing():
    rec = recommend([ROWS[0], ROWS[-1]])
    assert rec["batch_sizes"]["1"]["fastest"] is None
    assert "no artifact is within tolerance" in "\n".join(render_recommendation(rec))


def test_accuracy_panel_labels_points_draws_bands_and_scales_honestly():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alexnet_edge.export.report.plot import _accuracy_panel, place_labels

    fig, ax = plt.subplots()
    rows = [ROWS[0], ROWS[1], ROWS[2], _row("onnxruntime", "fp16", {"1": 6.6}, 0.8866, size_mb=5.0)]
    place_labels(ax, _accuracy_panel(ax, rows, rows, recommend(rows)["batch_sizes"]["1"]))
    labels = {t.get_text() for t in ax.texts}
    assert {
        "torch fp32",
        "onnxruntime fp32",
        "onnxruntime fp16",
        "onnxruntime int8",
    } <= labels  # FP32 and FP16 overlap: labelled
    low, high = ax.get_ylim()
    assert low <= -0.3 * 1.5 and high >= 0.1  # a 0.07-point drop does not fill the panel: the 0.30 pt INT8 band fits
    bands = [line.get_label() for line in ax.get_lines()]
    assert any("int8 allowed drop (0.30 pt)" in b for b in bands) and any("allowed drop (0.10 pt)" in b for b in bands)
    sizes = {c.get_label(): c.get_sizes()[0] for c in ax.collections if c.get_label() in labels}
    assert (
        sizes["torch fp32"] >= max(sizes.values()) - 1e-9
    )  # the reference is drawn the size of the FP32 model, not the smallest
    plt.close(fig)
