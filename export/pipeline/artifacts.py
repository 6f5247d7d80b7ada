"""What the pipeline's stages hand each other: frozen, typed artifacts.

Every model file travels as an ``Artifact`` (precision, path, kind), so no stage reads a precision out of
a file name, and an engine carries its JSON sidecar instead of sitting in one list with it. Each stage
(``stages.py``, ``evaluate_stage.py``) takes explicit typed inputs and returns one of these; the report
and the bundle take the whole run's ``RunArtifacts``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.calibration import cifar10
from alexnet_edge.calibration.table import CalibrationTable
from alexnet_edge.calibration.user_data import UserData
from alexnet_edge.export.model.alexnet import AlexNet
from alexnet_edge.runtime.errors import ToleranceError
from alexnet_edge.runtime.evaluation import Evaluated
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.results import Result


class ArtifactKind(enum.Enum):
    ONNX = "onnx"
    ENGINE = "engine"  # a TensorRT plan, with its JSON sidecar beside it


@dataclass(frozen=True)
class Artifact:
    precision: Precision
    path: Path
    kind: ArtifactKind

    @property
    def sidecar(self) -> Path | None:
        """An engine's JSON sidecar (what the runtime checks before loading it); None for an ONNX model."""
        return self.path.with_suffix(".json") if self.kind is ArtifactKind.ENGINE else None

    @property
    def files(self) -> list[Path]:
        return [self.path] + ([self.sidecar] if self.sidecar is not None else [])


@dataclass(frozen=True)
class EvalData:
    split: cifar10.Split | UserData  # the whole source (uint8 NCHW images, for the bundle)
    images: np.ndarray  # float32 [N,3,32,32], normalized
    labels: np.ndarray

    @property
    def user_data(self) -> bool:
        """Whether these are the user's labelled images (--eval-data), not CIFAR-10's test_batch."""
        return isinstance(self.split, UserData)

    @property
    def source(self) -> str:
        return self.split.source if self.user_data else "CIFAR-10 test_batch"

    @property
    def subset(self) -> str:
        n, name = len(self.labels), self.source
        return f"all of {name}" if n == len(self.split) else f"the first {n} of {name}, original order"

    def fingerprint(self) -> dict[str, str]:
        if isinstance(self.split, UserData):
            return {"eval_data": self.split.source, "content_sha256": self.split.sha256}
        return cifar10.split_fingerprint(self.split)


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    sha256: str
    model: AlexNet
    batchnorm_folded: bool


@dataclass(frozen=True)
class Reference:
    logits: np.ndarray
    accuracy: float
    device: str


@dataclass(frozen=True)
class Exported:
    """export_fp32's result: the simplified FP32 model and its export/simplify parity checks."""

    model: Artifact
    checks: tuple[dict, ...]
    simplifier: dict
    failures: tuple[ToleranceError, ...] = ()  # parity beyond tolerance: the run goes on, exit 1 with its report


@dataclass(frozen=True)
class Calibrated:
    """calibrate_int8's result: the table, the report's "calibration" entry and the files written."""

    table: CalibrationTable
    summary: dict
    files: tuple[Path, ...]


@dataclass(frozen=True)
class Converted:
    """convert_precisions' result: every ONNX model of the run, FP32 first."""

    models: tuple[Artifact, ...]
    calibration: Calibrated | None = None

    def paths(self) -> dict[Precision, Path]:
        return {m.precision: m.path for m in self.models}


@dataclass(frozen=True)
class Engines:
    """build_engines' result: the engines built, or a note saying why there are none."""

    engines: tuple[Artifact, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class EvaluatedRunners:
    evaluated: tuple[Evaluated, ...]  # one per runner, the PyTorch reference first

    @property
    def rows(self) -> list[Result]:
        return [e.row for e in self.evaluated]

    @property
    def failures(self) -> list[ToleranceError]:
        return [f for e in self.evaluated for f in e.failures]

    @property
    def logits(self) -> dict[str, np.ndarray]:
        return {e.row.key: e.logits for e in self.evaluated}


@dataclass(frozen=True)
class RunArtifacts:
    """Everything one run's stages produced, in order; the report, the manifest and the bundle read it."""

    data: EvalData
    checkpoint: Checkpoint
    reference: Reference
    exported: Exported
    converted: Converted
    engines: Engines
    evaluation: EvaluatedRunners

    @property
    def failures(self) -> list[ToleranceError]:
        return [*self.exported.failures, *self.evaluation.failures]

    @property
    def files(self) -> list[Path]:
        """The model, engine and calibration files the run wrote (the reports and bundle come after)."""
        models = [f for m in self.converted.models for f in m.files]
        engines = [f for e in self.engines.engines for f in e.files]
        calibration = list(self.converted.calibration.files) if self.converted.calibration else []
        return models + engines + calibration
