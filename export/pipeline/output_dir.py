"""An output folder that never mixes two runs: a lock, a staging folder, and a swap at the end.

A run writes into ``.<out>.run-<pid>`` beside ``--out`` while it holds ``.<out>.lock`` (an flock:
a killed run leaves the file but never a held lock; a finished run removes it). Only when it
finishes are its files moved into ``--out``, the manifest last; files an earlier run listed in its
manifest and this run did not produce are removed. A run that fails leaves ``--out`` exactly as it
was; files there that no run of ours wrote are never touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from alexnet_edge.runtime.errors import OutputDirError
from alexnet_edge.runtime.fileio import ensure_writable_dir

MANIFEST = "manifest.json"
REUSED = ("calibration",)  # caches a new run may reuse: copied into the staging folder first


def _lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


@contextlib.contextmanager
def locked(
    out: Path,
    *,
    what: str = "output folder",
    holder: str = "export-alexnet",
    hint: str = "wait for it or choose another --out",
) -> Iterator[None]:
    """Hold the lock of ``out`` (a folder, or a file such as a drift baseline), or say in one line
    which run holds it.

    Args:
        what, holder, hint: the words of the messages: what ``out`` is, who this run is, what to do.
    """
    path = _lock_path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
    except OSError as exc:
        raise OutputDirError(f"cannot write to {what} {out}: {exc.strerror or exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The holder unlinks the file when done: a lock won on an unlinked file is no lock.
            if os.fstat(handle.fileno()).st_ino != os.stat(path).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            handle.seek(0)
            owner = handle.read().strip() or "another run"
            raise OutputDirError(f"{what} {out} is in use by {owner}; {hint}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # still holding the lock, so no other run is between the two


def clean_leftovers(out: Path, log: Callable[[str], None]) -> None:
    """Remove what interrupted runs left (staging folders, temporary files); the lock is held."""
    stale = list(out.parent.glob(f".{out.name}.run-*"))
    if out.is_dir():
        stale += [p for p in out.glob(".*.tmp") if p.is_file()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        log(f"removed {path.name}, left by an interrupted run")


def _previous_artifacts(out: Path) -> set[str]:
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        return {entry["file"] for entry in manifest.get("artifacts", []) if isinstance(entry, dict) and "file" in entry}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()


def commit(staging: Path, out: Path) -> None:
    """Move the staged run into ``out``: every file replaced in place, the manifest last."""
    out.mkdir(parents=True, exist_ok=True)
    stale = _previous_artifacts(out)
    entries = sorted(staging.iterdir(), key=lambda p: p.name == MANIFEST)
    for entry in entries:
        target = out / entry.name
        if entry.is_dir():
            if target.is_dir():
                shutil.rmtree(target)
            entry.rename(target)
        else:
            os.replace(entry, target)
    produced = {e.name for e in entries}
    for name in stale - produced:
        path = out / name
        if path.is_file() and "/" not in name and not name.startswith("."):
            path.unlink()  # an earlier run wrote it (its manifest says so); this run did not


@contextlib.contextmanager
def transaction(out: Path, *, log: Callable[[str], None]) -> Iterator[Path]:
    """Yield a staging folder for the run; commit it into ``out`` if the block succeeds."""
    created = not out.exists()
    if not created:
        ensure_writable_dir(out)  # an unwritable --out is refused now, not after the whole run
    with locked(out):
        clean_leftovers(out, log)
        staging = out.parent / f".{out.name}.run-{os.getpid()}"
        try:
            staging.mkdir()
            for name in REUSED:
                if (out / name).is_dir():
                    shutil.copytree(out / name, staging / name)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputDirError(f"cannot write beside output folder {out}: {exc.strerror or exc}") from None
        try:
            yield staging
            try:
                commit(staging, out)
            except OSError as exc:
                raise OutputDirError(f"cannot move the finished run into {out}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if created and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
