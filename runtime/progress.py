"""Progress that suits where it goes: a tqdm bar on a terminal, a log line every 10 s or 10% when
stderr is a file or a pipe (CI logs, ``| tee``), or nothing.

``progress`` arguments across the package take ``False`` (silent), ``True`` (a bar) or a callable
that receives one line of text (heartbeat lines).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
Progress = bool | Callable[[str], None]
HEARTBEAT_S = 10.0


def track(items: Iterable[T], *, total: int, desc: str, unit: str, progress: Progress) -> Iterator[T]:
    """Iterate ``items`` while reporting progress as ``progress`` asks."""
    if callable(progress):
        yield from _heartbeat(items, total=total, desc=desc, unit=unit, log=progress)
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, total=total, desc=desc, unit=unit, disable=not progress, leave=False)


def _heartbeat(items: Iterable[T], *, total: int, desc: str, unit: str, log: Callable[[str], None]) -> Iterator[T]:
    started = last = time.monotonic()
    next_tenth = 1
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if done * 10 >= next_tenth * total or now - last >= HEARTBEAT_S:
            if done < total:  # the caller logs completion itself
                log(f"  {desc}: {done}/{total} {unit} ({100 * done // max(total, 1)}%, {now - started:.0f} s)")
            last = now
            while next_tenth * total <= done * 10:
                next_tenth += 1
