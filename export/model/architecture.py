"""The network as data: layer specs, and the shape walk that checks an input size before torch sees it.

Kept free of torch so ``alexnet-inspect`` and the input-size guard run anywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from alexnet_edge.export.errors import InputSizeError, UnknownVariantError
from alexnet_edge.runtime.constants import CHANNELS, INPUT_SIZE, NUM_CLASSES


@dataclass(frozen=True)
class Layer:
    kind: str  # "conv" | "batchnorm" | "relu" | "maxpool" | "dropout" | "linear" | "flatten"
    in_ch: int = 0
    out_ch: int = 0
    kernel: int = 0
    stride: int = 1
    padding: int = 0

    def summary(self) -> str:
        if self.kind == "conv":
            return f"Conv2d({self.in_ch}, {self.out_ch}, k={self.kernel}, s={self.stride}, p={self.padding})"
        if self.kind == "maxpool":
            return f"MaxPool2d({self.kernel}, stride={self.stride})"
        if self.kind == "linear":
            return f"Linear({self.in_ch}, {self.out_ch})"
        if self.kind == "batchnorm":
            return f"BatchNorm2d({self.out_ch})"
        return {"relu": "ReLU", "dropout": "Dropout(0.5)", "flatten": "Flatten"}[self.kind]


def _conv(i, o, k, s, p):
    return Layer("conv", i, o, k, s, p)


RELU, POOL, DROP = Layer("relu"), Layer("maxpool", kernel=3, stride=2), Layer("dropout")
_TAIL = (
    RELU,
    POOL,
    _conv(64, 192, 5, 1, 2),
    RELU,
    POOL,
    _conv(192, 384, 3, 1, 1),
    RELU,
    _conv(384, 256, 3, 1, 1),
    RELU,
    _conv(256, 256, 3, 1, 1),
    RELU,
    POOL,
)


def _with_batchnorm(layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """BatchNorm2d after every convolution, before its ReLU."""
    out: list[Layer] = []
    for layer in layers:
        out.append(layer)
        if layer.kind == "conv":
            out.append(Layer("batchnorm", layer.out_ch, layer.out_ch))
    return tuple(out)


class Variant(str, enum.Enum):
    """The network variants. A ``str`` enum: ``Variant.CIFAR == "cifar"``, so option values, metadata and
    JSON keep reading and writing the plain names."""

    CIFAR = "cifar"  # the seed's corrected first block for 32x32 input
    CIFAR_BN = "cifar-bn"  # the same with BatchNorm after each of the five convolutions (folded away at export)
    ORIGINAL = "original"  # the seed's original 224-style first block: too aggressive for 32x32

    def __str__(self) -> str:
        return self.value


_CIFAR = (_conv(3, 64, 5, 1, 2), *_TAIL)
FEATURES: dict[str, tuple[Layer, ...]] = {
    Variant.CIFAR: _CIFAR,
    Variant.CIFAR_BN: _with_batchnorm(_CIFAR),
    Variant.ORIGINAL: (_conv(3, 64, 11, 4, 2), *_TAIL),
}
VARIANTS = tuple(v.value for v in Variant)
FEATURE_CHANNELS = 256
HIDDEN = 4096


def classifier_layers(flatten: int) -> tuple[Layer, ...]:
    return (
        DROP,
        Layer("linear", flatten, HIDDEN),
        RELU,
        DROP,
        Layer("linear", HIDDEN, HIDDEN),
        RELU,
        Layer("linear", HIDDEN, NUM_CLASSES),
    )


@dataclass(frozen=True)
class LayerShape:
    name: str  # state_dict prefix, e.g. "features.0"
    layer: Layer
    out_shape: tuple[int, ...]  # without the batch axis
    params: int
    macs: int


def _window_out(size: int, layer: Layer) -> int:
    return (size + 2 * layer.padding - layer.kernel) // layer.stride + 1


def walk(variant: str = "cifar", input_size: int = INPUT_SIZE) -> list[LayerShape]:
    """Output shape, parameters and multiply-accumulates of every layer for one image.

    Raises InputSizeError naming the first layer whose window does not fit its input map.
    """
    if variant not in FEATURES:
        raise UnknownVariantError(
            f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}", variant=variant, choices=VARIANTS
        )
    if input_size < 1:
        raise InputSizeError(
            f"input size must be positive, got {input_size}", layer="input", in_size=input_size, window=0
        )
    rows: list[LayerShape] = []
    channels, size = CHANNELS, input_size
    for index, layer in enumerate(FEATURES[variant]):
        name = f"features.{index}"
        params = macs = 0
        if layer.kind in ("conv", "maxpool"):
            padded = size + 2 * layer.padding
            if padded < layer.kernel:
                raise InputSizeError(
                    f"{variant} net cannot take {input_size}x{input_size} input: {name} {layer.summary()} "
                    f"gets a {size}x{size} map, smaller than its {layer.kernel}x{layer.kernel} window",
                    layer=name,
                    in_size=size,
                    window=layer.kernel,
                )
            size = _window_out(size, layer)
        if layer.kind == "conv":
            channels = layer.out_ch
            params = layer.out_ch * (layer.in_ch * layer.kernel**2 + 1)
            macs = size * size * layer.out_ch * layer.in_ch * layer.kernel**2
        elif layer.kind == "batchnorm":
            params, macs = 2 * channels, channels * size * size  # gamma, beta; one scale-and-shift per value
        rows.append(LayerShape(name, layer, (channels, size, size), params, macs))
    flatten = channels * size * size
    rows.append(LayerShape("flatten", Layer("flatten"), (flatten,), 0, 0))
    for index, layer in enumerate(classifier_layers(flatten)):
        params = macs = 0
        width = rows[-1].out_shape[0]
        if layer.kind == "linear":
            params, macs, width = layer.out_ch * (layer.in_ch + 1), layer.in_ch * layer.out_ch, layer.out_ch
        rows.append(LayerShape(f"classifier.{index}", layer, (width,), params, macs))
    return rows


def has_batchnorm(variant: str) -> bool:
    return any(layer.kind == "batchnorm" for layer in FEATURES.get(variant, ()))


def state_dict_keys(variant: str) -> set[str]:
    """The state_dict keys of a variant (torchvision layout: indices inside features/classifier)."""
    keys: set[str] = set()
    for row in walk(variant):
        if row.layer.kind in ("conv", "linear"):
            keys |= {f"{row.name}.weight", f"{row.name}.bias"}
        elif row.layer.kind == "batchnorm":
            keys |= {
                f"{row.name}.{k}" for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
            }
    return keys


def guess_variant(keys: set[str]) -> str | None:
    """The variant whose state_dict keys are exactly ``keys`` (None when no variant's are)."""
    for variant in VARIANTS:
        if variant != "original" and state_dict_keys(variant) == keys:
            return variant
    return None


def flatten_size(variant: str = "cifar", input_size: int = INPUT_SIZE) -> int:
    return next(r.out_shape[0] for r in walk(variant, input_size) if r.name == "flatten")


@dataclass(frozen=True)
class NetworkSummary:
    """What ``alexnet-inspect`` prints: every layer, the spatial sizes, and the totals for one image."""

    variant: str
    input_size: int
    rows: tuple[LayerShape, ...]
    spatial: tuple[int, ...]  # the map's side: input, then after each conv and pool
    flatten: int  # features into the classifier
    params: int
    macs: int

    @property
    def fits_reference(self) -> bool:
        """Whether the reference checkpoint's classifier (trained on 32x32) takes this many features."""
        return self.flatten == flatten_size("cifar")


def summarize(variant: str = "cifar", input_size: int = INPUT_SIZE) -> NetworkSummary:
    """The shape walk of ``variant`` on an ``input_size`` square input, with its totals.

    Args:
        variant: one of VARIANTS.
        input_size: the input's side in pixels.

    Returns:
        NetworkSummary; raises InputSizeError / UnknownVariantError as ``walk`` does.
    """
    rows = walk(variant, input_size)
    spatial = [input_size] + [
        r.out_shape[1] for r in rows if r.name.startswith("features") and r.layer.kind in ("conv", "maxpool")
    ]
    flatten = next(r.out_shape[0] for r in rows if r.name == "flatten")
    params, macs = sum(r.params for r in rows), sum(r.macs for r in rows)
    return NetworkSummary(variant, input_size, tuple(rows), tuple(spatial), flatten, params, macs)
