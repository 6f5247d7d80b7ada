"""runtime/batching.py: every caller runs a runner only at batch sizes it declares (issue #27, bug 4).

A DLA engine takes one batch size (min = opt = max) and ``--max-batch`` narrows an engine's profile;
evaluation, the bundle's verification and the benchmark used to hand it 10,000 % 32 = 16 images, or batch 1.
"""

import logging
from pathlib import Path

import numpy as np
import pytest
from support.trt_fake_runtime import tf32_logits
from support.trt_fakes import fake_logits

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine
from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner
from alexnet_edge.runtime.batching import Batch, pad_batch, plan_batches, runnable_sizes, supports_batch
from alexnet_edge.runtime.bench import TimingPolicy, measure_latency
from alexnet_edge.runtime.errors import InputError
from alexnet_edge.runtime.evaluation import evaluate
from alexnet_edge.runtime.precision import Precision


class Fixed(BaseRunner):
    """A runner that takes batches of [low, high] only, as an engine's profile does, and records them."""

    def __init__(self, low, high):
        super().__init__(f"fixed[{low},{high}]")
        self.low, self.high, self.sizes = low, high, []

    min_batch = property(lambda self: self.low)
    max_batch = property(lambda self: self.high)

    def activate_impl(self):
        pass

    def deactivate_impl(self):
        pass

    def infer_impl(self, batch):
        if not self.low <= len(batch) <= self.high:
            raise InputError(
                f"{self.name}: batch {len(batch)} is outside the engine's profile [{self.low}, {self.high}]"
            )
        self.sizes.append(len(batch))
        return fake_logits(batch).astype(np.float32)


def _images(n, rng):
    return rng.standard_normal((n, 3, 32, 32)).astype(np.float32)


@pytest.mark.parametrize(
    ("n", "low", "high", "size", "plan"),
    [
        (50, 32, 32, 256, [Batch(0, 32, 32), Batch(32, 50, 32)]),
        (500, 1, 64, 256, [Batch(s, min(s + 64, 500), min(64, 500 - s)) for s in range(0, 500, 64)]),
        (300, None, None, 256, [Batch(0, 256, 256), Batch(256, 300, 44)]),
        (10, 4, 8, 3, [Batch(0, 4, 4), Batch(4, 8, 4), Batch(8, 10, 4)]),
        (0, 32, 32, 256, []),
    ],
)
def test_plan_batches_stays_inside_the_declared_range(n, low, high, size, plan):
    capability = type("C", (), {"min_batch": low, "max_batch": high})()
    assert plan_batches(n, capability, size) == plan
    assert all(supports_batch(capability, b.padded_size) for b in plan)


def test_sizes_outside_the_range_are_named_and_a_batch_is_padded_with_its_last_image(rng):
    assert runnable_sizes(Fixed(32, 32), (1, 8, 32, 256)) == ([32], [1, 8, 256])
    images = _images(3, rng)
    padded = pad_batch(images, 5)
    assert (
        padded.shape == (5, 3, 32, 32) and np.array_equal(padded[3], images[2]) and np.array_equal(padded[4], images[2])
    )
    with pytest.raises(InputError, match="empty"):
        plan_batches(10, Fixed(8, 4))


def test_evaluate_runs_a_fixed_batch_engine_on_a_count_it_does_not_divide(rng):
    """500 bundle images on a batch-32 engine: 15 full batches and 20 left over (was: "batch 20 is outside")."""
    images, runner = _images(500, rng), Fixed(32, 32)
    reference = fake_logits(images)
    labels = reference.argmax(1)
    with runner:
        evaluated = evaluate(runner, Precision.FP16, images, labels, reference, None, batch_size=64)
    assert set(runner.sizes) == {32} and len(runner.sizes) == 16
    np.testing.assert_allclose(evaluated.logits, reference, rtol=1e-6)
    assert evaluated.logits.shape == (500, 10) and not evaluated.failures


def test_the_benchmark_skips_sizes_the_engine_cannot_take_in_one_line(rng, caplog):
    runner = Fixed(32, 32)
    policy = TimingPolicy(warmup=0, min_runs=1, min_seconds=0)
    with caplog.at_level(logging.INFO, logger="alexnet_edge"), runner:
        result = measure_latency(runner, _images(64, rng), batch_sizes=(1, 32), policy=policy)
    assert list(result) == ["32"]
    (line,) = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert line == "fixed[32,32]: skipping batch 1 (it takes 32..32)"


@pytest.mark.trt_contract
@pytest.mark.parametrize("fake_trt", ["trt10.3"], indirect=True)
def test_a_dla_style_engine_evaluates_10000_mod_32_images(fake_trt, tmp_path, rng):
    """The real runner on the fake TensorRT, engine profile [32, 32] as DLA forces it: 10,000 % 32 = 16."""
    onnx = tmp_path / "model.fp16.onnx"
    onnx.write_bytes(b"\x08\x07fake onnx bytes")
    build_engine(
        onnx, tmp_path / "m.engine", Precision.FP16, EngineBuildConfig(min_batch=32, opt_batch=32, max_batch=32)
    )
    images = _images(48, rng)
    reference = tf32_logits(images)  # an FP16 build keeps TF32 on
    with TensorRTRunner(tmp_path / "m.engine") as runner:
        evaluated = evaluate(runner, Precision.FP16, images, reference.argmax(1), reference, None)
    np.testing.assert_allclose(evaluated.logits, reference, rtol=1e-5, atol=1e-5)


def test_alexnet_infer_classifies_three_images_on_a_batch_8_engine(tmp_path, rng):
    """alexnet-infer (runtime/infer.classify) on fewer images than the engine's one batch size."""
    from PIL import Image

    from alexnet_edge.runtime.infer import classify

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(paths[-1])
    runner = Fixed(8, 8)
    with runner:
        predictions = classify(runner, paths, top_k=2)
    assert runner.sizes == [8] and [Path(p.path).name for p in predictions] == [p.name for p in paths]
    assert all(p.error is None and len(p.top) == 2 for p in predictions)
