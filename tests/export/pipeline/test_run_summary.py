"""A run that says what it did: stage lines, heartbeat progress off a terminal, the end summary,
--log-file, --no-bench honesty, a busy-machine note, and a one-line refusal without the [export] extra."""

import json
import re
import subprocess
import sys

import numpy as np
from click.testing import CliRunner
from support.cli_args import run_args
from support.results import make_result, reference_logits

from alexnet_edge.export.cli.export import export_alexnet
from alexnet_edge.export.report.render import plot_title, render_plot, render_report_md
from alexnet_edge.runtime import progress
from alexnet_edge.runtime.bench import summarize
from alexnet_edge.runtime.precision import Precision


def test_no_bench_run_summary_and_log_file(checkpoint, data_root, tmp_path):
    out, log_file = tmp_path / "out", tmp_path / "run.log"
    args = [
        *run_args(checkpoint, data_root, out),
        "--eval-size",
        300,
        "--no-bench",
        "--log-file",
        log_file,
    ]
    result = CliRunner().invoke(export_alexnet, [str(a) for a in args])  # stderr is not a terminal here
    assert result.exit_code == 0, result.output
    for stage in (
        "[data]",
        "[checkpoint]",
        "[reference]",
        "[export]",
        "[convert]",
        "[engines]",
        "[evaluate]",
        "[report]",
    ):
        assert stage in result.output
    summary = result.output.split("── summary")[1]
    assert (
        f"report.md      {out.resolve() / 'report.md'}" in summary and "report.png" not in summary
    )  # nothing timed: no plot
    assert (
        "skipped        benchmark: --no-bench (no latency figures; every row still evaluated on 300 images: "
        "--eval-size N for fewer)"
        in summary
        and "TensorRT engines skipped:" in summary
    )
    assert "exit status    0: every artifact is within its tolerance" in summary and "total " in summary
    report_md = (out / "report.md").read_text()
    assert "Latency was not measured (--no-bench)." in report_md and "Latency measured on" not in report_md
    assert json.loads((out / "report.json").read_text())["timing"]["measured"] is False
    logged = log_file.read_text().splitlines()
    assert (
        logged[0][:4].isdigit()
        and any("[export]" in line for line in logged)
        and any("exit status" in line for line in logged)
    )


def test_heartbeat_lines_every_tenth_or_ten_seconds(monkeypatch):
    clock = iter(range(0, 1000, 1))  # one second per item
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    lines = []
    assert list(
        progress.track(range(40), total=40, desc="onnxruntime:fp32", unit="batches", progress=lines.append)
    ) == list(range(40))
    assert (
        lines[0] == "  onnxruntime:fp32: 4/40 batches (10%, 4 s)" and len(lines) == 9
    )  # 10% ... 90%; the caller logs 100%
    slow, lines = iter(range(0, 10000, 30)), []  # 30 s per item, 1000 items: the 10 s rule fires on every item
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(slow))
    list(progress.track(range(5), total=1000, desc="x", unit="batches", progress=lines.append))
    assert len(lines) == 5


def test_busy_machine_is_said_in_report_and_plot(tmp_path):
    # report.md reads its rows back as typed Results (runtime/results.py): a row as the pipeline writes it
    logits, labels = reference_logits()
    latency = {b: summarize(b, np.linspace(0.45, 0.55, 20) * b) for b in (1, 8, 32)}  # 20 timed runs each
    row = make_result("onnxruntime", Precision.INT8, logits, logits, labels, size_mb=29.0, latency=latency).to_dict()
    report = {
        "eval_images": 100,
        "eval_subset": "first 100",
        "reference": {"device": "cpu"},
        "rows": [row],
        "created": "2026-11-28T10:00:00+00:00",
        "host": {"cpu": "AMD EPYC"},
        "timing": {"measured": True, "busy": True, "load_average_at_start": [3.5, 2.0, 1.0], "cores": 2},
    }
    text = render_report_md(report)
    assert "20–20 timed runs per figure" in text and "**The machine was busy** (load average 3.50 on 2 cores" in text
    assert (
        plot_title(report)
        == "AlexNet CIFAR-10 on AMD EPYC — 2026-11-28 (busy machine: timings noisy, load 3.50/2 cores)"
    )
    from PIL import Image

    with Image.open(render_plot([row], tmp_path / "p.png", title=plot_title(report))) as image:
        assert image.size[0] > 2 * image.size[1]  # two panels side by side


def test_runtime_only_install_names_the_missing_extra(tmp_path):
    """As in an install with only [cpu]: torch and onnx cannot be imported."""
    code = (
        "import sys; sys.modules['onnx'] = None; sys.modules['torch'] = None\n"
        "from alexnet_edge.export.cli.export import export_alexnet\n"
        "from alexnet_edge.export.cli.drift import alexnet_drift\n"
        "cmd = {'export': (export_alexnet, 'export-alexnet'), 'drift': (alexnet_drift, 'alexnet-drift')}[sys.argv[1]]\n"
        "cmd[0](sys.argv[2:], prog_name=cmd[1])"
    )
    for name, extra in (("export", ["--checkpoint", "x.pt"]), ("drift", [])):
        proc = subprocess.run(
            [sys.executable, "-c", code, name, *extra], capture_output=True, text=True, cwd=tmp_path, timeout=120
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        line = proc.stderr.strip()
        # whichever of the two the command imports first is the one named
        assert re.search(r"needs the \[export\] extra, which is not installed \(no module '(onnx|torch)'\)", line), line
        assert line.endswith(
            ": pip install torch onnx onnxscript onnxsim onnxslim onnxconverter-common matplotlib; "
            "from an alexnet-edge checkout: pip install -e '.[export]'"
        )
    help_run = subprocess.run(
        [sys.executable, "-c", code, "export", "--help"], capture_output=True, text=True, timeout=120
    )
    assert help_run.returncode == 0 and "--calib-size" in help_run.stdout


def test_stage_lines_and_a_failing_stage_adds_nothing():
    from alexnet_edge.export.pipeline.summary import StageClock

    lines = []
    clock = StageClock(lines.append)
    with clock.stage("quiet"):
        pass
    with clock.stage("talks"):
        clock("working")
    try:
        with clock.stage("fails"):
            raise ValueError("bad input")
    except ValueError:
        pass
    # Each header comes as its stage starts, before any of its work (not held back until its first
    # line); a failing stage gets no end line and no time.
    assert lines == ["[quiet]", lines[1], "[talks]", "working", lines[4], "[fails]"]
    assert lines[1].startswith("[quiet] ") and lines[4].startswith("[talks] ") and lines[4].endswith(" s")
    assert set(clock.seconds) == {"quiet", "talks"}


def test_stage_header_is_written_before_the_stage_body_runs():
    from alexnet_edge.export.pipeline.summary import StageClock

    lines = []
    clock = StageClock(lines.append)
    with clock.stage("slow"):
        seen_inside = list(lines)  # what a piped reader has seen while the stage works silently
    assert seen_inside == ["[slow]"]


def test_summary_lists_the_bundle_folder_and_archive(tmp_path):
    from alexnet_edge.export.pipeline.summary import render_summary

    out, bundle = tmp_path / "out", tmp_path / "edge"
    out.mkdir()
    bundle.mkdir()
    (tmp_path / "edge.tar.gz").write_bytes(b"\0" * (3 << 20))
    text = render_summary(
        out_dir=out, files=[], stage_seconds={"bundle": 1.0}, total_s=1.0, skipped=[], failures=0, bundle=bundle
    )
    assert f"  bundle         {bundle.resolve()}/ (README.md, verify.py" in text
    assert f"  bundle archive {tmp_path.resolve() / 'edge.tar.gz'} (3 MiB)" in text
    assert "bundle" not in render_summary(out_dir=out, files=[], stage_seconds={}, total_s=0, skipped=[], failures=0)


def test_bundle_archive_heartbeat_while_compressing(monkeypatch):
    import io

    from alexnet_edge.export.bundle import writer as bundle

    clock = iter(range(0, 1000, 4))  # 4 s per write
    monkeypatch.setattr(bundle.time, "monotonic", lambda: next(clock))
    lines, sink = [], io.BytesIO()
    writer = bundle._Heartbeat(sink, lines.append)
    for _ in range(6):
        writer.write(b"x" * (1 << 20))
    assert sink.getvalue() == b"x" * (6 << 20)  # what is written passes through unchanged
    assert lines == [
        "  compressing: 3 MiB written (12 s)",
        "  compressing: 6 MiB written (24 s)",
    ]  # >= 10 s apart, never silent longer


def test_a_silent_stage_gets_a_still_working_line_and_stops_when_it_ends():
    import threading
    import time

    from alexnet_edge.export.pipeline.summary import StageClock

    lines = []
    clock = StageClock(lines.append, tick_s=0.2)
    with clock.stage("opaque"):
        time.sleep(0.9)  # a step that prints nothing (torch.onnx export, gzip, ...)
    ended = len(lines)
    time.sleep(0.5)
    assert lines[0] == "[opaque]" and lines[-1].startswith("[opaque] ") and len(lines) == ended  # nothing after the end
    ticks = [line for line in lines if "still working" in line]
    assert 2 <= len(ticks) <= 5 and ticks[0].startswith("  [opaque] still working (")
    assert not [t for t in threading.enumerate() if t.name.startswith("stage-heartbeat")]
    quiet = StageClock(lines.append)  # no tick_s (a terminal, or --quiet): no thread, no extra line
    with quiet.stage("x"):
        assert not [t for t in threading.enumerate() if t.name.startswith("stage-heartbeat")]
