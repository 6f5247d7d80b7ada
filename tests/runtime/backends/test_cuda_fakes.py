"""The cuda-python fake against the real cuda-python (cuda-bindings 12.x, installed by the [test] extra).

Every call the fake stands in for exists in the real module and returns a tuple of the same length,
error first, of the real ``cudaError_t`` type. Without a driver the real calls answer
``cudaErrorInsufficientDriver``, which is what lets this run on machines with no GPU.
"""

import pytest
from support.cuda_fakes import FAKED, make_cudart, real_cudart


def _sample_args(cudart) -> dict:
    stream, event = cudart.cudaStream_t(init_value=0), cudart.cudaEvent_t()
    graph, graph_exec = cudart.cudaGraph_t(), cudart.cudaGraphExec_t()
    h2d, mode = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaStreamCaptureMode.cudaStreamCaptureModeGlobal
    return {
        "cudaDriverGetVersion": (),
        "cudaGetDeviceCount": (),
        "cudaGetDeviceProperties": (0,),
        "cudaMalloc": (16,),
        "cudaMallocHost": (16,),
        "cudaFree": (0,),
        "cudaFreeHost": (0,),
        "cudaStreamCreate": (),
        "cudaStreamDestroy": (stream,),
        "cudaStreamSynchronize": (stream,),
        "cudaMemcpyAsync": (0, 0, 0, h2d, stream),
        "cudaEventCreate": (),
        "cudaEventRecord": (event, stream),
        "cudaEventSynchronize": (event,),
        "cudaEventElapsedTime": (event, event),
        "cudaEventDestroy": (event,),
        "cudaStreamBeginCapture": (stream, mode),
        "cudaStreamEndCapture": (stream,),
        "cudaGraphInstantiate": (graph, 0),
        "cudaGraphLaunch": (graph_exec, stream),
        "cudaGraphExecDestroy": (graph_exec,),
        "cudaGraphDestroy": (graph,),
    }


@pytest.mark.parametrize("name", sorted(FAKED))
def test_each_faked_call_matches_the_real_one(name):
    real, fake = real_cudart(), make_cudart()
    args = _sample_args(real)[name]
    assert callable(getattr(real, name, None)), f"cuda-python has no {name}"
    real_result, fake_result = getattr(real, name)(*args), getattr(fake, name)(*args)
    assert isinstance(real_result, tuple) and len(real_result) == FAKED[name] == len(fake_result)
    assert isinstance(real_result[0], real.cudaError_t) and isinstance(fake_result[0], real.cudaError_t)


def test_the_fake_hands_out_real_types():
    real, fake = real_cudart(), make_cudart()
    err, stream = fake.cudaStreamCreate()
    assert err == real.cudaError_t.cudaSuccess and type(stream) is real.cudaStream_t
    assert fake.live(int(stream)) and not fake.live(stream.getPtr())
    h2d = real.cudaMemcpyKind.cudaMemcpyHostToDevice
    assert fake.cudaMemcpyAsync(0, 0, 0, h2d, stream.getPtr())[0] == real.cudaError_t.cudaErrorInvalidResourceHandle
    props = fake.cudaGetDeviceProperties(0)[1]
    assert type(props) is real.cudaDeviceProp and props.name.rstrip(b"\0") == b"NVIDIA Orin (fake)"
    assert (props.major, props.minor) == (8, 7)
    assert fake.cudaStreamDestroy(stream) == (real.cudaError_t.cudaSuccess,) and not fake.live(int(stream))
    assert fake.cudaStreamCreate is not real.cudaStreamCreate and fake.cudaStream_t is real.cudaStream_t


def test_without_a_driver_the_real_calls_fail_with_real_errors():
    real = real_cudart()
    err, _ = real.cudaGetDeviceCount()
    if err == real.cudaError_t.cudaSuccess:
        pytest.skip("this machine has a CUDA driver")
    assert real.cudaStreamCreate() == (real.cudaError_t.cudaErrorInsufficientDriver, None)
