"""The backend registry: typed options checked against the spec, capabilities asked instead of probed,
registration undone, install hints from the spec."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

from alexnet_edge.runtime.backends import registry
from alexnet_edge.runtime.backends.base import BaseRunner
from alexnet_edge.runtime.backends.registry import (
    BackendOptions,
    BackendSpec,
    Capabilities,
    backend_spec,
    capabilities_of,
    registered_backend,
)
from alexnet_edge.runtime.bench import device_timings
from alexnet_edge.runtime.errors import BackendOptionError, UnknownBackendError, UnsupportedOptionError


class EightAtATime(BaseRunner):
    """A runner whose backend declares a fixed batch of 8 and nothing else: the base class answers for it."""

    backend = "eight"

    def __init__(self, path, *, name=None):
        super().__init__(name or "eight")

    def activate_impl(self) -> None: ...

    def infer_impl(self, batch: np.ndarray) -> np.ndarray:
        return np.zeros((len(batch), 10), np.float32)

    def deactivate_impl(self) -> None: ...


EIGHT = BackendSpec(
    name="eight",
    module=__name__,
    runner="EightAtATime",
    requires=("numpy",),
    install="pip install numpy",
    capabilities=Capabilities(min_batch=8, max_batch=8, host_cpu=True),
)


def test_options_are_typed_and_checked_against_their_spec():
    options = BackendOptions.parse(["openvino.precision=bf16", "onnxruntime.threads=2", "openvino.threads=3"])
    assert options.for_backend("openvino") == {"inference_precision": "bf16", "threads": 3}
    assert options.for_backend("onnxruntime") == {"threads": 2} and options.for_backend("tensorrt") == {}
    assert dict(options) == {"openvino.precision": "bf16", "onnxruntime.threads": 2, "openvino.threads": 3}
    with pytest.raises(BackendOptionError, match=r"onnxruntime.threads='0': needs a positive whole number"):
        BackendOptions.parse(["onnxruntime.threads=0"])
    with pytest.raises(BackendOptionError, match=r"onnxruntime.threads='two': invalid literal"):
        BackendOptions.parse(["onnxruntime.threads=two"])
    with pytest.raises(BackendOptionError, match=r"tensorrt has no option 'precision'; its options: none"):
        BackendOptions.parse(["tensorrt.precision=fp16"])
    with pytest.raises(UnknownBackendError, match=r"unknown backend 'tflite'; choose onnxruntime, openvino, tensorrt"):
        BackendOptions.parse(["tflite.threads=1"])


def test_a_registration_is_undone_and_a_name_is_taken_once():
    with registered_backend(EIGHT):
        assert registry.names()[-1] == "eight" and "eight" in registry.host_backends(installed=True)
        with pytest.raises(ValueError, match="already registered"):
            registry.register(EIGHT)
    assert "eight" not in registry.names()
    with pytest.raises(UnknownBackendError):
        backend_spec("eight")


def test_capabilities_are_asked_not_probed(tmp_path):
    with registered_backend(EIGHT):
        runner = registry.open_runner(tmp_path / "m.onnx", "eight")
        assert isinstance(runner, EightAtATime)
        assert (runner.min_batch, runner.max_batch) == (8, 8) and capabilities_of(runner).fixed_batch == 8
        with runner:
            assert runner.infer_many(np.zeros((11, 3, 32, 32), np.float32), batch_size=5).shape == (11, 10)
            assert device_timings(runner) == {}  # no device_timing capability: the wall-clock latency is all
            with pytest.raises(UnsupportedOptionError, match="cannot time its device"):
                runner.device_latency_ms(np.zeros((8, 3, 32, 32), np.float32))
    assert capabilities_of(runner) == Capabilities()  # unregistered (like PyTorch's reference): the defaults
    trt = backend_spec("tensorrt")
    assert trt.capabilities.device_timing and not trt.capabilities.host_cpu and trt.model_kind == "engine"


def test_files_choose_their_backend_and_engine_backends_are_no_host_rows(tmp_path):
    assert registry.spec_for_file(tmp_path / "m.plan").name == "tensorrt"
    assert registry.spec_for_file(tmp_path / "m.fp16.onnx").name == "onnxruntime"
    assert registry.host_backends() == ["onnxruntime", "openvino"]
    with pytest.raises(UnknownBackendError, match=r"unknown CPU backend\(s\) tensorrt; choose from onnxruntime"):
        registry.check_host_backends(["tensorrt"])
    assert "openvino.precision (f32|bf16)" in registry.describe_options()


def test_a_spec_says_what_to_install_without_importing(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert not backend_spec("openvino").installed()
    assert "openvino" not in registry.host_backends(installed=True)
    hint = backend_spec("openvino").install_hint(bundled=False)
    assert hint == "pip install openvino; from an alexnet-edge checkout: pip install -e '.[openvino]'"


def test_every_backend_extra_is_one_of_pyprojects():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    for name in registry.names():
        spec = backend_spec(name)
        assert spec.extra in extras, name
        assert all(module.split(".")[0] in " ".join(extras[spec.extra]) for module in spec.requires), name


def test_the_tensorrt_install_hint_asks_for_what_the_gpu_extra_installs():
    """The one-line hint must not name a TensorRT the gpu extra would refuse (its floor moved to 10.9, #27)."""
    import re

    import tomllib
    from support.paths import REPO

    from alexnet_edge.runtime.backends.registry import backend_spec

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["gpu"]
    wanted = {re.match(r"([\w-]+[^;]*?)\s*(;|$)", req).group(1).strip() for req in extra if "tensorrt" in req}
    assert wanted and all(f"'{req}'" in backend_spec("tensorrt").install for req in wanted), wanted
