"""runtime/bench.py: each figure timed for a minimum of runs AND seconds, no percentile the runs cannot
support, the spread reported, batch sizes a runner cannot take skipped, and interleaved runners never
measured with onnxruntime's idle threads spinning (issue #28 §6). Fake clocks and runners: no absolute times."""

import logging

import numpy as np
import pytest

from alexnet_edge.runtime.bench import (
    LatencyStats,
    TimingPolicy,
    images_per_s,
    measure_interleaved,
    measure_latency,
    runs_needed,
    summarize,
    time_call,
)
from alexnet_edge.runtime.errors import InputError, RunnerStateError

IMAGES = np.zeros((4, 3, 32, 32), np.float32)


class FakeClock:
    """Each ``tick()`` moves time on by ``step`` seconds; reading it does not."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.step


class FakeRunner:
    """A runner whose every call takes one tick of ``clock``; records the batch sizes it was given."""

    allow_spinning = False  # as BaseRunner declares it

    def __init__(self, name="fake", clock=None, min_batch=None, max_batch=None, allow_spinning=None):
        self.name, self.clock, self.min_batch, self.max_batch = name, clock, min_batch, max_batch
        self.is_active, self.calls, self.events = False, [], None
        if allow_spinning is not None:
            self.allow_spinning = allow_spinning
        self.spinning_at_activate = None

    def __enter__(self):
        self.is_active = True
        self.spinning_at_activate = getattr(self, "allow_spinning", None)
        return self

    def __exit__(self, *exc):
        self.is_active = False

    def infer(self, batch):
        self.calls.append(batch.shape[0])
        if self.events is not None:
            self.events.append(self.name)
        if self.clock is not None:
            self.clock.tick()


def test_runs_needed_per_percentile():
    assert (runs_needed(50), runs_needed(90), runs_needed(99)) == (2, 10, 100)


def test_twenty_runs_give_no_p99_and_say_why():
    stats = summarize(1, list(np.linspace(1.0, 3.0, 20)))
    assert stats.p50 is not None and stats.p90 is not None and stats.p99 is None
    assert "p99" not in stats.to_dict() and "p99" not in stats.to_json()["latency_ms"]
    assert stats.omitted["p99"] == "needs at least 100 runs, had 20"
    assert stats.to_json()["latency_ms"]["p90"]["runs"] == 20
    assert "p99 not given (needs at least 100 runs, had 20)" in stats.text()


def test_a_hundred_runs_give_p99_and_five_give_only_p50():
    assert summarize(1, [1.0] * 100).p99 == 1.0
    five = summarize(256, [100.0, 101.0, 102.0, 103.0, 200.0])
    assert five.p50 == 102.0 and five.p90 is None and five.p99 is None and set(five.omitted) == {"p90", "p99"}


def test_spread_is_the_interquartile_range_and_throughput_is_at_the_p50():
    stats = summarize(8, [float(v) for v in range(1, 101)])
    assert stats.spread == pytest.approx((np.percentile(range(1, 101), 25), np.percentile(range(1, 101), 75)))
    assert stats.throughput == pytest.approx(images_per_s(8, stats.p50)) == pytest.approx(8000.0 / stats.p50)
    assert summarize(1, [1.0, 2.0, 3.0]).spread is None  # a quartile needs 4 runs


def test_row_form_round_trips():
    stats = summarize(32, [float(v) for v in range(1, 31)])
    back = LatencyStats.from_dict(32, stats.to_dict())
    assert back == stats


def test_a_figure_runs_until_it_has_the_minimum_runs_and_seconds():
    clock = FakeClock(step=1 / 64)  # every call takes 15.625 ms of fake time (exact in binary)
    calls = []

    def call():
        calls.append(1)
        clock.tick()

    samples = time_call(call, TimingPolicy(warmup=3, min_runs=5, min_seconds=0.5), clock=clock)
    assert len(samples) == 32 and len(calls) == 35  # 0.5 s takes 32 calls, more than 5 runs; warm-up untimed
    assert samples == pytest.approx([15.625] * 32)
    samples = time_call(call, TimingPolicy(warmup=0, min_runs=80, min_seconds=0.5), clock=clock)
    assert len(samples) == 80  # 80 runs outlast 0.5 s


def test_a_slow_batch_still_gets_its_minimum_runs():
    """Issue #28: 1 s per batch size gave batch 256 five runs and a 'p99' from five samples."""
    clock = FakeClock(step=0.25)
    runner = FakeRunner(clock=clock)
    stats = measure_latency(
        runner, IMAGES, batch_sizes=(256,), policy=TimingPolicy(warmup=1, min_runs=20, min_seconds=1.0), clock=clock
    )["256"]
    assert stats.runs == 20 and stats.seconds == pytest.approx(5.0) and stats.p99 is None
    assert set(runner.calls) == {256}  # 256 images tiled from 4


def test_bad_policy_is_refused():
    with pytest.raises(InputError, match="min_runs >= 1"):
        TimingPolicy(min_runs=0)


def test_batch_sizes_the_runner_cannot_take_are_skipped_with_one_line(caplog):
    runner = FakeRunner(name="tensorrt:model.fp16.engine", min_batch=32, max_batch=32)
    with caplog.at_level(logging.INFO, logger="alexnet_edge"):
        result = measure_latency(runner, IMAGES, batch_sizes=(1, 32, 256), policy=TimingPolicy(0, 2, 0.0))
    assert list(result) == ["32"] and set(runner.calls) == {32}
    lines = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(lines) == 1 and "1, 256" in lines[0] and "32" in lines[0]


def test_interleaved_runners_alternate_and_never_spin_idle():
    events = []
    runners = {n: FakeRunner(name=n, allow_spinning=True) for n in ("a", "b")}
    for r in runners.values():
        r.events = events
    stats = measure_interleaved(
        runners, IMAGES, batch_sizes=(1,), policy=TimingPolicy(0, 6, 0.0), calls_per_turn=lambda size: 2
    )
    assert {k: s.runs for k, s in stats.items()} == {("a", 1): 6, ("b", 1): 6}
    assert events[:6] == ["a", "a", "b", "b", "a", "a"]  # alternated in rounds, not one after the other
    assert all(r.spinning_at_activate is False and not r.is_active for r in runners.values())


def test_interleaving_refuses_an_active_runner_that_spins():
    runner = FakeRunner(name="ort", allow_spinning=True).__enter__()
    with pytest.raises(RunnerStateError, match="allow_spinning=False"):
        measure_interleaved({"ort": runner}, IMAGES, batch_sizes=(1,), policy=TimingPolicy(0, 1, 0.0))


def test_interleaved_onnxruntime_sessions_do_not_spin(tiny_alexnet_onnx):
    """onnxruntime's idle threads spin after each run (issue #28: p50 3-64 ms with spinning, 1.4 ms without)."""
    from alexnet_edge.runtime.backends.onnxruntime.runner import OnnxRuntimeRunner

    runners = {p: OnnxRuntimeRunner(tiny_alexnet_onnx, threads=1) for p in ("first", "second")}
    seen = {}

    def log(line):
        seen.update(
            {
                name: r.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
                for name, r in runners.items()
            }
        )

    measure_interleaved(runners, IMAGES, batch_sizes=(1,), policy=TimingPolicy(0, 2, 0.0), log=log)
    assert seen == {"first": "0", "second": "0"}


@pytest.fixture
def tiny_alexnet_onnx(tmp_path):
    from support.hostile import signature_model

    return signature_model(tmp_path / "model.tiny.onnx")


def test_summarize_percentiles():
    stats = summarize(4, [1.0, 2.0, 3.0, 4.0, 100.0] * 20)
    assert stats.p50 == 3.0 and stats.mean == 22.0 and stats.throughput == pytest.approx(4 * 1000 / 3.0)
    stats = summarize(4, [float(v) for v in range(1, 101)])
    assert stats.p99 > stats.p90 > stats.p50 == 50.5


def test_measure_latency_runs_each_batch_size():
    seen = []

    class Recorder:
        name, min_batch, max_batch = "recorder", None, None  # BaseRunner's declared interface, as used here

        def infer(self, batch):
            seen.append(batch.shape[0])

    images = np.zeros((5, 3, 32, 32), np.float32)
    result = measure_latency(Recorder(), images, batch_sizes=(1, 8), policy=TimingPolicy(2, 3, 0.0))
    assert set(result) == {"1", "8"} and result["8"].runs == 3
    assert seen == [1] * 5 + [8] * 5  # warm-up plus timed runs; 8 tiles the 5 images


def test_measure_latency_logs_a_line_per_batch_size():
    """A piped log hears from the benchmark after every batch size, not once per runner."""

    class Idle:
        name, min_batch, max_batch = "idle", None, None

        def infer(self, batch):
            return None

    lines = []
    images = np.zeros((4, 3, 32, 32), np.float32)
    measure_latency(Idle(), images, batch_sizes=(1, 2, 4), policy=TimingPolicy(0, 2, 0.0), log=lines.append)
    assert [line.split(":")[0] for line in lines] == ["  batch 1", "  batch 2", "  batch 4"] and all(
        "(2 runs)" in line for line in lines
    )
    assert measure_latency(Idle(), images, batch_sizes=(1,), policy=TimingPolicy(0, 1, 0.0))  # log is optional
