"""Which model ``alexnet-infer --model DIR`` runs when given an export's output folder or a bundle, not a file.

An output folder's report.json names the recommended artifact and backend per batch size (the fastest row
within tolerance); the smallest batch size measured is used (batch 1: one image at a time, what inference
of a few files is). Without a recommendation (``--no-bench``: nothing was timed) or without report.json (a
bundle, whose models sit in ``models/``), the FP32 model is used: the one that matches PyTorch most closely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from alexnet_edge.runtime.deploy import MODELS_DIR  # a bundle's models folder
from alexnet_edge.runtime.errors import InputError
from alexnet_edge.runtime.precision import Precision

MODEL_SUFFIXES = (".onnx", ".engine", ".plan", ".trt")
REPORT = "report.json"


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    backend: str | None  # the recommended backend; None: chosen by the file's type
    reason: str  # one clause: why this model
    not_used: tuple[str, ...]  # the folder's other model files


def choose_model(folder: Path) -> ModelChoice:
    """The model to run from ``folder`` (an export's ``--out`` or a bundle); InputError where it holds none."""
    models = sorted(
        p for base in (folder, folder / MODELS_DIR) if base.is_dir() for p in base.iterdir() if _is_model(p)
    )
    if not models:
        raise InputError(f"{folder} holds no model files ({', '.join(MODEL_SUFFIXES)}), nor does {folder / MODELS_DIR}")
    recommended = _recommended(folder / REPORT)
    by_name = {p.name: p for p in models}
    if recommended is not None and recommended[0] in by_name:
        name, backend, batch = recommended
        path, reason = by_name[name], f"report.json's recommendation at batch {batch}: {backend}"
    else:
        fp32 = by_name.get(Precision.FP32.onnx_name)
        if fp32 is None:
            raise InputError(
                f"{folder}: report.json recommends no model here and there is no {Precision.FP32.onnx_name}: "
                f"pass --model with one of {', '.join(by_name)}"
            )
        path, backend = fp32, None
        reason = "no timed recommendation in report.json" if (folder / REPORT).is_file() else "no report.json"
        reason += ": the FP32 model"
    return ModelChoice(path, backend, reason, tuple(str(p.relative_to(folder)) for p in models if p != path))


def _is_model(path: Path) -> bool:
    return path.is_file() and path.suffix in MODEL_SUFFIXES


def _recommended(report_path: Path) -> tuple[str, str, str] | None:
    """(artifact file name, backend, batch size) of the fastest row at the smallest batch size, or None."""
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        by_batch = report["recommendation"]["batch_sizes"]
        batch = min(by_batch, key=int)
        fastest = by_batch[batch]["fastest"]
        return str(fastest["artifact"]), str(fastest["backend"]), batch
    except (OSError, ValueError, KeyError, TypeError):  # absent, not JSON, no recommendation, nothing timed
        return None
