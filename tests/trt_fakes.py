"""Fake ``tensorrt`` and ``cuda`` modules with exactly the API surface of TensorRT 8.6, 10.3 and 11.4.

Anything a version lacks raises AttributeError, as the real module would; every call is recorded in
``module.calls``. The fake "engine" computes logits[n, k] = sum_c mean(x[n, c]) * W[c, k] + 0.01 k
through real host memory, so the runner's buffers and copies are exercised for real.
"""

from __future__ import annotations

import ctypes
import json
import types

import numpy as np

FAKE_WEIGHTS = (np.arange(30, dtype=np.float32).reshape(3, 10) - 15) / 10.0


def fake_logits(batch: np.ndarray) -> np.ndarray:
    return batch.mean(axis=(2, 3)) @ FAKE_WEIGHTS + 0.01 * np.arange(10, dtype=np.float32)


# -- per-version API surface (from NVIDIA's Python API docs for each release) -------------------
_BUILDER_FLAGS_10 = [
    "FP16", "BF16", "INT8", "DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32", "SPARSE_WEIGHTS",
    "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO",
    "REJECT_EMPTY_ALGORITHMS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "FP8", "ERROR_ON_TIMING_CACHE_MISS",
    "DISABLE_COMPILATION_CACHE", "WEIGHTLESS", "STRIP_PLAN", "REFIT_IDENTICAL", "WEIGHT_STREAMING", "INT4",
]  # fmt: skip
API = {
    "8.6.1": {
        "creation_flags": ["EXPLICIT_BATCH", "EXPLICIT_PRECISION"],
        "builder_flags": [
            "FP16", "INT8", "DEBUG", "GPU_FALLBACK", "STRICT_TYPES", "REFIT", "DISABLE_TIMING_CACHE", "TF32",
            "SPARSE_WEIGHTS", "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS",
            "DIRECT_IO", "REJECT_EMPTY_ALGORITHMS", "ENABLE_TACTIC_HEURISTIC", "VERSION_COMPATIBLE",
            "EXCLUDE_LEAN_RUNTIME", "FP8",
        ],  # fmt: skip
        "config_attrs": {"int8_calibrator", "default_device_type", "DLA_core", "hardware_compatibility_level",
                         "profile_stream", "builder_optimization_level", "max_aux_streams"},  # fmt: skip
        "calibrators": True,
        "platform_queries": True,
    },
    "10.3.0": {
        "creation_flags": ["EXPLICIT_BATCH", "STRONGLY_TYPED"],
        "builder_flags": _BUILDER_FLAGS_10[:-1],
        "config_attrs": {"int8_calibrator", "default_device_type", "DLA_core", "hardware_compatibility_level",
                         "profile_stream", "builder_optimization_level", "max_aux_streams", "runtime_platform"},  # fmt: skip
        "calibrators": True,
        "platform_queries": True,
    },
    "11.4.0": {
        "creation_flags": ["STRONGLY_TYPED", "PREFER_AOT_PYTHON_PLUGINS", "PREFER_JIT_PYTHON_PLUGINS"],
        "builder_flags": [
            f for f in _BUILDER_FLAGS_10
            if f not in {"FP16", "BF16", "INT8", "FP8", "INT4", "OBEY_PRECISION_CONSTRAINTS",
                         "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO", "REJECT_EMPTY_ALGORITHMS"}
        ],  # fmt: skip
        "config_attrs": {"default_device_type", "DLA_core", "hardware_compatibility_level", "profile_stream",
                         "builder_optimization_level", "max_aux_streams", "runtime_platform"},  # fmt: skip
        "calibrators": False,
        "platform_queries": False,
    },
}
VERSIONS = {"trt8.6": "8.6.1", "trt10.3": "10.3.0", "trt11.4": "11.4.0"}


class _Member:
    def __init__(self, enum_name: str, name: str, value: int):
        self.enum_name, self.name, self.value = enum_name, name, value

    def __int__(self):
        return self.value

    def __index__(self):
        return self.value

    def __repr__(self):
        return f"{self.enum_name}.{self.name}"

    def __str__(self):
        return self.name

    def __eq__(self, other):
        return isinstance(other, _Member) and (other.enum_name, other.name) == (self.enum_name, self.name)

    def __hash__(self):
        return hash((self.enum_name, self.name))


def _enum(enum_name: str, names: list[str]):
    members = {name: _Member(enum_name, name, i) for i, name in enumerate(names)}
    cls = type(enum_name, (), dict(members))
    cls.__members__ = members
    return cls


def make_tensorrt(version: str) -> types.ModuleType:
    api = API[version]
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.calls = calls = []
    trt.NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", api["creation_flags"])
    trt.BuilderFlag = _enum("BuilderFlag", api["builder_flags"])
    trt.MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM", "DLA_LOCAL_DRAM", "DLA_GLOBAL_DRAM", "TACTIC_DRAM"])
    trt.DeviceType = _enum("DeviceType", ["GPU", "DLA"])
    trt.HardwareCompatibilityLevel = _enum("HardwareCompatibilityLevel", ["NONE", "AMPERE_PLUS", "SAME_COMPUTE_CAPABILITY"])
    trt.TensorIOMode = _enum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])
    trt.parse_result = True  # tests flip these to simulate failures
    trt.enqueue = lambda op: op()
    trt.build_returns_none = False

    class Logger:
        WARNING, ERROR, INFO, VERBOSE = "WARNING", "ERROR", "INFO", "VERBOSE"
        Severity = _enum("Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])

        def __init__(self, severity=None):
            self.severity = severity

    class _Strict:
        _attrs: set = set()

        def __setattr__(self, name, value):
            if not name.startswith("_") and name not in self._attrs:
                raise AttributeError(f"tensorrt {version}: {type(self).__name__} has no attribute {name!r}")
            calls.append((f"{type(self).__name__}.{name}=", value))
            object.__setattr__(self, name, value)

    class TimingCache:
        def __init__(self, data: bytes):
            self.data = bytes(data)

        def serialize(self):
            return b"CACHE:" + self.data[:64] + b"+"

    class OptimizationProfile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, min, opt, max):  # noqa: A002 - TensorRT's own keyword names
            calls.append(("profile.set_shape", name, tuple(min), tuple(opt), tuple(max)))
            self.shapes[name] = (tuple(min), tuple(opt), tuple(max))

    class BuilderConfig(_Strict):
        _attrs = api["config_attrs"]

        def __init__(self):
            self._flags, self._profiles, self._cache = set(), [], None

        def set_flag(self, flag):
            if not isinstance(flag, _Member) or flag.name not in trt.BuilderFlag.__members__:
                raise AttributeError(f"tensorrt {version}: no BuilderFlag {flag!r}")
            calls.append(("config.set_flag", flag.name))
            self._flags.add(flag.name)

        def get_flag(self, flag):
            return flag.name in self._flags

        def set_memory_pool_limit(self, pool, size):
            calls.append(("config.set_memory_pool_limit", pool.name, size))

        def add_optimization_profile(self, profile):
            self._profiles.append(profile)
            return len(self._profiles) - 1

        def create_timing_cache(self, data):
            calls.append(("config.create_timing_cache", bytes(data)))
            return TimingCache(data)

        def set_timing_cache(self, cache, ignore_mismatch):
            calls.append(("config.set_timing_cache", ignore_mismatch))
            self._cache = cache
            return True

        def get_timing_cache(self):
            return self._cache

    class Network:
        def __init__(self, flags):
            self.flags = flags

    class Builder(_Strict):
        _attrs = {"max_threads"}

        def __init__(self, logger):
            object.__setattr__(self, "logger", logger)

        def create_network(self, flags=0):
            calls.append(("builder.create_network", flags))
            return Network(flags)

        def create_builder_config(self):
            return BuilderConfig()

        def create_optimization_profile(self):
            return OptimizationProfile()

        def build_serialized_network(self, network, config):
            calls.append(("builder.build_serialized_network", sorted(config._flags)))
            if trt.build_returns_none:
                return None
            shapes = config._profiles[0].shapes["input"]
            return b"FAKEPLAN" + json.dumps({"version": version, "profile": shapes}).encode()

    if api["platform_queries"]:
        Builder.platform_has_fast_fp16 = True
        Builder.platform_has_fast_int8 = True

    class OnnxParser:
        def __init__(self, network, logger):
            self.num_errors = 0

        def parse(self, data):
            calls.append(("parser.parse", len(data)))
            if not trt.parse_result:
                self.num_errors = 1
            return trt.parse_result

        def get_error(self, index):
            return "In node 3 (Conv): unsupported fake failure"

    class ExecutionContext:
        def __init__(self, engine):
            self.engine, self.shapes, self.addresses = engine, {}, {}

        def set_input_shape(self, name, shape):
            low, _, high = self.engine.profile
            ok = all(lo <= s <= hi for lo, s, hi in zip(low, shape, high))
            if ok:
                self.shapes[name] = tuple(shape)
            return ok

        def set_tensor_address(self, name, address):
            self.addresses[name] = int(address)
            return True

        def execute_async_v3(self, stream_handle):
            calls.append(("context.execute_async_v3",))
            shape = self.shapes["input"]
            count = int(np.prod(shape))
            src, dst_address = self.addresses["input"], self.addresses["logits"]

            def run():
                x = np.ctypeslib.as_array((ctypes.c_float * count).from_address(src)).reshape(shape)
                out = fake_logits(x).astype(np.float32)
                np.ctypeslib.as_array((ctypes.c_float * out.size).from_address(dst_address))[:] = out.reshape(-1)

            trt.enqueue(run)  # the fake cudart captures it into a graph when capturing
            return True

    class Engine:
        def __init__(self, meta):
            self.profile = [tuple(s) for s in meta["profile"]]
            self.num_io_tensors = 2

        def get_tensor_name(self, index):
            return ["input", "logits"][index]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == "input" else trt.TensorIOMode.OUTPUT

        def get_tensor_profile_shape(self, name, profile_index):
            return self.profile

        def create_execution_context(self):
            return ExecutionContext(self)

    class Runtime(_Strict):
        _attrs = {"engine_host_code_allowed", "max_threads"}

        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, data):
            if not data.startswith(b"FAKEPLAN"):
                return None
            meta = json.loads(data[len(b"FAKEPLAN"):])
            if meta["version"] != version:
                return None
            return Engine(meta)

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    if api["calibrators"]:
        for name in ("IInt8Calibrator", "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator"):
            setattr(trt, name, type(name, (), {}))
    return trt


def make_cudart(gpu_name: str = "NVIDIA Orin (fake)", capability: tuple[int, int] = (8, 7)) -> types.ModuleType:
    """cuda-python runtime bindings over host memory: 'device' buffers are ordinary allocations."""
    cudart = types.ModuleType("cuda.bindings.runtime")
    cudart.buffers = buffers = {}
    cudart.calls = calls = []
    ok = _Member("cudaError_t", "cudaSuccess", 0)
    cudart.cudaMemcpyKind = _enum("cudaMemcpyKind", ["cudaMemcpyHostToHost", "cudaMemcpyHostToDevice", "cudaMemcpyDeviceToHost"])
    cudart.cudaStreamCaptureMode = _enum("cudaStreamCaptureMode", ["cudaStreamCaptureModeGlobal"])
    state = {"capturing": None, "graphs": {}}

    def _alloc(nbytes):
        buf = (ctypes.c_byte * nbytes)()
        buffers[ctypes.addressof(buf)] = buf
        return (ok, ctypes.addressof(buf))

    def _free(ptr):
        buffers.pop(ptr, None)
        return (ok,)

    def enqueue(op):
        if state["capturing"] is not None:
            state["capturing"].append(op)
        else:
            op()

    def memcpy_async(dst, src, nbytes, kind, stream):
        calls.append(("cudaMemcpyAsync", kind.name, nbytes))
        enqueue(lambda: ctypes.memmove(dst, src, nbytes))
        return (ok,)

    cudart.enqueue = enqueue

    cudart.cudaGetDeviceCount = lambda: (ok, 1)
    cudart.cudaGetDeviceProperties = lambda device: (ok, types.SimpleNamespace(name=gpu_name.encode(), major=capability[0], minor=capability[1]))
    cudart.cudaMalloc = cudart.cudaMallocHost = _alloc
    cudart.cudaFree = cudart.cudaFreeHost = _free
    cudart.cudaStreamCreate = lambda: (ok, 7)
    cudart.cudaStreamDestroy = lambda stream: (ok,)
    cudart.cudaStreamSynchronize = lambda stream: (ok,)
    cudart.cudaMemcpyAsync = memcpy_async
    cudart.cudaEventCreate = lambda: (ok, object())
    cudart.cudaEventRecord = lambda event, stream: (ok,)
    cudart.cudaEventSynchronize = lambda event: (ok,)
    cudart.cudaEventElapsedTime = lambda start, end: (ok, 0.25)
    cudart.cudaEventDestroy = lambda event: (ok,)

    def begin_capture(stream, mode):
        state["capturing"] = []
        return (ok,)

    def end_capture(stream):
        ops, state["capturing"] = state["capturing"], None
        return (ok, ops)

    def launch(graph_exec, stream):
        calls.append(("cudaGraphLaunch",))
        for op in graph_exec:
            op()
        return (ok,)

    cudart.cudaStreamBeginCapture = begin_capture
    cudart.cudaStreamEndCapture = end_capture
    cudart.cudaGraphInstantiate = lambda graph, flags: (ok, graph)
    cudart.cudaGraphLaunch = launch
    cudart.cudaGraphExecDestroy = lambda graph_exec: (ok,)
    return cudart
