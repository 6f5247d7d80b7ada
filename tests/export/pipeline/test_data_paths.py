"""One data-root convention for every command (--data-root / --checkpoint, else ALEXNET_EDGE_DATA),
and no default, hint or help text that only works inside this repository."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from support.paths import REPO

from alexnet_edge.export.cli.debug import alexnet_debug
from alexnet_edge.export.cli.drift import alexnet_drift
from alexnet_edge.export.cli.export import export_alexnet
from alexnet_edge.export.cli.inspect import alexnet_inspect
from alexnet_edge.export.cli.targets import alexnet_targets
from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.runtime.precision import Precision

NO_ENV = {data_paths.ENV_VAR: None}  # CliRunner removes the variable for the call


def invoke(command, args, env=NO_ENV):
    return CliRunner().invoke(command, [str(a) for a in args], env=env)


def error_lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def test_option_wins_then_environment_then_a_one_line_refusal(tmp_path):
    env = {data_paths.ENV_VAR: str(tmp_path)}
    assert data_paths.data_root(Path("given"), environ=env) == Path("given")
    assert data_paths.data_root(None, environ=env) == tmp_path / "cifar10"
    assert data_paths.checkpoint(None, environ=env) == tmp_path / "reference" / "alexnet_cifar10.pt"
    assert data_paths.optional_data_root(None, environ={data_paths.ENV_VAR: "  "}) is None  # blank is unset
    with pytest.raises(data_paths.DataPathError, match="pass --data-root DIR .* or set ALEXNET_EDGE_DATA"):
        data_paths.data_root(None, environ={})
    with pytest.raises(data_paths.DataPathError, match="pass --checkpoint PATH .* or set ALEXNET_EDGE_DATA"):
        data_paths.checkpoint(None, environ={})


@pytest.mark.parametrize("command", [export_alexnet, alexnet_drift, alexnet_targets, alexnet_debug])
def test_help_states_the_convention_and_no_repository_path(command):
    result = invoke(command, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # help wraps lines anywhere
    assert "$ALEXNET_EDGE_DATA/cifar10" in text.replace("$ ALEXNET", "$ALEXNET")
    assert "../shared" not in result.output


@pytest.mark.parametrize(
    "command, args, missing",
    [
        (alexnet_drift, [], "--checkpoint"),
        (alexnet_targets, [], "--checkpoint"),
        (alexnet_debug, ["--model", "m.onnx", "--against", "n.onnx"], "--data-root"),
        (export_alexnet, ["--checkpoint", "x.pt"], "--data-root"),
    ],
)
def test_without_option_or_environment_one_line_says_what_to_pass(command, args, missing, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing relative to a repository layout can help
    result = invoke(command, [*args, "--out", tmp_path / "o"] if command is export_alexnet else args)
    assert result.exit_code == 2, result.output
    assert error_lines(result) == [error_lines(result)[-1]] and f"no {missing}: pass {missing}" in result.output
    assert "ALEXNET_EDGE_DATA" in error_lines(result)[0] and "../shared" not in result.output
    assert not (tmp_path / "o").exists()


def test_environment_supplies_drift_inputs_and_golden_folder(tmp_path, monkeypatch):
    from alexnet_edge.export.drift import gate as drift

    seen = {}

    def fake_check(request, log):
        seen["request"] = request
        return drift.GateResult(Path("b.json"), [], [])

    monkeypatch.setattr(drift, "check", fake_check)
    result = invoke(alexnet_drift, [], env={data_paths.ENV_VAR: str(tmp_path)})
    assert result.exit_code == 0, result.output
    request = seen["request"]
    assert request.checkpoint == tmp_path / "reference/alexnet_cifar10.pt" and request.data_root == tmp_path / "cifar10"
    assert request.reference_dir == tmp_path / "reference"  # the golden logits sit beside the checkpoint


def test_missing_golden_logits_are_called_missing_with_the_option_to_fix_it(tmp_path):
    from alexnet_edge.export.drift.baseline import DriftInputError, check_inputs

    baseline = {
        "inputs": {
            "dataset": {},
            "golden_logits": {"test_logits_fp32_cuda.npy": "ab" * 32},
            "checkpoint": {"sha256": "cd" * 32},
        }
    }
    current = {"dataset": {}, "golden_logits": {}, "checkpoint": {"sha256": "cd" * 32}}
    with pytest.raises(DriftInputError) as info:
        check_inputs(baseline, current, allow_new_checkpoint=False, reference_dir=tmp_path / "ref")
    message = str(info.value)
    assert f"test_logits_fp32_cuda.npy are not in {tmp_path / 'ref'} (no such folder)" in message
    assert "--reference-dir DIR" in message
    assert "sha256 None" not in message


def test_targets_choice_list_and_deprecated_count_aliases(tmp_path, monkeypatch):
    from alexnet_edge.export.targets import judge as targets

    seen = {}

    def fake_run(config, log):
        seen["config"] = config
        return [], []

    monkeypatch.setattr(targets, "run_targets", fake_run)
    env = {data_paths.ENV_VAR: str(tmp_path)}
    bad = invoke(alexnet_targets, ["--target", "x86_avx2"], env=env)
    assert bad.exit_code == 2 and "'x86_avx2' is not one of" in bad.output and "x86-avx2" in bad.output
    new = invoke(alexnet_targets, ["--int8-size", 7, "--fp32-size", 3, "--fp16-size", 0], env=env)
    assert new.exit_code == 0, new.output
    images = seen["config"].images
    assert (images[Precision.INT8], images[Precision.FP32], images[Precision.FP16]) == (7, 3, 0)
    old = invoke(alexnet_targets, ["--int8-images", 9, "--fp32-images", 2], env=env)  # scripts written before still run
    images = seen["config"].images
    assert old.exit_code == 0 and (images[Precision.INT8], images[Precision.FP32]) == (9, 2)
    assert "warning: --int8-images is deprecated; use --int8-size" in old.output
    help_text = invoke(alexnet_targets, ["--help"]).output
    assert "--int8-size" in help_text and "--int8-images" not in help_text


def test_debug_sample_size_and_its_alias(tmp_path, monkeypatch):
    from alexnet_edge.export.debug import layers as layer_debug

    seen = {}

    def fake_run(config, cache, log):
        seen["config"] = config
        return [], "title"

    monkeypatch.setattr(layer_debug, "run_debug", fake_run)
    env = {data_paths.ENV_VAR: str(tmp_path)}
    for option in ("--sample-size", "--images"):
        result = invoke(alexnet_debug, ["--model", "m.onnx", "--target", "aarch64", option, 12], env=env)
        assert result.exit_code == 0, result.output
        assert seen["config"].images == 12 and seen["config"].data_root == tmp_path / "cifar10"
    assert invoke(alexnet_debug, ["--model", "m.onnx", "--target", "host"], env=env).exit_code == 2  # not a choice


def test_inspect_input_size_is_bounded():
    result = invoke(alexnet_inspect, ["--input-size", 100000])
    assert result.exit_code == 2 and "1<=x<=1024" in result.output and "parameters" not in result.output
    assert invoke(alexnet_inspect, ["--input-size", 224, "--variant", "original"]).exit_code == 0


def test_a_missing_cifar_file_suggests_no_option_the_command_lacks(tmp_path):
    from alexnet_edge.calibration import cifar10
    from alexnet_edge.calibration.errors import DatasetError

    with pytest.raises(DatasetError) as info:
        cifar10.load_test(tmp_path)  # what alexnet-drift/-targets/-debug and the bench call: none has --download
    assert "--download" not in str(info.value) and "pass --data-root" in str(info.value)


def test_install_hints_name_installable_packages_and_the_bundle_files(tmp_path):
    from alexnet_edge.runtime.backends.registry import backend_spec, names
    from alexnet_edge.runtime.install_hints import export_hint, in_bundle

    hints = [backend_spec(name).install_hint(bundled=bundled) for name in names() for bundled in (False, True)]
    assert all("alexnet-edge[" not in hint for hint in [*hints, export_hint()])  # a package on no index
    in_a_bundle = backend_spec("tensorrt").install_hint(bundled=True)
    assert "requirements-*.txt" in in_a_bundle and "JetPack" in in_a_bundle
    assert "pip install 'onnxruntime" in backend_spec("onnxruntime").install_hint(bundled=False)
    assert "pip install torch onnx" in export_hint()
    fake = tmp_path / "bundle" / "alexnet_edge" / "runtime" / "install_hints.py"
    fake.parent.mkdir(parents=True)
    assert not in_bundle(fake)
    (tmp_path / "bundle" / "manifest.json").write_text("{}")
    (tmp_path / "bundle" / "verify.py").write_text("")
    assert in_bundle(fake) and not in_bundle()  # this checkout is no bundle


def test_no_library_message_suggests_the_unindexed_package():
    root = REPO
    sources = [p for folder in ("export", "runtime", "calibration") for p in (root / folder).rglob("*.py")]
    offenders = [str(p.relative_to(root)) for p in sources if "pip install 'alexnet-edge[" in p.read_text()]
    assert offenders == []


def test_bench_script_needs_its_inputs_named(tmp_path):
    import subprocess
    import sys

    root = REPO
    env = {k: v for k, v in __import__("os").environ.items() if k != data_paths.ENV_VAR}
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks/cpu_ratios.py")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: no --checkpoint")
