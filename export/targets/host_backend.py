"""alexnet-targets on the host with another backend (``--host-backend NAME``, e.g. openvino): the same
models run on the host by any registered host backend, for the judge to weigh like a target, against
PyTorch FP32 and against the host's onnxruntime run of each model."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.registry import BackendOptions, backend_spec, check_host_backends, open_runner
from alexnet_edge.runtime.precision import PrecisionKey


@dataclass(frozen=True)
class HostRun:
    """One model's logits from a host backend, the seconds they took and what computed them."""

    precision: PrecisionKey
    logits: np.ndarray
    seconds: float
    runtime: str  # e.g. "openvino 2026.4.1 (f32)": the backend, its version and inference precision


def run_on_host_backend(
    backend: str,
    models: dict[PrecisionKey, Path],
    images: np.ndarray,
    counts: dict[PrecisionKey, int],
    options: BackendOptions | None = None,
) -> list[HostRun]:
    """Run each model in ``models`` whose precision ``counts`` holds, on its first ``counts[precision]``
    ``images``, with ``backend`` (a registered host backend, refused in one line when unknown or not
    installed), set by ``options``; a precision the backend does not run is left out."""
    check_host_backends([backend])
    capabilities = backend_spec(backend).capabilities
    runs = []
    for precision, path in models.items():
        if precision not in counts or not capabilities.runs(precision):
            continue
        with open_runner(path, backend, name=f"host ({backend}):{precision.value}", options=options) as runner:
            started = time.perf_counter()
            logits = runner.infer_many(images[: counts[precision]])
            seconds, settings = time.perf_counter() - started, runner.settings().get(backend) or {}
        runs.append(HostRun(precision, logits, seconds, _runtime(backend, settings)))
    return runs


def _runtime(backend: str, settings: dict) -> str:
    """The backend and, where its settings record them, its version and inference precision."""
    version = settings.get("version")
    computed = settings.get("inference_precision")
    return f"{backend}{f' {version}' if version else ''}{f' ({computed})' if computed else ''}"
