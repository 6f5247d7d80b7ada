"""The 32x32 CIFAR-10 AlexNet (torchvision layout: ``features`` and ``classifier`` Sequentials).

State-dict keys follow torchvision's convention of module indices inside the two Sequentials:

* ``cifar`` (the reference checkpoint loads unchanged; 28,714,826 parameters at 32x32): convs at
  ``features.{0,3,6,8,10}`` (ReLU and MaxPool between them hold no keys), Linears at
  ``classifier.{1,4,6}``; each with ``.weight`` and ``.bias``.
* ``cifar-bn`` (28,717,130 parameters): every conv is followed by a BatchNorm2d, so convs sit at
  ``features.{0,4,8,11,14}`` and BatchNorms at ``features.{1,5,9,12,15}`` with ``.weight``,
  ``.bias``, ``.running_mean``, ``.running_var``, ``.num_batches_tracked``; the classifier is
  ``classifier.{1,4,6}`` as above. ``fold_batchnorm`` folds each BatchNorm into its conv for export.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from alexnet_edge.export.errors import CheckpointError
from alexnet_edge.export.model.architecture import FEATURES, Layer, classifier_layers, flatten_size, guess_variant
from alexnet_edge.export.model.weights import REFERENCE, Weights
from alexnet_edge.runtime.constants import INPUT_SIZE
from alexnet_edge.runtime.fileio import sha256_file

REFERENCE_SHA256 = REFERENCE.sha256  # the reference checkpoint's, as its meta.json records it


def _module(layer: Layer) -> nn.Module:
    if layer.kind == "conv":
        return nn.Conv2d(layer.in_ch, layer.out_ch, layer.kernel, stride=layer.stride, padding=layer.padding)
    if layer.kind == "maxpool":
        return nn.MaxPool2d(layer.kernel, stride=layer.stride)
    if layer.kind == "linear":
        return nn.Linear(layer.in_ch, layer.out_ch)
    if layer.kind == "relu":
        return nn.ReLU(inplace=True)
    if layer.kind == "batchnorm":
        return nn.BatchNorm2d(layer.out_ch)
    if layer.kind == "dropout":
        return nn.Dropout(p=0.5)
    raise ValueError(f"no module for layer kind {layer.kind!r} ({layer})")  # a bug in the architecture table


class AlexNet(nn.Module):
    def __init__(self, *, variant: str = "cifar", input_size: int = INPUT_SIZE):
        super().__init__()
        # The shape walk raises a one-line InputSizeError before any tensor is made.
        flatten = flatten_size(variant, input_size)
        self.variant = variant
        self.input_size = input_size
        self.features = nn.Sequential(*(_module(layer) for layer in FEATURES[variant]))
        self.classifier = nn.Sequential(*(_module(layer) for layer in classifier_layers(flatten)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def load_state_dict(path: str | Path, *, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a state_dict with ``weights_only=True`` after an optional hash check."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise CheckpointError(f"checkpoint {path} has sha256 {actual}, expected {expected_sha256}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, not a torch file, pickled code refused, ...
        raise CheckpointError(f"cannot read checkpoint {path}: {_load_failure(exc)}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint {path} does not hold a state_dict of tensors")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(
            f"checkpoint {path} holds NaN or infinite values in {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''}"
        )
    return state


def _load_failure(exc: Exception) -> str:
    """torch.load's multi-paragraph errors as one complete sentence of what the file is not."""
    import re

    text = str(exc)
    refused = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"Unsupported (?:global|class):? ([\w.]+)", text)
    if refused:
        return f"refused: the pickle references {refused.group(1)}, which weights_only loading does not allow"
    first = text.strip().splitlines()[0].strip().rstrip(".") if text.strip() else exc.__class__.__name__
    if len(first) > 120:
        first = first[:117].rsplit(" ", 1)[0] + "..."
    return f"not a PyTorch state_dict file ({exc.__class__.__name__}: {first})"


def apply_state_dict(model: nn.Module, state: dict[str, torch.Tensor], *, source: str = "checkpoint") -> None:
    """Load strictly; on any difference, one error listing missing, unexpected and mis-shaped keys,
    or naming the variant the checkpoint was made for when its keys are exactly another variant's."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wanted = getattr(model, "variant", None)
    other = guess_variant(set(state)) if (missing or unexpected) else None
    if other is not None and other != wanted:
        # A BatchNorm buffer is the clearest sign of which side of the BN divide a checkpoint is on.
        telltale = next((k for k in unexpected + missing if "running_mean" in k), (unexpected + missing)[0])
        raise CheckpointError(
            f"{source} is a {other} checkpoint, not {wanted}: it {'has' if telltale in unexpected else 'lacks'} "
            f"{telltale} ({len(missing)} keys missing, {len(unexpected)} unexpected); pass --variant {other}",
            missing=missing,
            unexpected=unexpected,
            mismatched=[],
        )
    mismatched = [
        (key, tuple(state[key].shape), tuple(own[key].shape))
        for key in own
        if key in state and tuple(state[key].shape) != tuple(own[key].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}")
        if mismatched:
            parts.append(
                "mis-shaped "
                + ", ".join(f"{k} {list(got)} (model wants {list(want)})" for k, got, want in mismatched[:4])
            )
        raise CheckpointError(
            f"{source} is not this architecture: {'; '.join(parts)}",
            missing=missing,
            unexpected=unexpected,
            mismatched=mismatched,
        )
    model.load_state_dict(state, strict=True)


def alexnet_cifar10(
    *,
    weights: str | Path | Weights | None = None,
    expected_sha256: str | None = None,
    variant: str = "cifar",
    input_size: int = INPUT_SIZE,
) -> AlexNet:
    """Build the network, optionally loading a checkpoint (``weights_only=True``).

    Args:
        weights: a checkpoint file, or a ``Weights`` record (``weights.REFERENCE``: found under
            $ALEXNET_EDGE_DATA, its sha256 checked, its variant used); None: untrained.
        expected_sha256: for a file, refuse it unless its sha256 is this.
        variant: one of ``Variant`` (a record brings its own).
        input_size: the square input side the classifier is sized for.

    Returns:
        The model in eval mode.
    """
    if isinstance(weights, Weights):
        weights, expected_sha256, variant = weights.locate(), weights.sha256, weights.variant
    model = AlexNet(variant=variant, input_size=input_size)
    if weights is not None:
        apply_state_dict(model, load_state_dict(weights, expected_sha256=expected_sha256), source=str(weights))
    return model.eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def fold_batchnorm(model: AlexNet) -> AlexNet:
    """A copy of ``model`` (eval mode) with each BatchNorm2d folded into the conv before it.

    In eval mode BN is y = gamma * (x - mean) / sqrt(var + eps) + beta per channel, an affine map
    that the conv's weight and bias absorb exactly: w' = w * s, b' = (b - mean) * s + beta with
    s = gamma / sqrt(var + eps). The BN module becomes an Identity, so no BatchNormalization node
    reaches ONNX and TensorRT/onnxruntime see plain convolutions.
    """
    import copy

    folded = copy.deepcopy(model).eval()
    layers = list(folded.features)
    for i, layer in enumerate(layers):
        if not isinstance(layer, nn.BatchNorm2d):
            continue
        conv = layers[i - 1]
        if not isinstance(conv, nn.Conv2d):
            raise CheckpointError(f"features.{i} BatchNorm2d does not follow a convolution; cannot fold it")
        with torch.no_grad():
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(layer.running_mean)
            conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
            conv.bias = nn.Parameter((bias - layer.running_mean) * scale + layer.bias)
        folded.features[i] = nn.Identity()
    folded.batchnorm_folded = True
    return folded
