"""Real hostile file systems for tests: a small tmpfs that fills up, a read-only one, and a folder
deeper than PATH_MAX. Mounting needs root (CAP_SYS_ADMIN); where it is refused the test is skipped,
saying why."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(folder: Path, *, size: str = "5m", read_only: bool = False) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` (``mount -t tmpfs``) for the block; unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def deeper_than_path_max(root: Path, *, name: str = "image.png", data: bytes = b"x") -> Path:
    """A chain of 200-character folders under ``root`` whose full path is longer than PATH_MAX, with a
    file ``name`` at the bottom (made relative to open folder descriptors: no call gets the long path).
    Returns the top folder of the chain."""
    limit = os.pathconf(root, "PC_PATH_MAX")
    segment = "d" * 200
    fd, length = os.open(root, os.O_RDONLY), len(str(root))
    try:
        while length <= limit:
            os.mkdir(segment, dir_fd=fd)
            inner = os.open(segment, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, length = inner, length + len(segment) + 1
        out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(out, data)
        os.close(out)
    finally:
        os.close(fd)
    return root / segment
