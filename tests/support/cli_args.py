"""The command-line arguments most export runs in the tests share."""

from __future__ import annotations


def run_args(checkpoint, data_root, out) -> list:
    """``--checkpoint CHECKPOINT --data-root DATA_ROOT --out OUT``, to splice into an argument list with ``*``."""
    return ["--checkpoint", checkpoint, "--data-root", data_root, "--out", out]
