"""A precision's model on an onnxruntime older than the oldest measured to run it: refused in one line."""

from pathlib import Path

import pytest

from alexnet_edge.runtime.backends.onnxruntime.providers import too_old_refusal
from alexnet_edge.runtime.precision import Precision, spec_for


@pytest.mark.parametrize("version", ["1.20.1", "1.21.0", "1.17.3"])
def test_int4w_is_refused_below_its_measured_onnxruntime(version):
    line = too_old_refusal(version, Precision.INT4W, Path("model.int4w.onnx"))
    assert line is not None and "\n" not in line
    assert f"onnxruntime {version} cannot run model.int4w.onnx" in line
    assert spec_for(Precision.INT4W).min_onnxruntime in line


@pytest.mark.parametrize("version", ["1.21.1", "1.23.2", "1.32.0", "1.32.0.dev20261201"])
def test_int4w_runs_from_its_measured_onnxruntime_on(version):
    assert too_old_refusal(version, Precision.INT4W, Path("model.int4w.onnx")) is None


@pytest.mark.parametrize("precision", [Precision.FP32, Precision.FP16, Precision.INT8, None])
def test_precisions_without_a_minimum_are_never_refused(precision):
    assert too_old_refusal("1.17.0", precision, Path("model.onnx")) is None
