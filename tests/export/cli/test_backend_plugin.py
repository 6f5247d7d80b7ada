"""A backend plugs in through the registry alone: this file registers a fake one (onnxruntime underneath,
logits scaled by a typed option, a fixed batch of 8, device timings, FP32 only) and runs it through
``export-alexnet``; nothing outside this file knows it, and it is unregistered after each test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from support.cli_args import run_args

from alexnet_edge.export.cli.export import export_alexnet
from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner
from alexnet_edge.runtime.backends.registry import (
    BackendOption,
    BackendSpec,
    Capabilities,
    names,
    registered_backend,
)
from alexnet_edge.runtime.precision import Precision

FAKE = "fakeort"
FIXED_BATCH = 8


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("needs a positive number")
    return value


class FakeRunner(BaseRunner):
    """onnxruntime on the CPU, its logits multiplied by ``scale``; records every batch size it was given."""

    backend = FAKE

    def __init__(self, model_path, *, name=None, scale: float = 1.0):
        super().__init__(name or f"{FAKE}:{model_path.name}")
        self.inner = OnnxRuntimeRunner(model_path, providers="cpu", threads=1)
        self.scale = scale
        self.batches: set[int] = set()

    def activate_impl(self) -> None:
        self.inner.activate()

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        self.batches.add(batch.shape[0])
        return self.inner.infer(batch) * np.float32(self.scale)

    def deactivate_impl(self) -> None:
        self.inner.deactivate()

    def device_latency_ms(self, batch: np.ndarray, runs: int = 20) -> list[float]:
        self.infer(batch)
        return [0.25] * runs  # a device clock of its own: what the report must show as the device-only p50

    def settings(self) -> dict[str, object]:
        return {FAKE: {"scale": self.scale, "batch_sizes": sorted(self.batches)}}


SPEC = BackendSpec(
    name=FAKE,
    module=__name__,
    runner="FakeRunner",
    requires=("onnxruntime",),
    install="pip install onnxruntime",
    options=(BackendOption("scale", "scale", _positive),),  # multiplies the logits
    capabilities=Capabilities(
        precisions=frozenset({Precision.FP32.value}),
        min_batch=FIXED_BATCH,
        max_batch=FIXED_BATCH,
        device_timing=True,
        host_cpu=True,
    ),
)


@pytest.fixture
def fake_backend():
    with registered_backend(SPEC) as spec:
        yield spec
    assert FAKE not in names()  # undone: the next test sees the built-in backends only


def _export(checkpoint, data_root, out, *extra):
    args = [*run_args(checkpoint, data_root, out), "--eval-size", 20, "--no-engines", "--quiet", *extra]
    return CliRunner().invoke(export_alexnet, [str(a) for a in args])


def test_a_registered_backend_runs_through_export_alexnet(fake_backend, checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    result = _export(
        checkpoint,
        data_root,
        out,
        "--backends",
        FAKE,
        "--fp16",
        "--batch-sizes",
        f"1,{FIXED_BATCH}",
        "--backend-option",
        f"{FAKE}.scale=1",
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    rows = {(r["backend"], r["precision"]): r for r in report["rows"]}
    # FP32 only (its capabilities): the fp16 model is written but not run on it
    assert set(rows) == {("torch", "fp32"), (FAKE, "fp32")}
    assert (out / "model.fp16.onnx").is_file() and f"{FAKE}: skipping model.fp16.onnx" in result.output
    row = rows[(FAKE, "fp32")]
    assert row["top1_agreement"] == 1.0 and row["max_abs_diff"] <= 1e-3
    assert row[FAKE]["batch_sizes"] == [FIXED_BATCH]  # 20 images in fixed batches of 8, the last one padded
    assert set(row["latency_ms"]) == {str(FIXED_BATCH)}  # batch 1 skipped: the backend takes 8 only
    assert row["latency_ms_device_p50"] == {str(FIXED_BATCH): 0.25}  # asked of the capability, not probed
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["evaluation"]["backend_options"] == {f"{FAKE}.scale": 1.0}


def test_its_typed_option_reaches_the_runner(fake_backend, checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    result = _export(
        checkpoint, data_root, out, "--backends", FAKE, "--no-bench", "--backend-option", f"{FAKE}.scale=3"
    )
    assert result.exit_code == 1, result.output  # logits x3: outside FP32's tolerance, which is exit 1
    assert f"error: outside tolerance: {FAKE}:fp32" in result.output
    row = next(r for r in json.loads((out / "report.json").read_text())["rows"] if r["backend"] == FAKE)
    assert row[FAKE]["scale"] == 3.0 and row["max_abs_diff"] > 1.0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (f"{FAKE}.scale=-1", rf"{FAKE}.scale='-1': needs a positive number"),
        (f"{FAKE}.speed=2", rf"{FAKE} has no option 'speed'; its options: {FAKE}.scale"),
        ("tflite.threads=2", "unknown backend 'tflite'"),
        (f"{FAKE}.scale", "write BACKEND.OPTION=VALUE"),
    ],
)
def test_a_bad_option_is_refused_before_any_work(fake_backend, checkpoint, data_root, tmp_path, option, message):
    out = tmp_path / "out"
    result = _export(checkpoint, data_root, out, "--backends", FAKE, "--backend-option", option)
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and pytest.importorskip("re").search(message, last), last
    assert not out.exists()


def test_unregistered_it_is_unknown(checkpoint, data_root, tmp_path):
    result = _export(checkpoint, data_root, tmp_path / "out", "--backends", FAKE)
    assert result.exit_code == 2 and f"unknown CPU backend(s) {FAKE}" in result.output, result.output
