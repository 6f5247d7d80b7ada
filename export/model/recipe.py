"""The training recipe as data (``../shared/reference/meta.json``), torch-free so that the
configuration and ``export-alexnet --help`` can name it; ``train.py`` runs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from alexnet_edge.calibration.cifar10 import TRAIN_BATCHES


@dataclass(frozen=True)
class Recipe:
    epochs: int = 60
    batch_size: int = 256
    lr: float = 0.04
    momentum: float = 0.9
    weight_decay: float = 5e-4
    pct_start: float = 0.15
    div_factor: float = 20.0
    final_div_factor: float = 200.0
    label_smoothing: float = 0.0
    val_size: int = 5000
    seed: int = 0
    train_size: int | None = None  # None: all the train images left after validation
    train_files: tuple[str, ...] = TRAIN_BATCHES


def recipe_from_options(*, epochs: int | None, train_size: int | None, train_files: Sequence[str] | None) -> Recipe:
    base = Recipe()
    return Recipe(
        **{
            **asdict(base),
            "epochs": epochs or base.epochs,
            "train_size": train_size,
            "train_files": tuple(train_files) if train_files else base.train_files,
        }
    )
