"""The one way this package reads ``.npy`` and ``.npz`` files: headers are checked before anything
is allocated or unpickled.

A ``.npy`` header states dtype and shape; numpy allocates what it claims before reading (a crafted
header claiming 279 TiB fails in numpy's allocator with a traceback) and ``allow_pickle=False``
alone still lets an object array through to a ValueError. Here the claimed size is checked against
the bytes the file (or the ``.npz`` member) really holds, object dtypes are refused, and only
regular files are opened (a FIFO would block ``open()`` forever).
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from alexnet_edge.runtime.errors import InputError

MAX_NPY_BYTES = 2 << 30  # 2 GiB: far above any batch of 32x32 images; a header claiming more is refused


def check_regular_file(path: str | Path) -> None:
    """Refuse what is not a regular file (FIFO, socket, device) before it is opened.

    Raises:
        InputError: "no such file", "is a folder", or "not a regular file (a FIFO)".
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:  # a symlink loop (ELOOP), a path through a file (ENOTDIR), no permission
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a folder, not a file")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise InputError(f"{path}: not a regular file ({kind}); refused without opening it")


def _check_header(handle: BinaryIO, data_bytes_after_header, where: str) -> tuple[tuple[int, ...], np.dtype]:
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(handle)
        read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, _, dtype = read(handle)
    except (ValueError, EOFError, OSError) as exc:
        raise InputError(f"{where}: not a readable numpy file ({exc.__class__.__name__})") from None
    if dtype.hasobject:
        raise InputError(f"{where}: holds Python objects, which this tool never unpickles")
    data_bytes = data_bytes_after_header(handle.tell())
    claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize if shape else dtype.itemsize
    if claimed > MAX_NPY_BYTES or claimed != data_bytes:
        raise InputError(
            f"{where}: header claims {dtype} {list(shape)} ({claimed:,} bytes) "
            f"but the file holds {data_bytes:,} bytes of data"
        )
    return tuple(shape), dtype


def npy_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file, checked against its size before anything is allocated.

    Raises:
        InputError: not a regular file, not a .npy, object dtype, or a header the data does not match.
    """
    check_regular_file(path)
    size = os.stat(path).st_size
    with open(path, "rb") as handle:
        return _check_header(handle, lambda offset: size - offset, str(path))


def load_npy(path: str | Path) -> np.ndarray:
    """A ``.npy`` array, read only once its header has been checked (see :func:`npy_header`)."""
    npy_header(path)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable numpy file ({exc.__class__.__name__})") from None


def load_npz(path: str | Path, names: tuple[str, ...], *, check_all: bool = False) -> dict[str, np.ndarray]:
    """The arrays ``names`` of a ``.npz``, each member's header checked like a ``.npy``'s.

    Args:
        names: the arrays to read (each must be there).
        check_all: also check the headers of every other member (nothing is read but headers).

    Raises:
        InputError: as :func:`npy_header`, per member; or a member in ``names`` that is absent.
    """
    check_regular_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable numpy file ({exc.__class__.__name__})") from None
    with archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        missing = [n for n in names if n not in members]
        if missing:
            raise InputError(f"{path}: a .npz needs arrays {' and '.join(map(repr, names))}, it has {sorted(members)}")
        out = {}
        for name in members if check_all else names:
            info, where = members[name], f"{path}[{name}]"
            try:
                with archive.open(info) as handle:
                    _check_header(handle, lambda offset, info=info: info.file_size - offset, where)
                if name in names:
                    with archive.open(info) as handle:
                        out[name] = np.lib.format.read_array(handle, allow_pickle=False)
            except InputError:
                raise
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:  # RuntimeError: encrypted
                raise InputError(f"{where}: not a readable numpy file ({exc.__class__.__name__})") from None
    return out
