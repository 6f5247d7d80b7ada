"""Cross-target fidelity: its pieces on the host, and a short AVX2 run under qemu where qemu exists."""

import shutil

import numpy as np
import pytest

from alexnet_edge.export import target_env
from alexnet_edge.export.target_cpus import check_cpu, default_targets
from alexnet_edge.export.targets import TargetsConfig, judge, render_table, run_targets, sample_indices
from alexnet_edge.runtime.errors import AlexNetEdgeError

AVX2 = next(t for t in default_targets() if t.name == "x86-avx2")
ARM = next(t for t in default_targets() if t.name == "aarch64")


def test_emulated_cpu_must_be_the_intended_one():
    check_cpu(AVX2, {"numpy_features": ["AVX", "AVX2", "FMA3", "SSE42"]})
    with pytest.raises(target_env.TargetSetupError, match="AVX512VNNI"):
        check_cpu(AVX2, {"numpy_features": ["AVX2", "FMA3", "AVX512F", "AVX512VNNI"]})
    with pytest.raises(target_env.TargetSetupError, match="missing.*AVX2"):
        check_cpu(AVX2, {"numpy_features": ["SSE42"]})
    check_cpu(ARM, {"numpy_features": ["ASIMD", "ASIMDDP", "ASIMDHP"]})
    with pytest.raises(target_env.TargetSetupError, match="ASIMDDP"):
        check_cpu(ARM, {"numpy_features": ["ASIMD"]})


def _logits(labels, flips, rng):
    logits = rng.normal(size=(len(labels), 10)).astype(np.float32)
    logits[np.arange(len(labels)), labels] += 10
    wrong = (labels[:flips] + 1) % 10
    logits[np.arange(flips), wrong] += 20
    return logits


def test_judge_passes_a_faithful_target_and_fails_a_drifting_one(rng):
    labels = rng.integers(0, 10, size=400)
    torch_logits = _logits(labels, 0, rng)
    host = torch_logits + rng.normal(scale=0.01, size=torch_logits.shape).astype(np.float32)
    ok = judge("x86-avx2", "int8", host.copy(), 1.0, torch_logits=torch_logits, labels=labels, host_logits=host, cpu="AVX2")
    assert ok.ok and ok.accuracy == 1.0 and ok.accuracy_delta_vs_host == 0.0 and ok.max_abs_diff_vs_host == 0.0
    drifting = _logits(labels, 40, rng)  # 10% of predictions flipped, as the 8-bit model on AVX2
    bad = judge("x86-avx2", "int8", drifting, 1.0, torch_logits=torch_logits, labels=labels, host_logits=host, cpu="AVX2")
    assert not bad.ok
    text = " ".join(bad.failures)
    assert "top1_agreement" in text and "differs from the host's by -10.00 pt" in text and "agreement with the host's run 90.00%" in text
    table = render_table([ok, bad])
    assert table.count("\n") == 4 and "| x86-avx2 | int8 | 400 | 100.00% |" in table and "| NO |" in table


def test_sample_is_seeded_spread_and_without_repeats():
    a, b = sample_indices(10000, 400, 0), sample_indices(10000, 400, 0)
    assert (a == b).all() and len(set(a.tolist())) == 400 and a.max() > 5000
    assert not (sample_indices(10000, 400, 1) == a).all()


def test_unknown_target_and_missing_models_are_one_line_errors(tmp_path, data_root, checkpoint):
    with pytest.raises(AlexNetEdgeError, match="unknown target.*riscv"):
        run_targets(TargetsConfig(models_dir=tmp_path, checkpoint=checkpoint, data_root=data_root, targets=("riscv",)))
    with pytest.raises(AlexNetEdgeError, match="holds no model.fp32.onnx"):
        run_targets(TargetsConfig(models_dir=tmp_path, checkpoint=checkpoint, data_root=data_root, targets=("host",)))


def test_a_missing_emulator_that_cannot_be_installed_is_exit_2(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(target_env.TargetSetupError) as info:
        target_env.require_tool("qemu-x86_64", install=False)
    assert info.value.exit_code == 2 and "apt-get install -y qemu-user" in str(info.value)


def test_host_only_run_writes_the_table(exported, data_root, checkpoint, tmp_path):
    config = TargetsConfig(models_dir=exported.out, checkpoint=checkpoint, data_root=data_root, out_dir=tmp_path,
                           targets=("host",), int8_images=60, fp32_images=60, fp16_images=60)  # fmt: skip
    rows, files = run_targets(config, log=lambda line: None)
    assert {(r.target, r.precision) for r in rows} == {("host", "fp32"), ("host", "fp16"), ("host", "int8")}
    assert all(r.images == 60 and r.accuracy_delta_vs_host == 0 for r in rows)
    assert {f.name for f in files} == {"targets.json", "targets.md"}


needs_qemu = pytest.mark.skipif(shutil.which("qemu-x86_64") is None, reason="qemu-x86_64 is not installed (apt-get install qemu-user)")


@pytest.mark.targets
@needs_qemu
def test_avx2_smoke_the_shipped_int8_model_holds_under_emulation(exported, data_root, checkpoint, tmp_path):
    config = TargetsConfig(models_dir=exported.out, checkpoint=checkpoint, data_root=data_root, out_dir=tmp_path,
                           targets=("host", "x86-avx2"), int8_images=60, fp32_images=0, fp16_images=0)  # fmt: skip
    rows, _ = run_targets(config, log=lambda line: None)
    avx2 = next(r for r in rows if r.target == "x86-avx2")
    assert avx2.images == 60 and avx2.ok, avx2.failures
    assert avx2.agreement_vs_host == 1.0  # 7-bit weights: integer sums are exact on every int8 path


@pytest.mark.targets
@needs_qemu
def test_avx2_smoke_catches_an_8bit_weight_model(exported, data_root, checkpoint, tmp_path):
    from alexnet_edge.calibration.table import CalibrationTable
    from alexnet_edge.export.precision_transforms import convert
    from alexnet_edge.runtime.precision import Precision

    table_path = next((exported.out / "calibration").glob("calibration_table.*.json"))
    import json

    saved = json.loads(table_path.read_text())
    table = CalibrationTable(saved["method"], saved["key"], saved["tensors"], table_path, True)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(exported.out / "model.fp32.onnx", models)
    convert(models / "model.fp32.onnx", Precision.INT8, models / "model.int8.onnx", calibration=table, int8_weight_bits=8)
    config = TargetsConfig(models_dir=models, checkpoint=checkpoint, data_root=data_root, out_dir=tmp_path / "out",
                           targets=("x86-avx2",), int8_images=60, fp32_images=0, fp16_images=0)  # fmt: skip
    rows, _ = run_targets(config, log=lambda line: None)
    avx2 = next(r for r in rows if r.target == "x86-avx2")
    assert not avx2.ok and avx2.top1_agreement < 0.97, avx2
