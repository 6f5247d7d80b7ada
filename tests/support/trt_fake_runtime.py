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
- optimization profiles per execution context, by version (``_initial_profile``): on 8.x a context gets
  profile 0 only if no other context holds it, and any other must select a unique one with
  ``set_optimization_profile_async`` before ``set_input_shape`` succeeds; from 10.x every context starts on 0;
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


def _initial_profile(trt, engine) -> int | None:
    """The profile a new execution context starts on.

    8.5 (NvInferRuntime.h at 8.5.2, createExecutionContext): "The first execution context created will call
    setOptimizationProfile(0) implicitly. For other execution contexts, setOptimizationProfile() must be
    called with unique profile index before calling execute or enqueue." 8.6 (at v8.6.1): profile 0
    implicitly "if there are no other execution contexts assigned to optimization profile 0". Else none,
    and TensorRT logs what NVIDIA/TensorRT#846 shows. 10.x (at v10.3.0; v11.1 the same): "The newly
    created execution context will be assigned optimization profile 0."
    """
    if trt.major >= 10:
        return 0
    taken = engine._contexts_created > 0 if trt.__version__.startswith("8.5") else 0 in engine._profile_owners
    if not taken:
        return 0
    trt.log.append(
        ("WARNING", "Could not set default profile 0 for execution context. Profile index must be set explicitly.")
    )
    return None


def _context_class(trt):
    class ExecutionContext:
        def __init__(self, engine):
            self._engine, self._shapes, self._addresses, self._generation = engine, {}, {}, 0
            self._profile = _initial_profile(trt, engine)
            if self._profile is not None:
                engine._profile_owners.setdefault(self._profile, self)
            engine._contexts_created += 1

        active_optimization_profile = property(lambda self: -1 if self._profile is None else self._profile)

        def set_optimization_profile_async(self, profile_index, stream_handle):
            """8.x: a profile another context holds is refused (NVIDIA/TensorRT#846: "Profile 0 has been chosen
            by another IExecutionContext"); an index outside [0, engine.num_optimization_profiles) always is."""
            if not isinstance(stream_handle, int):
                raise TypeError(
                    "set_optimization_profile_async(): incompatible function arguments (stream_handle: int)"
                )
            trt.calls.append(("context.set_optimization_profile_async", profile_index, id(self)))
            owner = self._engine._profile_owners.get(profile_index)
            if not 0 <= profile_index < self._engine.num_optimization_profiles:
                _error(trt, f"setOptimizationProfileAsync: profile index {profile_index} is out of range")
                return False
            if trt.major < 10 and owner is not None and owner is not self:
                _error(
                    trt,
                    f"Profile {profile_index} has been chosen by another IExecutionContext. Use another "
                    "profileIndex or destroy the IExecutionContext that use this profile.",
                )
                return False
            self._profile = profile_index
            self._engine._profile_owners.setdefault(profile_index, self)
            return True

        def set_input_shape(self, name, shape):
            if self._profile is None:  # what 8.x answers for a context without a profile (NVIDIA/TensorRT#846)
                _error(
                    trt,
                    "Parameter check failed: mOptimizationProfile >= 0 "
                    "&& mOptimizationProfile < getNbOptimizationProfiles()",
                )
                return False
            low, _, high = self._engine._profiles[self._profile]
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
            if self._profile is None:
                _error(trt, "enqueueV3: the execution context has no optimization profile")
                return False
            low, _, high = self._engine._profiles[self._profile]
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
            self._profiles = [[tuple(s) for s in p] for p in meta.get("profiles", [meta["profile"]])]
            self._profile = self._profiles[0]
            self._meta, self._dla_core = meta, dla_core
            self._profile_owners, self._contexts_created = {}, 0

        num_optimization_profiles = property(lambda self: len(self._profiles))

        def get_tensor_name(self, index):
            return ["input", "logits"][index]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == "input" else trt.TensorIOMode.OUTPUT

        def get_tensor_profile_shape(self, name, profile_index):
            return self._profiles[profile_index]

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
