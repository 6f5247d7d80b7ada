"""tools/gpu_check.py: refuses cleanly without a GPU, and skips (with the reason) what this machine lacks.

No GPU here: the real run is the refusal; the parts' skip logic runs against stand-ins for the packages.
"""

import json
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
from support.paths import REPO

from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.precision import Precision

ROOT = REPO


@pytest.fixture
def gc(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    import gpu_check

    return gpu_check


def _ctx(gc, tmp_path, *, budget_s: float = 60.0, models: Path | None = None):
    return gc.parts.Context(
        reference_dir=tmp_path / "reference",
        data_root=tmp_path / "cifar10",
        checkpoint=tmp_path / "reference" / "ckpt.pt",
        models_dir=models or tmp_path / "models",
        out=tmp_path / "out",
        deadline=time.monotonic() + budget_s,
    )


def test_without_a_gpu_it_exits_2_with_one_error_line_and_writes_nothing(gc, tmp_path):
    if gc.find_gpu()[0] is not None:
        pytest.skip("this machine has a GPU: the refusal cannot be seen here")
    out = tmp_path / "gpu-check"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no NVIDIA GPU here (cuda-python: ") and "torch" in lines[0]
    assert not out.exists()


def _cudart(err: int, count: int, name: bytes = b"NVIDIA H100 80GB HBM3\0\0"):
    props = types.SimpleNamespace(name=name, major=9, minor=0)
    return types.SimpleNamespace(cudaGetDeviceCount=lambda: (err, count), cudaGetDeviceProperties=lambda i: (0, props))


def _torch_without_cuda():
    return types.SimpleNamespace(__version__="2.13.0+cpu", cuda=types.SimpleNamespace(is_available=lambda: False))


def test_find_gpu_names_the_device_or_says_why_each_probe_found_none(gc):
    no_cuda_torch = _torch_without_cuda()
    name, reasons = gc.find_gpu(lambda: _cudart(0, 1), lambda: no_cuda_torch)
    assert name == "NVIDIA H100 80GB HBM3" and reasons == []
    name, reasons = gc.find_gpu(lambda: _cudart(100, 0), lambda: no_cuda_torch)
    assert name is None and reasons == [
        "cuda-python: cudaGetDeviceCount returned 100",
        "torch 2.13.0+cpu: CUDA not available",
    ]

    def no_module():
        raise ImportError("No module named 'cuda'")

    assert gc.find_gpu(no_module, lambda: no_cuda_torch)[1][0] == "cuda-python: ImportError: No module named 'cuda'"


def test_each_missing_package_is_a_skip_row_with_its_reason(gc, tmp_path, monkeypatch):
    parts = gc.parts
    monkeypatch.setattr(parts, "importable", lambda module: module in {"torch", "onnxruntime"})
    monkeypatch.setitem(sys.modules, "torch", _torch_without_cuda())
    cpu_only = types.SimpleNamespace(__version__="1.24.1", get_available_providers=lambda: ["CPUExecutionProvider"])
    monkeypatch.setitem(sys.modules, "onnxruntime", cpu_only)
    ctx = _ctx(gc, tmp_path)
    rows = gc.run_parts(
        ctx, (parts.torch_part, gc.backends.tensorrt_part, gc.backends.onnxruntime_part), log=lambda line: None
    )
    assert [(r.name, r.status) for r in rows] == [
        ("torch cuda", "skip"),
        ("tensorrt", "skip"),
        ("onnxruntime-gpu", "skip"),
    ]
    assert "sees no CUDA device" in rows[0].detail and "tensorrt is not importable" in rows[1].detail
    assert "offers only CPUExecutionProvider" in rows[2].detail and "onnxruntime-gpu has them" in rows[2].detail


def test_with_tensorrt_or_a_gpu_provider_but_no_models_it_says_how_to_make_them(gc, tmp_path, monkeypatch):
    parts = gc.parts
    monkeypatch.setattr(parts, "importable", lambda module: True)
    monkeypatch.setitem(
        sys.modules,
        "onnxruntime",
        types.SimpleNamespace(
            __version__="1.24.1", get_available_providers=lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
        ),
    )
    for part in (gc.backends.tensorrt_part, gc.backends.onnxruntime_part):
        (row,) = part(_ctx(gc, tmp_path))
        assert row.status == "skip" and "model.fp32.onnx is not there: run `make demo`" in row.detail


def test_a_part_that_raises_is_one_fail_row_and_a_spent_budget_skips_the_rest(gc, tmp_path):
    def broken_part(ctx):
        raise RuntimeError("cudaGraphInstantiate failed\nsecond line")

    def fine_part(ctx):
        return [gc.parts.Part("fine", "pass", "ok")]

    rows = gc.run_parts(_ctx(gc, tmp_path), (broken_part, fine_part), log=lambda line: None)
    assert [(r.name, r.status, r.detail) for r in rows] == [
        ("broken", "fail", "RuntimeError: cudaGraphInstantiate failed"),
        ("fine", "pass", "ok"),
    ]
    rows = gc.run_parts(_ctx(gc, tmp_path, budget_s=-1), (fine_part,), log=lambda line: None)
    assert rows[0].status == "skip" and "budget was spent" in rows[0].detail


class _Runner(BaseRunner):
    """Logits the test chooses, and the providers a session would report."""

    backend = "onnxruntime"

    def __init__(self, logits: np.ndarray, providers: list[str]):
        super().__init__("fake")
        self.logits, self.providers = logits, providers

    def activate_impl(self):
        pass

    def infer_impl(self, batch):
        return self.logits[: len(batch)]

    def deactivate_impl(self):
        pass


def test_rows_are_judged_by_the_reports_tolerances_and_a_fallen_back_provider_fails(gc):
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(200, 10)).astype(np.float32)
    labels, images = reference.argmax(1), np.zeros((200, 3, 32, 32), np.float32)
    judged = gc.parts.judged
    row = judged(
        "ok",
        _Runner(reference.copy(), ["CUDAExecutionProvider"]),
        Precision.FP32,
        images,
        labels,
        reference,
        expect_provider="CUDAExecutionProvider",
    )
    assert row.status == "pass" and row.figures["top1_agreement"] == 1.0
    row = judged("off", _Runner(reference + 0.01, ["CUDAExecutionProvider"]), Precision.FP32, images, labels, reference)
    assert row.status == "fail" and row.figures["within_tolerance"] is False and "max |dlogit| 0.01" in row.detail
    row = judged(
        "fell back",
        _Runner(reference.copy(), ["CPUExecutionProvider"]),
        Precision.FP32,
        images,
        labels,
        reference,
        expect_provider="CUDAExecutionProvider",
    )
    assert row.status == "fail" and "the session uses ['CPUExecutionProvider']" in row.detail


def test_results_are_written_as_json_and_a_table_and_the_exit_code_says_if_anything_failed(gc, tmp_path, monkeypatch):
    monkeypatch.setattr(gc, "find_gpu", lambda: ("NVIDIA H100 (fake)", []))
    rows = [gc.parts.Part("a", "pass", "x | y"), gc.parts.Part("b", "skip", "why")]
    monkeypatch.setattr(gc, "PARTS", (lambda ctx: rows,))
    assert gc.main(["--out", str(tmp_path / "o"), "--shared", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "o" / "gpu_check.json").read_text())
    assert data["gpu"] == "NVIDIA H100 (fake)" and [p["status"] for p in data["parts"]] == ["pass", "skip"]
    assert "| a | pass | x / y |" in (tmp_path / "o" / "gpu_check.md").read_text()
    monkeypatch.setattr(gc, "PARTS", (lambda ctx: [gc.parts.Part("a", "fail", "bad")],))
    assert gc.main(["--out", str(tmp_path / "o")]) == 1
