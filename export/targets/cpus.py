"""The CPUs of the cross-target run and what each needs: natively for the host, under qemu-user for the
others (target_runs.py runs them). A target is a CPU and an onnxruntime version: the host's own by
default, or another one from a cached venv.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from alexnet_edge.export.bundle.writer import copy_runtime
from alexnet_edge.export.targets import env as target_env
from alexnet_edge.runtime.backends.onnxruntime.providers import too_old_refusal
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.precision import Precision, PrecisionKey, default_target_images


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    emulator: str | None  # None: the host itself; "x86_64" or "aarch64": qemu-user
    qemu_cpu: str | None = None
    need: tuple[str, ...] = ()  # numpy CPU features (CPUID/HWCAP) the emulated CPU must show
    refuse: tuple[str, ...] = ()  # substrings of features it must not show
    counts: dict[PrecisionKey, int] = field(default_factory=dict)  # precision -> images (0 or absent: skipped)
    cpuinfo: str | None = None  # aarch64: the /proc/cpuinfo the guest reads (onnxruntime picks its kernels by it)
    onnxruntime: str | None = None  # None: the host's onnxruntime version

    @property
    def label(self) -> str:
        """The name the run's rows and files carry: ``aarch64`` or ``aarch64@1.23.2``."""
        return self.name if self.onnxruntime is None else f"{self.name}@{self.onnxruntime}"

    def with_onnxruntime(self, version: str | None, *, share: float = 1.0) -> Target:
        """This CPU with another onnxruntime, on ``share`` of the images (at least 1 where there were any)."""
        counts = {p: max(1, int(n * share)) if n else 0 for p, n in self.counts.items()}
        return replace(self, onnxruntime=version, counts=counts)


def default_targets(images: dict[PrecisionKey, int] | None = None) -> list[Target]:
    """The CPUs, each with its images per precision from ``images`` (None: the precisions' own defaults,
    runtime/precision.py): the host runs the most of any on every model."""
    images = default_target_images() if images is None else images
    host = dict.fromkeys(images, max(images.values(), default=0))
    # x86 computes FP16 models in FP32 (docs/precision.md): FP16 runs only on aarch64 under emulation.
    x86 = {p: n for p, n in images.items() if p is not Precision.FP16}
    # No FP16 arithmetic on the A72: 20 images at most only show that the FP16 model runs (in FP32).
    a72 = {p: min(n, 20) if p is Precision.FP16 else n for p, n in images.items()}
    return [
        Target("host", "this machine, native", None, counts=host),
        # EPYC-Milan: AVX2 + FMA without any AVX-512 or VNNI, the int8 path of AMD Zen 2/3 and Intel
        # Haswell..Skylake client CPUs; a current qemu model, so TCG implements all of its AVX2.
        Target(
            "x86-avx2",
            "x86-64 AVX2+FMA, no VNNI (qemu-x86_64 -cpu EPYC-Milan)",
            "x86_64",
            "EPYC-Milan",
            need=("AVX2", "FMA3"),
            refuse=("AVX512", "VNNI"),
            counts=x86,
        ),
        # Snowridge (Atom P5900, Tremont): SSE4.2 without any AVX, the core of Elkhart Lake and Jasper Lake
        # edge boxes; the newest qemu model of that class (Denverton/Goldmont is older, Nehalem no Atom).
        Target(
            "x86-sse",
            "x86-64 SSE4.2, no AVX: Atom class (qemu-x86_64 -cpu Snowridge)",
            "x86_64",
            "Snowridge",
            need=("SSE42",),
            refuse=("AVX",),
            counts=dict(x86),
        ),
        # Cortex-A76: dot product and FP16 arithmetic, as Jetson Orin's A78AE.
        Target(
            "aarch64",
            "aarch64 Cortex-A76 (qemu-aarch64 -cpu cortex-a76, Debian arm64 userland)",
            "aarch64",
            "cortex-a76",
            need=("ASIMDDP", "ASIMDHP"),
            counts=dict(images),
            cpuinfo=target_env.CORTEX_A76_CPUINFO,
        ),
        # Cortex-A72 (Raspberry Pi 4): ARMv8.0-A, no dot product and no FP16 arithmetic, so onnxruntime
        # takes its non-dot-product int8 kernels; its cpuinfo must say so, or onnxruntime dies with SIGILL.
        Target(
            "aarch64-a72",
            "aarch64 Cortex-A72, Raspberry Pi 4 class (qemu-aarch64 -cpu cortex-a72)",
            "aarch64",
            "cortex-a72",
            need=("ASIMD",),
            refuse=("ASIMDDP", "ASIMDHP"),
            counts=a72,
            cpuinfo=target_env.CORTEX_A72_CPUINFO,
        ),
    ]


def check_cpu(target: Target, record: dict) -> None:
    """Refuse a run whose emulated CPU is not the one it claims to be."""
    features = record.get("numpy_features", [])
    missing = [f for f in target.need if f not in features]
    extra = [f for f in features if any(bad in f for bad in target.refuse)]
    if missing or extra:
        raise target_env.TargetSetupError(
            f"target {target.label}: the CPU seen by the guest is not the intended one "
            f"(missing {missing or 'nothing'}, unexpectedly present {extra or 'nothing'})"
        )


@dataclass
class Guests:
    """The interpreters a run needs, per onnxruntime version (None: the host's)."""

    x86: dict[str | None, str] = field(default_factory=dict)  # version -> x86-64 python
    arm: dict[str | None, target_env.ArmUserland] = field(default_factory=dict)

    def command(self, target: Target) -> list[str]:
        if target.emulator == "aarch64":
            if target.onnxruntime not in self.arm:
                raise AlexNetEdgeError(f"target {target.label}: no arm64 userland prepared")
            return self.arm[target.onnxruntime].command(target.qemu_cpu or "cortex-a76")
        python = self.x86.get(target.onnxruntime, sys.executable if target.onnxruntime is None else None)
        if python is None:
            raise AlexNetEdgeError(f"target {target.label}: no x86-64 venv prepared")
        if target.emulator is None:
            return [python]
        return [target_env.require_tool("qemu-x86_64"), "-cpu", target.qemu_cpu or "EPYC-Milan", python]


def guest_command(target: Target, *, arm: Guests | target_env.ArmUserland | None) -> list[str]:
    if isinstance(arm, Guests):
        return arm.command(target)
    # An ArmUserland alone (the host's onnxruntime everywhere), as before Guests existed.
    return Guests(arm={None: arm} if arm is not None else {}).command(target)


def target_models(target: Target, models: dict[PrecisionKey, Path]) -> list[tuple[PrecisionKey, Path, int]]:
    """(precision, model, images) of every model ``target`` runs: its counts, for the models there are."""
    return [(p, models[p], n) for p, n in target.counts.items() if n and p in models]


def refuse_too_old(target: Target, log) -> Target:
    """``target`` without the precisions its onnxruntime is older than the oldest measured to run (their
    spec's ``min_onnxruntime``: int4w's MatMulNBits), each refused in one line."""
    version, counts = target.onnxruntime or host_onnxruntime(), dict(target.counts)
    for precision, images in target.counts.items():
        refusal = too_old_refusal(version, precision, Path(precision.onnx_name)) if images else None
        if refusal:
            log(f"{target.label}: {precision.value} not run: {refusal}")
            counts[precision] = 0
    return replace(target, counts=counts)


def model_specs(target: Target, models: dict[PrecisionKey, Path]) -> list[tuple[Path, int]]:
    """What the guest is given: (model, images) per model of ``target_models``."""
    return [(path, n) for _, path, n in target_models(target, models)]


def stage_runtime(folder: Path) -> Path:
    """The torch-free runtime as a plain folder on PYTHONPATH, for interpreters without our install."""

    copy_runtime(folder)
    return folder


def prepare_guests(targets: list[Target], cache: Path, *, log, install_tools: bool = False) -> Guests:
    """Every tool, userland and venv the targets need, built once per (architecture, Python, onnxruntime)."""
    for tool in sorted({f"qemu-{t.emulator}" for t in targets if t.emulator}):
        target_env.require_tool(tool, install=install_tools)
    if any(t.emulator == "aarch64" for t in targets):
        target_env.require_tool("mmdebstrap", install=install_tools)
    guests = Guests()
    arm = [t for t in targets if t.emulator == "aarch64"]
    cpuinfos = {t.qemu_cpu: t.cpuinfo for t in arm if t.qemu_cpu and t.cpuinfo}
    for version in dict.fromkeys(t.onnxruntime for t in arm):
        guests.arm[version] = target_env.arm_userland(
            guest_requirements(version), cache=cache, log=log, cpuinfos=cpuinfos
        )
    for version in dict.fromkeys(t.onnxruntime for t in targets if t.emulator != "aarch64" and t.onnxruntime):
        guests.x86[version] = str(target_env.x86_venv(guest_requirements(version), cache=cache, log=log))
    return guests


def prepare(
    targets: list[Target], images: np.ndarray, cache: Path, work: Path, *, log, install_tools: bool = False
) -> tuple[Guests, Path]:
    """The guests the targets need, and the staged runtime; ``work`` (a work_dirs folder, removed by
    the caller) receives images.npy and the stage."""
    guests = prepare_guests(targets, cache, log=log, install_tools=install_tools)
    np.save(work / "images.npy", images)
    return guests, stage_runtime(work / "stage")


def host_onnxruntime() -> str:
    import onnxruntime

    return onnxruntime.__version__


def guest_requirements(onnxruntime_version: str | None = None) -> list[str]:
    import PIL

    # The host's numpy and Pillow (and its onnxruntime unless another is asked for): a difference
    # between targets is then the CPU's or that onnxruntime's, not another library's.
    version = onnxruntime_version or host_onnxruntime()
    return [f"onnxruntime=={version}", f"numpy=={np.__version__}", f"pillow=={PIL.__version__}"]
