"""The edge runtime: numpy, Pillow and onnxruntime (plus tensorrt and cuda-python for engines). No torch.

from alexnet_edge.runtime import OnnxRuntimeRunner, preprocess_images
with OnnxRuntimeRunner("model.int8.onnx") as runner:
    logits = runner.infer(preprocess_images(["cat.png"]))
"""

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.constants import CLASS_NAMES, INPUT_NAME, MEAN, OUTPUT_NAME, STD
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.preprocess import load_image, normalize_uint8, preprocess_images

__all__ = [
    "BaseRunner",
    "OnnxRuntimeRunner",
    "CLASS_NAMES",
    "INPUT_NAME",
    "MEAN",
    "OUTPUT_NAME",
    "STD",
    "AlexNetEdgeError",
    "Precision",
    "load_image",
    "normalize_uint8",
    "preprocess_images",
]


def __getattr__(name: str):
    # The TensorRT runner pulls in nothing heavy at import, but keep it out of the eager path anyway.
    if name == "TensorRTRunner":
        from alexnet_edge.runtime.backends.tensorrt.runner import TensorRTRunner

        return TensorRTRunner
    raise AttributeError(name)
