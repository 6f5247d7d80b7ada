"""A fake cuda-python runtime (``cuda.bindings.runtime``) over host memory.

It behaves as cuda-bindings does where our code depends on it: every call returns a tuple whose
first item is a ``cudaError_t`` member (``(err, value)`` with value ``None`` on failure), streams
are objects with ``getPtr()``, and the driver version is an int such as 12060. Knobs on the module
(``driver_version``, ``device_count``, ``fail``) simulate other machines.
"""

from __future__ import annotations

import ctypes
import types

from trt_fakes import _enum, _Member

ERRORS = {"cudaSuccess": 0, "cudaErrorInvalidValue": 1, "cudaErrorInsufficientDriver": 35, "cudaErrorNoDevice": 100}


class FakeStream:
    """cudaStream_t: ``getPtr()`` gives the handle; ``int()`` works but is deprecated (and recorded)."""

    def __init__(self, handle: int, calls: list):
        self._handle, self._calls = handle, calls

    def getPtr(self) -> int:  # noqa: N802 - cuda-bindings' name
        return self._handle

    def __int__(self) -> int:
        self._calls.append(("int(cudaStream_t)",))
        return self._handle


def make_cudart(gpu_name: str = "NVIDIA Orin (fake)", capability: tuple[int, int] = (8, 7)) -> types.ModuleType:
    cudart = types.ModuleType("cuda.bindings.runtime")
    cudart.buffers = buffers = {}
    cudart.calls = calls = []
    cudart.cudaError_t = _enum("cudaError_t", [])
    cudart.cudaError_t.__members__.update({name: _Member("cudaError_t", name, value) for name, value in ERRORS.items()})
    for name, member in cudart.cudaError_t.__members__.items():
        setattr(cudart.cudaError_t, name, member)
    ok = cudart.cudaError_t.cudaSuccess
    cudart.driver_version, cudart.device_count, cudart.fail = 12060, 1, {}  # knobs
    cudart.cudaMemcpyKind = _enum("cudaMemcpyKind", ["cudaMemcpyHostToHost", "cudaMemcpyHostToDevice", "cudaMemcpyDeviceToHost"])
    cudart.cudaStreamCaptureMode = _enum("cudaStreamCaptureMode", ["cudaStreamCaptureModeGlobal"])
    state = {"capturing": None, "live_graphs": set(), "live_execs": set()}

    def result(name, *values):
        """(err, None...) when the test set ``fail[name]`` to an error name, else (cudaSuccess, *values)."""
        calls.append((name,))
        if name in cudart.fail:
            return (getattr(cudart.cudaError_t, cudart.fail[name]), *([None] * len(values)))
        return (ok, *values)

    def alloc(nbytes):
        buf = (ctypes.c_byte * nbytes)()
        buffers[ctypes.addressof(buf)] = buf
        return result("cudaMalloc", ctypes.addressof(buf))

    def free(ptr):
        buffers.pop(ptr, None)
        return (ok,)

    def enqueue(op):
        if state["capturing"] is not None:
            state["capturing"].append(op)
        else:
            op()

    def memcpy_async(dst, src, count, kind, stream):
        calls.append(("cudaMemcpyAsync", kind.name, count))
        enqueue(lambda: ctypes.memmove(dst, src, count))
        return (ok,)

    cudart.enqueue, cudart.state = enqueue, state
    cudart.cudaDriverGetVersion = lambda: result("cudaDriverGetVersion", cudart.driver_version)
    cudart.cudaGetDeviceCount = lambda: result("cudaGetDeviceCount", cudart.device_count)
    cudart.cudaGetDeviceProperties = lambda device: result(
        "cudaGetDeviceProperties", types.SimpleNamespace(name=gpu_name.encode(), major=capability[0], minor=capability[1])
    )
    cudart.cudaMalloc = cudart.cudaMallocHost = alloc
    cudart.cudaFree = cudart.cudaFreeHost = free
    cudart.cudaStreamCreate = lambda: result("cudaStreamCreate", FakeStream(7, calls))
    cudart.cudaStreamDestroy = lambda stream: (ok,)
    cudart.cudaStreamSynchronize = lambda stream: result("cudaStreamSynchronize")
    cudart.cudaMemcpyAsync = memcpy_async
    cudart.cudaEventCreate = lambda: (ok, object())
    cudart.cudaEventRecord = lambda event, stream: (ok,)
    cudart.cudaEventSynchronize = lambda event: (ok,)
    cudart.cudaEventElapsedTime = lambda start, end: (ok, 0.25)
    cudart.cudaEventDestroy = lambda event: (ok,)
    _graph_api(cudart, state, calls, ok)
    return cudart


def _graph_api(cudart, state: dict, calls: list, ok) -> None:
    def begin_capture(stream, mode):
        state["capturing"] = []
        return (ok,)

    def end_capture(stream):
        graph = tuple(state["capturing"])
        state["capturing"] = None
        state["live_graphs"].add(id(graph))
        return (ok, graph)

    def instantiate(graph, flags):
        state["live_execs"].add(id(graph))
        return (ok, graph)

    def launch(graph_exec, stream):
        calls.append(("cudaGraphLaunch",))
        for op in graph_exec:
            op()
        return (ok,)

    def destroy(kind):
        def _destroy(obj):
            state[kind].discard(id(obj))
            return (ok,)

        return _destroy

    cudart.cudaStreamBeginCapture = begin_capture
    cudart.cudaStreamEndCapture = end_capture
    cudart.cudaGraphInstantiate = instantiate
    cudart.cudaGraphLaunch = launch
    cudart.cudaGraphExecDestroy = destroy("live_execs")
    cudart.cudaGraphDestroy = destroy("live_graphs")
