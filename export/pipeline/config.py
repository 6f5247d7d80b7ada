"""What a pipeline run is asked for, split by what it is:

- ``ExportSpec``: what to build (checkpoint or training recipe, variant, precisions, opset, INT8
  calibration, TensorRT engines);
- ``EvaluationSpec``: how every artifact is judged and timed (images, host backends and their typed
  options, batch sizes, tolerance overrides);
- ``RunOptions``: where and how this run happens (data and output folders, the bundle's folder,
  progress display); not part of what was built, so not recorded in the manifest.

``run.run(export, evaluation, options)`` takes all three; each stage, and the report, manifest and
bundle writers, take only the fields they need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from alexnet_edge.calibration.config import CalibrationConfig
from alexnet_edge.export.convert.opsets import DEFAULT_OPSET
from alexnet_edge.export.model.recipe import Recipe
from alexnet_edge.runtime.backends import registry
from alexnet_edge.runtime.backends.registry import BackendOptions
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.bench import DEFAULT_BATCH_SIZES, PIPELINE_TIMING
from alexnet_edge.runtime.fidelity import Tolerance
from alexnet_edge.runtime.precision import Precision, PrecisionKey, tolerance_for


@dataclass(frozen=True)
class ExportSpec:
    """What to build."""

    checkpoint: Path | None = None  # the state_dict to export; None: train one with ``recipe``
    variant: str = "cifar"
    precisions: tuple[PrecisionKey, ...] = (Precision.FP32,)
    opset: int = DEFAULT_OPSET
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)  # INT8's calibration set
    recipe: Recipe = field(default_factory=Recipe)  # training, when there is no checkpoint
    engines: bool = True  # build TensorRT engines when TensorRT and a GPU are there
    engine: EngineBuildConfig = field(default_factory=EngineBuildConfig)


@dataclass(frozen=True)
class EvaluationSpec:
    """How every artifact is judged against PyTorch FP32 and timed."""

    eval_size: int | None = None  # the first N images; None: all (10,000 of CIFAR-10's test_batch)
    eval_data: Path | None = None  # the user's labelled images for every row (class subfolders, or a .npz)
    backends: tuple[str, ...] | None = None  # host backends for the ONNX rows; None: every installed one
    backend_options: BackendOptions = field(default_factory=BackendOptions)  # e.g. openvino.precision=bf16
    bench: bool = True
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    bench_budget_s: float = PIPELINE_TIMING.min_seconds  # each timed figure: at least this many seconds ...
    bench_min_runs: int = PIPELINE_TIMING.min_runs  # ... and runs (p90 needs 10, p99 100: runtime/bench.py)
    tolerance_overrides: dict[PrecisionKey, dict[str, float]] = field(default_factory=dict)

    def host_backends(self) -> tuple[str, ...]:
        """The host backends to evaluate on: the requested ones, or every installed one (registry order)."""
        return self.backends if self.backends is not None else tuple(registry.host_backends(installed=True))

    def tolerance(self, precision: PrecisionKey, images: int | None = None) -> Tolerance:
        """The precision's tolerance for ``images`` evaluated images; the user's overrides win."""
        return tolerance_for(precision, images, self.tolerance_overrides.get(precision))


@dataclass(frozen=True)
class RunOptions:
    """Where and how this run happens."""

    data_root: Path | None = None  # holds cifar-10-batches-py/; None only for runs that read no CIFAR-10 file
    out_dir: Path = Path("artifacts")
    bundle: Path | None = None  # also write a deployment bundle folder + .tar.gz here
    force: bool = False  # let ``bundle`` replace a non-empty folder that is not an earlier bundle
    bundle_precisions: tuple[Precision, ...] | None = None  # the models the bundle carries; None: every one built
    download: bool = False  # fetch the official CIFAR-10 archive when the files are absent
    progress: bool = True  # tqdm bars (a terminal)
    heartbeat: bool = False  # without bars: a log line every 10 s or 10% of a long step (CI logs, pipes)
    verbose: bool = False  # also show third-party notices (onnxscript, onnxruntime's calibrator)

    def progress_sink(self, log: Callable[[str], None]):
        """What long loops report progress to: a bar, heartbeat lines through ``log``, or nothing."""
        return True if self.progress else (log if self.heartbeat else False)
