"""A run that says what it did: stage lines, heartbeat progress off a terminal, the end summary,
--log-file, --no-bench honesty, a busy-machine note, and a one-line refusal without the [export] extra."""

import json
import subprocess
import sys

from click.testing import CliRunner

from alexnet_edge.export.cli import export_alexnet
from alexnet_edge.export.report import plot_title, render_markdown, render_plot
from alexnet_edge.runtime import progress


def test_no_bench_run_summary_and_log_file(checkpoint, data_root, tmp_path):
    out, log_file = tmp_path / "out", tmp_path / "run.log"
    args = ["--checkpoint", checkpoint, "--data-root", data_root, "--out", out, "--eval-size", 300, "--no-bench", "--log-file", log_file]
    result = CliRunner().invoke(export_alexnet, [str(a) for a in args])  # stderr is not a terminal here
    assert result.exit_code == 0, result.output
    for stage in ("[data]", "[checkpoint]", "[reference]", "[export]", "[fp16/int8]", "[engines]", "[evaluate]", "[report]"):
        assert stage in result.output
    summary = result.output.split("── summary")[1]
    assert f"report.md      {out.resolve() / 'report.md'}" in summary and "report.png" not in summary  # nothing timed: no plot
    assert "skipped        benchmark: --no-bench (no latency figures)" in summary and "TensorRT engines skipped:" in summary
    assert "exit status    0: every artifact is within its tolerance" in summary and "total " in summary
    report_md = (out / "report.md").read_text()
    assert "Latency was not measured (--no-bench)." in report_md and "Latency measured on" not in report_md
    assert json.loads((out / "report.json").read_text())["timing"]["measured"] is False
    logged = log_file.read_text().splitlines()
    assert logged[0][:4].isdigit() and any("[export]" in line for line in logged) and any("exit status" in line for line in logged)


def test_heartbeat_lines_every_tenth_or_ten_seconds(monkeypatch):
    clock = iter(range(0, 1000, 1))  # one second per item
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    lines = []
    assert list(progress.track(range(40), total=40, desc="onnxruntime:fp32", unit="batches", progress=lines.append)) == list(range(40))
    assert lines[0] == "  onnxruntime:fp32: 4/40 batches (10%, 4 s)" and len(lines) == 9  # 10% ... 90%; the caller logs 100%
    slow, lines = iter(range(0, 10000, 30)), []  # 30 s per item, 1000 items: the 10 s rule fires on every item
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(slow))
    list(progress.track(range(5), total=1000, desc="x", unit="batches", progress=lines.append))
    assert len(lines) == 5


def test_busy_machine_is_said_in_report_and_plot(tmp_path):
    row = {"backend": "onnxruntime", "device": "cpu", "precision": "int8", "size_mb": 29.0, "accuracy": 0.88, "accuracy_delta": -0.001,
           "top1_agreement": 0.99, "max_abs_diff": 0.5, "within_tolerance": True, "failures": [],
           "latency_ms": {str(b): {"p50": b * 0.5, "p90": b * 0.6, "p99": b * 0.7, "mean": b * 0.55, "runs": 20} for b in (1, 8, 32)}}  # fmt: skip
    report = {"eval_images": 100, "eval_subset": "first 100", "reference": {"device": "cpu"}, "rows": [row], "created": "2026-11-28T10:00:00+00:00",
              "host": {"cpu": "AMD EPYC"}, "timing": {"measured": True, "busy": True, "load_average_at_start": [3.5, 2.0, 1.0], "cores": 2}}  # fmt: skip
    text = render_markdown(report)
    assert "20–20 timed runs per figure" in text and "**The machine was busy** (load average 3.50 on 2 cores" in text
    assert plot_title(report) == "AlexNet CIFAR-10 on AMD EPYC — 2026-11-28 (busy machine: timings noisy, load 3.50/2 cores)"
    from PIL import Image

    with Image.open(render_plot([row], tmp_path / "p.png", title=plot_title(report))) as image:
        assert image.size[0] > 2 * image.size[1]  # two panels side by side


def test_runtime_only_install_names_the_missing_extra(tmp_path):
    """As in an install with only [cpu]: torch and onnx cannot be imported."""
    code = ("import sys; sys.modules['onnx'] = None; sys.modules['torch'] = None\n"
            "from alexnet_edge.export.cli import export_alexnet, alexnet_drift\n"
            "cmd = {'export': (export_alexnet, 'export-alexnet'), 'drift': (alexnet_drift, 'alexnet-drift')}[sys.argv[1]]\n"
            "cmd[0](sys.argv[2:], prog_name=cmd[1])")  # fmt: skip
    for name, extra in (("export", ["--checkpoint", "x.pt"]), ("drift", [])):
        proc = subprocess.run([sys.executable, "-c", code, name, *extra], capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip().endswith("needs the [export] extra, which is not installed (no module 'onnx'): pip install 'alexnet-edge[export]'")
    help_run = subprocess.run([sys.executable, "-c", code, "export", "--help"], capture_output=True, text=True, timeout=120)
    assert help_run.returncode == 0 and "--calib-size" in help_run.stdout


def test_stage_lines_and_a_failing_stage_adds_nothing():
    from alexnet_edge.export.run_summary import StageClock

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
    assert [line.split(" ")[0] for line in lines] == ["[quiet]", "[talks]", "working", "[talks]"]
    assert lines[0].endswith(" s") and lines[1] == "[talks]" and set(clock.seconds) == {"quiet", "talks"}
