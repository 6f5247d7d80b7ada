"""An emulated CPU must not inherit the host's CPU pins: with OPENBLAS_CORETYPE=Haswell (set on some hosts)
numpy's OpenBLAS dies with SIGILL under ``qemu-x86_64 -cpu Snowridge``. The host itself keeps them."""

import io
import types

import pytest

from alexnet_edge.export.targets import runs
from alexnet_edge.export.targets.cpus import Target

PINS = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512", "NPY_ENABLE_CPU_FEATURES": "AVX512F"}


def _launched_env(monkeypatch, tmp_path, target: Target) -> dict:
    seen = {}

    def popen(cmd, env, **kwargs):
        seen.update(env)
        return types.SimpleNamespace(stderr=io.StringIO(""))

    for name, value in {**PINS, "PYTHONHOME": "/elsewhere", "LANG": "C.UTF-8"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runs, "guest_command", lambda target, arm: ["python3"])
    monkeypatch.setattr(runs.subprocess, "Popen", popen)
    proc = runs.launch(
        target, [(tmp_path / "model.int8.onnx", 4)], tmp_path / "images.npy", tmp_path, arm=None, stage=tmp_path
    )
    proc.forwarder.join()
    return seen


@pytest.mark.parametrize("emulator,cpu", [("x86_64", "Snowridge"), ("aarch64", "cortex-a72")])
def test_an_emulated_cpu_gets_no_host_cpu_pins(monkeypatch, tmp_path, emulator, cpu):
    env = _launched_env(monkeypatch, tmp_path, Target("guest", "an emulated CPU", emulator, cpu))
    assert not set(PINS) & set(env)
    assert env["PYTHONPATH"] == str(tmp_path) and "PYTHONHOME" not in env and env["LANG"] == "C.UTF-8"


def test_the_host_keeps_its_own_pins(monkeypatch, tmp_path):
    env = _launched_env(monkeypatch, tmp_path, Target("host", "this machine", None))
    assert {name: env.get(name) for name in PINS} == PINS
