"""The one evaluation path: typed rows that round-trip through report.json's schema."""

import json

import numpy as np

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.compare import DEFAULT_TOLERANCES
from alexnet_edge.runtime.evaluation import Row, evaluate, judge
from alexnet_edge.runtime.precision import Precision


def test_row_round_trips_through_the_report_schema(exported, test_images, torch_logits):
    images, labels = test_images
    with OnnxRuntimeRunner(exported.out / "model.int8.onnx") as runner:
        evaluated = evaluate(
            runner,
            Precision.INT8,
            images,
            labels,
            torch_logits,
            DEFAULT_TOLERANCES[Precision.INT8].for_sample(len(labels)),
        )
    row = evaluated.row
    row.latency_ms, row.extra = (
        {"1": {"p50": 1.0, "p90": 1.2, "p99": 1.3, "mean": 1.1}},
        {"latency_includes_copies": True},
    )
    data = json.loads(json.dumps(row.to_dict()))
    assert Row.from_dict(data).to_dict() == data
    assert row.key == "onnxruntime/cpu/int8" and row.artifact == "model.int8.onnx" and row.within_tolerance
    assert (
        data["accuracy"] == row.accuracy == row.comparison.accuracy and "throughput" not in data
    )  # only what was measured
    assert set(data) >= {
        "backend",
        "device",
        "per_class_accuracy",
        "top1_agreement",
        "max_abs_diff",
        "accuracy_delta",
        "failures",
    }


def test_judge_names_what_is_beyond_tolerance():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(400, 10)).astype(np.float32)
    labels = reference.argmax(1)
    noisy = reference + rng.normal(scale=2.0, size=reference.shape).astype(np.float32)
    result, reference_accuracy, failures = judge(
        noisy, labels, reference, DEFAULT_TOLERANCES[Precision.FP32], artifact="x"
    )
    assert reference_accuracy == 1.0 and result.top1_agreement < 0.9
    assert failures and all(f.artifact == "x" for f in failures)
    assert judge(noisy, labels, reference, None, artifact="x")[2] == []
