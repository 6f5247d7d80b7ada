"""infer.classify, the API alexnet-infer prints: driven from Python on real test images and bad inputs."""

import numpy as np
import pytest
from PIL import Image

from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.infer import Prediction, classify
from alexnet_edge.runtime.preprocess import normalize_uint8


@pytest.fixture(scope="module")
def inputs(test_split, tmp_path_factory):
    folder = tmp_path_factory.mktemp("classify")
    for i in range(3):
        Image.fromarray(test_split.images[i].transpose(1, 2, 0)).save(folder / f"{i}.png")
    np.save(folder / "rows.npy", test_split.images[3:5].transpose(0, 2, 3, 1))  # uint8 NHWC
    (folder / "broken.png").write_bytes(b"not an image")
    return folder


def test_classify_gives_one_prediction_per_image_in_order_with_errors_in_place(exported, test_split, inputs):
    with OnnxRuntimeRunner(exported.out / "model.fp32.onnx") as runner:
        predictions = classify(runner, [inputs], top_k=3, batch_size=2)  # 2: several infer calls
        expected = runner.infer(normalize_uint8(test_split.images[:5]))
    assert all(isinstance(p, Prediction) for p in predictions)
    paths = [p.path.rsplit("/", 1)[-1] for p in predictions]
    assert paths == ["0.png", "1.png", "2.png", "broken.png", "rows.npy[0]", "rows.npy[1]"]
    broken = predictions[3]
    assert broken.error and not broken.top
    good = [p for p in predictions if p.error is None]
    assert [p.top[0].index for p in good] == expected.argmax(1).tolist()
    for p in good:
        assert len(p.top) == 3 and p.top[0].name == CLASS_NAMES[p.top[0].index]
        probabilities = [c.probability for c in p.top]
        assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1 + 1e-9


def test_non_finite_logits_are_an_error_of_that_input_only(exported, inputs, monkeypatch):
    with OnnxRuntimeRunner(exported.out / "model.fp32.onnx") as runner:
        real = runner.infer_impl

        def first_row_nan(batch):
            logits = real(batch)
            logits[0] = np.nan
            return logits

        monkeypatch.setattr(runner, "infer_impl", first_row_nan)
        predictions = classify(runner, [inputs / "0.png", inputs / "1.png"], batch_size=8)
    assert "NaN or infinite logits" in predictions[0].error and predictions[1].error is None
