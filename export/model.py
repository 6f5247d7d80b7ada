"""The 32x32 CIFAR-10 AlexNet (torchvision layout: ``features`` and ``classifier`` Sequentials).

State-dict keys are ``features.0.weight`` ... ``classifier.6.bias``, so the reference checkpoint
loads unchanged. 28,714,826 parameters for the ``cifar`` variant at 32x32.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from alexnet_edge.runtime.constants import INPUT_SIZE
from alexnet_edge.runtime.errors import CheckpointError
from alexnet_edge.runtime.fileio import sha256_file

from .architecture import FEATURES, Layer, classifier_layers, flatten_size

# sha256 of the reference checkpoint in ../shared/reference (meta.json).
REFERENCE_SHA256 = "b14e73d7d1a3e1f75ed5f5ede70aa7d7816e595c38e2863e08d0a64d8c9770c4"


def _module(layer: Layer) -> nn.Module:
    if layer.kind == "conv":
        return nn.Conv2d(layer.in_ch, layer.out_ch, layer.kernel, stride=layer.stride, padding=layer.padding)
    if layer.kind == "maxpool":
        return nn.MaxPool2d(layer.kernel, stride=layer.stride)
    if layer.kind == "linear":
        return nn.Linear(layer.in_ch, layer.out_ch)
    if layer.kind == "relu":
        return nn.ReLU(inplace=True)
    return nn.Dropout(p=0.5)


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
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else exc.__class__.__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint {path} does not hold a state_dict of tensors")
    return state


def apply_state_dict(model: nn.Module, state: dict[str, torch.Tensor], *, source: str = "checkpoint") -> None:
    """Load strictly; on any difference, one error listing missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
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
    weights: str | Path | None = None,
    expected_sha256: str | None = None,
    variant: str = "cifar",
    input_size: int = INPUT_SIZE,
) -> AlexNet:
    """Build the network, optionally loading a checkpoint (``weights_only=True``, optional sha256 check).

    Returned in eval mode.
    """
    model = AlexNet(variant=variant, input_size=input_size)
    if weights is not None:
        apply_state_dict(model, load_state_dict(weights, expected_sha256=expected_sha256), source=str(weights))
    return model.eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
