"""'Which to deploy' (issue #28 §6): a latency difference within the measured spread is a tie, and so is
an accuracy several rows share; report.png's labels neither overprint each other nor cross the frame."""

import pytest

from alexnet_edge.export.report.recommend import recommend, render_recommendation


def _row(backend, precision, accuracy, figures, *, ok=True):
    """``figures``: batch -> (p25, p50, p75) in ms."""
    return {
        "backend": backend,
        "device": "cpu",
        "precision": precision,
        "artifact": None if backend == "torch" else f"model.{precision}.onnx",
        "size_mb": {"fp32": 114.9, "fp16": 57.4, "int8": 28.8}[precision],
        "accuracy": accuracy,
        "accuracy_delta": accuracy - 0.8866,
        "top1_agreement": 1.0,
        "mean_abs_diff": 0.0,
        "tolerance": {"max_accuracy_drop": 0.003 if precision == "int8" else 0.001},
        "within_tolerance": ok,
        "latency_ms": {
            b: {"p50": p50, "p90": p75 * 1.1, "mean": p50, "runs": 200, "spread_ms": [p25, p75]}
            for b, (p25, p50, p75) in figures.items()
        },
    }


ROWS = [
    _row("torch", "fp32", 0.8866, {"1": (8.0, 9.0, 10.0), "8": (20.0, 22.0, 25.0)}),
    _row("onnxruntime", "fp32", 0.8866, {"1": (1.9, 2.0, 2.1), "8": (9.0, 9.5, 10.0)}),
    _row("onnxruntime", "fp16", 0.8866, {"1": (1.9, 2.05, 2.2), "8": (9.0, 9.6, 10.1)}),
    _row("openvino", "fp32", 0.8866, {"1": (1.6, 1.7, 1.8), "8": (8.0, 8.4, 8.8)}),
    _row("openvino", "fp16", 0.8866, {"1": (1.6, 1.7, 1.8), "8": (8.1, 8.5, 8.9)}),
    _row("onnxruntime", "int8", 0.8859, {"1": (1.2, 1.3, 1.4), "8": (5.0, 5.2, 5.6)}),
    _row("openvino", "int8", 0.8859, {"1": (1.3, 1.45, 1.6), "8": (5.3, 5.5, 5.8)}),
]


def test_a_difference_within_the_spread_is_a_tie_and_said_so():
    rec = recommend(ROWS)["batch_sizes"]
    one, eight = rec["1"], rec["8"]
    assert (one["fastest"]["backend"], one["fastest"]["precision"]) == ("onnxruntime", "int8")
    # openvino int8's p25-p75 (1.3-1.6) overlaps onnxruntime int8's (1.2-1.4): no measured difference
    assert [(p["backend"], p["precision"]) for p in one["fastest_ties"]] == [("openvino", "int8")]
    assert [(p["backend"], p["precision"]) for p in eight["fastest_ties"]] == [("openvino", "int8")]
    text = "\n".join(render_recommendation(recommend(ROWS)))
    assert "**batch 1**: a tie for fastest within tolerance, within the measured spread" in text
    assert "p25–p75 latency ranges overlap are a tie" in text


def test_a_difference_beyond_the_spread_is_no_tie():
    rows = [ROWS[1], ROWS[5]]
    rec = recommend(rows)["batch_sizes"]["1"]
    assert rec["fastest"]["precision"] == "int8" and rec["fastest_ties"] == []
    assert "tie for fastest" not in "\n".join(render_recommendation(recommend(rows)))


def test_four_rows_at_one_accuracy_are_a_tie_not_the_most_accurate():
    rec = recommend(ROWS)["batch_sizes"]["1"]
    assert rec["most_accurate"] is None
    assert sorted((p["backend"], p["precision"]) for p in rec["accuracy_ties"]) == [
        ("onnxruntime", "fp16"),
        ("onnxruntime", "fp32"),
        ("openvino", "fp16"),
        ("openvino", "fp32"),
    ]
    text = "\n".join(render_recommendation(recommend(ROWS)))
    assert "accuracy: a tie at 88.66% between" in text and "most accurate:" not in text


def test_int8_and_fp32_within_the_spread_are_a_tie():
    rows = [
        _row("onnxruntime", "fp32", 0.8866, {"1": (1.9, 2.0, 2.2)}),
        _row("onnxruntime", "int8", 0.8859, {"1": (1.8, 1.95, 2.1)}),
    ]
    versus = recommend(rows)["batch_sizes"]["1"]["int8_vs_fp32"]
    assert versus["verdict"] == "tie" and versus["int8_faster"] is False
    assert "INT8 and FP32 are a tie at batch 1" in "\n".join(render_recommendation(recommend(rows)))


def test_images_per_s_is_at_the_p50():
    pick = recommend(ROWS)["batch_sizes"]["8"]["fastest"]
    assert pick["images_per_s"] == pytest.approx(8 * 1000.0 / 5.2)


def test_report_png_labels_stay_apart_and_inside_their_panel(tmp_path, monkeypatch):
    """Issue #28: the right panel's fp32/fp16/int8 labels printed over each other and one crossed the frame."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from alexnet_edge.export.report.plot import render_plot

    drawn = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (drawn.append(self), save(self, *a, **k))[1])
    assert render_plot(ROWS, tmp_path / "report.png", recommendation=recommend(ROWS)) is not None
    (fig,) = drawn
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = (fig.canvas if hasattr(fig.canvas, "get_renderer") else FigureCanvasAgg(fig)).get_renderer()
    for ax in fig.axes:
        frame = ax.get_window_extent(renderer)
        boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # the text, not a leader line
        for box in boxes:
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        overlapping = [(i, j) for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]
        assert not overlapping, [(ax.texts[i].get_text(), ax.texts[j].get_text()) for i, j in overlapping]
    assert len(fig.axes[1].texts) == len(ROWS)  # every point of the right panel is labelled
