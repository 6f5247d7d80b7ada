"""INT8 calibration settings in one object that owns their defaults; the CLI reads its defaults and
choices from here. Light on purpose: no onnxruntime, so ``--help`` and validation stay fast."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

from alexnet_edge.calibration.cifar10 import TRAIN_BATCHES
from alexnet_edge.calibration.errors import CalibrationError

METHODS = ("percentile", "entropy", "minmax")
DEFAULT_CALIB_SIZE = 512  # class-balanced CIFAR-10 train images
MAX_USER_CALIB_IMAGES = 5000  # --calib-data without a size: all of it, up to this many
BATCH_SIZE = 64  # images per calibration batch: a calibration set holds at least one batch


@dataclass(frozen=True)
class CalibrationConfig:
    size: int | None = None  # None: DEFAULT_CALIB_SIZE from CIFAR-10; all of ``data`` up to MAX_USER_CALIB_IMAGES
    method: str = "percentile"
    seed: int = 0
    files: tuple[str, ...] = ("data_batch_1",)  # CIFAR-10 train batches to draw from
    data: Path | None = None  # the user's images (a folder, or a .npy of uint8 NHWC) instead of CIFAR-10

    @property
    def cifar_size(self) -> int:
        return self.size or DEFAULT_CALIB_SIZE

    def check(self) -> None:
        """Refuse, before any work, what calibration would refuse only after the export (52-109 s later).

        Raises:
            CalibrationError: a negative seed, fewer images than one calibration batch, a file that is
                not a CIFAR-10 train batch.
        """
        if self.seed < 0:
            raise CalibrationError(f"--calib-seed {self.seed}: a seed is 0 or more")
        size = self.size if self.data is not None else self.cifar_size
        if size is not None and size < BATCH_SIZE:
            raise CalibrationError(
                f"--calib-size {size} is smaller than one calibration batch ({BATCH_SIZE} images); "
                "use at least 64, better 300+"
            )
        bad = [f for f in self.files if f not in TRAIN_BATCHES] if self.data is None else []
        if bad or (self.data is None and not self.files):
            raise CalibrationError(
                f"--calib-batches {','.join(self.files) or '(none)'}: calibration draws from the train split only "
                f"({', '.join(TRAIN_BATCHES)})"
            )

    def to_dict(self) -> dict:
        out = asdict(self)
        out["files"], out["data"] = list(self.files), None if self.data is None else str(self.data)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> CalibrationConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "files" in values:
            values["files"] = tuple(values["files"])
        if values.get("data") is not None:
            values["data"] = Path(values["data"])
        return cls(**values)


DEFAULTS = CalibrationConfig()
