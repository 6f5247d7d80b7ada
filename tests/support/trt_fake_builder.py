"""The fake TensorRT's builder config and build (trt_fakes.py builds the rest of the module from them).

What each enforces is NVIDIA's documented behaviour, cited where it is enforced.
"""

from __future__ import annotations

import json

from support.trt_fakes import TIMING_CACHE_MAGIC, _Member, _Strict, error


def builder_config(trt, version: str, TimingCache):  # noqa: N803 - a class
    calls = trt.calls

    class BuilderConfig(_Strict):
        default_device_type = DLA_core = hardware_compatibility_level = int8_calibrator = profile_stream = None

        def __init__(self):
            object.__setattr__(self, "_trt", trt)
            # TF32 starts set, as in TensorRT: BuilderFlag::kTF32 "Enabled by default" (NvInfer.h at v10.3.0)
            self._flags = {"TF32"} & set(trt.BuilderFlag.__members__)
            self._profiles, self._cache = [], None

        def set_flag(self, flag):
            if not isinstance(flag, _Member) or flag.name not in trt.BuilderFlag.__members__:
                raise AttributeError(f"tensorrt {version}: no BuilderFlag {flag!r}")
            calls.append(("config.set_flag", flag.name))
            self._flags.add(flag.name)

        def clear_flag(self, flag):
            calls.append(("config.clear_flag", flag.name))
            self._flags.discard(flag.name)

        def get_flag(self, flag):
            return flag.name in self._flags

        def set_memory_pool_limit(self, pool, pool_size):
            calls.append(("config.set_memory_pool_limit", pool.name, pool_size))

        def add_optimization_profile(self, profile):
            self._profiles.append(profile)
            return len(self._profiles) - 1

        def create_timing_cache(self, serialized_timing_cache):
            """None for bytes this TensorRT did not write: samples/utils/timingCache.cpp at v10.3.0 checks
            createTimingCache() for nullptr, and Polygraphy's backend/trt/config.py falls back to an empty cache."""
            data = bytes(serialized_timing_cache)
            calls.append(("config.create_timing_cache", data))
            if not data:
                return TimingCache({"version": version, "gpu": trt.gpu})
            meta = json.loads(data[len(TIMING_CACHE_MAGIC) :]) if data.startswith(TIMING_CACHE_MAGIC) else {}
            if meta.get("version") != version:
                error(trt, "Failed to deserialize the timing cache: it was not written by this TensorRT")
                return None
            return TimingCache(meta)

        def set_timing_cache(self, cache, ignore_mismatch):
            """False (and the cache not used) for a cache of another GPU, unless ignore_mismatch
            (NvInfer.h at v10.3.0, IBuilderConfig::setTimingCache)."""
            matches = trt.timing_cache_matches and cache._meta.get("gpu") == trt.gpu
            calls.append(("config.set_timing_cache", ignore_mismatch, matches))
            if matches or ignore_mismatch:
                self._cache = cache
            return matches or ignore_mismatch

        def get_timing_cache(self):
            return self._cache

    return BuilderConfig


def build(trt, version: str, network, config):
    """build_serialized_network: None, with the reason in the log, where TensorRT refuses."""
    precision_flags = sorted(config._flags & {"FP16", "INT8"})
    if network._strongly_typed and precision_flags:
        # "Strongly Typed Networks": a strongly typed network takes its precision from its types; the
        # builder rejects kFP16/kINT8 (TensorRT 10.x developer guide; 11.x removes the flags).
        error(trt, f"Network is strongly typed: builder flags {precision_flags} are not allowed")
        return None
    on_dla = config.default_device_type is not None and config.default_device_type.name == "DLA"
    if on_dla and network._has_qdq:
        # DLA runs implicit quantization only (NVIDIA/TensorRT #2222;
        # NVIDIA/Model-Optimizer PR #1661: "DLA still only supports IQ").
        error(trt, "DLA does not support explicitly quantized (Q/DQ) networks")
        return None
    if trt.build_returns_none:
        return None
    ranges = {t.name: t.dynamic_range for t in network._tensors if t.dynamic_range is not None}
    meta = {
        "version": version,
        "profile": config._profiles[0]._shapes["input"],
        "profiles": [p._shapes["input"] for p in config._profiles],
        "strongly_typed": network._strongly_typed,
        "version_compatible": "VERSION_COMPATIBLE" in config._flags,
        "dla": on_dla,
        "int8_ranges": ranges,
        "tf32": "TF32" in config._flags,
    }
    return b"FAKEPLAN" + json.dumps(meta).encode()
