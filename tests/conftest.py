"""Shared fixtures. The real CIFAR-10 files and reference checkpoint live in ../shared (read-only)."""

from __future__ import annotations

import os
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ALEXNET_EDGE_SHARED", REPO.parent / "shared"))
DATA_ROOT = SHARED / "cifar10"
CHECKPOINT = SHARED / "reference" / "alexnet_cifar10.pt"
REFERENCE_DIR = SHARED / "reference"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (tests read the real CIFAR-10 and reference checkpoint from ../shared)")
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    return _need(DATA_ROOT / "cifar-10-batches-py" / "test_batch").parents[1]


@pytest.fixture(scope="session")
def checkpoint() -> Path:
    return _need(CHECKPOINT)


@pytest.fixture(scope="session")
def test_split(data_root):
    from alexnet_edge.calibration.cifar10 import load_test

    return load_test(data_root)


@pytest.fixture(scope="session")
def test_images(test_split):
    """The first 1,000 test images, normalized, and their labels."""
    from alexnet_edge.runtime.preprocess import normalize_uint8

    return normalize_uint8(test_split.images[:1000]), test_split.labels[:1000]


@pytest.fixture(scope="session")
def reference_model(checkpoint):
    from alexnet_edge.export.model.alexnet import REFERENCE_SHA256, alexnet_cifar10

    return alexnet_cifar10(weights=checkpoint, expected_sha256=REFERENCE_SHA256)


@pytest.fixture(scope="session")
def torch_logits(reference_model, test_images):
    from alexnet_edge.export.model.torch_runner import TorchRunner

    with TorchRunner(reference_model) as runner:
        return runner.infer_many(test_images[0])


@pytest.fixture(scope="session")
def exported(tmp_path_factory, data_root, checkpoint):
    """One real pipeline run (FP32 + FP16 + INT8, 1,000 test images, no benchmark, with a deployment
    bundle) shared by many tests."""
    from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
    from alexnet_edge.export.pipeline.run import run
    from alexnet_edge.runtime.precision import Precision

    out = tmp_path_factory.mktemp("exported")
    result = run(
        ExportSpec(checkpoint=checkpoint, precisions=(Precision.FP32, Precision.FP16, Precision.INT8)),
        EvaluationSpec(eval_size=1000, bench=False),
        RunOptions(data_root=data_root, out_dir=out, bundle=out / "bundle", progress=False),
        log=lambda line: None,
    )
    return types.SimpleNamespace(out=out, result=result, report=result.report)


@pytest.fixture
def fake_trt(monkeypatch, request):
    """Install a fake tensorrt of the version in request.param ("trt8.6", ...) plus the real cuda-python
    runtime with its driver calls faked (tests/support/cuda_fakes.py), reporting version 12.6.2."""
    from support.cuda_fakes import make_cudart
    from support.trt_fakes import make_tensorrt

    trt = make_tensorrt(request.param)
    cudart = make_cudart()
    trt.enqueue, trt.stream_is_live = cudart.enqueue, cudart.live
    cuda = types.ModuleType("cuda")
    bindings = types.ModuleType("cuda.bindings")
    bindings.__version__ = "12.6.2"
    bindings.runtime = cudart
    cuda.bindings = bindings
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "cuda", cuda)
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", cudart)
    return types.SimpleNamespace(trt=trt, cudart=cudart, bindings=bindings)


def copy_of(path: Path, tmp_path: Path) -> Path:
    target = tmp_path / path.name
    shutil.copyfile(path, target)
    return target


def has_real_tensorrt() -> bool:
    try:
        import tensorrt  # noqa: F401

        return not hasattr(tensorrt, "calls")
    except ImportError:
        return False


def has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU on this machine")
    skip_trt = pytest.mark.skip(reason="TensorRT is not installed here (it cannot be, on the dev/CI machines)")
    for item in items:
        # markers, not keywords: a test under tests/**/tensorrt/ has the folder's name among its keywords
        if item.get_closest_marker("gpu") and not has_cuda():
            item.add_marker(skip_gpu)
        if item.get_closest_marker("tensorrt") and not (has_real_tensorrt() and has_cuda()):
            item.add_marker(skip_trt)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def hostile_files(tmp_path_factory, test_split):
    """A good PNG, a tiny model that takes our input, and a folder of three good PNGs."""
    from PIL import Image

    root = tmp_path_factory.mktemp("inputs")
    Image.fromarray(test_split.images[3].transpose(1, 2, 0)).save(root / "good.png")
    (root / "three").mkdir()
    for i in range(3):
        Image.fromarray(test_split.images[i].transpose(1, 2, 0)).save(root / "three" / f"img{i}.png")
    return root


@pytest.fixture
def tiny(tmp_path):
    """A tiny ONNX model that takes and gives what ours do (the hostile-input tests' stand-in)."""
    from support.hostile import signature_model

    return signature_model(tmp_path / "tiny.onnx")
