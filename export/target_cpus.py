"""The CPUs of the cross-target run, and how the evaluation is run on each: natively for the host,
under qemu-user for the others, every (target, model) pair a process of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.errors import AlexNetEdgeError

from . import target_env


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    emulator: str | None  # None: the host itself; "x86_64" or "aarch64": qemu-user
    qemu_cpu: str | None = None
    need: tuple[str, ...] = ()  # numpy CPU features (CPUID/HWCAP) the emulated CPU must show
    refuse: tuple[str, ...] = ()  # substrings of features it must not show
    counts: dict[str, int] = field(default_factory=dict)  # precision -> images (0 or absent: skipped)


def default_targets(int8: int = 400, fp32: int = 50, fp16: int = 100) -> list[Target]:
    host_n = max(int8, fp32, fp16)
    return [
        Target("host", "this machine, native", None, counts={"fp32": host_n, "fp16": host_n, "int8": host_n}),
        # EPYC-Milan: AVX2 + FMA without any AVX-512 or VNNI, the int8 path of AMD Zen 2/3 and Intel
        # Haswell..Skylake client CPUs; a current qemu model, so TCG implements all of its AVX2.
        Target("x86-avx2", "x86-64 AVX2+FMA, no VNNI (qemu-x86_64 -cpu EPYC-Milan)", "x86_64", "EPYC-Milan",
               need=("AVX2", "FMA3"), refuse=("AVX512", "VNNI"), counts={"fp32": fp32, "int8": int8}),  # fmt: skip
        # Cortex-A76: dot product and FP16 arithmetic, as Jetson Orin's A78AE.
        Target("aarch64", "aarch64 Cortex-A76 (qemu-aarch64 -cpu cortex-a76, Debian arm64 userland)", "aarch64", "cortex-a76",
               need=("ASIMDDP", "ASIMDHP"), counts={"fp32": fp32, "fp16": fp16, "int8": int8}),  # fmt: skip
    ]


def check_cpu(target: Target, record: dict) -> None:
    """Refuse a run whose emulated CPU is not the one it claims to be."""
    features = record.get("numpy_features", [])
    missing = [f for f in target.need if f not in features]
    extra = [f for f in features if any(bad in f for bad in target.refuse)]
    if missing or extra:
        raise target_env.TargetSetupError(
            f"target {target.name}: the CPU seen by the guest is not the intended one "
            f"(missing {missing or 'nothing'}, unexpectedly present {extra or 'nothing'})"
        )


def guest_command(target: Target, *, arm: target_env.ArmUserland | None) -> list[str]:
    if target.emulator is None:
        return [sys.executable]
    if target.emulator == "x86_64":
        return [target_env.require_tool("qemu-x86_64"), "-cpu", target.qemu_cpu or "EPYC-Milan", sys.executable]
    if arm is None:
        raise AlexNetEdgeError(f"target {target.name}: no arm64 userland prepared")
    return arm.command(target.qemu_cpu or "cortex-a76")


def model_specs(target: Target, models: dict[str, Path]) -> list[tuple[Path, int]]:
    return [(models[p], n) for p, n in target.counts.items() if n and p in models]


def launch(target: Target, specs: list[tuple[Path, int]], images: Path, work: Path, *, arm, stage: Path) -> subprocess.Popen:
    """Start ``target_eval`` for ``specs`` (model, images) on ``target``; outputs land in work/<target>."""
    threads = (os.cpu_count() or 1) if target.emulator is None else 1  # qemu-user: one emulated thread each
    cmd = [*guest_command(target, arm=arm), "-m", "alexnet_edge.runtime.target_eval", "--images", str(images),
           "--out", str(work / target.name), "--threads", str(threads), "--label", target.name,
           *(f"{path}:{n}" for path, n in specs)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(stage), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONHOME", None)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    threading.Thread(target=_forward_progress, args=(proc.stderr,), daemon=True).start()
    return proc


def _forward_progress(stream) -> None:
    # qemu lists every CPUID bit its TCG lacks at each start: not what the user is waiting for.
    for line in stream:
        if "TCG doesn't support requested feature" not in line:
            sys.stderr.write(line)


# Seconds per image under qemu-user on one core of the development machines (AMD EPYC, 2026):
# only used to start the longest jobs first so that the cores stay busy to the end.
EMULATED_SECONDS_PER_IMAGE = {"fp16": 7.5, "fp32": 2.5, "int8": 0.35}


def _cost(spec: tuple[Path, int]) -> float:
    path, n = spec
    return n * max((c for p, c in EMULATED_SECONDS_PER_IMAGE.items() if f".{p}." in path.name), default=1.0)


def run_on(targets: list[Target], specs: dict[str, list[tuple[Path, int]]], work: Path, *, arm, stage: Path) -> None:
    """The host first (it is the yardstick, all cores); then every emulated (target, model) pair as a
    process of its own, longest first, one per core."""
    for target in (t for t in targets if t.emulator is None):
        _wait(target, launch(target, specs[target.name], work / "images.npy", work, arm=arm, stage=stage))
    jobs = sorted(((t, spec) for t in targets if t.emulator is not None for spec in specs[t.name]), key=lambda j: -_cost(j[1]))
    running: list[tuple[Target, subprocess.Popen]] = []
    while jobs or running:
        while jobs and len(running) < (os.cpu_count() or 1):
            target, spec = jobs.pop(0)
            running.append((target, launch(target, [spec], work / "images.npy", work, arm=arm, stage=stage)))
        finished = [(t, p) for t, p in running if p.poll() is not None]
        for target, proc in finished:
            running.remove((target, proc))
            _wait(target, proc)
        if not finished:
            time.sleep(0.5)


def _wait(target: Target, proc: subprocess.Popen) -> None:
    if proc.wait() != 0:
        raise AlexNetEdgeError(f"target {target.name}: the guest run failed (exit {proc.returncode}; see its output above)")


def read_cpu(work: Path, target: Target) -> dict:
    try:
        record = json.loads((work / target.name / "cpu.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise AlexNetEdgeError(f"target {target.name}: the guest run wrote no cpu.json (see its output above)") from None
    if target.emulator is not None:
        check_cpu(target, record)
    return record


def read_outputs(work: Path, target: Target, model: Path) -> tuple[dict[str, np.ndarray], float]:
    with np.load(work / target.name / f"{model.stem}.npz") as data:
        outputs = {k: data[k] for k in data.files if k != "__seconds__"}
        return outputs, float(data["__seconds__"])


def stage_runtime(folder: Path) -> Path:
    """The torch-free runtime as a plain folder on PYTHONPATH, for interpreters without our install."""
    from .bundle import copy_runtime

    copy_runtime(folder)
    return folder


def prepare(targets: list[Target], images: np.ndarray, cache: Path, *, log) -> tuple[target_env.ArmUserland | None, Path, Path]:
    """The arm64 userland if a target needs it, a work folder holding images.npy, the staged runtime."""
    arm = target_env.arm_userland(guest_requirements(), cache=cache, log=log) if any(t.emulator == "aarch64" for t in targets) else None
    work = Path(tempfile.mkdtemp(prefix="alexnet-targets-"))
    np.save(work / "images.npy", images)
    return arm, work, stage_runtime(work / "stage")




def guest_requirements() -> list[str]:
    import onnxruntime
    import PIL

    # The host's versions: a difference between targets is then the CPU's, not a library's.
    return [f"onnxruntime=={onnxruntime.__version__}", f"numpy=={np.__version__}", f"pillow=={PIL.__version__}"]
