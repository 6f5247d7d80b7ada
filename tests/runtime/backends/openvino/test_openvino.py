"""OpenVINORunner: f32 arithmetic by default, the runner template, and no openvino import unless asked."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from alexnet_edge.runtime.backends.openvino.runner import OpenVINORunner, PerformanceHints
from alexnet_edge.runtime.backends.registry import BackendOptions, check_host_backends, host_backends, open_runner
from alexnet_edge.runtime.errors import (
    BackendOptionError,
    BackendUnavailableError,
    InputError,
    ModelFileError,
    UnknownBackendError,
)

needs_openvino = pytest.mark.skipif(
    "openvino" not in host_backends(installed=True), reason="openvino is not installed (extra [openvino])"
)


@needs_openvino
def test_fp32_in_f32_agrees_with_pytorch(exported, test_images, torch_logits):
    images, labels = test_images
    with open_runner(exported.out / "model.fp32.onnx", "openvino") as runner:
        assert isinstance(runner, OpenVINORunner) and runner.device == "cpu" and runner.max_batch is None
        logits = runner.infer_many(images, batch_size=300)
        settings = runner.settings()["openvino"]
        meta = runner.metadata()
    assert np.abs(logits - torch_logits).max() < 1e-3
    assert (logits.argmax(1) == torch_logits.argmax(1)).all()
    # OpenVINO's own default on AVX512_BF16/AMX CPUs is bf16; the runner pins f32 and records what was compiled
    assert settings["inference_precision"] == "f32" and settings["compiled_precision"] == "f32"
    assert meta["class_names"][0] == "airplane" and meta["precision"] == "fp32"


@needs_openvino
def test_bf16_is_opt_in_and_recorded(exported, test_images):
    bf16 = BackendOptions.parse(["openvino.precision=bf16"])
    with open_runner(exported.out / "model.fp32.onnx", "openvino", options=bf16) as runner:
        runner.infer(test_images[0][:4])
        settings = runner.settings()["openvino"]
    assert settings["inference_precision"] == "bf16"
    assert settings["compiled_precision"] in ("bf16", "f32")  # f32 where the CPU has no bf16


@needs_openvino
def test_int8_metadata_and_any_batch(exported, test_images):
    with OpenVINORunner(exported.out / "model.int8.onnx") as runner:
        for n in (1, 7, 300):
            assert runner.infer(test_images[0][:n]).shape == (n, 10)
        assert runner.metadata()["int8"]["weight_bits"] == 7
        assert runner.cpu_features()["arch"]


@needs_openvino
def test_bad_inputs_and_files(exported, tmp_path):
    with OpenVINORunner(exported.out / "model.fp32.onnx") as runner:
        with pytest.raises(InputError, match="float32"):
            runner.infer(np.zeros((1, 3, 32, 32), np.float16))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a model OpenVINO can read"):
        OpenVINORunner(junk).activate()
    with pytest.raises(ModelFileError, match="no such model file"):
        OpenVINORunner(tmp_path / "missing.onnx").activate()


def test_hints_chosen_by_batch_size():
    assert PerformanceHints().for_batch(1) == PerformanceHints().for_batch(256) == "LATENCY"
    assert PerformanceHints(throughput_from=64).for_batch(63) == "LATENCY"
    assert PerformanceHints(throughput_from=64).for_batch(256) == "THROUGHPUT"
    assert PerformanceHints.fixed("throughput").for_batch(1) == "THROUGHPUT"
    with pytest.raises(InputError, match="performance hint"):
        PerformanceHints.fixed("fastest")
    with pytest.raises(InputError, match="inference precision"):
        OpenVINORunner("m.onnx", inference_precision="f16")


def test_missing_openvino_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(BackendUnavailableError, match=r"openvino is not installed: pip install openvino"):
        OpenVINORunner(tmp_path / "m.onnx").activate()


def test_backend_choice_is_checked_before_work(monkeypatch):
    with pytest.raises(UnknownBackendError, match="unknown CPU backend"):
        check_host_backends(("tensorrt",))  # a GPU backend: no host rows
    monkeypatch.setitem(sys.modules, "openvino", None)  # not installed: find_spec says so without importing
    with pytest.raises(BackendUnavailableError, match=r"openvino not installed: pip install openvino"):
        check_host_backends(("onnxruntime", "openvino"))
    with pytest.raises(BackendOptionError, match=r"openvino.precision='fp8': choose f32, bf16"):
        BackendOptions.parse(["openvino.precision=fp8"])


BLOCKER = """
import sys

class Block:
    def __init__(self, blocked):
        self.blocked = blocked
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.blocked:
            raise ImportError(f"blocked for this test: {name}")
        return None
"""


def _run(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(script)], capture_output=True, text=True, timeout=120
    )


def test_runtime_paths_never_import_openvino_or_torch(exported):
    """Without being asked for, nothing imports openvino: the runtime CLIs, onnxruntime inference, backend discovery."""
    proc = _run(f"""
        import numpy as np
        from alexnet_edge.runtime import OnnxRuntimeRunner, normalize_uint8
        from alexnet_edge.runtime import bundle_cli, deploy, infer_cli  # noqa: F401 - the bundle's scripts
        from alexnet_edge.runtime.backends.registry import host_backends
        from alexnet_edge.runtime.backends.openvino import runner as ov_runner  # noqa: F401 - our module
        host_backends(installed=True)
        with OnnxRuntimeRunner({str(exported.out / "model.int8.onnx")!r}) as runner:
            runner.infer(normalize_uint8(np.zeros((2, 3, 32, 32), np.uint8)))
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"openvino", "torch"}})
        assert not loaded, loaded
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@needs_openvino
def test_openvino_runs_without_torch(exported):
    """A runtime-only install ([cpu,openvino]) has no torch: the OpenVINO runner must not need it."""
    proc = _run(f"""
        sys.meta_path.insert(0, Block(("torch", "onnx", "onnxsim", "onnxscript", "matplotlib")))
        import numpy as np
        from alexnet_edge.runtime.backends.registry import open_runner
        with open_runner({str(exported.out / "model.int8.onnx")!r}, "openvino") as runner:
            assert runner.infer(np.zeros((2, 3, 32, 32), np.float32)).shape == (2, 10)
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


@needs_openvino
def test_targets_host_openvino_rows_are_judged_like_a_target(exported, data_root, checkpoint, tmp_path):
    from alexnet_edge.export.targets.judge import TargetsConfig, run_targets
    from alexnet_edge.runtime.precision import Precision

    config = TargetsConfig(
        models_dir=exported.out,
        checkpoint=checkpoint,
        data_root=data_root,
        out_dir=tmp_path,
        targets=("host",),
        images={Precision.INT8: 60, Precision.FP32: 60, Precision.FP16: 0},
        host_backends=("openvino",),
    )
    rows, _ = run_targets(config, log=lambda line: None)
    ov = {r.precision.value: r for r in rows if r.target.label == "host (openvino)"}
    assert {"fp32", "int8"} <= set(ov) and all(r.within_tolerance for r in ov.values()), [
        r.failures for r in ov.values()
    ]
    assert ov["fp32"].comparison.images == ov["int8"].comparison.images == 60
    assert ov["fp32"].target.vs_host.top1_agreement == 1.0 and ov["fp32"].target.runtime == (
        f"openvino {ov['fp32'].target.runtime.split()[1]} (f32)"
    )


@needs_openvino
def test_infer_and_bundle_verify_take_backend_openvino(exported, test_split, tmp_path):
    import json

    from click.testing import CliRunner

    from alexnet_edge.runtime.bundle_cli import verify_main
    from alexnet_edge.runtime.infer_cli import main as infer_main

    batch = tmp_path / "x.npy"
    np.save(batch, test_split.images[:5].transpose(0, 2, 3, 1))  # uint8 NHWC
    model = str(exported.out / "model.int8.onnx")
    answers = [
        CliRunner().invoke(infer_main, ["--model", model, "--backend", b, "--json", str(batch)])
        for b in ("onnxruntime", "openvino")
    ]
    assert all(a.exit_code == 0 for a in answers), [a.output for a in answers]
    classes = [[json.loads(line)["class"] for line in a.stdout.splitlines()] for a in answers]
    assert classes[0] == classes[1] and len(classes[0]) == 5
    result = CliRunner().invoke(
        verify_main, ["--bundle-dir", str(exported.out / "bundle"), "--backend", "openvino", "--no-bench", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]
    assert {r["backend"] for r in rows} == {"openvino"} and all(r["within_tolerance"] for r in rows)
