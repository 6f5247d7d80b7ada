"""The runner interface every backend implements (Polygraphy-style: subclasses override ``*_impl``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.registry import capabilities_of
from alexnet_edge.runtime.batching import pad_batch, plan_batches
from alexnet_edge.runtime.constants import INPUT_SIZE, NUM_CLASSES, OUTPUT_NAME
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.errors import InferenceError, InputError, RunnerStateError, UnsupportedOptionError
from alexnet_edge.runtime.preprocess import validate_batch
from alexnet_edge.runtime.progress import Progress, track


class BaseRunner(ABC):
    """float32 [N,3,32,32] normalized images -> float32 [N,10] logits.

    Use as a context manager, or call ``activate()`` / ``deactivate()`` yourself.
    """

    #: short names used in reports: "onnxruntime", "tensorrt", "torch"
    backend: str = "base"
    #: whether idle worker threads spin after each call (onnxruntime's default); a timing that interleaves
    #: runners turns it off before activation (bench.quiet_idle_threads). False: nothing spins.
    allow_spinning: bool = False
    #: a foreign model's own input (runtime/any_model.py), which alexnet-bench feeds; None: ours, [N,3,32,32]
    model_input = None

    def __init__(self, name: str):
        self.name = name
        self.is_active = False

    # -- lifecycle ---------------------------------------------------------------------------
    def activate(self) -> BaseRunner:
        """Load the model or engine (``activate_impl``); returns self. Raises RunnerStateError if active."""
        if self.is_active:
            raise RunnerStateError(f"{self.name}: runner is already active")
        self.activate_impl()
        self.is_active = True
        return self

    def deactivate(self) -> None:
        """Release what ``activate`` took (``deactivate_impl``); a no-op when not active."""
        if not self.is_active:
            return
        try:
            self.deactivate_impl()
        finally:
            self.is_active = False

    def __enter__(self) -> BaseRunner:
        return self.activate()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.deactivate()

    # -- inference ---------------------------------------------------------------------------
    def infer(self, batch: np.ndarray) -> np.ndarray:
        """The logits of one batch.

        Args:
            batch: float32 [N, 3, 32, 32], normalized (``preprocess.normalize_uint8``).

        Returns:
            float32 [N, 10] logits. Raises InputError for a bad batch, RunnerStateError before ``activate``,
            InferenceError when the model returns another shape.
        """
        self._require_active()
        batch = validate_batch(batch, size=INPUT_SIZE)
        logits = self.infer_impl(batch)
        if logits.shape != (batch.shape[0], NUM_CLASSES):
            raise InferenceError(
                f"{self.name}: model returned shape {list(logits.shape)}, expected [{batch.shape[0]},{NUM_CLASSES}]"
            )
        return logits

    def infer_outputs(self, batch: np.ndarray, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Outputs by name (Polygraphy's ``infer(feed_dict) -> dict``): ``names`` among ``output_names``,
        default the logits only. One runner so serves the comparison, the targets and the layer debugger."""
        self._require_active()
        wanted, known = [OUTPUT_NAME] if names is None else list(names), self.output_names
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise InputError(f"{self.name}: no output(s) {', '.join(unknown)}; it has {', '.join(known)}")
        return self.infer_outputs_impl(validate_batch(batch, size=INPUT_SIZE), wanted)

    def _require_active(self) -> None:
        if not self.is_active:
            raise RunnerStateError(f"{self.name}: activate the runner (or use it in a with-block) before infer()")

    def infer_many(self, images: np.ndarray, *, batch_size: int = 256, progress: Progress = False) -> np.ndarray:
        """Run a large array through ``infer`` in batches this runner takes (runtime.batching: a short last
        batch is padded up to ``min_batch`` and the padding's logits dropped); returns float32 [N,10].
        ``progress``: see runtime.progress."""
        batches = plan_batches(len(images), self, batch_size)
        out = [
            self.infer(pad_batch(images[b.start : b.stop], b.padded_size))[: b.stop - b.start]
            for b in track(batches, total=len(batches), desc=self.name, unit="batches", progress=progress)
        ]
        return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros((0, NUM_CLASSES), np.float32)

    # -- what callers may ask every runner (Polygraphy's get_input_metadata idea) -------------
    @property
    def artifact_path(self) -> Path | None:
        """The model or engine file this runner executes (None for an in-memory model)."""
        return None

    @property
    def output_names(self) -> list[str]:
        """Every output ``infer_outputs`` can return; the logits only, unless the backend has more."""
        return [OUTPUT_NAME]

    @property
    def min_batch(self) -> int | None:
        """The smallest batch one ``infer`` call takes: the backend's declared capability, unless the
        artifact narrows it (an engine's profile); None: any."""
        return capabilities_of(self).min_batch

    @property
    def max_batch(self) -> int | None:
        """The largest batch one ``infer`` call takes (the backend's capability, or an engine's profile);
        None: no limit."""
        return capabilities_of(self).max_batch

    def device_latency_ms(self, batch: np.ndarray, runs: int = 20) -> list[float]:
        """Milliseconds of device execution alone per run (no host<->device copies), where the backend's
        capabilities declare ``device_timing`` and its runner overrides this; refused elsewhere."""
        raise UnsupportedOptionError(
            f"{self.name}: {self.backend} cannot time its device apart from the copies",
            option="device timing",
            running=self.backend,
            needs="a backend whose capabilities declare device_timing",
        )

    def metadata(self) -> dict[str, object]:
        """What the artifact says about itself (class names, normalization, precision); may be empty."""
        return {}

    def settings(self) -> dict[str, object]:
        """How this runner computes where the backend has choices (e.g. OpenVINO's inference precision),
        for a report row."""
        return {}

    # -- what the device is, for reports -----------------------------------------------------
    @property
    def device(self) -> str:
        return "cpu"

    def device_name(self) -> str:

        return detect().name

    def cpu_features(self) -> dict[str, object] | None:
        """The host CPU's instruction set where this runner computes on it (None on a GPU)."""

        return detect().to_dict() if self.device == "cpu" else None

    # -- subclass hooks ----------------------------------------------------------------------
    @abstractmethod
    def activate_impl(self) -> None: ...

    @abstractmethod
    def infer_impl(self, batch: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def deactivate_impl(self) -> None: ...

    def infer_outputs_impl(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        """Override where the backend has outputs besides the logits."""
        return {OUTPUT_NAME: self.infer_impl(batch)}
