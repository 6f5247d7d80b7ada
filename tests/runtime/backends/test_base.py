"""BaseRunner's lifecycle and output checks, on a runner whose *_impl part is a few lines of numpy."""

import numpy as np
import pytest

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.errors import AlexNetEdgeError, InferenceError, InputError, RunnerStateError


class _Linear(BaseRunner):
    """Logits = a fixed projection of the image; ``classes`` other than 10 mimics a wrong model."""

    def __init__(self, classes: int = 10):
        super().__init__("linear")
        self.classes = classes
        self.weights = np.random.default_rng(0).standard_normal((3 * 32 * 32, classes)).astype(np.float32)

    def activate_impl(self) -> None:
        pass

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), -1) @ self.weights

    def deactivate_impl(self) -> None:
        pass


BATCH = np.zeros((2, 3, 32, 32), np.float32)


def test_infer_before_activate_and_activating_twice_are_lifecycle_errors():
    runner = _Linear()
    with pytest.raises(RunnerStateError, match="before infer"):
        runner.infer(BATCH)
    with runner:
        with pytest.raises(RunnerStateError, match="already active"):
            runner.activate()
        assert runner.infer(BATCH).shape == (2, 10)
    with pytest.raises(RunnerStateError):  # deactivated again by the with-block
        runner.infer(BATCH)


def test_lifecycle_misuse_is_not_a_bad_value_but_a_bad_batch_is():
    assert issubclass(RunnerStateError, AlexNetEdgeError) and not issubclass(RunnerStateError, ValueError)
    with _Linear() as runner, pytest.raises(InputError) as caught:
        runner.infer(np.zeros((2, 3, 16, 16), np.float32))
    assert isinstance(caught.value, ValueError)


def test_a_model_with_the_wrong_output_shape_is_an_inference_error():
    with _Linear(classes=7) as runner, pytest.raises(InferenceError, match=r"returned shape \[2, 7\]"):
        runner.infer(BATCH)
