"""The emulated CPUs of the cross-target run: qemu-user, and an arm64 Debian userland with a venv.

Setup facts this relies on (qemu 7.2 on Debian 12, no binfmt_misc): binaries run as
``qemu-aarch64 -L ROOTFS ROOTFS/usr/bin/python3``; ``-L`` redirects absolute paths into the userland,
so a fake ARM ``/proc/cpuinfo`` there replaces the host's x86 one, on which onnxruntime's CPU
detection crashes. The userland, wheels and venv are cached outside the repository, keyed by
versions, and built into a temporary name then renamed, so an interrupted setup is never reused.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from alexnet_edge.runtime.errors import AlexNetEdgeError

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "alexnet-edge" / "targets"
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
TOOLS = {"qemu-x86_64": "qemu-user", "qemu-aarch64": "qemu-user", "mmdebstrap": "mmdebstrap"}


class TargetSetupError(AlexNetEdgeError):
    """An emulator or userland could not be made ready; the run cannot say anything about that target."""


@dataclass(frozen=True)
class ArmUserland:
    rootfs: Path
    python: Path  # the venv's python inside the cache, run through qemu-aarch64 -L rootfs

    def command(self, qemu_cpu: str) -> list[str]:
        return [require_tool("qemu-aarch64"), "-cpu", qemu_cpu, "-L", str(self.rootfs), str(self.python)]


def require_tool(name: str, *, install: bool = True) -> str:
    """The tool's path; installs its Debian package once when missing and allowed, else one clear error."""
    found = shutil.which(name)
    if found:
        return found
    package = TOOLS.get(name, name)
    if install and shutil.which("apt-get") and os.geteuid() == 0:
        for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
            subprocess.run(step, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        found = shutil.which(name)
        if found:
            return found
    raise TargetSetupError(f"{name} is missing and could not be installed: run 'apt-get install -y {package}' as root")


def _run(cmd: list[str], what: str, **kwargs) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise TargetSetupError(f"{what} failed (exit {done.returncode}): {tail[0][:300]}")


def _build_rootfs(target: Path, log) -> None:
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"building the arm64 Debian userland in {target} (mmdebstrap, about a minute)")
    _run([require_tool("mmdebstrap"), "--mode=root", "--arch=arm64", "--variant=extract",
          f"--include={USERLAND_PACKAGES}", DEBIAN_SUITE, str(tmp), DEBIAN_MIRROR], "mmdebstrap")  # fmt: skip
    for link in ("bin", "sbin", "lib"):
        if not (tmp / link).exists():
            (tmp / link).symlink_to(f"usr/{link}")
    (tmp / "proc").mkdir(exist_ok=True)
    (tmp / "proc" / "cpuinfo").write_text(CORTEX_A76_CPUINFO)
    tmp.rename(target)


def _guest_python_version(rootfs: Path) -> str:
    versions = sorted(Path(p).name.removeprefix("python") for p in glob.glob(str(rootfs / "usr/bin/python3.*")) if Path(p).name.count(".") == 1)
    if not versions:
        raise TargetSetupError(f"{rootfs} has no python3.X interpreter; delete it to rebuild the userland")
    return versions[-1]


def _download_wheels(folder: Path, python_version: str, requirements: list[str], log) -> None:
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"downloading aarch64 wheels for Python {python_version}: {' '.join(requirements)}")
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version", python_version,
          "--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_28_aarch64", "--platform", "manylinux_2_17_aarch64",
          "-d", str(tmp), *requirements], "pip download (aarch64 wheels)")  # fmt: skip
    tmp.rename(folder)


def _make_venv(rootfs: Path, venv: Path, wheels: Path, requirements: list[str], log) -> None:
    tmp = venv.with_name(venv.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    qemu = [require_tool("qemu-aarch64"), "-cpu", "cortex-a76", "-L", str(rootfs)]
    log("creating the arm64 venv under emulation (about a minute)")
    _run([*qemu, str(rootfs / "usr/bin/python3"), "-m", "venv", "--without-pip", str(tmp)], "venv under qemu-aarch64")
    pip_wheel = sorted(glob.glob(str(rootfs / "usr/share/python-wheels/pip-*.whl")))
    if not pip_wheel:
        raise TargetSetupError(f"{rootfs} has no pip wheel in usr/share/python-wheels; delete it to rebuild")
    # pip runs in-process from the userland's own wheel: the venv has no pip of its own.
    script = (f"import runpy, sys; sys.path.insert(0, {pip_wheel[-1]!r}); "
              f"sys.argv = ['pip', 'install', '--quiet', '--no-index', '--disable-pip-version-check', '--find-links', {str(wheels)!r}, *{requirements!r}]; "
              "runpy.run_module('pip', run_name='__main__')")  # fmt: skip
    _run([*qemu, str(tmp / "bin/python3"), "-c", script], "pip install under qemu-aarch64")
    # The venv records its own path; it is only ever run from the final name.
    cfg = tmp / "pyvenv.cfg"
    cfg.write_text(cfg.read_text().replace(str(tmp), str(venv)))
    tmp.rename(venv)


def arm_userland(requirements: list[str], *, cache: Path = DEFAULT_CACHE, log=print) -> ArmUserland:
    """An arm64 userland with a venv holding ``requirements`` (exact pins), built once and reused."""
    require_tool("qemu-aarch64")
    cache.mkdir(parents=True, exist_ok=True)
    rootfs = cache / f"rootfs-arm64-debian-{DEBIAN_SUITE}"
    if not rootfs.is_dir():
        _build_rootfs(rootfs, log)
    python_version = _guest_python_version(rootfs)
    key = f"py{python_version}-" + "-".join(r.replace("==", "") for r in requirements)
    wheels = cache / f"wheels-aarch64-{key}"
    if not wheels.is_dir():
        _download_wheels(wheels, python_version, requirements, log)
    venv = cache / f"venv-aarch64-{key}"
    if not (venv / "bin" / "python3").exists():
        _make_venv(rootfs, venv, wheels, requirements, log)
    return ArmUserland(rootfs, venv / "bin" / "python3")
