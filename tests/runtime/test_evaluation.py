"""The one evaluation path: typed rows that round-trip through report.json's schema."""

import json
from dataclasses import fields

import numpy as np
import pytest

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.bench import summarize
from alexnet_edge.runtime.evaluation import evaluate, judge
from alexnet_edge.runtime.fileio import strict_json
from alexnet_edge.runtime.precision import Precision, spec_for, tolerance_for
from alexnet_edge.runtime.results import Result


def test_row_round_trips_through_the_report_schema(exported, test_images, torch_logits):
    images, labels = test_images
    with OnnxRuntimeRunner(exported.out / "model.int8.onnx") as runner:
        evaluated = evaluate(
            runner,
            Precision.INT8,
            images,
            labels,
            torch_logits,
            tolerance_for(Precision.INT8, len(labels)),
        )
    row = evaluated.row
    row.latency = {1: summarize(1, [1.0, 1.2, 0.9, 1.1])}
    row.device_p50_ms = {1: 0.4}
    data = json.loads(json.dumps(strict_json(row.to_dict())))
    assert strict_json(Result.from_dict(data).to_dict()) == data  # report.json writes inf as null
    assert row.key == "onnxruntime/cpu/int8" and row.artifact == "model.int8.onnx" and row.within_tolerance
    assert data["accuracy"] == row.comparison.accuracy and data["latency_includes_copies"] is True
    assert data["throughput"]["1"] == pytest.approx(1000 / row.latency[1].p50)  # bench.images_per_s: at the p50
    assert set(data) >= {
        "backend",
        "device",
        "per_class_accuracy",
        "top1_agreement",
        "max_abs_diff",
        "accuracy_delta",
        "failures",
    }


def test_a_row_has_no_untyped_bag_and_no_read_through():
    """Every field of a Result is declared (no ``extra`` dict, no ``__getattr__`` to the comparison)."""
    assert "__getattr__" not in vars(Result) and "extra" not in {f.name for f in fields(Result)}
    untimed = Result.from_dict({"backend": "torch", "device": "cpu", "precision": "fp32", "accuracy": 0.5, **_FIGURES})
    assert "throughput" not in untimed.to_dict()  # only what was measured
    with pytest.raises(AttributeError):
        untimed.accuracy  # noqa: B018 - the figure is untimed.comparison.accuracy


_FIGURES = {
    "images": 2,
    "per_class_accuracy": [0.5] * 10,
    "top1_agreement": 1.0,
    "max_abs_diff": 0.0,
    "mean_abs_diff": 0.0,
    "cosine_similarity": 1.0,
}


def test_judge_names_what_is_beyond_tolerance():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(400, 10)).astype(np.float32)
    labels = reference.argmax(1)
    noisy = reference + rng.normal(scale=2.0, size=reference.shape).astype(np.float32)
    result, reference_accuracy, failures = judge(
        noisy, labels, reference, spec_for(Precision.FP32).tolerance, artifact="x"
    )
    assert reference_accuracy == 1.0 and result.top1_agreement < 0.9
    assert failures and all(f.artifact == "x" for f in failures)
    assert judge(noisy, labels, reference, None, artifact="x")[2] == []
