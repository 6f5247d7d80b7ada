"""Cross-target fidelity: its pieces on the host, and a short AVX2 run under qemu where qemu exists."""

import os
import shutil

import numpy as np
import pytest

from alexnet_edge.export.targets import env as target_env
from alexnet_edge.export.targets.cpus import Guests, check_cpu, default_targets, host_onnxruntime
from alexnet_edge.export.targets.judge import (
    TargetsConfig,
    _select,
    judge_target,
    render_targets_md,
    run_targets,
    sample_indices,
)
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.precision import Precision

AVX2 = next(t for t in default_targets() if t.name == "x86-avx2")
ARM = next(t for t in default_targets() if t.name == "aarch64")
SSE = next(t for t in default_targets() if t.name == "x86-sse")
A72 = next(t for t in default_targets() if t.name == "aarch64-a72")


def test_emulated_cpu_must_be_the_intended_one():
    check_cpu(AVX2, {"numpy_features": ["AVX", "AVX2", "FMA3", "SSE42"]})
    with pytest.raises(target_env.TargetSetupError, match="AVX512VNNI"):
        check_cpu(AVX2, {"numpy_features": ["AVX2", "FMA3", "AVX512F", "AVX512VNNI"]})
    with pytest.raises(target_env.TargetSetupError, match="missing.*AVX2"):
        check_cpu(AVX2, {"numpy_features": ["SSE42"]})
    check_cpu(ARM, {"numpy_features": ["ASIMD", "ASIMDDP", "ASIMDHP"]})
    with pytest.raises(target_env.TargetSetupError, match="ASIMDDP"):
        check_cpu(ARM, {"numpy_features": ["ASIMD"]})
    # Atom class: SSE4.2 and no AVX of any kind (numpy's CPUID names, as seen under -cpu Snowridge).
    check_cpu(SSE, {"numpy_features": ["POPCNT", "SSE", "SSE2", "SSE3", "SSE41", "SSE42", "SSSE3", "X86_V2"]})
    with pytest.raises(target_env.TargetSetupError, match="AVX"):
        check_cpu(SSE, {"numpy_features": ["AVX", "SSE42"]})
    # Cortex-A72: NEON without dot product or FP16 arithmetic.
    check_cpu(A72, {"numpy_features": ["ASIMD", "NEON", "NEON_FP16", "NEON_VFPV4"]})
    with pytest.raises(target_env.TargetSetupError, match="ASIMDDP"):
        check_cpu(A72, {"numpy_features": ["ASIMD", "ASIMDDP"]})


def _config(tmp_path, *targets, onnxruntime=()):
    return TargetsConfig(
        models_dir=tmp_path, checkpoint=tmp_path, data_root=tmp_path, targets=targets, onnxruntime=onnxruntime
    )


def test_a_target_is_a_cpu_and_an_onnxruntime_version(tmp_path):
    host = host_onnxruntime()
    chosen = _select(_config(tmp_path, "aarch64@1.23.2", "x86-avx2", f"host@{host}", onnxruntime=("1.20.0",)))
    assert [t.label for t in chosen] == ["host", "aarch64@1.23.2", "x86-avx2@1.20.0"]  # the host's own version first
    a76 = chosen[1]
    assert a76.onnxruntime == "1.23.2" and a76.qemu_cpu == "cortex-a76"
    # other versions: half the images, >= 200 INT8
    assert a76.counts[Precision.INT8] == ARM.counts[Precision.INT8] // 2 >= 200
    both = _select(_config(tmp_path, "aarch64", onnxruntime=(host, "1.23.2")))
    assert [t.label for t in both] == ["host", "aarch64", "aarch64@1.23.2"] and both[1].counts == ARM.counts
    with pytest.raises(AlexNetEdgeError, match="bad onnxruntime version '1.23; rm'"):
        _select(_config(tmp_path, "aarch64@1.23; rm"))


def test_guests_run_each_target_on_its_interpreter_and_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(target_env, "require_tool", lambda name, **kw: f"/usr/bin/{name}")
    arm = {
        None: target_env.ArmUserland(
            tmp_path / "rootfs", tmp_path / "venv/bin/python3", {"cortex-a72": tmp_path / "a72"}
        ),
        "1.23.2": target_env.ArmUserland(tmp_path / "rootfs", tmp_path / "old/bin/python3"),
    }
    guests = Guests(x86={"1.20.0": "/cache/venv-1.20.0/bin/python3"}, arm=arm)
    assert guests.command(A72) == [
        "/usr/bin/qemu-aarch64",
        "-cpu",
        "cortex-a72",
        "-L",
        str(tmp_path / "a72"),
        str(tmp_path / "venv/bin/python3"),
    ]
    assert guests.command(AVX2.with_onnxruntime("1.20.0"))[-1] == "/cache/venv-1.20.0/bin/python3"
    assert guests.command(ARM.with_onnxruntime("1.23.2"))[-1] == str(tmp_path / "old/bin/python3")
    with pytest.raises(AlexNetEdgeError, match="no x86-64 venv"):
        guests.command(SSE.with_onnxruntime("1.22.0"))


def test_each_arm_cpu_gets_a_root_with_its_own_cpuinfo(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "usr/bin").mkdir(parents=True)
    (rootfs / "bin").symlink_to("usr/bin")
    (rootfs / "proc").mkdir()
    (rootfs / "proc/cpuinfo").write_text(target_env.CORTEX_A76_CPUINFO)
    root = target_env.cpu_root(rootfs, "cortex-a72", target_env.CORTEX_A72_CPUINFO, tmp_path)
    text = (root / "proc/cpuinfo").read_text()
    assert text == target_env.cpuinfo_for_host(
        target_env.CORTEX_A72_CPUINFO
    )  # one block per host CPU (1.23.2 needs it)
    assert (
        text.count("CPU part\t: 0xd08") == (os.cpu_count() or 1)
        and f"processor\t: {(os.cpu_count() or 1) - 1}\n" in text
    )
    assert "0xd08" in target_env.CORTEX_A72_CPUINFO and "asimddp" not in target_env.CORTEX_A72_CPUINFO
    assert (root / "bin").resolve() == (rootfs / "usr/bin").resolve() and (root / "usr").is_dir()
    assert (rootfs / "proc/cpuinfo").read_text() == target_env.CORTEX_A76_CPUINFO  # the userland is untouched
    assert target_env.cpu_root(rootfs, "cortex-a72", target_env.CORTEX_A72_CPUINFO, tmp_path) == root  # cached


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
    ok = judge_target(
        "x86-avx2",
        Precision.INT8,
        host.copy(),
        1.0,
        torch_logits=torch_logits,
        labels=labels,
        host_logits=host,
        cpu="AVX2",
    )
    assert ok.within_tolerance and ok.comparison.accuracy == 1.0 and ok.target.accuracy_delta == 0.0
    assert ok.target.vs_host.max_abs_diff == 0.0 and ok.target.label == "x86-avx2" and ok.precision is Precision.INT8
    drifting = _logits(labels, 40, rng)  # 10% of predictions flipped, as the 8-bit model on AVX2
    bad = judge_target(
        "x86-avx2",
        Precision.INT8,
        drifting,
        1.0,
        torch_logits=torch_logits,
        labels=labels,
        host_logits=host,
        cpu="AVX2",
    )
    assert not bad.within_tolerance
    text = " ".join(bad.failures)
    assert (
        "top1_agreement" in text
        and "differs from the host's by -10.00 pt" in text
        and "agreement with the host's run 90.00%" in text
    )
    assert "sure of (top-1 margin" in text  # the flips were confident ones
    table = render_targets_md([ok, bad])
    assert (
        table.count("\n") == 4
        and "| x86-avx2 |  | int8 | 400 | 100.00% | 100.00% | none | 0.00 |" in table
        and "| NO |" in table
    )


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


def test_a_missing_emulator_is_installed_only_when_asked(monkeypatch):
    """As root with apt-get present, nothing is installed unless --install-tools asks for it."""
    calls = []
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(target_env.os, "geteuid", lambda: 0)
    monkeypatch.setattr(target_env.subprocess, "run", lambda cmd, **kw: calls.append(cmd))
    with pytest.raises(
        target_env.TargetSetupError, match="run 'apt-get install -y qemu-user' as root \\(or pass --install-tools\\)"
    ):
        target_env.require_tool("qemu-aarch64")
    assert calls == []
    with pytest.raises(target_env.TargetSetupError, match="could not be installed"):
        target_env.require_tool("qemu-aarch64", install=True)
    assert calls[-1][:3] == ["apt-get", "install", "-y"] and "qemu-user" in calls[-1]


def test_host_only_run_writes_the_table(exported, data_root, checkpoint, tmp_path):
    config = TargetsConfig(
        models_dir=exported.out,
        checkpoint=checkpoint,
        data_root=data_root,
        out_dir=tmp_path,
        targets=("host",),
        images={Precision.INT8: 60, Precision.FP32: 60, Precision.FP16: 60},
    )
    rows, files = run_targets(config, log=lambda line: None)
    assert {(r.target.label, r.precision.value) for r in rows} == {("host", "fp32"), ("host", "fp16"), ("host", "int8")}
    assert all(r.comparison.images == 60 and r.target.accuracy_delta == 0 for r in rows)
    assert {f.name for f in files} == {"targets.json", "targets.md"}


needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-x86_64") is None, reason="qemu-x86_64 is not installed (apt-get install qemu-user)"
)


@pytest.mark.targets
@needs_qemu
def test_avx2_smoke_the_shipped_int8_model_holds_under_emulation(exported, data_root, checkpoint, tmp_path):
    config = TargetsConfig(
        models_dir=exported.out,
        checkpoint=checkpoint,
        data_root=data_root,
        out_dir=tmp_path,
        targets=("host", "x86-avx2"),
        images={Precision.INT8: 60, Precision.FP32: 0, Precision.FP16: 0},
    )
    rows, _ = run_targets(config, log=lambda line: None)
    avx2 = next(r for r in rows if r.target.label == "x86-avx2")
    assert avx2.comparison.images == 60 and avx2.within_tolerance, avx2.failures
    assert avx2.target.vs_host.top1_agreement == 1.0  # 7-bit weights: integer sums are exact on every int8 path


@pytest.mark.targets
@needs_qemu
def test_avx2_smoke_catches_an_8bit_weight_model(exported, data_root, checkpoint, tmp_path):
    from alexnet_edge.calibration.table import CalibrationTable
    from alexnet_edge.export.convert.transforms import convert
    from alexnet_edge.runtime.precision import Precision

    table_path = next((exported.out / "calibration").glob("calibration_table.*.json"))
    import json

    saved = json.loads(table_path.read_text())
    table = CalibrationTable(saved["method"], saved["key"], saved["tensors"], table_path, True)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(exported.out / "model.fp32.onnx", models)
    convert(
        models / "model.fp32.onnx", Precision.INT8, models / "model.int8.onnx", calibration=table, int8_weight_bits=8
    )
    config = TargetsConfig(
        models_dir=models,
        checkpoint=checkpoint,
        data_root=data_root,
        out_dir=tmp_path / "out",
        targets=("x86-avx2",),
        images={Precision.INT8: 60, Precision.FP32: 0, Precision.FP16: 0},
    )
    rows, _ = run_targets(config, log=lambda line: None)
    avx2 = next(r for r in rows if r.target.label == "x86-avx2")
    assert not avx2.within_tolerance and avx2.comparison.top1_agreement < 0.97, avx2
