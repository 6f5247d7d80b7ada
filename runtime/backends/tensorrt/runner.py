"""TensorRT engine runner: sidecar check, device and pinned host buffers, one stream, async copies,
optional CUDA graph for one fixed batch size on an execution context of its own. Uses the name-based
tensor API (8.5+, 10.x, 11.x)."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.tensorrt.common import (
    check_sidecar,
    cuda_check,
    current_gpu,
    import_tensorrt,
    open_cudart,
    read_sidecar,
    stream_handle,
)
from alexnet_edge.runtime.backends.tensorrt.compat import version_tuple
from alexnet_edge.runtime.constants import INPUT_NAME, NUM_CLASSES, OUTPUT_NAME
from alexnet_edge.runtime.errors import InferenceError, InputError, ModelFileError, UnsupportedOptionError

FLOAT = np.dtype(np.float32).itemsize


class TensorRTRunner(BaseRunner):
    backend = "tensorrt"

    def __init__(self, engine_path: str | Path, *, cuda_graph_batch: int | None = None, name: str | None = None):
        self.engine_path = Path(engine_path)
        super().__init__(name or f"tensorrt:{self.engine_path.name}")
        self.cuda_graph_batch = cuda_graph_batch
        self.sidecar: dict = {}
        self.profile: tuple[int, int] = (0, 0)
        self._trt = self._cudart = None
        self._engine = self._context = self._graph_context = self._stream = None
        self._device: dict[str, int] = {}
        self._host: dict[str, np.ndarray] = {}
        self._host_ptr: dict[str, int] = {}
        self._graph = self._graph_exec = None
        self._gpu = None

    # -- lifecycle ---------------------------------------------------------------------------
    def activate_impl(self) -> None:
        try:
            self._activate()
        except BaseException:
            self.deactivate_impl()  # BaseRunner marks a runner active only on success: free what was taken
            raise

    def _activate(self) -> None:
        trt, cudart = import_tensorrt(), open_cudart()
        self._trt, self._cudart = trt, cudart
        if not self.engine_path.is_file():
            raise ModelFileError(f"{self.engine_path}: no such engine file")
        self.sidecar = read_sidecar(self.engine_path)
        self._gpu = current_gpu(cudart)
        check_sidecar(self.sidecar, trt_version=trt.__version__, gpu=self._gpu, engine_path=self.engine_path)

        self._engine = self._deserialize(trt)
        if self._engine is None:
            raise ModelFileError(
                f"{self.engine_path}: TensorRT could not deserialize it (truncated or from another version)"
            )
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        if sorted(names) != sorted([INPUT_NAME, OUTPUT_NAME]):
            raise ModelFileError(f"{self.engine_path}: expected tensors {INPUT_NAME}/{OUTPUT_NAME}, got {names}")
        low, _opt, high = self._engine.get_tensor_profile_shape(INPUT_NAME, 0)
        self.profile = (int(low[0]), int(high[0]))
        self._context = self._engine.create_execution_context()
        self._stream = cuda_check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        if self.cuda_graph_batch is not None:
            # A captured graph fixes its context's shapes and addresses: other batch sizes run on another context.
            self._graph_context = self._second_context()
        max_batch = self.profile[1]
        sizes = {INPUT_NAME: max_batch * int(np.prod(high[1:])), OUTPUT_NAME: max_batch * NUM_CLASSES}
        for name, count in sizes.items():
            self._device[name] = cuda_check(cudart.cudaMalloc(count * FLOAT), "cudaMalloc")
            self._host_ptr[name] = cuda_check(cudart.cudaMallocHost(count * FLOAT), "cudaMallocHost")
            self._host[name] = np.ctypeslib.as_array((ctypes.c_float * count).from_address(self._host_ptr[name]))
            for context in (c for c in (self._context, self._graph_context) if c is not None):
                context.set_tensor_address(name, int(self._device[name]))
        if self.cuda_graph_batch is not None:
            self._capture_graph(self.cuda_graph_batch)

    def _second_context(self):
        """Another execution context; on 8.x it has no optimization profile until it selects one no other
        context holds, so the builder gives 8.x engines a second profile (builder.profile_count)."""
        context = self._engine.create_execution_context()
        version = self._trt.__version__
        if version_tuple(version)[0] >= 9:
            return context  # every new context is assigned profile 0 (NvInferRuntime.h at v10.3.0)
        if self._engine.num_optimization_profiles < 2:
            raise UnsupportedOptionError(
                f"{self.name}: a CUDA graph on TensorRT {version} runs on a second execution context, which needs "
                "a second optimization profile this engine lacks: rebuild it with this alexnet-edge, or run "
                "without the CUDA graph",
                option="cuda_graph_batch",
                running=version,
                needs="an 8.x engine with two optimization profiles",
            )
        if not context.set_optimization_profile_async(1, stream_handle(self._stream)):
            raise InferenceError(f"{self.name}: TensorRT refused optimization profile 1 (see the TensorRT log above)")
        cuda_check(self._cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return context

    def _deserialize(self, trt):
        """The engine, on the DLA core it was built for (set before deserializing, or it runs on core 0)."""
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        options = self.sidecar.get("build_options", {})
        if options.get("version_compatible") and hasattr(trt.Runtime, "engine_host_code_allowed"):
            runtime.engine_host_code_allowed = True  # version-compatible plans carry their lean runtime (8.6+)
        if options.get("dla_core") is not None:
            runtime.DLA_core = int(options["dla_core"])  # IRuntime::setDLACore (NvInferRuntime.h at v10.3.0)
        return runtime.deserialize_cuda_engine(self.engine_path.read_bytes())

    def deactivate_impl(self) -> None:
        cudart = self._cudart
        if cudart is None:  # activation failed before cuda-python was opened
            return
        if self._graph_exec is not None:
            cudart.cudaGraphExecDestroy(self._graph_exec)
        if self._graph is not None:
            cudart.cudaGraphDestroy(self._graph)
        for ptr in self._device.values():
            cudart.cudaFree(ptr)
        for ptr in self._host_ptr.values():
            cudart.cudaFreeHost(ptr)
        if self._stream is not None:
            cudart.cudaStreamDestroy(self._stream)
        self._device, self._host, self._host_ptr = {}, {}, {}
        self._graph = self._graph_exec = self._context = self._graph_context = self._engine = self._stream = None

    # -- inference ---------------------------------------------------------------------------
    def _check_batch(self, n: int) -> None:
        low, high = self.profile
        if not low <= n <= high:
            raise InputError(
                f"{self.name}: batch {n} is outside the engine's profile "
                f"[{low}, {high}]; rebuild with --min-batch/--max-batch"
            )

    def _enqueue(self, n: int, context=None) -> None:
        """Copy in, execute, copy out on the stream (no sync): what a CUDA graph captures."""
        cudart, stream = self._cudart, self._stream
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        in_bytes = n * self._host[INPUT_NAME].size // self.profile[1] * FLOAT
        cuda_check(
            cudart.cudaMemcpyAsync(self._device[INPUT_NAME], self._host_ptr[INPUT_NAME], in_bytes, h2d, stream),
            "H2D copy",
        )
        self._execute(context)
        out_bytes = n * NUM_CLASSES * FLOAT
        cuda_check(
            cudart.cudaMemcpyAsync(self._host_ptr[OUTPUT_NAME], self._device[OUTPUT_NAME], out_bytes, d2h, stream),
            "D2H copy",
        )

    def _execute(self, context=None) -> None:
        if not (self._context if context is None else context).execute_async_v3(stream_handle(self._stream)):
            raise InferenceError(f"{self.name}: TensorRT execution failed (see the TensorRT log above)")

    def _set_shape(self, batch_shape: tuple[int, ...], context=None) -> None:
        if not (self._context if context is None else context).set_input_shape(INPUT_NAME, batch_shape):
            raise InputError(f"{self.name}: TensorRT rejected input shape {list(batch_shape)}")

    def _capture_graph(self, n: int) -> None:
        self._check_batch(n)
        cudart = self._cudart
        context = self._graph_context
        self._set_shape((n, *self._host_shape()[1:]), context)  # never changed again: the graph owns it
        self._enqueue(n, context)  # TensorRT finishes shape-dependent setup outside the capture
        cuda_check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        mode = cudart.cudaStreamCaptureMode.cudaStreamCaptureModeGlobal
        cuda_check(cudart.cudaStreamBeginCapture(self._stream, mode), "cudaStreamBeginCapture")
        try:
            self._enqueue(n, context)
        finally:  # a failure mid-capture must not leave the stream capturing
            ended = cudart.cudaStreamEndCapture(self._stream)
            self._graph = ended[1] if int(ended[0]) == 0 else None
        cuda_check(ended, "cudaStreamEndCapture")
        self._graph_exec = cuda_check(cudart.cudaGraphInstantiate(self._graph, 0), "cudaGraphInstantiate")

    def _host_shape(self) -> tuple[int, ...]:
        _low, _opt, high = self._engine.get_tensor_profile_shape(INPUT_NAME, 0)
        return tuple(int(d) for d in high)

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        n = batch.shape[0]
        self._check_batch(n)
        self._host[INPUT_NAME][: batch.size] = batch.reshape(-1)
        if self._graph_exec is not None and n == self.cuda_graph_batch:
            cuda_check(self._cudart.cudaGraphLaunch(self._graph_exec, self._stream), "cudaGraphLaunch")
        else:
            self._set_shape(batch.shape)
            self._enqueue(n)
        cuda_check(self._cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return self._host[OUTPUT_NAME][: n * NUM_CLASSES].reshape(n, NUM_CLASSES).copy()

    # -- timing on the device ----------------------------------------------------------------
    def device_latency_ms(self, batch: np.ndarray, runs: int = 20) -> list[float]:
        """Execution only (no host<->device copies), timed with CUDA events, at this batch's shape."""
        cudart, stream = self._cudart, self._stream
        self.infer(batch)
        self._set_shape(batch.shape)  # the main context, whatever batch it ran last
        start = cuda_check(cudart.cudaEventCreate(), "cudaEventCreate")
        end = cuda_check(cudart.cudaEventCreate(), "cudaEventCreate")
        samples = []
        for _ in range(runs):
            cuda_check(cudart.cudaEventRecord(start, stream), "cudaEventRecord")
            self._execute()
            cuda_check(cudart.cudaEventRecord(end, stream), "cudaEventRecord")
            cuda_check(cudart.cudaEventSynchronize(end), "cudaEventSynchronize")
            samples.append(float(cuda_check(cudart.cudaEventElapsedTime(start, end), "cudaEventElapsedTime")))
        cudart.cudaEventDestroy(start)
        cudart.cudaEventDestroy(end)
        return samples

    @property
    def artifact_path(self) -> Path:
        return self.engine_path

    @property
    def max_batch(self) -> int | None:
        return self.profile[1] or None

    @property
    def min_batch(self) -> int | None:
        return self.profile[0] or None

    @property
    def device(self) -> str:
        return "cuda"

    def device_name(self) -> str:
        return self._gpu.name if self._gpu else "cuda"
