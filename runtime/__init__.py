"""The edge runtime: numpy, Pillow and onnxruntime (plus tensorrt and cuda-python for engines). No torch.

from alexnet_edge.runtime import OnnxRuntimeRunner, preprocess_images
with OnnxRuntimeRunner("model.int8.onnx") as runner:
    logits = runner.infer(preprocess_images(["cat.png"]))

The names below are this package's public API. Each is loaded from its owning module when first
read (PEP 562), so importing any ``alexnet_edge.runtime.*`` module never executes the others: the
package itself imports nothing, which keeps the import graph free of cycles through it.
"""

import importlib

_OWNERS = {
    "BaseRunner": "alexnet_edge.runtime.backends.base",
    "OnnxRuntimeRunner": "alexnet_edge.runtime.backends.onnxruntime.runner",
    "TensorRTRunner": "alexnet_edge.runtime.backends.tensorrt.runner",
    "CLASS_NAMES": "alexnet_edge.runtime.constants",
    "INPUT_NAME": "alexnet_edge.runtime.constants",
    "MEAN": "alexnet_edge.runtime.constants",
    "OUTPUT_NAME": "alexnet_edge.runtime.constants",
    "STD": "alexnet_edge.runtime.constants",
    "AlexNetEdgeError": "alexnet_edge.runtime.errors",
    "Precision": "alexnet_edge.runtime.precision",
    "load_image": "alexnet_edge.runtime.preprocess",
    "normalize_uint8": "alexnet_edge.runtime.preprocess",
    "preprocess_images": "alexnet_edge.runtime.preprocess",
}
__all__ = sorted(_OWNERS)


def __getattr__(name: str):
    if name not in _OWNERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_OWNERS[name]), name)


def __dir__() -> list[str]:
    return __all__
