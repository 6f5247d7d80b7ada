"""Running the cross-target evaluation: every (target, model) pair a process of its own (``target_eval``
in the guest), the host first, then the emulated ones longest first, one per core; and reading back what
each wrote (its CPU record, its outputs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from alexnet_edge.export.errors import TargetSetupError
from alexnet_edge.export.targets.cpus import Target, check_cpu, guest_command
from alexnet_edge.export.targets.env import guest_environ
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.precision import Precision


def launch(
    target: Target, specs: list[tuple[Path, int]], images: Path, work: Path, *, arm, stage: Path
) -> subprocess.Popen:
    """Start ``target_eval`` for ``specs`` (model, images) on ``target``; outputs land in work/<target>."""
    threads = (os.cpu_count() or 1) if target.emulator is None else 1  # qemu-user: one emulated thread each
    cmd = [
        *guest_command(target, arm=arm),
        "-m",
        "alexnet_edge.runtime.target_eval",
        "--images",
        str(images),
        "--out",
        str(work / target.label),
        "--threads",
        str(threads),
        "--label",
        target.label,
        *(f"{path}:{n}" for path, n in specs),
    ]
    env = guest_environ(os.environ, stage=stage, emulated=target.emulator is not None)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.held_back = []  # a guest traceback: kept for the one error line, not shown
    proc.forwarder = threading.Thread(target=_forward_progress, args=(proc.stderr, proc.held_back), daemon=True)
    proc.forwarder.start()
    return proc


def _forward_progress(stream, held_back: list[str]) -> None:
    # Progress lines are shown; a traceback or the guest's own "error:" line is kept for the host's one
    # error line; qemu lists every CPUID bit its TCG lacks at each start: not what the user is waiting for.
    for line in stream:
        if held_back or line.startswith(("Traceback (most recent call last)", "error: ")):
            held_back.append(line.rstrip())
        elif "TCG doesn't support requested feature" not in line:
            sys.stderr.write(line)


# Seconds per image under qemu by (qemu CPU, model), measured by make test-targets (docs/targets.md): FP32
# under EPYC-Milan emulates its AVX2/FMA float code, FP16 on the A76 its FP16 arithmetic. Only the order
# of the jobs uses it (longest first keeps both cores busy to the end), so a rough figure is enough.
EMULATED_SECONDS_PER_IMAGE = {
    ("EPYC-Milan", Precision.FP32.onnx_name): 11.0,
    ("cortex-a76", Precision.FP16.onnx_name): 4.5,
    ("cortex-a72", Precision.FP16.onnx_name): 2.3,
    ("cortex-a76", Precision.FP32.onnx_name): 2.2,
    ("cortex-a72", Precision.FP32.onnx_name): 2.2,
    ("Snowridge", Precision.FP32.onnx_name): 1.5,
}
INT8_SECONDS_PER_IMAGE = 0.25


def _cost(target: Target, spec: tuple[Path, int]) -> float:
    path, n = spec  # a shipped model's file name; any other (alexnet-debug's marked copies) costs as INT8
    return n * EMULATED_SECONDS_PER_IMAGE.get((target.qemu_cpu, path.name), INT8_SECONDS_PER_IMAGE)


def run_on(
    targets: list[Target],
    specs: dict[str, list[tuple[Path, int]]],
    work: Path,
    *,
    arm,
    stage: Path,
    keep_going: bool = False,
) -> dict[tuple[str, str], str]:
    """The host first (it is the yardstick, all cores); then every emulated (target, model) pair as a
    process of its own, longest first, one per core. A guest that dies stops the run, or with
    ``keep_going`` is returned as {(target label, model file name): why} while the others go on."""
    died: dict[tuple[str, str], str] = {}
    for target in (t for t in targets if t.emulator is None):
        _wait(target, launch(target, specs[target.label], work / "images.npy", work, arm=arm, stage=stage))
    jobs = sorted(
        ((t, spec) for t in targets if t.emulator is not None for spec in specs[t.label]), key=lambda j: -_cost(*j)
    )
    running: list[tuple[Target, Path, subprocess.Popen]] = []
    while jobs or running:
        while jobs and len(running) < (os.cpu_count() or 1):
            target, spec = jobs.pop(0)
            proc = launch(target, [spec], work / "images.npy", work, arm=arm, stage=stage)
            running.append((target, spec[0], proc))
        finished = [job for job in running if job[2].poll() is not None]
        for target, model, proc in finished:
            running.remove((target, model, proc))
            why = _death(proc)
            if why is not None and not keep_going:
                raise AlexNetEdgeError(f"target {target.label}: the guest run failed ({why})")
            if why is not None:
                died[(target.label, model.name)] = why
        if not finished:
            time.sleep(0.5)
    return died


def _wait(target: Target, proc: subprocess.Popen) -> None:
    why = _death(proc)
    if why is not None:
        raise AlexNetEdgeError(f"target {target.label}: the guest run failed ({why})")


def _death(proc: subprocess.Popen) -> str | None:
    """None for a guest that exited 0; else why it did not, in one line (a signal by name)."""
    if proc.wait() == 0:
        return None
    proc.forwarder.join(timeout=10)
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        meaning = (
            " (illegal instruction: this onnxruntime uses an instruction the CPU lacks)" if name == "SIGILL" else ""
        )
        return f"killed by {name}{meaning}"
    why = next((line.strip() for line in reversed(proc.held_back) if line.strip()), "see its output above")
    return f"exit {proc.returncode}: {why.removeprefix('error: ')[:400]}"


def read_cpu(work: Path, target: Target) -> dict:
    try:
        record = json.loads((work / target.label / "cpu.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise AlexNetEdgeError(
            f"target {target.label}: the guest run wrote no cpu.json (see its output above)"
        ) from None
    if target.emulator is not None:
        check_cpu(target, record)
    if target.onnxruntime is not None and record.get("onnxruntime") != target.onnxruntime:
        raise TargetSetupError(f"target {target.label}: the guest ran onnxruntime {record.get('onnxruntime')}")
    return record


def read_outputs(work: Path, target: Target, model: Path) -> tuple[dict[str, np.ndarray], float]:
    with np.load(work / target.label / f"{model.stem}.npz") as data:
        outputs = {k: data[k] for k in data.files if k != "__seconds__"}
        return outputs, float(data["__seconds__"])
