"""The fake tensorrt's runtime side: Runtime, ICudaEngine, IExecutionContext (see trt_fakes.py).

The fake "engine" computes logits[n, k] = sum_c mean(x[n, c]) * W[c, k] + 0.01 k through real host
memory, so the runner's buffers, copies and CUDA graph are exercised for real. Rules, each from NVIDIA:

- ``execute_async_v3`` takes an int (pybind11 ``size_t``), casts it to ``cudaStream_t``
  (python/src/infer/pyCore.cpp at v10.3.0) and returns False unless it is 0 or a live stream;
- it returns False while a dynamic input has no shape (NvInferRuntime.h at v10.3.0: dynamic input
  dimensions are "specified by calling setInputShape()");
- a CUDA graph replays what was captured: once its context is reshaped or re-addressed, the replay
  is garbage (TensorRT developer guide, "CUDA Graphs": recapture after the shapes change) - NaN here;
- ``deserialize_cuda_engine`` returns None outside the version-compatibility matrix (11.4 support
  matrix, "Engine portability"), written here independently of runtime/backends/tensorrt/compat.py;
- the engine runs on ``Runtime.DLA_core`` as set before deserializing (NvInferRuntime.h, IRuntime::setDLACore);
- a plan built with TF32 (on by default) computes on TF32-rounded inputs.
"""

from __future__ import annotations

import ctypes
import json

import numpy as np

FAKE_WEIGHTS = (np.arange(30, dtype=np.float32).reshape(3, 10) - 15) / 10.0


def fake_logits(batch: np.ndarray) -> np.ndarray:
    return batch.mean(axis=(2, 3)) @ FAKE_WEIGHTS + 0.01 * np.arange(10, dtype=np.float32)


def tf32(x: np.ndarray) -> np.ndarray:
    """FP32 values cut to TF32's 10-bit mantissa, as TF32 math reads its inputs (NvInfer.h at v10.3.0,
    BuilderFlag::kTF32: "rounding the inputs to 10-bit mantissas"; truncated here, close enough for a fake)."""
    return (np.ascontiguousarray(x, dtype=np.float32).view(np.uint32) & np.uint32(0xFFFFE000)).view(np.float32)


def tf32_logits(batch: np.ndarray) -> np.ndarray:
    """What an engine built with TF32 left on (every FP16/INT8 build: only FP32 clears it) computes."""
    return fake_logits(tf32(batch))


def _error(trt, message: str) -> None:
    trt.log.append(("ERROR", message))


def plan_loads_on(built: str, running: str, version_compatible: bool) -> bool:
    """The documented matrix: same version; or version-compatible on a newer runtime of the same
    major, or exactly 8.x -> 10.x and 10.x -> 11.x across majors ("a TensorRT 8 engine cannot run
    with a TensorRT 11 runtime")."""
    if built == running:
        return True
    b, r = (tuple(int(p) for p in v.split(".")[:3]) for v in (built, running))
    return version_compatible and r > b and (b[0] == r[0] or (b[0], r[0]) in {(8, 10), (10, 11)})


def _context_class(trt):
    class ExecutionContext:
        def __init__(self, engine):
            self._engine, self._shapes, self._addresses, self._generation = engine, {}, {}, 0

        def set_input_shape(self, name, shape):
            low, _, high = self._engine._profile
            ok = len(shape) == len(low) and all(lo <= s <= hi for lo, s, hi in zip(low, shape, high, strict=True))
            if ok and self._shapes.get(name) != tuple(shape):
                self._shapes[name] = tuple(shape)
                self._generation += 1
            return ok

        def set_tensor_address(self, name, memory):
            if self._addresses.get(name) != int(memory):
                self._addresses[name] = int(memory)
                self._generation += 1
            return True

        def execute_async_v3(self, stream_handle):
            if not isinstance(stream_handle, int):
                got = type(stream_handle).__name__
                raise TypeError(f"execute_async_v3(): incompatible function arguments (stream_handle: int), got {got}")
            trt.calls.append(("context.execute_async_v3", stream_handle, self._shapes.get("input"), id(self)))
            if not trt.execute_result:
                return False
            if stream_handle != 0 and not trt.stream_is_live(stream_handle):
                _error(trt, f"enqueueV3: invalid stream {stream_handle:#x} (cudaErrorInvalidResourceHandle)")
                return False
            low, _, high = self._engine._profile
            if "input" not in self._shapes and low != high:
                _error(trt, "enqueueV3: input 'input' has dynamic dimensions and no shape was set (setInputShape)")
                return False
            trt.enqueue(self._run(self._shapes.get("input", high)))  # the fake cudart captures it when capturing
            return True

        def _run(self, shape):
            count, generation = int(np.prod(shape)), self._generation
            src, dst = self._addresses["input"], self._addresses["logits"]

            def run():
                out = np.ctypeslib.as_array((ctypes.c_float * (shape[0] * 10)).from_address(dst))
                if self._generation != generation:  # a graph replayed after its context changed
                    out[:] = np.nan
                    return
                x = np.ctypeslib.as_array((ctypes.c_float * count).from_address(src)).reshape(shape)
                out[:] = fake_logits(tf32(x) if self._engine._meta.get("tf32") else x).astype(np.float32).reshape(-1)

            return run

    return ExecutionContext


def runtime_classes(trt, version: str) -> dict:
    ExecutionContext = _context_class(trt)  # noqa: N806 - a class

    class Engine:
        num_io_tensors = property(lambda self: 2)

        def __init__(self, meta, dla_core):
            self._profile = [tuple(s) for s in meta["profile"]]
            self._meta, self._dla_core = meta, dla_core

        def get_tensor_name(self, index):
            return ["input", "logits"][index]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == "input" else trt.TensorIOMode.OUTPUT

        def get_tensor_profile_shape(self, name, profile_index):
            return self._profile

        def create_execution_context(self):
            context = ExecutionContext(self)
            trt.calls.append(("engine.create_execution_context", id(context)))
            return context

    class Runtime:
        engine_host_code_allowed = max_threads = DLA_core = None

        def __init__(self, logger):
            self._dla_core = None

        def __setattr__(self, name, value):
            if not name.startswith("_") and name not in self._attrs:
                raise AttributeError(f"Runtime has no attribute {name!r} in this TensorRT version")
            trt.calls.append((f"Runtime.{name}=", value))
            object.__setattr__(self, name, value)

        def deserialize_cuda_engine(self, serialized_engine):
            if not serialized_engine.startswith(b"FAKEPLAN"):
                _error(trt, "deserialize_cuda_engine: not a TensorRT plan (magic tag mismatch)")
                return None
            meta = json.loads(serialized_engine[len(b"FAKEPLAN") :])
            if not plan_loads_on(meta["version"], version, meta.get("version_compatible", False)):
                _error(
                    trt,
                    f"The engine plan file is not compatible with this version of TensorRT, expecting "
                    f"library version {version} got {meta['version']}",
                )
                return None
            dla_core = (self.DLA_core if self.DLA_core is not None else 0) if meta.get("dla") else None
            return Engine(meta, dla_core)

    return {"ExecutionContext": ExecutionContext, "Engine": Engine, "Runtime": Runtime}
