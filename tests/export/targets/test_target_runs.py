"""A guest that dies (onnxruntime 1.21.0's SIGILL on a Cortex-A72, onnxruntime #23957) becomes a row of the
table saying so, and the other targets still run; only the host, the yardstick, stops the run."""

import math
import subprocess
import sys
import threading

import pytest

from alexnet_edge.export.targets.cpus import default_targets
from alexnet_edge.export.targets.judge import _died, render_targets_md
from alexnet_edge.export.targets.runs import _death, run_on
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.precision import Precision

A72 = next(t for t in default_targets() if t.name == "aarch64-a72").with_onnxruntime("1.21.0", share=0.5)


def _guest(code: str) -> subprocess.Popen:
    """A process shaped like target_runs.launch's: stderr read by a forwarder into held_back."""
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    proc.held_back = []
    proc.forwarder = threading.Thread(target=lambda: proc.held_back.extend(proc.stderr), daemon=True)
    proc.forwarder.start()
    return proc


def test_a_guest_killed_by_a_signal_is_said_by_name():
    why = _death(_guest("import os, signal; os.kill(os.getpid(), signal.SIGILL)"))
    assert why.startswith("killed by SIGILL") and "instruction the CPU lacks" in why
    assert _death(_guest("import sys; sys.stderr.write('boom\\n'); sys.exit(3)")) == "exit 3: boom"
    assert _death(_guest("pass")) is None


def test_a_died_pair_is_a_failing_row_of_the_table():
    row = _died(A72, Precision.INT8, 200, "killed by SIGILL (illegal instruction: ...)")
    assert not row.within_tolerance and math.isnan(row.comparison.accuracy) and row.target.runtime == "1.21.0"
    assert row.target.died.startswith("killed by SIGILL") and not row.is_reference
    assert "aarch64-a72@1.21.0:int8: the guest died: killed by SIGILL" in row.failures[0]
    line = render_targets_md([row]).splitlines()[-1]
    assert line.startswith("| aarch64-a72@1.21.0 | 1.21.0 | int8 | 200 |") and line.endswith("NO: died |")


def test_emulated_jobs_that_die_are_returned_while_the_others_finish(tmp_path, monkeypatch):
    from alexnet_edge.export.targets import runs as target_runs

    def launch(target, specs, images, work, *, arm, stage):
        ((path, _),) = specs
        return _guest("import os, signal; os.kill(os.getpid(), signal.SIGILL)" if "int8" in path.name else "pass")

    monkeypatch.setattr(target_runs, "launch", launch)
    specs = {A72.label: [(tmp_path / "model.int8.onnx", 2), (tmp_path / "model.fp32.onnx", 2)]}
    died = run_on([A72], specs, tmp_path, arm=None, stage=tmp_path, keep_going=True)
    assert list(died) == [(A72.label, "model.int8.onnx")] and "SIGILL" in died[(A72.label, "model.int8.onnx")]
    with pytest.raises(AlexNetEdgeError, match="aarch64-a72@1.21.0: the guest run failed \\(killed by SIGILL"):
        run_on([A72], specs, tmp_path, arm=None, stage=tmp_path)  # alexnet-debug: one pair is the whole answer
