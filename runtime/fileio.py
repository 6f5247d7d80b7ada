"""File helpers: hashing, and writes that never leave a half-written artifact."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from alexnet_edge.runtime.errors import OutputDirError


def file_digest(path: str | Path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    return file_digest(path, "sha256")


def ensure_writable_dir(path: str | Path) -> Path:
    """Create ``path`` if needed and prove it is writable, with one clear error otherwise."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputDirError(f"cannot write to output folder {folder}: {exc.strerror or exc}") from None
    return folder


def check_writable(path: str | Path, option: str) -> None:
    """Refuse, before any work, a folder ``option`` names that could not be written: ``path``, or the
    nearest folder above it that exists (where it would be created), must take a file (one is created
    there and removed). Nothing else is created.

    Raises:
        OutputDirError: naming the option, the folder and the system's reason (read-only, no space,
            permission denied), or the file that stands where a folder is needed.
    """
    wanted = Path(path)
    existing = next(p for p in (wanted, *wanted.absolute().parents) if p.exists() or p.is_symlink())
    if not existing.is_dir():
        raise OutputDirError(f"{option} {wanted}: {existing} is not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise OutputDirError(f"{option} {wanted}: cannot write to {existing} ({exc.strerror or exc})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    Raises:
        OSError: the file could not be written (no space, read-only, ...); where the system's error names
            no file (a failed ``write`` or ``close``), it is given ``path`` as its ``filename``, so that the
            command's one ``error:`` line says which file it was.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, target)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = str(target)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def strict_json(value: object) -> object:
    """``value`` with NaN and infinities as None: strict parsers (JavaScript's JSON.parse) reject them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def write_json(path: str | Path, payload: object) -> Path:
    """Strict JSON (no NaN/Infinity: null where no number exists), written atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(strict_json(payload), indent=2, sort_keys=False, allow_nan=False) + "\n")
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """``text`` (UTF-8) written atomically: readers see the old file or the whole new one."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def decode_metadata(pairs: Mapping[str, str]) -> dict[str, object]:
    """An ONNX model's ``metadata_props`` (however a backend hands them over), JSON values decoded; a value
    that is not JSON stays the string it is."""
    decoded: dict[str, object] = {}
    for key, value in pairs.items():
        try:
            decoded[key] = json.loads(value)
        except (json.JSONDecodeError, TypeError):
            decoded[key] = value
    return decoded
