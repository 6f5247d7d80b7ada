"""OpenVINO runner for x86 (and ARM) CPUs: the peer a user would pick instead of onnxruntime there.

``openvino`` is imported on ``activate()``, never at import time (extra ``[openvino]``; it needs only
numpy, not torch). Two choices are pinned rather than left to OpenVINO's defaults:

- ``INFERENCE_PRECISION_HINT=f32``: on CPUs with AVX512_BF16 or AMX, OpenVINO runs FP32 models in bf16
  by default (docs.openvino.ai, "CPU Device": "inference precision hint ... bf16 on platforms that
  natively support it"); a verification tool must compute what the artifact says. ``bf16`` is opt-in
  and recorded in the report row.
- threads: one per CPU in the process's affinity, like the onnxruntime runner (cgroups/taskset).

The performance hint is chosen per call by batch size (``PerformanceHints``): measured on a 2-core
AVX-512 VNNI host, one synchronous request is faster with LATENCY at batch 1 and at 256 (THROUGHPUT
splits the cores into streams of one thread, and one request uses one stream): docs/performance.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.onnxruntime.runner import (
    usable_cpus,  # light: onnxruntime itself is imported on activate only
)
from alexnet_edge.runtime.backends.registry import backend_spec
from alexnet_edge.runtime.constants import CHANNELS, INPUT_NAME, INPUT_SIZE, NUM_CLASSES, OUTPUT_NAME
from alexnet_edge.runtime.errors import BackendUnavailableError, InputError, ModelFileError, RunnerStateError
from alexnet_edge.runtime.fileio import decode_metadata

INFERENCE_PRECISIONS = ("f32", "bf16")
HINTS = ("LATENCY", "THROUGHPUT")


def import_openvino():
    try:
        import openvino
    except ImportError:
        hint = backend_spec("openvino").install_hint()
        raise BackendUnavailableError(f"openvino is not installed: {hint}") from None
    return openvino


@dataclass(frozen=True)
class PerformanceHints:
    """Which OpenVINO PERFORMANCE_HINT a call of ``batch`` images compiles with.

    ``throughput_from``: batches of at least this many images use THROUGHPUT; None (the default,
    as measured: LATENCY wins at 1 and 256 for one synchronous request) uses LATENCY for all.
    """

    throughput_from: int | None = None

    def for_batch(self, batch: int) -> str:
        return "THROUGHPUT" if self.throughput_from is not None and batch >= self.throughput_from else "LATENCY"

    @classmethod
    def fixed(cls, hint: str) -> PerformanceHints:
        """Always ``hint`` ("LATENCY" or "THROUGHPUT")."""
        if hint.upper() not in HINTS:
            raise InputError(f"unknown OpenVINO performance hint {hint!r}; choose {', '.join(HINTS)}")
        return cls(throughput_from=1 if hint.upper() == "THROUGHPUT" else None)


class OpenVINORunner(BaseRunner):
    backend = "openvino"

    def __init__(
        self,
        model_path: str | Path,
        *,
        inference_precision: str = "f32",
        hints: PerformanceHints | None = None,
        threads: int | None = None,
        name: str | None = None,
    ):
        """Args: model_path: an ONNX model; inference_precision: "f32" (default) or "bf16" (OpenVINO's
        own default on bf16 CPUs, opt-in here); hints: per-batch performance hint; threads: default
        the process's CPU affinity."""
        if inference_precision not in INFERENCE_PRECISIONS:
            raise InputError(
                f"unknown OpenVINO inference precision {inference_precision!r}; "
                f"choose {', '.join(INFERENCE_PRECISIONS)}"
            )
        self.model_path = Path(model_path)
        super().__init__(name or f"openvino:{self.model_path.name}")
        self.inference_precision = inference_precision
        self.hints = hints or PerformanceHints()
        self.threads = threads
        self.version: str | None = None
        self._core = None
        self._model = None
        self._requests: dict[str, object] = {}  # hint -> infer request of the model compiled with it
        self._used_hints: set[str] = set()
        self._compiled_precision: str | None = None

    def activate_impl(self) -> None:
        ov = import_openvino()
        if not self.model_path.is_file():
            raise ModelFileError(f"{self.model_path}: no such model file")
        self.version = ov.get_version().split("-")[0]
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(str(self.model_path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise ModelFileError(f"{self.model_path}: not a model OpenVINO can read ({first[:200]})") from None
        self._check_signature()
        self._request_for(self.hints.for_batch(1))  # compile once now, so a bad model fails here, not mid-run

    def _check_signature(self) -> None:
        inputs, outputs = self._model.inputs, self._model.outputs
        names_in = [sorted(i.get_names()) for i in inputs]
        names_out = [sorted(o.get_names()) for o in outputs]
        if len(inputs) != 1 or len(outputs) != 1 or INPUT_NAME not in names_in[0] or OUTPUT_NAME not in names_out[0]:
            raise ModelFileError(
                f"{self.model_path}: expected input '{INPUT_NAME}' and output '{OUTPUT_NAME}', "
                f"got inputs {names_in} and outputs {names_out}"
            )
        shape_in = inputs[0].get_partial_shape()
        shape_out = outputs[0].get_partial_shape()
        dims_in = [d.get_length() if d.is_static else None for d in shape_in] if shape_in.rank.is_static else []
        dims_out = [d.get_length() if d.is_static else None for d in shape_out] if shape_out.rank.is_static else []
        if (
            dims_in[1:] != [CHANNELS, INPUT_SIZE, INPUT_SIZE]
            or len(dims_out) != 2
            or dims_out[1] not in (NUM_CLASSES, None)
        ):
            raise ModelFileError(
                f"{self.model_path}: takes {shape_in} and gives {shape_out}; alexnet-edge models take "
                f"[N,{CHANNELS},{INPUT_SIZE},{INPUT_SIZE}] and give [N,{NUM_CLASSES}]"
            )

    def _request_for(self, hint: str):
        if hint not in self._requests:
            config = {
                "INFERENCE_PRECISION_HINT": self.inference_precision,
                "PERFORMANCE_HINT": hint,
                "INFERENCE_NUM_THREADS": self.threads or usable_cpus(),
            }
            try:
                compiled = self._core.compile_model(self._model, "CPU", config)
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
                raise ModelFileError(
                    f"{self.model_path}: OpenVINO could not compile it for the CPU ({first[:200]})"
                ) from None
            self._requests[hint] = compiled.create_infer_request()
            self._compiled_precision = compiled.get_property(
                "INFERENCE_PRECISION_HINT"
            ).get_type_name()  # what OpenVINO really uses
        self._used_hints.add(hint)
        return self._requests[hint]

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        request = self._request_for(self.hints.for_batch(batch.shape[0]))
        result = request.infer({0: batch})
        return np.asarray(result[0], dtype=np.float32).copy()  # the request reuses its output buffer

    def deactivate_impl(self) -> None:
        self._requests.clear()
        self._model = None
        self._core = None

    @property
    def artifact_path(self) -> Path:
        return self.model_path

    def metadata(self) -> dict[str, object]:
        """The ONNX model's ``metadata_props`` (OpenVINO keeps them under rt_info "framework"), JSON decoded."""
        if self._model is None:
            raise RunnerStateError(f"{self.name}: activate the runner before reading metadata")
        if not self._model.has_rt_info(["framework"]):
            return {}
        keys = list(self._model.get_rt_info()["framework"].keys())
        return decode_metadata({k: self._model.get_rt_info(["framework", k]).astype(str) for k in keys if "." not in k})

    def settings(self) -> dict[str, object]:
        """How this runner computes, for the report row: OpenVINO version, inference precision, hints used."""
        return {
            "openvino": {
                "version": self.version,
                "inference_precision": self.inference_precision,
                "compiled_precision": self._compiled_precision,
                "performance_hints": sorted(self._used_hints),
                "threads": self.threads or usable_cpus(),
            }
        }
