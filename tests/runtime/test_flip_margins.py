"""The flipped-margin verdict: flips counted by the reference's top-1 margin, and its bound."""

import json
import math

import numpy as np
import pytest

from alexnet_edge.runtime.compare import (
    Comparison,
    compare,
    flipped_margins,
    margin_band_names,
    top1_margins,
)
from alexnet_edge.runtime.evaluation import judge
from alexnet_edge.runtime.fidelity import check
from alexnet_edge.runtime.precision import Precision, precisions, tolerance_for
from alexnet_edge.runtime.results import Result


def _reference(margins):
    """Logits whose top-1 (class 0) leads class 1 by each given margin."""
    logits = np.full((len(margins), 10), -20.0, dtype=np.float32)
    logits[:, 0] = 5.0
    logits[:, 1] = 5.0 - np.asarray(margins, dtype=np.float32)
    return logits


def test_margins_and_bands():
    reference = _reference([0.1, 0.7, 1.5, 3.0, 6.0, 9.0])
    assert np.allclose(top1_margins(reference), [0.1, 0.7, 1.5, 3.0, 6.0, 9.0], atol=1e-6)
    assert margin_band_names() == ["0-0.5", "0.5-1", "1-2", "2-4", ">=4"]
    moved = reference.copy()
    moved[[0, 2, 4], 1] += 7.0  # flips the images of margins 0.1, 1.5 and 6.0 to class 1
    bands, largest = flipped_margins(moved, reference)
    assert bands == {"0-0.5": 1, "0.5-1": 0, "1-2": 1, "2-4": 0, ">=4": 1} and largest == pytest.approx(6.0)
    assert flipped_margins(reference, reference) == ({name: 0 for name in margin_band_names()}, 0.0)


def test_a_confident_flip_fails_although_agreement_passes():
    margins = np.linspace(0.05, 8.0, 1000)
    reference = _reference(margins)
    labels = np.zeros(1000, dtype=np.int64)
    near_ties = reference.copy()
    near_ties[:5, 1] += 1.0  # five flips, each on a margin below 0.1
    confident = reference.copy()
    confident[-5:, 1] += 9.0  # five flips the reference was sure of (margins near 8)
    tolerance = tolerance_for(Precision.INT8).for_sample(1000)
    ok, bad = compare(near_ties, reference, labels), compare(confident, reference, labels)
    assert ok.top1_agreement == bad.top1_agreement == 0.995 >= tolerance.min_top1_agreement
    assert not check(ok, reference_accuracy=ok.accuracy, tolerance=tolerance, artifact="x")
    failures = check(bad, reference_accuracy=bad.accuracy, tolerance=tolerance, artifact="x")
    assert [f.metric for f in failures] == ["max_flipped_margin"] and failures[0].value == pytest.approx(8.0, abs=0.05)
    assert f"{tolerance.max_flipped_margin:g}" in str(failures[0])
    # Without the bound, agreement alone passes the confident flips.
    unbounded = tolerance.with_overrides(max_flipped_margin=math.inf)
    assert not check(bad, reference_accuracy=bad.accuracy, tolerance=unbounded, artifact="x")


def test_every_precision_has_a_finite_bound_and_rows_carry_the_figures():
    assert all(math.isfinite(t.max_flipped_margin) for t in (tolerance_for(p) for p in precisions()))
    reference = _reference([0.2, 3.0])
    moved = reference.copy()
    moved[0, 1] += 1.0
    result, _, _ = judge(moved, np.zeros(2, dtype=np.int64), reference, None, artifact="x")
    data = json.loads(json.dumps(result.to_dict()))
    assert data["flips_by_margin"]["0-0.5"] == 1 and data["max_flipped_margin"] == pytest.approx(0.2)


def test_reports_written_before_the_margin_fields_still_load():
    old = {
        "images": 2,
        "accuracy": 1.0,
        "per_class_accuracy": [1.0] * 10,
        "top1_agreement": 1.0,
        "max_abs_diff": 0.0,
        "mean_abs_diff": 0.0,
        "cosine_similarity": 1.0,
    }
    assert Comparison(**old).max_flipped_margin == 0.0
    row = Result.from_dict(
        {"backend": "onnxruntime", "device": "cpu", "precision": "int8", **old, "accuracy_delta": 0.0}
    )
    assert row.comparison.max_flipped_margin == 0.0 and row.to_dict()["flips_by_margin"] == {}


def _corrupt_class_scale(source, target, cls, factor):
    """The INT8 model with the dequantization scale of one class's logit weights multiplied by ``factor``."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(source)
    gemm = next(n for n in model.graph.node if n.output[0] == model.graph.output[0].name)
    dequantize = next(n for n in model.graph.node if n.output[0] == gemm.input[1] and n.op_type == "DequantizeLinear")
    init = next(i for i in model.graph.initializer if i.name == dequantize.input[1])
    scale = numpy_helper.to_array(init).copy()
    scale[cls] *= factor
    init.CopyFrom(numpy_helper.from_array(scale, init.name))
    onnx.save(model, target)


def test_an_int8_model_with_one_class_scale_off_fails_while_its_agreement_passes(
    exported, test_images, torch_logits, tmp_path
):
    from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
    from alexnet_edge.runtime.evaluation import evaluate

    images, labels = test_images
    tolerance = tolerance_for(Precision.INT8).for_sample(len(labels))
    bad = tmp_path / "model.int8.onnx"
    _corrupt_class_scale(exported.out / "model.int8.onnx", bad, cls=5, factor=1.15)  # "dog" weighted 15% too high
    rows = {}
    for name, path in (("shipped", exported.out / "model.int8.onnx"), ("corrupted", bad)):
        with OnnxRuntimeRunner(path) as runner:
            rows[name] = evaluate(runner, Precision.INT8, images, labels, torch_logits, tolerance)
    shipped = rows["shipped"].row
    assert shipped.within_tolerance and shipped.comparison.max_flipped_margin < tolerance.max_flipped_margin
    corrupted = rows["corrupted"].row.comparison
    assert corrupted.top1_agreement >= tolerance.min_top1_agreement  # agreement alone would pass it
    assert [f.metric for f in rows["corrupted"].failures] == ["max_flipped_margin"], rows["corrupted"].failures
    assert corrupted.max_flipped_margin > tolerance.max_flipped_margin and sum(corrupted.flips_by_margin.values()) > 0
    # report.json carries it
    assert rows["corrupted"].row.to_dict()["max_flipped_margin"] == corrupted.max_flipped_margin
