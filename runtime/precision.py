"""Precision as one enum: every precision-dependent choice keys on it instead of a twin function."""

from __future__ import annotations

from enum import Enum


class Precision(str, Enum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"

    @property
    def onnx_name(self) -> str:
        return f"model.{self.value}.onnx"

    @property
    def engine_name(self) -> str:
        return f"model.{self.value}.engine"

    @classmethod
    def parse(cls, text: str) -> Precision:
        try:
            return cls(text.lower())
        except ValueError:
            from alexnet_edge.runtime.errors import AlexNetEdgeError

            choices = ", ".join(p.value for p in cls)
            raise AlexNetEdgeError(f"unknown precision {text!r}; choose one of {choices}") from None
