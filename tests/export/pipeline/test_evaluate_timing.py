"""The pipeline's benchmark (issue #28 §6): each row's figures timed for a minimum of runs AND seconds, with no
percentile the runs cannot support, and no onnxruntime session left spinning idle beside the others."""

import contextlib
from types import SimpleNamespace

import numpy as np

from alexnet_edge.export.pipeline.artifacts import Artifact, ArtifactKind, Converted, Engines
from alexnet_edge.export.pipeline.evaluate import EvaluateOptions, open_runners, time_row
from alexnet_edge.runtime.bench import TimingPolicy
from alexnet_edge.runtime.precision import Precision


class CountingRunner:
    backend, name, min_batch, max_batch = "fake", "fake", None, None

    def __init__(self):
        self.calls = 0

    def infer(self, batch):
        self.calls += 1


def test_each_figure_gets_the_minimum_runs_and_no_unsupported_percentile():
    row, runner = SimpleNamespace(), CountingRunner()
    data = SimpleNamespace(images=np.zeros((4, 3, 32, 32), np.float32))
    time_row(row, runner, data, (1, 256), TimingPolicy(warmup=1, min_runs=12, min_seconds=0.0))
    assert {b: s.runs for b, s in row.latency.items()} == {1: 12, 256: 12} and runner.calls == 2 * 13
    assert all(s.p90 is not None and s.p99 is None and "p99" in s.omitted for s in row.latency.values())


def test_the_options_carry_minimum_runs_and_seconds():
    timing = EvaluateOptions(tolerance=None, bench_budget_s=2.5, bench_min_runs=40).timing
    assert (timing.min_runs, timing.min_seconds) == (40, 2.5)


def test_onnxruntime_rows_do_not_spin_idle_beside_the_others(tmp_path):
    from support.hostile import signature_model

    model = signature_model(tmp_path / "model.fp32.onnx")
    converted = Converted(models=(Artifact(Precision.FP32, model, ArtifactKind.ONNX),))
    with contextlib.ExitStack() as stack:
        runners = open_runners(stack, object(), converted, Engines(), backends=("onnxruntime",))
        ((ort, _),) = [(r, p) for r, p in runners[1:]]
        options = ort.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
