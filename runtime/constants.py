"""The one definition of what the model expects and what its outputs mean.

These are the reference checkpoint's conventions (``../shared/reference/meta.json``). Training,
export, calibration, evaluation and the edge runtime all read them from here.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
NUM_CLASSES = len(CLASS_NAMES)

# RGB in [0, 1], then (x - MEAN) / STD per channel.
MEAN: tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
STD: tuple[float, float, float] = (0.2470, 0.2435, 0.2616)

INPUT_SIZE = 32
CHANNELS = 3
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def input_shape(batch: int) -> tuple[int, int, int, int]:
    """The model's input shape for ``batch`` images: (N, 3, 32, 32)."""
    return (batch, CHANNELS, INPUT_SIZE, INPUT_SIZE)


def input_shape_text(batch: int) -> str:
    """The same as trtexec and onnxruntime's TensorRT provider write it: ``input:Nx3x32x32``."""
    return f"{INPUT_NAME}:" + "x".join(map(str, input_shape(batch)))
