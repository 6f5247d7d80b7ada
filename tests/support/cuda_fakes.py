"""The real cuda-python runtime (``cuda.bindings.runtime``) with only its driver-needing calls replaced.

Everything else is the real module: ``cudaStream_t``, ``cudaGraph_t``, ``cudaGraphExec_t``,
``cudaEvent_t``, ``cudaDeviceProp``, the ``cudaError_t`` / ``cudaMemcpyKind`` enums. So ``int(stream)``
is the handle and ``stream.getPtr()`` is another address, exactly as on a GPU machine (cuda-python
docs, "Getting the address of underlying C objects"). The replacements run over host memory and
return what the real calls return: a tuple whose first item is a real ``cudaError_t``; ``FAKED``
gives each one's tuple length, which tests/runtime/backends/test_cuda_fakes.py checks against the
real module (cuda-bindings 12.x answers every call here with ``cudaErrorInsufficientDriver``).

Streams are live handles: ``cudaStreamCreate`` hands out a new one, ``cudaStreamDestroy`` ends it,
and a call given anything else gets ``cudaErrorInvalidResourceHandle``, as the driver answers.
Knobs on the module (``driver_version``, ``device_count``, ``fail``) simulate other machines.
"""

from __future__ import annotations

import ctypes
import itertools
import types

import pytest

#: Each replaced call and the length of the tuple the real one returns (error first).
FAKED = {
    "cudaDriverGetVersion": 2,
    "cudaGetDeviceCount": 2,
    "cudaGetDeviceProperties": 2,
    "cudaMalloc": 2,
    "cudaMallocHost": 2,
    "cudaFree": 1,
    "cudaFreeHost": 1,
    "cudaStreamCreate": 2,
    "cudaStreamDestroy": 1,
    "cudaStreamSynchronize": 1,
    "cudaMemcpyAsync": 1,
    "cudaEventCreate": 2,
    "cudaEventRecord": 1,
    "cudaEventSynchronize": 1,
    "cudaEventElapsedTime": 2,
    "cudaEventDestroy": 1,
    "cudaStreamBeginCapture": 1,
    "cudaStreamEndCapture": 2,
    "cudaGraphInstantiate": 2,
    "cudaGraphLaunch": 1,
    "cudaGraphExecDestroy": 1,
    "cudaGraphDestroy": 1,
}


def real_cudart():
    """cuda-python's runtime module (12.6+ layout, or the older ``cuda.cudart``); skip without it."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        runtime = pytest.importorskip("cuda.cudart", reason="cuda-python is not installed: pip install -e '.[test]'")
    return runtime


def make_cudart(gpu_name: str = "NVIDIA Orin (fake)", capability: tuple[int, int] = (8, 7)) -> types.ModuleType:
    real = real_cudart()
    cudart = types.ModuleType(real.__name__)
    cudart.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    cudart.real = real
    cudart.buffers, cudart.calls = {}, []
    cudart.driver_version, cudart.device_count, cudart.fail = 12060, 1, {}  # knobs
    state = {
        "capturing": None,
        "live_streams": set(),
        "graphs": {},
        "execs": {},
        "events": set(),
        "ids": itertools.count(0x7F000010, 0x10),
    }
    cudart.state = state
    err = real.cudaError_t

    def result(name, *values, record=True):
        """(err, None...) when the test set ``fail[name]`` to an error name, else (cudaSuccess, *values)."""
        if record:
            cudart.calls.append((name,))
        if name in cudart.fail:
            return (getattr(err, cudart.fail[name]), *([None] * len(values)))
        return (err.cudaSuccess, *values)

    def live(stream) -> bool:
        """0 is the legacy default stream; anything else must be a stream we created and not destroyed."""
        return int(stream) == 0 or int(stream) in state["live_streams"]

    def on_stream(name, stream, *values, record=True):
        if not live(stream):
            cudart.calls.append((name, "invalid stream", int(stream)))
            return (err.cudaErrorInvalidResourceHandle, *([None] * len(values)))
        return result(name, *values, record=record)

    def enqueue(op):
        if state["capturing"] is not None:
            state["capturing"].append(op)
        else:
            op()

    def device_properties(device):
        props = real.cudaDeviceProp()
        props.name, props.major, props.minor = gpu_name.encode().ljust(256, b"\0"), capability[0], capability[1]
        return result("cudaGetDeviceProperties", props)

    cudart.enqueue, cudart.live = enqueue, live
    cudart.cudaDriverGetVersion = lambda: result("cudaDriverGetVersion", cudart.driver_version)
    cudart.cudaGetDeviceCount = lambda: result("cudaGetDeviceCount", cudart.device_count)
    cudart.cudaGetDeviceProperties = device_properties
    _memory_api(cudart, state, result, on_stream)
    _event_api(cudart, state, result, on_stream)
    _graph_api(cudart, state, result, on_stream)
    return cudart


def _memory_api(cudart, state: dict, result, on_stream) -> None:
    real, err = cudart.real, cudart.real.cudaError_t

    def alloc(name):
        def _alloc(nbytes):
            buf = (ctypes.c_byte * nbytes)()
            cudart.buffers[ctypes.addressof(buf)] = buf
            return result(name, ctypes.addressof(buf))  # the real calls return the address as an int

        return _alloc

    def free(name):
        def _free(ptr):
            cudart.buffers.pop(int(ptr), None)
            return result(name)

        return _free

    def stream_create():
        handle = next(state["ids"])
        state["live_streams"].add(handle)
        return result("cudaStreamCreate", real.cudaStream_t(init_value=handle))

    def stream_destroy(stream):
        outcome = on_stream("cudaStreamDestroy", stream)
        state["live_streams"].discard(int(stream))
        return outcome

    def memcpy_async(dst, src, count, kind, stream):
        cudart.calls.append(("cudaMemcpyAsync", kind.name, count))
        outcome = on_stream("cudaMemcpyAsync", stream, record=False)
        if outcome[0] == err.cudaSuccess:
            cudart.enqueue(lambda: ctypes.memmove(int(dst), int(src), count))
        return outcome

    cudart.cudaMalloc, cudart.cudaMallocHost = alloc("cudaMalloc"), alloc("cudaMallocHost")
    cudart.cudaFree, cudart.cudaFreeHost = free("cudaFree"), free("cudaFreeHost")
    cudart.cudaStreamCreate, cudart.cudaStreamDestroy = stream_create, stream_destroy
    cudart.cudaStreamSynchronize = lambda stream: on_stream("cudaStreamSynchronize", stream)
    cudart.cudaMemcpyAsync = memcpy_async


def _event_api(cudart, state: dict, result, on_stream) -> None:
    real = cudart.real

    def create():
        event = real.cudaEvent_t(init_value=next(state["ids"]))
        state["events"].add(int(event))
        return result("cudaEventCreate", event)

    def destroy(event):
        state["events"].discard(int(event))
        return result("cudaEventDestroy")

    cudart.cudaEventCreate, cudart.cudaEventDestroy = create, destroy
    cudart.cudaEventRecord = lambda event, stream: on_stream("cudaEventRecord", stream)
    cudart.cudaEventSynchronize = lambda event: result("cudaEventSynchronize")
    cudart.cudaEventElapsedTime = lambda start, end: result("cudaEventElapsedTime", 0.25)


def _graph_api(cudart, state: dict, result, on_stream) -> None:
    real = cudart.real

    def begin_capture(stream, mode):
        outcome = on_stream("cudaStreamBeginCapture", stream)
        state["capturing"] = []
        return outcome

    def end_capture(stream):
        graph = real.cudaGraph_t(init_value=next(state["ids"]))
        state["graphs"][int(graph)] = tuple(state["capturing"] or ())
        state["capturing"] = None
        return on_stream("cudaStreamEndCapture", stream, graph)

    def instantiate(graph, flags):
        graph_exec = real.cudaGraphExec_t(init_value=next(state["ids"]))
        state["execs"][int(graph_exec)] = state["graphs"].get(int(graph), ())
        return result("cudaGraphInstantiate", graph_exec)

    def launch(graph_exec, stream):
        outcome = on_stream("cudaGraphLaunch", stream)
        for op in state["execs"].get(int(graph_exec), ()):
            op()
        return outcome

    def destroy(kind, name):
        def _destroy(obj):
            state[kind].pop(int(obj), None)
            return result(name)

        return _destroy

    cudart.cudaStreamBeginCapture, cudart.cudaStreamEndCapture = begin_capture, end_capture
    cudart.cudaGraphInstantiate, cudart.cudaGraphLaunch = instantiate, launch
    cudart.cudaGraphExecDestroy = destroy("execs", "cudaGraphExecDestroy")
    cudart.cudaGraphDestroy = destroy("graphs", "cudaGraphDestroy")
