"""The backend flags of the export and targets CLIs: choices from the registry, ``--backend-option`` and
the old OpenVINO-only flags kept as aliases of it."""

from __future__ import annotations

from click.testing import CliRunner

from alexnet_edge.export.cli.export import export_alexnet, pipeline_specs
from alexnet_edge.export.cli.targets import alexnet_targets
from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.export.targets import judge as targets
from alexnet_edge.runtime.backends.registry import BackendOptions


def test_export_and_targets_keep_their_old_backend_flags_as_aliases(tmp_path, monkeypatch):
    ctx = export_alexnet.make_context("export-alexnet", ["--ov-precision", "bf16", "--backends", "openvino"])
    _, evaluation, _ = pipeline_specs(ctx.params)
    assert evaluation.backend_options == BackendOptions.parse(["openvino.precision=bf16"])
    assert evaluation.backends == ("openvino",)
    seen = {}
    monkeypatch.setattr(targets, "run_targets", lambda config, log: (seen.setdefault("config", config), ([], []))[1])
    args = ["--host-openvino", "--host-backend", "openvino", "--backend-option", "openvino.threads=1"]
    result = CliRunner().invoke(alexnet_targets, args, env={data_paths.ENV_VAR: str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert seen["config"].host_backends == ("openvino",)  # the alias and the name: one run
    assert seen["config"].backend_options.for_backend("openvino") == {"threads": 1}
    bad = CliRunner().invoke(alexnet_targets, ["--host-backend", "tflite"], env={data_paths.ENV_VAR: str(tmp_path)})
    assert bad.exit_code == 2 and "'tflite' is not one of" in bad.output
