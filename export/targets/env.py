"""The guests of the cross-target run: qemu-user, an arm64 Debian userland, and one venv per
(architecture, Python, onnxruntime) for every onnxruntime version other than the host's.

Setup facts this relies on (qemu 7.2 on Debian 12, no binfmt_misc): binaries run as
``qemu-aarch64 -L ROOTFS ROOTFS/usr/bin/python3``; ``-L`` redirects absolute paths into the userland,
so a fake ARM ``/proc/cpuinfo`` there replaces the host's x86 one, on which onnxruntime's CPU
detection crashes. Each emulated ARM CPU gets its own small root (``cpuroot-<cpu>``: links to the
userland's folders plus that CPU's ``proc/cpuinfo``), because onnxruntime picks its ARM kernels from
that file: a Cortex-A76 cpuinfo under ``-cpu cortex-a72`` makes it run dot-product code and die
with SIGILL. The userland, wheels, venvs and roots are cached outside the repository, keyed by
versions, and built into a temporary name then renamed, so an interrupted setup is never reused.
Nothing is installed with apt unless asked (``install=True``, ``alexnet-targets --install-tools``).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from alexnet_edge.export.errors import TargetSetupError

logger = logging.getLogger(__name__)


def default_cache() -> Path:
    """Where userlands and venvs are cached: $XDG_CACHE_HOME (else ~/.cache)/alexnet-edge/targets, read when asked."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alexnet-edge" / "targets"


# Settings that pin a library to the HOST's CPU: under emulation they name a CPU the guest is not (numpy's
# OpenBLAS with OPENBLAS_CORETYPE=Haswell dies with SIGILL under -cpu Snowridge), so a guest never inherits them.
# OpenBLAS (docs/runtime_variables.md: core type, cache sizes), numpy's dispatch (NPY_ENABLE/DISABLE_CPU_FEATURES),
# MKL's instruction set, oneDNN's ISA cap and PyTorch's ATen kernel set.
HOST_CPU_PINS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "GOTOBLAS_CORETYPE",
    "NPY_ENABLE_CPU_FEATURES",
    "NPY_DISABLE_CPU_FEATURES",
    "MKL_ENABLE_INSTRUCTIONS",
    "MKL_DEBUG_CPU_TYPE",
    "MKL_CBWR",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "ONEDNN_CPU_ISA_HINTS",
    "DNNL_CPU_ISA_HINTS",
    "ATEN_CPU_CAPABILITY",
)


def guest_environ(environ: Mapping[str, str], *, stage: Path, emulated: bool) -> dict[str, str]:
    """The environment of a guest process: ``environ`` with our runtime on PYTHONPATH, one OpenMP thread, no
    PYTHONHOME, and, for an emulated CPU, none of the host's CPU pins (HOST_CPU_PINS)."""
    env = {**environ, "PYTHONPATH": str(stage), "OMP_NUM_THREADS": "1"}
    env.pop("PYTHONHOME", None)
    if emulated:
        for name in HOST_CPU_PINS:
            env.pop(name, None)
    return env


DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "stable"
USERLAND_PACKAGES = "python3,python3-venv,python3-pip,libgomp1,libstdc++6,zlib1g"
# A Cortex-A76 as Linux describes it: fp16 (fphp/asimdhp) and dot product (asimddp).
CORTEX_A76_CPUINFO = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x4
CPU part\t: 0xd0b
CPU revision\t: 1

"""
# A Cortex-A72 (Raspberry Pi 4): ARMv8.0-A, no dot product, no FP16 arithmetic.
CORTEX_A72_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: 0xd08
CPU revision\t: 3

"""
X86_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
ARM_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_17_aarch64")
TOOLS = {"qemu-x86_64": "qemu-user", "qemu-aarch64": "qemu-user", "mmdebstrap": "mmdebstrap"}


@dataclass(frozen=True)
class ArmUserland:
    rootfs: Path
    python: Path  # the venv's python inside the cache, run through qemu-aarch64 -L rootfs
    cpu_roots: dict[str, Path] | None = None  # qemu cpu -> its root (the userland with that CPU's cpuinfo)

    def command(self, qemu_cpu: str) -> list[str]:
        root = (self.cpu_roots or {}).get(qemu_cpu, self.rootfs)
        return [require_tool("qemu-aarch64"), "-cpu", qemu_cpu, "-L", str(root), str(self.python)]


def require_tool(name: str, *, install: bool = False) -> str:
    """The tool's path. When it is missing: with ``install`` (and root, and apt-get) its Debian package
    is installed once; otherwise one clear error saying what to install."""
    found = shutil.which(name)
    if found:
        return found
    package = TOOLS.get(name, name)
    if not install:
        raise TargetSetupError(
            f"{name} is missing: run 'apt-get install -y {package}' as root (or pass --install-tools)"
        )
    if shutil.which("apt-get") and os.geteuid() == 0:
        for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
            subprocess.run(step, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        found = shutil.which(name)
        if found:
            return found
    raise TargetSetupError(f"{name} is missing and could not be installed: run 'apt-get install -y {package}' as root")


@contextlib.contextmanager
def _partial(final: Path) -> Iterator[Path]:
    """``final``'s ``.partial`` folder for the block: renamed to ``final`` when the block succeeds,
    removed when it does not (a failed download, install or build leaves nothing in --cache)."""
    tmp = final.with_name(final.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(cmd: list[str], what: str, **kwargs) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise TargetSetupError(f"{what} failed (exit {done.returncode}): {tail[0][:300]}")


def _build_rootfs(target: Path, log) -> None:
    with _partial(target) as tmp:
        log(f"building the arm64 Debian userland in {target} (mmdebstrap, about a minute)")
        _run(
            [
                require_tool("mmdebstrap"),
                "--mode=root",
                "--arch=arm64",
                "--variant=extract",
                f"--include={USERLAND_PACKAGES}",
                DEBIAN_SUITE,
                str(tmp),
                DEBIAN_MIRROR,
            ],
            "mmdebstrap",
        )
        for link in ("bin", "sbin", "lib"):
            if not (tmp / link).exists():
                (tmp / link).symlink_to(f"usr/{link}")
        (tmp / "proc").mkdir(exist_ok=True)
        (tmp / "proc" / "cpuinfo").write_text(CORTEX_A76_CPUINFO)


def _guest_python_version(rootfs: Path) -> str:
    versions = sorted(
        Path(p).name.removeprefix("python")
        for p in glob.glob(str(rootfs / "usr/bin/python3.*"))
        if Path(p).name.count(".") == 1
    )
    if not versions:
        raise TargetSetupError(f"{rootfs} has no python3.X interpreter; delete it to rebuild the userland")
    return versions[-1]


def _download_wheels(folder: Path, python_version: str, requirements: list[str], log, *, arch: str = "aarch64") -> None:
    with _partial(folder) as tmp:
        platforms = X86_PLATFORMS if arch == "x86_64" else ARM_PLATFORMS
        log(f"downloading {arch} wheels for Python {python_version}: {' '.join(requirements)}")
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary=:all:",
                "--python-version",
                python_version,
                *(arg for p in platforms for arg in ("--platform", p)),
                "-d",
                str(tmp),
                *requirements,
            ],
            f"pip download ({arch} wheels)",
        )


def _make_venv(rootfs: Path, venv: Path, wheels: Path, requirements: list[str], log) -> None:
    with _partial(venv) as tmp:
        qemu = [require_tool("qemu-aarch64"), "-cpu", "cortex-a76", "-L", str(rootfs)]
        log("creating the arm64 venv under emulation (about a minute)")
        _run(
            [*qemu, str(rootfs / "usr/bin/python3"), "-m", "venv", "--without-pip", str(tmp)], "venv under qemu-aarch64"
        )
        pip_wheel = sorted(glob.glob(str(rootfs / "usr/share/python-wheels/pip-*.whl")))
        if not pip_wheel:
            raise TargetSetupError(f"{rootfs} has no pip wheel in usr/share/python-wheels; delete it to rebuild")
        # pip runs in-process from the userland's own wheel: the venv has no pip of its own.
        script = (
            f"import runpy, sys; sys.path.insert(0, {pip_wheel[-1]!r}); "
            "sys.argv = ['pip', 'install', '--quiet', '--no-index', "
            f"'--disable-pip-version-check', '--find-links', {str(wheels)!r}, *{requirements!r}]; "
            "runpy.run_module('pip', run_name='__main__')"
        )
        _run([*qemu, str(tmp / "bin/python3"), "-c", script], "pip install under qemu-aarch64")
        # The venv records its own path; it is only ever run from the final name.
        cfg = tmp / "pyvenv.cfg"
        cfg.write_text(cfg.read_text().replace(str(tmp), str(venv)))


def _key(python_version: str, requirements: list[str]) -> str:
    return f"py{python_version}-" + "-".join(r.replace("==", "") for r in requirements)


def cpuinfo_for_host(cpuinfo: str, count: int | None = None) -> str:
    """``cpuinfo`` (one processor block) repeated for every CPU the host's /sys lists: onnxruntime
    1.23.2 reads /sys/devices/system/cpu of the host and aborts (vector index assertion) when
    /proc/cpuinfo lists fewer processors (measured under qemu-aarch64 on a 2-core host)."""
    count = count or os.cpu_count() or 1
    return "".join(cpuinfo.replace("processor\t: 0\n", f"processor\t: {i}\n", 1) for i in range(count))


def cpu_root(rootfs: Path, qemu_cpu: str, cpuinfo: str, cache: Path) -> Path:
    """A root for ``-L`` that is the userland but for ``proc/cpuinfo``, which describes ``qemu_cpu``
    (one block per host CPU)."""
    cpuinfo = cpuinfo_for_host(cpuinfo)
    root = cache / f"cpuroot-{qemu_cpu}-{hashlib.sha256(cpuinfo.encode()).hexdigest()[:8]}"
    if root.is_dir():
        return root
    with _partial(root) as tmp:
        tmp.mkdir()
        for entry in rootfs.iterdir():
            if entry.name != "proc":
                (tmp / entry.name).symlink_to(entry.absolute())
        (tmp / "proc").mkdir()
        (tmp / "proc" / "cpuinfo").write_text(cpuinfo)
    return root


def x86_venv(requirements: list[str], *, cache: Path | None = None, log=logger.info) -> Path:
    """The python of an x86-64 venv (the host's interpreter) holding exactly ``requirements``: for an
    onnxruntime other than the host's, run natively or under qemu-x86_64."""
    python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    key, cache = _key(python_version, requirements), default_cache() if cache is None else cache
    wheels, venv = cache / f"wheels-x86_64-{key}", cache / f"venv-x86_64-{key}"
    if (venv / "bin" / "python3").exists():
        return venv / "bin" / "python3"
    cache.mkdir(parents=True, exist_ok=True)
    if not wheels.is_dir():
        _download_wheels(wheels, python_version, requirements, log, arch="x86_64")
    with _partial(venv) as tmp:
        log(f"creating the x86-64 venv {venv.name}")
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", "--without-pip", str(tmp)], "python -m venv")
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(tmp / "bin" / "python3"),
                "install",
                "--quiet",
                "--no-index",
                "--disable-pip-version-check",
                "--find-links",
                str(wheels),
                *requirements,
            ],
            "pip install (x86-64 venv)",
        )
        cfg = tmp / "pyvenv.cfg"  # the venv records its own path; it is only ever run from the final name
        cfg.write_text(cfg.read_text().replace(str(tmp), str(venv)))
    return venv / "bin" / "python3"


def arm_userland(
    requirements: list[str], *, cache: Path | None = None, log=logger.info, cpuinfos: dict[str, str] | None = None
) -> ArmUserland:
    """An arm64 userland with a venv holding ``requirements`` (exact pins), built once and reused;
    ``cpuinfos`` (qemu cpu -> /proc/cpuinfo text) gives each emulated CPU its own root."""
    require_tool("qemu-aarch64")
    cache = default_cache() if cache is None else cache
    cache.mkdir(parents=True, exist_ok=True)
    rootfs = cache / f"rootfs-arm64-debian-{DEBIAN_SUITE}"
    if not rootfs.is_dir():
        _build_rootfs(rootfs, log)
    python_version = _guest_python_version(rootfs)
    key = _key(python_version, requirements)
    wheels = cache / f"wheels-aarch64-{key}"
    if not wheels.is_dir():
        _download_wheels(wheels, python_version, requirements, log)
    venv = cache / f"venv-aarch64-{key}"
    if not (venv / "bin" / "python3").exists():
        _make_venv(rootfs, venv, wheels, requirements, log)
    roots = {cpu: cpu_root(rootfs, cpu, text, cache) for cpu, text in (cpuinfos or {}).items()}
    return ArmUserland(rootfs, venv / "bin" / "python3", roots)
