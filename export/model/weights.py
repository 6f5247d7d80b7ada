"""Checkpoints as records, as torchvision's ``WeightsEnum``: what a checkpoint is (its sha256, variant,
normalisation, class names, measured accuracy) beside where it lies. There is no download: the file is
found under ``$ALEXNET_EDGE_DATA`` (``data_paths``) or given, and loaded only after its hash matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from alexnet_edge.export.model.architecture import Variant
from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.runtime.constants import CLASS_NAMES, MEAN, STD


@dataclass(frozen=True)
class Weights:
    sha256: str
    variant: Variant
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...]
    test_accuracy: float  # top-1 on CIFAR-10's 10,000 test images, as its meta.json records
    subpath: str  # under $ALEXNET_EDGE_DATA

    def locate(self, given: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Path:
        """``given``, else ``$ALEXNET_EDGE_DATA/<subpath>``; neither: a DataPathError saying what to pass."""
        return data_paths.checkpoint(given, environ=environ, subpath=self.subpath)


# The seed net trained on all of CIFAR-10 (../shared/reference/meta.json: recipe, normalisation, sha256).
REFERENCE = Weights(
    sha256="b14e73d7d1a3e1f75ed5f5ede70aa7d7816e595c38e2863e08d0a64d8c9770c4",
    variant=Variant.CIFAR,
    mean=MEAN,
    std=STD,
    class_names=CLASS_NAMES,
    test_accuracy=0.8866,
    subpath=data_paths.CHECKPOINT_SUBPATH,
)
