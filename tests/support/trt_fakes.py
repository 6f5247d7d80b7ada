"""Fake ``tensorrt`` modules with the API surface of TensorRT 8.5 to 11.4 (VERSIONS), and its behaviour.

Enums and classes come from tests/support/trt_api/<id>.json (tools/trt_api_listing.py): a fake class keeps
only the attributes its real class has, so anything a version lacks raises AttributeError, as the
real module would. Beyond the surface, each fake enforces what NVIDIA documents, source by source
in the comments (builder config and build: trt_fake_builder.py; execution: trt_fake_runtime.py):

- ``create_timing_cache`` returns None for bytes it did not write;
- 10.x refuses FP16/INT8 builder flags on a strongly typed network; 11.x networks are always strongly typed;
- a DLA build of a network with Q/DQ layers fails (None, and an error in the log): DLA is implicit-only;
- ``ITensor.set_dynamic_range`` exists up to 10.x only;
- the builder config starts with TF32 set, and a TF32 plan rounds FP32 inputs to TF32 (trt_fake_runtime.py);
- execution contexts and optimization profiles follow each version's rule (8.x: a second context has no
  profile until it selects an unused one; 10.x: every context starts on profile 0; trt_fake_runtime.py).

Every call is recorded in ``module.calls``; TensorRT's log lines in ``module.log``.
"""

from __future__ import annotations

import json
import types
from pathlib import Path

from support.trt_fake_runtime import FAKE_WEIGHTS, fake_logits, runtime_classes  # noqa: F401 - re-exported for tests

API_DIR = Path(__file__).parent / "trt_api"
#: Listing id -> KNOWN_RELEASES key. 10.13: JetPack 7.0/7.1 (Thor only); 10.16: JetPack 7.2 (third-party source,
#: OE4T/meta-tegra #2224); 11.4: the 11.4.0 binary (11.4.1 adds Jetson AGX Orin and Thor).
VERSIONS = {
    "trt8.5": "8.5",
    "trt8.6": "8.6",
    "trt10.3": "10.3",
    "trt10.9": "10.9",
    "trt10.13": "10.13",
    "trt10.16": "10.16",
    "trt11.4": "11.4",
}
FAKE_CLASSES = {  # fake class -> the real binding's class name in the listing
    "Builder": "Builder",
    "BuilderConfig": "IBuilderConfig",
    "Runtime": "Runtime",
    "Engine": "ICudaEngine",
    "ExecutionContext": "IExecutionContext",
    "OnnxParser": "OnnxParser",
    "TimingCache": "ITimingCache",
    "OptimizationProfile": "IOptimizationProfile",
    "Network": "INetworkDefinition",
    "Logger": "Logger",
}
#: Tensors of the fake parser's network when the bytes are not a real ONNX model.
FAKE_TENSORS = ("input", "conv2d", "relu", "max_pool2d", "view", "linear", "logits")
TIMING_CACHE_MAGIC = b"FAKETIMINGCACHE"


def api_listing(test_id: str) -> dict:
    """tests/support/trt_api/<id>.json, written by tools/trt_api_listing.py."""
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
    trt.__version__, trt.major = version, int(version.split(".")[0])
    trt.calls, trt.log = [], []
    for name, members in api["enums"].items():
        if members is not None:
            setattr(trt, name, _enum(name, members))
    # test knobs, not TensorRT API: failures to simulate, this machine's GPU and DLA cores
    trt.parse_result, trt.build_returns_none, trt.execute_result, trt.timing_cache_matches = True, False, True, True
    trt.dla_cores, trt.gpu = 0, "NVIDIA Orin (fake)"
    trt.enqueue = lambda op: op()
    trt.stream_is_live = lambda handle: handle == 0  # conftest wires the fake cudart's live streams in
    surface = {fake: set(api["classes"][real]) for fake, real in FAKE_CLASSES.items()}
    # ILogger's Severity enum is exported onto the class (pybind11 export_values), so Logger.WARNING exists.
    surface["Logger"] |= {"Severity", "INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"}
    classes = _classes(trt, version) | runtime_classes(trt, version)
    for fake, cls in classes.items():
        setattr(trt, fake, restrict(cls, surface[fake]) if fake in surface else cls)
    for name in api["calibrators"]:
        setattr(trt, name, type(name, (), {}))
    return trt


def error(trt, message: str) -> None:
    """What TensorRT's logger receives at ERROR severity."""
    trt.log.append(("ERROR", message))


class _Strict:
    _attrs: set = set()

    def __setattr__(self, name, value):
        if not name.startswith("_") and name not in self._attrs:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} in this TensorRT version")
        self._trt.calls.append((f"{type(self).__name__}.{name}=", value))
        object.__setattr__(self, name, value)


def _tensor_class(trt):
    # ITensor.set_dynamic_range: bound in python/src/infer/pyGraph.cpp at 8.5.2, v8.6.1 and v10.3.0
    # (deprecated from 10.1, "Superseded by explicit quantization"), gone at v11.1. ITensor is not in
    # the listings' schema, so the rule is kept here by major.
    class Tensor:
        def __init__(self, name):
            self.name, self.dynamic_range = name, None

        def set_dynamic_range(self, min, max):  # noqa: A002 - TensorRT's own keyword names
            trt.calls.append(("tensor.set_dynamic_range", self.name, float(min), float(max)))
            self.dynamic_range = (float(min), float(max))
            return True

    if trt.major >= 11:
        del Tensor.set_dynamic_range
    return Tensor


def _parse_onnx(data: bytes) -> tuple[list[str], bool]:
    """(tensor names, has Q/DQ) of a real ONNX model; the fake tensors for bytes that are not one."""
    try:
        import onnx

        graph = onnx.load_from_string(data).graph
        names = [i.name for i in graph.input] + [o for n in graph.node for o in n.output]
        if names:
            return names, any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)
    except Exception:  # noqa: BLE001 - not an ONNX model: the fake network
        pass
    return list(FAKE_TENSORS), b"QuantizeLinear" in data


def _network_classes(trt):
    """INetworkDefinition and OnnxParser: the parser fills the network with tensors (and Q/DQ or not)."""
    calls = trt.calls
    Tensor = _tensor_class(trt)  # noqa: N806 - a class

    class Network:
        def __init__(self, flags):
            self._flags, self._tensors, self._has_qdq = flags, [], False
            strongly = trt.NetworkDefinitionCreationFlag.__members__.get("STRONGLY_TYPED")
            # 11.x: STRONGLY_TYPED is "Deprecated: always enabled" (python/src/infer/pyCore.cpp at v11.1)
            self._strongly_typed = trt.major >= 11 or (strongly is not None and bool(flags & (1 << int(strongly))))

        num_inputs = property(lambda self: 1)
        num_layers = property(lambda self: len(self._tensors) - 1)

        def get_input(self, index):
            return self._tensors[0]

        def get_layer(self, index):  # one output per layer, as Conv/Relu/Gemm layers have
            out = self._tensors[index + 1]
            return types.SimpleNamespace(num_outputs=1, get_output=lambda i: out, name=f"layer {out.name}")

    class OnnxParser:
        def __init__(self, network, logger):
            self._errors, self._network = 0, network

        num_errors = property(lambda self: self._errors)

        def parse(self, model):
            calls.append(("parser.parse", len(model)))
            self._errors = 0 if trt.parse_result else 1
            names, self._network._has_qdq = _parse_onnx(bytes(model))
            self._network._tensors = [Tensor(n) for n in names]
            return trt.parse_result

        def get_error(self, index):
            return "In node 3 (Conv): unsupported fake failure"

    return Network, OnnxParser


def _classes(trt, version: str) -> dict:
    from support.trt_fake_builder import build, builder_config  # it uses this module's _Strict and error

    calls = trt.calls
    Network, OnnxParser = _network_classes(trt)  # noqa: N806 - classes

    class Logger(_Strict):
        WARNING, ERROR, INFO, VERBOSE, INTERNAL_ERROR = "WARNING", "ERROR", "INFO", "VERBOSE", "INTERNAL_ERROR"
        Severity = _enum("Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])
        min_severity = None

        def __init__(self, severity=None):
            object.__setattr__(self, "_trt", trt)

    class TimingCache:
        def __init__(self, meta: dict):
            self._meta = meta

        def serialize(self):
            return TIMING_CACHE_MAGIC + json.dumps(self._meta).encode()

    class OptimizationProfile:
        def set_shape(self, name, min, opt, max):  # noqa: A002 - TensorRT's own keyword names
            calls.append(("profile.set_shape", name, tuple(min), tuple(opt), tuple(max)))
            self._shapes = {name: (tuple(min), tuple(opt), tuple(max))}

    class Builder(_Strict):
        max_threads = None
        num_DLA_cores = property(lambda self: trt.dla_cores)
        platform_has_fast_fp16 = platform_has_fast_int8 = property(lambda self: True)

        def __init__(self, logger):
            object.__setattr__(self, "_trt", trt)

        def create_network(self, flags=0):
            calls.append(("builder.create_network", flags))
            return Network(flags)

        def create_builder_config(self):
            return BuilderConfig()

        def create_optimization_profile(self):
            return OptimizationProfile()

        def build_serialized_network(self, network, config):
            calls.append(("builder.build_serialized_network", sorted(config._flags)))
            return build(trt, version, network, config)

    BuilderConfig = builder_config(trt, version, TimingCache)
    return {
        "Logger": Logger,
        "TimingCache": TimingCache,
        "OptimizationProfile": OptimizationProfile,
        "BuilderConfig": BuilderConfig,
        "Network": Network,
        "Builder": Builder,
        "OnnxParser": OnnxParser,
    }
