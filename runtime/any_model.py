"""Any ONNX model with one input, for ``alexnet-bench``: runners that feed that input and return the outputs
as they come, on onnxruntime or OpenVINO (our own models go through the project's runners instead).

The input's shape comes from the model, a dynamic leading dimension taking the batch size (a fixed one is
the only batch the model takes); its dtype from the input. Other dynamic dimensions are refused in one
line: there is nothing to choose them from. The data is random (seeded), as trtexec and benchmark_app use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.onnxruntime.runner import import_onnxruntime, usable_cpus
from alexnet_edge.runtime.backends.openvino.runner import import_openvino
from alexnet_edge.runtime.errors import InputError, ModelFileError

# onnxruntime's type strings -> numpy
_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


@dataclass(frozen=True)
class ModelInput:
    """The one input: name, dims (None: dynamic) and dtype."""

    name: str
    dims: tuple[int | None, ...]
    dtype: np.dtype

    @classmethod
    def checked(cls, path: Path, name: str, dims, dtype) -> ModelInput:
        rest = [i for i, d in enumerate(dims) if d is None and i > 0]
        if not dims or rest:
            shown = ", ".join("?" if d is None else str(d) for d in dims)
            raise ModelFileError(
                f"{path}: input {name!r} is [{shown}]; only a dynamic first (batch) dimension can be chosen"
            )
        return cls(name, tuple(dims), np.dtype(dtype))

    @property
    def fixed_batch(self) -> int | None:
        return self.dims[0]

    def random(self, batch_size: int, seed: int = 0) -> np.ndarray:
        """``batch_size`` random inputs: normal floats, small non-negative integers, or booleans."""
        rng = np.random.default_rng(seed)
        shape = (batch_size, *self.dims[1:])
        if np.issubdtype(self.dtype, np.floating):
            return rng.standard_normal(shape).astype(self.dtype)
        if self.dtype == np.bool_:
            return rng.integers(0, 2, shape).astype(np.bool_)
        return rng.integers(0, 100 if np.iinfo(self.dtype).max > 100 else 2, shape).astype(self.dtype)


class _AnyModelRunner(BaseRunner):
    """``infer(batch)`` feeds the one input and returns the first output, whatever its shape."""

    def __init__(self, model_path: str | Path, *, threads: int | None = None, name: str | None = None):
        self.model_path = Path(model_path)
        super().__init__(name or f"{self.backend}:{self.model_path.name}")
        self.threads = threads
        self.model_input: ModelInput | None = None

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self._require_active()
        if batch.dtype != self.model_input.dtype or batch.shape[1:] != self.model_input.dims[1:]:
            raise InputError(f"{self.name}: batch {batch.dtype} {list(batch.shape)} does not fit {self.model_input}")
        return self.infer_impl(batch)

    @property
    def artifact_path(self) -> Path:
        return self.model_path

    @property
    def min_batch(self) -> int | None:
        return self.model_input.fixed_batch if self.model_input else None

    @property
    def max_batch(self) -> int | None:
        return self.model_input.fixed_batch if self.model_input else None

    def _require_file(self) -> None:
        if not self.model_path.is_file():
            raise ModelFileError(f"{self.model_path}: no such model file")


class AnyOnnxRuntimeModel(_AnyModelRunner):
    backend = "onnxruntime"

    def __init__(self, model_path, *, threads=None, allow_spinning: bool = True, name=None):
        super().__init__(model_path, threads=threads, name=name)
        self.allow_spinning = allow_spinning
        self.session = None

    def activate_impl(self) -> None:
        ort = import_onnxruntime()
        self._require_file()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or usable_cpus()
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.allow_spinning else "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise ModelFileError(f"{self.model_path}: not a loadable ONNX model ({first[:200]})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelFileError(f"{self.model_path}: has {len(inputs)} inputs; alexnet-bench times models with one")
        dtype = _ORT_TYPES.get(inputs[0].type)
        if dtype is None:
            raise ModelFileError(f"{self.model_path}: input type {inputs[0].type} is not one alexnet-bench can feed")
        dims = [d if isinstance(d, int) else None for d in inputs[0].shape]
        self.model_input = ModelInput.checked(self.model_path, inputs[0].name, dims, dtype)

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.model_input.name: batch})[0]

    def deactivate_impl(self) -> None:
        self.session = None


class AnyOpenVINOModel(_AnyModelRunner):
    backend = "openvino"

    def __init__(self, model_path, *, threads=None, name=None):
        super().__init__(model_path, threads=threads, name=name)
        self._request = None

    def activate_impl(self) -> None:
        ov = import_openvino()
        self._require_file()
        core = ov.Core()
        try:
            model = core.read_model(str(self.model_path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise ModelFileError(f"{self.model_path}: not a model OpenVINO can read ({first[:200]})") from None
        if len(model.inputs) != 1:
            raise ModelFileError(
                f"{self.model_path}: has {len(model.inputs)} inputs; alexnet-bench times models with one"
            )
        port = model.inputs[0]
        shape = port.get_partial_shape()
        dims = [d.get_length() if d.is_static else None for d in shape] if shape.rank.is_static else []
        self.model_input = ModelInput.checked(
            self.model_path, port.get_any_name(), dims, port.get_element_type().to_dtype()
        )
        config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
            "INFERENCE_NUM_THREADS": self.threads or usable_cpus(),
        }
        self._request = core.compile_model(model, "CPU", config).create_infer_request()

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        return self._request.infer({0: batch})[0]

    def deactivate_impl(self) -> None:
        self._request = None
