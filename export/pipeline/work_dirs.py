"""Work folders in ``$TMPDIR`` that never outlive their run.

Each folder (``alexnet-<kind>-*``) is removed when its run ends, however it ends short of a kill.
A killed run cannot clean up, so each folder holds ``.owner.lock``, flock'ed by its run for its
whole life: the next run of any command sweeps every such folder whose lock it can take (the kernel
drops an flock when its process dies, so a taken lock means a dead owner; a pid check would be
wrong across PID namespaces sharing one /tmp). Folders without the lock file (older versions, or a
run between mkdtemp and its lock) are left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

PREFIX = "alexnet-"
OWNER_LOCK = ".owner.lock"
KINDS = ("export", "targets", "debug", "drift")


def sweep_dead(log: Callable[[str], None] = lambda line: None) -> list[Path]:
    """Remove the work folders of runs that died; returns those removed."""
    removed = []
    root = Path(tempfile.gettempdir())
    for kind in KINDS:
        for folder in root.glob(f"{PREFIX}{kind}-*"):
            lock = folder / OWNER_LOCK
            try:
                handle = open(lock)  # noqa: SIM115 - closed below
            except OSError:
                continue  # no lock file: not ours to judge
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # its run is alive
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
            log(f"removed {folder}, the work folder of a run that was killed")
    return removed


@contextlib.contextmanager
def work_dir(kind: str, log: Callable[[str], None] = lambda line: None) -> Iterator[Path]:
    """A fresh ``$TMPDIR/alexnet-<kind>-*`` folder for the block, removed when it ends.

    Args:
        kind: one of KINDS (the sweep looks for those).
        log: where to say which dead runs' folders were swept first.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown work folder kind {kind!r}; sweep_dead looks for {KINDS}")
    sweep_dead(log)
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-"))
    try:
        # Locked under a temporary name, then renamed: a sweep never sees the lock file unlocked.
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".owner.")
        handle = os.fdopen(fd, "w")
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        os.rename(tmp, folder / OWNER_LOCK)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        handle.close()
