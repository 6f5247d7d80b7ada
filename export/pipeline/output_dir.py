"""An output folder that never mixes two runs: a lock, a staging folder, and a swap at the end.

A run writes into ``.<out>.run-<pid>`` beside ``--out`` while it holds ``.<out>.lock`` (an flock:
a killed run leaves the file but never a held lock; a finished run removes it). Only when it
finishes are its files moved into ``--out``, the manifest last; files an earlier run listed in its
manifest and this run did not produce are removed. A run that fails leaves ``--out`` exactly as it
was; files there that no run of ours wrote are never touched, and folders it created (``--out`` and
its parents) are removed again.

What the run writes outside ``--out`` (the ``--bundle`` folder and its archive: the *companions*) is
locked and staged the same way, at ``staged_path(companion)``, and swapped in right after ``--out``:
all or nothing. Locks and staging folders are keyed on the resolved path, so ``--out out`` and
``--out link`` (a symlink to it) are one folder with one lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from alexnet_edge.runtime.errors import OutputDirError
from alexnet_edge.runtime.exit_status import os_error_line
from alexnet_edge.runtime.fileio import ensure_writable_dir

MANIFEST = "manifest.json"
REUSED = ("calibration",)  # caches a new run may reuse: copied into the staging folder first


def _lock_path(out: Path) -> Path:
    real = out.resolve()
    return real.parent / f".{real.name}.lock"


def staged_path(final: Path) -> Path:
    """Where this run stages ``final`` (``--out`` or a companion) until the swap: beside it, named for it."""
    real = Path(final).resolve()
    return real.parent / f".{real.name}.run-{os.getpid()}"


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those above it that do not exist yet, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.exists() or path.is_symlink():
            break
        missing.append(path)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) as long as they are empty: what a failed run created and left empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def locked(
    out: Path,
    *,
    what: str = "output folder",
    holder: str = "export-alexnet",
    hint: str = "wait for it or choose another --out",
) -> Iterator[None]:
    """Hold the lock of ``out`` (a folder, or a file such as a drift baseline; keyed on its resolved
    path), or say in one line which run holds it. Parent folders it had to create go again with the
    lock, if still empty.

    Args:
        what, holder, hint: the words of the messages: what ``out`` is, who this run is, what to do.
    """
    path = _lock_path(out)
    created = _missing_folders(path.parent)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")  # noqa: SIM115 - closed below
    except OSError as exc:
        _remove_empty(created)
        raise OutputDirError(f"cannot write to {what} {out}: {exc.strerror or exc}") from None
    try:
        with handle:
            _take(handle, path, f"{what} {out}", hint)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{holder} pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
            handle.flush()
            try:
                yield
            finally:
                path.unlink(missing_ok=True)  # still holding the lock, so no other run is between the two
    finally:
        _remove_empty(created)


def _take(handle, path: Path, what: str, hint: str) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The holder unlinks the file when done: a lock won on an unlinked file is no lock.
        if os.fstat(handle.fileno()).st_ino != os.stat(path).st_ino:
            raise BlockingIOError
    except (BlockingIOError, FileNotFoundError):
        handle.seek(0)
        owner = handle.read().strip() or "another run"
        raise OutputDirError(f"{what} is in use by {owner}; {hint}") from None


def clean_leftovers(out: Path, log: Callable[[str], None]) -> None:
    """Remove what interrupted runs left (staging folders, temporary files); the lock is held."""
    real = out.resolve()
    stale = list(real.parent.glob(f".{real.name}.run-*"))
    if real.is_dir():
        stale += [p for p in real.glob(".*.tmp") if p.is_file()]
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


def _swap(staged: Path, final: Path) -> None:
    """Put the staged companion (a folder or a file) in the place of ``final`` (a resolved path)."""
    if staged.is_dir() and final.is_dir():
        shutil.rmtree(final)
    os.replace(staged, final)


def _discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive during the block take effect right after it: a swap is never cut in two."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    kinds = (signal.SIGINT, signal.SIGTERM)
    previous = {kind: signal.signal(kind, lambda signum, frame: arrived.append(signum)) for kind in kinds}
    try:
        yield
    finally:
        for kind, handler in previous.items():
            signal.signal(kind, handler)
        if arrived:
            signal.raise_signal(arrived[0])  # now, through the handler the run had


@contextlib.contextmanager
def transaction(out: Path, *, log: Callable[[str], None], companions: Sequence[Path] = ()) -> Iterator[Path]:
    """Yield a staging folder for the run; commit it into ``out`` if the block succeeds.

    Args:
        companions: paths outside ``out`` the run also writes (the bundle folder and its archive): each is
            locked with ``out``, written by the run at ``staged_path(companion)``, and swapped in right after
            ``out``; on failure the staged ones are removed and the companions stay as they were.
    """
    real = out.resolve()
    created = not real.exists()
    if not created:
        ensure_writable_dir(out)  # an unwritable --out is refused now, not after the whole run
    with contextlib.ExitStack() as stack:
        stack.enter_context(locked(out))
        for companion in companions:
            stack.enter_context(locked(companion, what="output", hint="wait for it or choose another path"))
        for path in (out, *companions):
            clean_leftovers(path, log)
        staging, staged = staged_path(out), [staged_path(c) for c in companions]
        try:
            staging.mkdir()
            for name in REUSED:
                if (real / name).is_dir():
                    shutil.copytree(real / name, staging / name)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise OutputDirError(f"cannot write beside output folder {out}: {os_error_line(exc)}") from None
        try:
            try:
                yield staging
            except OSError as exc:  # a full or read-only disk: the error names the file in --out, not in staging
                _name_final(exc, {staging: out, **dict(zip(staged, companions, strict=True))})
                raise
            with _signals_held():
                _commit_all(staging, out, dict(zip(staged, companions, strict=True)))
        finally:
            for path in (staging, *staged):
                _discard(path)
            if created and real.is_dir() and not any(real.iterdir()):
                real.rmdir()


def _name_final(exc: OSError, renames: dict[Path, Path]) -> None:
    """Give ``exc`` the path its file would have had in place, where it names one in a staged folder."""
    if exc.filename is None:
        return
    path = Path(os.fsdecode(exc.filename))
    for staged, final in renames.items():
        if path == staged or staged in path.parents:
            exc.filename = str(final / path.relative_to(staged))
            return


def _commit_all(staging: Path, out: Path, companions: dict[Path, Path]) -> None:
    """``out`` first, then each companion the run staged."""
    try:
        commit(staging, out.resolve())
        for staged, final in companions.items():
            if staged.exists():
                _swap(staged, final.resolve())
    except OSError as exc:
        raise OutputDirError(f"cannot move the finished run into place: {os_error_line(exc)}") from None
