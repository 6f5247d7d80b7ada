"""ONNX tensor names back to the PyTorch layers that alexnet-inspect lists (``features.7`` ...).

torch.onnx names each op's output after the op and a per-op counter: the fourth ReLU's output
is ``relu_3``, the flatten is ``view``, the last Linear writes ``logits``. The n-th op of a kind is
the n-th layer of that kind in the network, so walking the architecture maps one to the other.
BatchNorm is folded into its convolution before export and has no tensor of its own.
"""

from __future__ import annotations

import re

from alexnet_edge.export.model.architecture import VARIANTS, walk

# torch.onnx's op name prefix -> architecture.Layer.kind
OP_KINDS = {
    "conv2d": "conv",
    "relu": "relu",
    "max_pool2d": "maxpool",
    "view": "flatten",
    "flatten": "flatten",
    "reshape": "flatten",
    "linear": "linear",
}
_NAME = re.compile(r"^(?P<op>[a-z_0-9]+?)(?:_(?P<n>\d+))?$")


def torch_layer_names(tensors: list[str], variant: str, logits_name: str = "logits") -> dict[str, str]:
    """The layer (``features.7``, ``flatten``, ``classifier.6``) of each tensor that has one.

    Args:
        tensors: ONNX tensor names, e.g. a marked model's outputs.
        variant: the network's variant (the model's ``variant`` metadata); unknown: no names.
    Returns:
        tensor name -> layer name; tensors of no known op are left out.
    """
    if variant not in VARIANTS:
        return {}
    by_kind: dict[str, list[str]] = {}
    for row in walk(variant, 224 if variant == "original" else 32):
        by_kind.setdefault(row.layer.kind, []).append(row.name)
    names = {}
    for tensor in tensors:
        if tensor == logits_name and by_kind.get("linear"):
            names[tensor] = by_kind["linear"][-1]
            continue
        match = _NAME.match(tensor)
        kind = OP_KINDS.get(match.group("op")) if match else None
        index = int(match.group("n") or 0) if match else 0
        if kind is not None and index < len(by_kind.get(kind, [])):
            names[tensor] = by_kind[kind][index]
    return names


def model_variant(model) -> str:
    """The variant an exported model records in its metadata (``cifar`` for models without one)."""
    return next((p.value for p in model.metadata_props if p.key == "variant"), "cifar")
