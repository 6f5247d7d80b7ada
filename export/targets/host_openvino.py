"""alexnet-targets on the host with OpenVINO: the same models judged like a target, against PyTorch
FP32 and against the host's onnxruntime run of each model (alexnet-targets --host-openvino)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def openvino_host_rows(
    models: dict[str, Path],
    images: np.ndarray,
    labels: np.ndarray,
    torch_logits: np.ndarray,
    host_logits: dict[str, np.ndarray],
) -> list:
    """Args: models: precision -> ONNX file; host_logits: the host's onnxruntime logits per precision (their
    count is the images this precision runs). Returns TargetRows labelled "host (openvino)"."""
    from alexnet_edge.export.targets.judge import judge_target
    from alexnet_edge.runtime.backends import installed_cpu_backends, open_runner
    from alexnet_edge.runtime.cpu_features import detect

    if "openvino" not in installed_cpu_backends():
        from alexnet_edge.runtime.errors import BackendUnavailableError
        from alexnet_edge.runtime.install_hints import install_hint

        raise BackendUnavailableError(f"--host-openvino needs openvino: {install_hint('openvino')}")
    rows, cpu = [], detect().int8_path
    for precision, path in models.items():
        if precision not in host_logits:
            continue
        n = len(host_logits[precision])
        with open_runner(path, "openvino") as runner:
            started = time.perf_counter()
            logits = runner.infer_many(images[:n])
            seconds, version = time.perf_counter() - started, runner.settings()["openvino"]["version"]
        rows.append(
            judge_target(
                "host (openvino)",
                precision,
                logits,
                seconds,
                torch_logits=torch_logits,
                labels=labels,
                host_logits=host_logits[precision],
                cpu=cpu,
                onnxruntime=f"openvino {version} (f32)",
            )
        )
    return rows
