"""Precision: the enum, and the registry of everything a precision means on the runtime side.

``PrecisionSpec`` holds a precision's bounds (runtime/fidelity.py), whether it needs calibration, how
TensorRT, trtexec and onnxruntime's TensorRT provider build it (or the one line saying they cannot), its
default image count per cross-target run and its plot colour. The registry, keyed by the precision's
name, is the one table every caller reads (``spec_for``); an unknown precision fails closed with one
line. The built-in precisions are ``Precision`` members; a plug-in (or a test's toy) registers a
``NamedPrecision`` with ``register_precision`` / ``registered_precision``. The export side registers
the ONNX transform of each precision (export/convert/transforms.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum

from alexnet_edge.runtime import fidelity
from alexnet_edge.runtime.errors import UnknownPrecisionError
from alexnet_edge.runtime.fidelity import Bounds, Tolerance


class _FileNames:
    """The file names a precision's models carry (``value`` is the precision's name)."""

    value: str

    @property
    def onnx_name(self) -> str:
        return f"model.{self.value}.onnx"

    @property
    def engine_name(self) -> str:
        return f"model.{self.value}.engine"


class Precision(_FileNames, str, Enum):
    """The built-in precisions; each has a spec in the registry below."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"
    INT4W = "int4w"


class NamedPrecision(_FileNames, str):
    """A precision defined outside the enum (a plug-in, a test's toy): a name the registry takes like a
    ``Precision`` member (``.value``, ``onnx_name``, ``engine_name``)."""

    @property
    def value(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"NamedPrecision({self.value!r})"


PrecisionKey = Precision | NamedPrecision


@dataclass(frozen=True)
class TensorRTBuild:
    """How TensorRT builds a precision's ONNX model. A strongly typed network takes the precision from
    the model's own types; a weakly typed one (TensorRT 8.x, or asked for) needs the builder flag."""

    builder_flag: str | None = None  # BuilderFlag a weakly typed network needs ("FP16"); None: none
    trtexec_flag: str | None = None  # trtexec's flag for the same ("--fp16")
    ort_option: str | None = None  # onnxruntime TensorRT provider option before its strong typing
    no_tf32: bool = False  # clear TF32 (on by default): an FP32 engine must compute in FP32
    refusal: str | None = None  # one line: why TensorRT cannot build it (None: it can)


@dataclass(frozen=True)
class PrecisionSpec:
    precision: PrecisionKey
    label: str  # for text: "INT8"
    summary: str  # what export-alexnet writes for it (CLI help)
    bounds: Bounds  # tolerance against PyTorch FP32 and drift rules (runtime/fidelity.py)
    needs_calibration: bool = False  # its transform needs the INT8 calibration table
    tensorrt: TensorRTBuild = field(default_factory=TensorRTBuild)
    target_images: int = 0  # images per target of alexnet-targets by default (0: skipped)
    plot_colour: str = "tab:blue"  # report.png's band of its allowed accuracy drop
    # the oldest onnxruntime measured to run its model (None: any the package allows); older ones refuse it
    min_onnxruntime: str | None = None

    @property
    def name(self) -> str:
        return self.precision.value

    @property
    def tolerance(self) -> Tolerance:
        return self.bounds.tolerance


_SPECS: dict[str, PrecisionSpec] = {}


def register_precision(spec: PrecisionSpec) -> PrecisionSpec:
    """Add ``spec`` to the registry; a name taken already is refused."""
    if spec.name in _SPECS:
        raise UnknownPrecisionError(f"precision {spec.name!r} is registered already")
    _SPECS[spec.name] = spec
    return spec


def unregister_precision(precision: PrecisionKey) -> None:
    """Remove a registered precision (a test's toy after its test); the built-ins stay."""
    if isinstance(precision, Precision):
        raise UnknownPrecisionError(f"{precision.value} is built in and cannot be unregistered")
    _SPECS.pop(precision.value, None)


@contextmanager
def registered_precision(spec: PrecisionSpec) -> Iterator[PrecisionSpec]:
    """``spec`` registered for the ``with`` block, removed after it."""
    register_precision(spec)
    try:
        yield spec
    finally:
        unregister_precision(spec.precision)


def spec_for(precision: PrecisionKey) -> PrecisionSpec:
    """The spec of ``precision``; an unknown one fails closed with one line. A name is not a precision:
    ``parse_precision`` turns one into a precision where it is read (a command line, a stored file)."""
    if not isinstance(precision, (Precision, NamedPrecision)):
        raise TypeError(f"{precision!r} is not a precision; parse_precision({precision!r}) reads a name")
    spec = _SPECS.get(precision.value)
    if spec is None:
        raise UnknownPrecisionError(f"unknown precision {precision.value!r}; choose one of {', '.join(_SPECS)}")
    return spec


def precisions() -> tuple[PrecisionKey, ...]:
    """Every registered precision, built-ins first, in registration order."""
    return tuple(spec.precision for spec in _SPECS.values())


def parse_precision(text: str) -> PrecisionKey:
    """The registered precision named ``text`` (any case; a precision is its own name); an unknown name fails
    closed with one line."""
    spec = _SPECS.get(text.lower())
    if spec is None:
        raise UnknownPrecisionError(f"unknown precision {text!r}; choose one of {', '.join(_SPECS)}")
    return spec.precision


def tolerance_for(precision: PrecisionKey, images: int | None = None, overrides: dict | None = None) -> Tolerance:
    """The one way to get a precision's bounds: its default (runtime/fidelity.py), widened for a sample of
    ``images`` (``Tolerance.for_sample``; None: as is), with a user's ``overrides`` (field -> value) on top."""
    return spec_for(precision).tolerance.for_run(images, overrides)


def parse_tolerance_overrides(items: list[str]) -> dict[PrecisionKey, dict[str, float]]:
    """``["int8.min_top1_agreement=0.99", ...]`` -> {Precision.INT8: {"min_top1_agreement": 0.99}}.

    A value must be finite and in range: NaN would silently turn its check off.
    """
    out: dict[PrecisionKey, dict[str, float]] = {}
    for item in items:
        try:
            target, value = item.split("=", 1)
            name, field_name = target.split(".", 1)
            number = float(value)
        except ValueError:
            raise UnknownPrecisionError(
                f"bad tolerance {item!r}; write PRECISION.FIELD=NUMBER, e.g. int8.min_top1_agreement=0.99"
            ) from None
        precision = parse_precision(name)
        spec_for(precision).tolerance.with_overrides(**{field_name: number})  # validates the field name
        fidelity.check_override(item, field_name, number)
        out.setdefault(precision, {})[field_name] = number
    return out


def default_target_images() -> dict[PrecisionKey, int]:
    """Images per target of each registered precision (alexnet-targets' defaults)."""
    return {spec.precision: spec.target_images for spec in _SPECS.values()}


# -- the built-in precisions ---------------------------------------------------------------------------
# Target image counts: FP32 and FP16 run 3-18 s per image under qemu (FP32 on the emulated AVX2+FMA CPU
# and FP16 arithmetic on the A76 most); the int8 paths are what differ between CPUs, so they get the most.
register_precision(
    PrecisionSpec(
        Precision.FP32,
        "FP32",
        "model.fp32.onnx, always written",
        fidelity.FP32,
        # NvInfer.h at v10.3.0, BuilderFlag::kTF32 "Enabled by default": it rounds inputs to a 10-bit mantissa
        tensorrt=TensorRTBuild(no_tf32=True),
        target_images=20,
        plot_colour="tab:green",
    )
)
register_precision(
    PrecisionSpec(
        Precision.FP16,
        "FP16",
        "also write and evaluate model.fp16.onnx",
        fidelity.FP16,
        tensorrt=TensorRTBuild(builder_flag="FP16", trtexec_flag="--fp16", ort_option="trt_fp16_enable"),
        target_images=40,
        plot_colour="tab:green",
    )
)
register_precision(
    PrecisionSpec(
        Precision.INT8,
        "INT8",
        "also calibrate and write model.int8.onnx (Q/DQ)",
        fidelity.INT8,
        needs_calibration=True,
        # explicit Q/DQ: onnxruntime's provider needs no calibration table with trt_int8_enable
        tensorrt=TensorRTBuild(builder_flag="INT8", trtexec_flag="--int8", ort_option="trt_int8_enable"),
        target_images=400,
        plot_colour="tab:orange",
    )
)
# INT4W: the INT8 model's convolutions with 4-bit fully connected weights in com.microsoft.MatMulNBits
# (export/convert/int4_weights.py). TensorRT's ONNX parser dispatches on the op type alone and has no
# MatMulNBits importer (onnx-tensorrt ModelImporter.cpp: "No importer registered for op ... Attempting to
# import as plugin", and no such plugin); TensorRT's own INT4 is weight-only block quantization through an
# INT4 DequantizeLinear (block 64 or 128, opset 21) since 10.0 (docs/precision.md), another model. The
# MatMulNBits kernels differ per ISA, so the cross-target run measures them (200 images: half of INT8's);
# onnxruntime 1.21.1 (the package floor) is the oldest measured to run the model.
register_precision(
    PrecisionSpec(
        Precision.INT4W,
        "INT4W",
        "also write model.int4w.onnx: model.int8.onnx's convolutions, INT4 fully connected weights (MatMulNBits)",
        fidelity.INT4W,
        needs_calibration=True,
        tensorrt=TensorRTBuild(
            refusal=(
                "TensorRT cannot build model.int4w.onnx: its classifier is com.microsoft.MatMulNBits, an onnxruntime "
                "contrib op TensorRT's ONNX parser has no importer for; use model.int8.onnx or model.fp16.onnx"
            )
        ),
        target_images=200,
        plot_colour="tab:purple",
        min_onnxruntime="1.21.1",
    )
)
