"""onnxruntime runner: provider chosen from what is installed (TensorRT EP, CUDA EP, CPU) or as asked."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.onnxruntime.providers import (  # noqa: F401
    GPU_PROVIDERS,
    PROVIDER_PREFERENCE,
    check_fallback,
    choose_providers,
    cuda_options,
    load_tensorrt_libraries,
    preload_cuda_libraries,
    tensorrt_options,
    too_old_refusal,
    unfused_int8_warning,
)
from alexnet_edge.runtime.backends.registry import backend_spec
from alexnet_edge.runtime.constants import CHANNELS, INPUT_NAME, INPUT_SIZE, NUM_CLASSES, OUTPUT_NAME
from alexnet_edge.runtime.cpu_features import detect, saturation_warning
from alexnet_edge.runtime.errors import BackendUnavailableError, ModelFileError, RunnerStateError
from alexnet_edge.runtime.fileio import decode_metadata
from alexnet_edge.runtime.precision import PrecisionKey, precisions

logger = logging.getLogger(__name__)


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        hint = backend_spec("onnxruntime").install_hint()
        raise BackendUnavailableError(f"onnxruntime is not installed: {hint}") from None
    return onnxruntime


def usable_cpus() -> int:
    """The logical CPUs this process may run on (its affinity mask, so taskset and cgroup cpusets count),
    one intra-op thread each. Not physical cores: Python cannot tell SMT siblings apart portably."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def check_signature(path: Path, model_input, model_output) -> None:
    """The model must take float32 [N,3,32,32] and give [N,10]; say what it takes otherwise."""

    def fixed(dims) -> list:
        return [d if isinstance(d, int) else None for d in dims]  # symbolic or unknown dims: None

    shape_in, shape_out = fixed(model_input.shape), fixed(model_output.shape)
    ok = (
        model_input.type == "tensor(float)"
        and len(shape_in) == 4
        and shape_in[1:] == [CHANNELS, INPUT_SIZE, INPUT_SIZE]
        and model_output.type == "tensor(float)"
        and len(shape_out) == 2
        and shape_out[1] in (NUM_CLASSES, None)
    )
    if not ok:

        def shown(t, dims):
            return f"{t.removeprefix('tensor(').rstrip(')')} [{', '.join('N' if d is None else str(d) for d in dims)}]"

        raise ModelFileError(
            f"{path}: takes {shown(model_input.type, shape_in)} and gives {shown(model_output.type, shape_out)}; "
            f"alexnet-edge models take float [N,{CHANNELS},{INPUT_SIZE},{INPUT_SIZE}] and give float [N,{NUM_CLASSES}]"
        )


def _declared_precision(ort, path: Path) -> PrecisionKey | None:
    """The precision the model's metadata declares (the exporter writes ``precision``), from a CPU session."""
    try:
        session = ort.InferenceSession(str(path), ort.SessionOptions(), ["CPUExecutionProvider"], [{}])
    except Exception:  # noqa: BLE001 - not loadable: the real session says why, in one line
        return None
    value = session.get_modelmeta().custom_metadata_map.get("precision")
    return next((p for p in precisions() if p.value == value), None)


class OnnxRuntimeRunner(BaseRunner):
    backend = "onnxruntime"

    def __init__(
        self,
        model_path: str | Path,
        *,
        providers: Sequence[str] | str | None = None,
        threads: int | None = None,
        name: str | None = None,
        trt_cache_dir: str | Path | None = None,
        trt_max_batch: int = 256,
        precision: PrecisionKey | None = None,
        allow_spinning: bool = True,
    ):
        """``precision``: the model's (the TensorRT provider's flags follow it); None: read from the model's
        metadata when the TensorRT provider needs it. ``allow_spinning``: False sets the session option
        ``session.intra_op.allow_spinning=0``, so idle threads sleep instead of spinning after each run (a
        process timing several runners in turn: bench.quiet_idle_threads)."""
        self.model_path = Path(model_path)
        self.precision = precision
        super().__init__(name or f"onnxruntime:{self.model_path.name}")
        self.requested_providers = providers
        self.threads = threads
        self.allow_spinning = allow_spinning
        self.trt_cache_dir = Path(trt_cache_dir) if trt_cache_dir else self.model_path.parent / "trt_cache"
        self.trt_max_batch = trt_max_batch
        self.session = None
        self._output_names: list[str] = []
        self.providers: list[str] = []
        self.tensorrt_libs: str | None = None  # where pip TensorRT's libraries were loaded from
        self.provider_options: dict[str, dict] = {}  # what the CUDA provider was given (use_tf32), for the row
        self._preload_said: list[str] = []  # what onnxruntime.preload_dlls printed
        self._io_binding = None

    def activate_impl(self) -> None:
        ort = import_onnxruntime()
        if not self.model_path.is_file():
            raise ModelFileError(f"{self.model_path}: no such model file")
        self._refuse_if_too_old(ort, self.precision)  # before a session an old onnxruntime may fail to create
        self.providers = choose_providers(self.requested_providers, ort.get_available_providers())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads or usable_cpus()
        options.inter_op_num_threads = 1  # a chain of ops: no parallel branches to feed
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.enable_cpu_mem_arena = True
        options.enable_mem_pattern = True
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.allow_spinning else "0")
        options.log_severity_level = 3  # warnings from the optimizer are not the user's business
        self.session = self._create_session(ort, options)
        requested, self.providers = self.providers, list(self.session.get_providers())
        check_fallback(
            requested,
            self.providers,
            self.model_path,
            explicit=self.requested_providers not in (None, "auto"),
            tensorrt_libs=self.tensorrt_libs,
            preload_said=self._preload_said,
        )
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        # The logits first; more outputs (alexnet-debug's marked intermediate tensors) come by name only.
        if inputs != [INPUT_NAME] or outputs[:1] != [OUTPUT_NAME]:
            raise ModelFileError(
                f"{self.model_path}: expected input '{INPUT_NAME}' and output '{OUTPUT_NAME}', "
                f"got inputs {inputs} and outputs {outputs}"
            )
        self._output_names = outputs
        check_signature(self.model_path, self.session.get_inputs()[0], self.session.get_outputs()[0])
        if self.precision is None:
            declared = self.metadata().get("precision")
            self._refuse_if_too_old(ort, next((p for p in precisions() if p.value == declared), None))
        if self.session.get_providers()[0] in GPU_PROVIDERS:
            self._io_binding = self.session.io_binding()
        else:
            metadata = self.metadata()
            for warning in (saturation_warning(metadata, detect()), unfused_int8_warning(ort.__version__, metadata)):
                if warning:
                    logger.warning(warning)

    def _refuse_if_too_old(self, ort, precision: PrecisionKey | None) -> None:
        refusal = too_old_refusal(ort.__version__, precision, self.model_path)
        if refusal:
            self.session = None
            raise BackendUnavailableError(refusal)

    def _create_session(self, ort, options):
        gpu = GPU_PROVIDERS & set(self.providers)
        precision = self.precision or (_declared_precision(ort, self.model_path) if gpu else None)
        provider_options = [self._options_for(p, ort, precision) for p in self.providers]
        if "TensorrtExecutionProvider" in self.providers:  # before the provider's dlopen of libnvinfer (#18597)
            self.tensorrt_libs = load_tensorrt_libraries()
        if gpu:  # and CUDA/cuDNN before either GPU provider's dlopen
            self._preload_said = preload_cuda_libraries(ort)
        try:
            return ort.InferenceSession(
                str(self.model_path), options, providers=self.providers, provider_options=provider_options
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            if "TensorrtExecutionProvider" in self.providers:
                raise BackendUnavailableError(
                    f"{self.model_path.name}: onnxruntime's TensorRT provider failed ({first[:200]}); "
                    "try --providers cuda"
                ) from None
            raise ModelFileError(f"{self.model_path}: not a loadable ONNX model ({first[:200]})") from None

    def _options_for(self, provider: str, ort, precision: PrecisionKey | None) -> dict:
        """``precision``: the model's, given or read from its metadata (None where no GPU provider needs it)."""
        if provider == "CUDAExecutionProvider":
            self.provider_options[provider] = cuda_options(precision)
            return self.provider_options[provider]
        if provider != "TensorrtExecutionProvider":
            return {}
        self.trt_cache_dir.mkdir(parents=True, exist_ok=True)
        return tensorrt_options(
            ort_version=ort.__version__,
            precision=precision,
            cache_dir=self.trt_cache_dir,
            max_batch=self.trt_max_batch,
            opt_batch=32,
        )

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        if self._io_binding is not None:
            # On a GPU provider, IO binding makes ORT do exactly one host->device copy of the input
            # and one device->host copy of the logits, with no per-call output allocation in Python.
            binding = self._io_binding
            binding.bind_cpu_input(INPUT_NAME, batch)
            binding.bind_output(OUTPUT_NAME)
            self.session.run_with_iobinding(binding)
            return binding.copy_outputs_to_cpu()[0]
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]

    def infer_outputs_impl(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        return dict(zip(names, self.session.run(names, {INPUT_NAME: batch}), strict=True))

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    def deactivate_impl(self) -> None:
        self.session = None
        self._io_binding = None

    @property
    def artifact_path(self) -> Path:
        return self.model_path

    @property
    def device(self) -> str:
        return "cuda" if self.providers and self.providers[0] in GPU_PROVIDERS else "cpu"

    def settings(self) -> dict[str, object]:
        """On a GPU provider: the providers used and the CUDA provider's TF32 setting (its default is on; FP32
        models run with use_tf32=0). TensorRT's provider has no TF32 option: TensorRT's default (on) holds."""
        if self.device != "cuda":
            return {}
        out: dict[str, object] = {"providers": list(self.providers)}
        if "CUDAExecutionProvider" in self.providers:
            out["cuda_use_tf32"] = self.provider_options.get("CUDAExecutionProvider", {}).get("use_tf32") != "0"
        if "TensorrtExecutionProvider" in self.providers:
            out["tensorrt_tf32"] = "TensorRT default (on): the provider has no option to clear it"
        return {self.backend: out}

    def metadata(self) -> dict[str, object]:
        """The model's ``metadata_props``, with JSON values decoded."""
        if self.session is None:
            raise RunnerStateError(f"{self.name}: activate the runner before reading metadata")
        return decode_metadata(self.session.get_modelmeta().custom_metadata_map)
