"""Fake ``tensorrt`` modules with exactly the API surface of TensorRT 8.5, 8.6, 10.3, 10.9 and 11.4.

Enums and classes come from tests/trt_api/<id>.json, read from NVIDIA's binding sources at each
release tag (tools/trt_api_listing.py): a fake class keeps only the attributes its real class has,
so anything a version lacks raises AttributeError, as the real module would. Every call is recorded
in ``module.calls``. The fake "engine" computes logits[n, k] = sum_c mean(x[n, c]) * W[c, k] + 0.01 k
through real host memory, so the runner's buffers and copies are exercised for real.
"""

from __future__ import annotations

import ctypes
import json
import types
from pathlib import Path

import numpy as np

FAKE_WEIGHTS = (np.arange(30, dtype=np.float32).reshape(3, 10) - 15) / 10.0


def fake_logits(batch: np.ndarray) -> np.ndarray:
    return batch.mean(axis=(2, 3)) @ FAKE_WEIGHTS + 0.01 * np.arange(10, dtype=np.float32)


# -- per-version API surface: read from NVIDIA's binding sources at each release tag -------------
API_DIR = Path(__file__).parent / "trt_api"
VERSIONS = {"trt8.5": "8.5", "trt8.6": "8.6", "trt10.3": "10.3", "trt10.9": "10.9", "trt11.4": "11.4"}
FAKE_CLASSES = {  # fake class -> the real binding's class name in the listing
    "Builder": "Builder", "BuilderConfig": "IBuilderConfig", "Runtime": "Runtime", "Engine": "ICudaEngine",
    "ExecutionContext": "IExecutionContext", "OnnxParser": "OnnxParser", "TimingCache": "ITimingCache",
    "OptimizationProfile": "IOptimizationProfile", "Network": "INetworkDefinition", "Logger": "Logger",
}  # fmt: skip


def api_listing(test_id: str) -> dict:
    """tests/trt_api/<id>.json, written by tools/trt_api_listing.py from the real sources."""
    return json.loads((API_DIR / f"{test_id}.json").read_text())


def public_names(cls) -> set[str]:
    return {n for c in cls.__mro__ if c is not object for n in vars(c) if not n.startswith("_")}


def restrict(cls, allowed: set[str]):
    """Remove every public attribute the real class of this version does not have."""
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name in [n for n in vars(klass) if not n.startswith("_") and n not in allowed]:
            delattr(klass, name)
    cls._attrs = allowed
    return cls


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


def make_tensorrt(test_id: str) -> types.ModuleType:
    api = api_listing(test_id)
    version = api["version"]
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    trt.calls = calls = []
    for name, members in api["enums"].items():
        if members is not None:
            setattr(trt, name, _enum(name, members))
    # test knobs, not TensorRT API: failures to simulate and the platform's DLA cores
    trt.parse_result, trt.build_returns_none, trt.execute_result, trt.timing_cache_matches = True, False, True, True
    trt.dla_cores = 0
    trt.enqueue = lambda op: op()
    surface = {fake: set(api["classes"][real]) for fake, real in FAKE_CLASSES.items()}
    # ILogger's Severity enum is exported onto the class (pybind11 export_values), so Logger.WARNING exists.
    surface["Logger"] |= {"Severity", "INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"}
    classes = _classes(trt, version, calls)
    for fake, cls in classes.items():
        setattr(trt, fake, restrict(cls, surface[fake]))
    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = classes["Logger"], classes["Builder"], classes["OnnxParser"], classes["Runtime"]
    for name in api["calibrators"]:
        setattr(trt, name, type(name, (), {}))
    return trt


class _Strict:
    _attrs: set = set()

    def __setattr__(self, name, value):
        if not name.startswith("_") and name not in self._attrs:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} in this TensorRT version")
        self._calls.append((f"{type(self).__name__}.{name}=", value))
        object.__setattr__(self, name, value)


def _classes(trt, version: str, calls: list) -> dict:
    class Logger(_Strict):
        WARNING, ERROR, INFO, VERBOSE, INTERNAL_ERROR = "WARNING", "ERROR", "INFO", "VERBOSE", "INTERNAL_ERROR"
        Severity = _enum("Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])
        min_severity = None

        def __init__(self, severity=None):
            object.__setattr__(self, "_calls", calls)

    class TimingCache:
        def __init__(self, data: bytes):
            self.data = bytes(data)

        def serialize(self):
            return b"CACHE:" + self.data[:64] + b"+"

    class OptimizationProfile:
        def set_shape(self, name, min, opt, max):  # noqa: A002 - TensorRT's own keyword names
            calls.append(("profile.set_shape", name, tuple(min), tuple(opt), tuple(max)))
            self._shapes = {name: (tuple(min), tuple(opt), tuple(max))}

    class BuilderConfig(_Strict):
        default_device_type = DLA_core = hardware_compatibility_level = int8_calibrator = profile_stream = None

        def __init__(self):
            object.__setattr__(self, "_calls", calls)
            self._flags, self._profiles, self._cache = set(), [], None

        def set_flag(self, flag):
            if not isinstance(flag, _Member) or flag.name not in trt.BuilderFlag.__members__:
                raise AttributeError(f"tensorrt {version}: no BuilderFlag {flag!r}")
            calls.append(("config.set_flag", flag.name))
            self._flags.add(flag.name)

        def get_flag(self, flag):
            return flag.name in self._flags

        def set_memory_pool_limit(self, pool, pool_size):
            calls.append(("config.set_memory_pool_limit", pool.name, pool_size))

        def add_optimization_profile(self, profile):
            self._profiles.append(profile)
            return len(self._profiles) - 1

        def create_timing_cache(self, serialized_timing_cache):
            calls.append(("config.create_timing_cache", bytes(serialized_timing_cache)))
            return TimingCache(serialized_timing_cache)

        def set_timing_cache(self, cache, ignore_mismatch):
            """Like TensorRT: False (and the cache not used) when it came from another version or GPU."""
            matches = trt.timing_cache_matches or not cache.data
            calls.append(("config.set_timing_cache", ignore_mismatch, matches))
            if matches or ignore_mismatch:
                self._cache = cache
            return matches or ignore_mismatch

        def get_timing_cache(self):
            return self._cache

    class Network:
        def __init__(self, flags):
            self._flags = flags

    class Builder(_Strict):
        max_threads = None
        num_DLA_cores = property(lambda self: trt.dla_cores)
        platform_has_fast_fp16 = platform_has_fast_int8 = property(lambda self: True)

        def __init__(self, logger):
            object.__setattr__(self, "_calls", calls)

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
            shapes = config._profiles[0]._shapes["input"]
            return b"FAKEPLAN" + json.dumps({"version": version, "profile": shapes}).encode()

    class OnnxParser:
        def __init__(self, network, logger):
            self._errors = 0

        num_errors = property(lambda self: self._errors)

        def parse(self, model):
            calls.append(("parser.parse", len(model)))
            self._errors = 0 if trt.parse_result else 1
            return trt.parse_result

        def get_error(self, index):
            return "In node 3 (Conv): unsupported fake failure"

    classes = {"Logger": Logger, "TimingCache": TimingCache, "OptimizationProfile": OptimizationProfile,
               "BuilderConfig": BuilderConfig, "Network": Network, "Builder": Builder, "OnnxParser": OnnxParser}  # fmt: skip
    return classes | _runtime_classes(trt, version, calls)


def _runtime_classes(trt, version: str, calls: list) -> dict:
    class ExecutionContext:
        def __init__(self, engine):
            self._engine, self._shapes, self._addresses = engine, {}, {}

        def set_input_shape(self, name, shape):
            low, _, high = self._engine._profile
            ok = all(lo <= s <= hi for lo, s, hi in zip(low, shape, high))
            if ok:
                self._shapes[name] = tuple(shape)
            return ok

        def set_tensor_address(self, name, memory):
            self._addresses[name] = int(memory)
            return True

        def execute_async_v3(self, stream_handle):
            if not isinstance(stream_handle, int):
                raise TypeError(f"execute_async_v3(): stream_handle must be an int, got {type(stream_handle).__name__}")
            calls.append(("context.execute_async_v3", stream_handle, self._shapes["input"]))
            if not trt.execute_result:
                return False
            shape = self._shapes["input"]
            count = int(np.prod(shape))
            src, dst_address = self._addresses["input"], self._addresses["logits"]

            def run():
                x = np.ctypeslib.as_array((ctypes.c_float * count).from_address(src)).reshape(shape)
                out = fake_logits(x).astype(np.float32)
                np.ctypeslib.as_array((ctypes.c_float * out.size).from_address(dst_address))[:] = out.reshape(-1)

            trt.enqueue(run)  # the fake cudart captures it into a graph when capturing
            return True

    class Engine:
        num_io_tensors = property(lambda self: 2)

        def __init__(self, meta):
            self._profile = [tuple(s) for s in meta["profile"]]

        def get_tensor_name(self, index):
            return ["input", "logits"][index]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == "input" else trt.TensorIOMode.OUTPUT

        def get_tensor_profile_shape(self, name, profile_index):
            return self._profile

        def create_execution_context(self):
            return ExecutionContext(self)

    class Runtime(_Strict):
        engine_host_code_allowed = max_threads = DLA_core = None

        def __init__(self, logger):
            object.__setattr__(self, "_calls", calls)

        def deserialize_cuda_engine(self, serialized_engine):
            if not serialized_engine.startswith(b"FAKEPLAN"):
                return None
            meta = json.loads(serialized_engine[len(b"FAKEPLAN"):])
            if meta["version"] != version:
                return None
            return Engine(meta)

    return {"ExecutionContext": ExecutionContext, "Engine": Engine, "Runtime": Runtime}
