"""Helpers of the second-round hostile-input modules (test_hostile_inputs_round2*.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def tmpdir_of(tmp_path: Path) -> Path:
    return tmp_path / "tmpdir"


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def unix_socket(path: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))  # the file stays after close
    sock.close()
    return path


def folder_with(files: Path, d: Path, make) -> Path:
    folder = d / "imgs"
    folder.mkdir()
    (folder / "good.png").write_bytes((files / "good.png").read_bytes())
    make(folder)
    return folder
