import math

import numpy as np
import pytest

from alexnet_edge.runtime.compare import accuracy, compare
from alexnet_edge.runtime.errors import AlexNetEdgeError, ToleranceError
from alexnet_edge.runtime.fidelity import Tolerance, check
from alexnet_edge.runtime.precision import Precision, parse_tolerance_overrides, tolerance_for


def test_compare_metrics(rng):
    ref = rng.normal(size=(100, 10)).astype(np.float32)
    labels = ref.argmax(1)
    same = compare(ref.copy(), ref, labels)
    assert same.accuracy == 1.0 and same.top1_agreement == 1.0 and same.max_abs_diff == 0.0
    assert same.cosine_similarity == pytest.approx(1.0) and same.per_class_accuracy[labels[0]] == 1.0
    moved = ref.copy()
    moved[:10] = -moved[:10]
    result = compare(moved, ref, labels)
    assert result.top1_agreement == pytest.approx(0.9) and result.accuracy == pytest.approx(0.9)
    assert result.max_abs_diff == pytest.approx(2 * np.abs(ref[:10]).max(), rel=1e-6)


def test_check_carries_the_numbers():
    tol = Tolerance(min_top1_agreement=0.99, max_accuracy_drop=0.003, max_abs_diff=0.5)
    result = compare(
        np.eye(10, dtype=np.float32)[[0, 1, 2, 3]], np.eye(10, dtype=np.float32)[[0, 1, 2, 4]], np.array([0, 1, 2, 4])
    )
    failures = check(result, reference_accuracy=1.0, tolerance=tol, artifact="model.int8.onnx")
    metrics = {f.metric: f for f in failures}
    assert set(metrics) == {"top1_agreement", "accuracy_drop", "max_abs_diff"}
    assert metrics["top1_agreement"].value == 0.75 and metrics["top1_agreement"].tolerance == 0.99
    assert isinstance(metrics["max_abs_diff"], ToleranceError)
    assert str(metrics["accuracy_drop"]) == "model.int8.onnx: accuracy_drop = 0.25 is above the maximum 0.003"


def test_default_tolerances_follow_the_goals():
    assert tolerance_for(Precision.INT8).min_top1_agreement == 0.985
    assert tolerance_for(Precision.INT8).max_accuracy_drop == 0.003
    assert tolerance_for(Precision.FP16).min_top1_agreement == 0.999
    assert tolerance_for(Precision.FP32).max_abs_diff == 1e-3
    assert math.isinf(tolerance_for(Precision.INT8).max_abs_diff)


def test_overrides_parse_and_validate():
    assert parse_tolerance_overrides(["int8.min_top1_agreement=0.99"]) == {Precision.INT8: {"min_top1_agreement": 0.99}}
    with pytest.raises(AlexNetEdgeError, match="unknown tolerance"):
        parse_tolerance_overrides(["int8.bogus=1"])
    with pytest.raises(AlexNetEdgeError, match="unknown precision"):
        parse_tolerance_overrides(["int4.max_abs_diff=1"])
    with pytest.raises(AlexNetEdgeError, match="PRECISION.FIELD=NUMBER"):
        parse_tolerance_overrides(["nonsense"])


def test_tolerance_error_is_a_failed_check_not_a_bad_value():
    """ValueError only for input-validation errors (#18): a model outside its tolerance is a failed check."""
    from alexnet_edge.runtime.errors import AlexNetEdgeError

    err = ToleranceError(artifact="a", metric="m", value=1.0, tolerance=0.5, bound="max")
    assert isinstance(err, AlexNetEdgeError) and not isinstance(err, ValueError) and err.exit_code == 1


def test_fp16_tolerance_passes_real_fp16_arithmetic_and_fails_a_broken_model(test_split, exported, tmp_path):
    """The CUDA FP16 golden logits are real FP16 arithmetic (not x86's FP32-for-FP16); a model
    whose weights carry 0.5% noise (10x FP16 rounding) must still fail."""
    import onnx
    from conftest import REFERENCE_DIR
    from onnx import numpy_helper

    from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
    from alexnet_edge.runtime.preprocess import normalize_uint8

    fp16, fp32 = (REFERENCE_DIR / f"test_logits_{p}_cuda.npy" for p in ("fp16", "fp32"))
    if not fp16.is_file():
        pytest.skip("no CUDA golden logits in ../shared/reference")
    gold16, gold32 = np.load(fp16), np.load(fp32)
    real = compare(gold16, gold32, test_split.labels)
    assert real.max_abs_diff > 0.04  # it is FP16 arithmetic: far from x86's 2.7e-5
    tolerance = tolerance_for(Precision.FP16)
    assert (
        check(real, reference_accuracy=accuracy(gold32, test_split.labels), tolerance=tolerance, artifact="cuda:fp16")
        == []
    )

    model = onnx.load(str(exported.out / "model.fp16.onnx"))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        if init.name.endswith("weight"):
            w = numpy_helper.to_array(init)
            noisy = (w.astype(np.float32) * (1 + 0.005 * rng.standard_normal(w.shape))).astype(w.dtype)
            init.CopyFrom(numpy_helper.from_array(noisy, init.name))
    onnx.save(model, str(tmp_path / "broken.fp16.onnx"))
    images, labels = normalize_uint8(test_split.images[:1000]), test_split.labels[:1000]
    with OnnxRuntimeRunner(exported.out / "model.fp32.onnx") as runner:
        reference = runner.infer_many(images)
    with OnnxRuntimeRunner(tmp_path / "broken.fp16.onnx") as runner:
        broken = compare(runner.infer_many(images), reference, labels)
    failures = check(
        broken, reference_accuracy=accuracy(reference, labels), tolerance=tolerance, artifact="broken:fp16"
    )
    assert failures and {f.metric for f in failures} <= {"max_rel_diff", "top1_agreement", "cosine_similarity"}, (
        failures
    )


def test_small_samples_allow_three_images_of_accuracy_and_one_disagreement():
    base = tolerance_for(Precision.FP16)
    assert base.for_sample(10000) == base
    small = base.for_sample(100)
    assert small.max_accuracy_drop == pytest.approx(0.03) and small.min_top1_agreement == pytest.approx(0.99)
    assert small.max_rel_diff == base.max_rel_diff and small.min_cosine_similarity == base.min_cosine_similarity
