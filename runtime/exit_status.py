"""The exit status of every command, in one place: what each code means, and which one an exception gets.

A CI gate reads the exit status, so a code means one thing for every command (``export-alexnet``,
``alexnet-drift``, ``alexnet-infer``, ``alexnet-targets``, ``alexnet-debug``, ``alexnet-inspect``, and the
bundle's ``verify.py``, ``build_engines.py`` and ``infer.py``): 1 is only ever "outside tolerance" (or
"drift"), never a crash, a full disk or Ctrl-C. ``cli_support.one_line_errors`` applies this policy;
README.md and docs/cli.md show ``TABLE``.
"""

from __future__ import annotations

import datetime as _dt
import os
import signal
import tempfile
import traceback
from pathlib import Path

OK = 0
OUTSIDE_TOLERANCE = 1
BAD_INPUT = 2
INTERNAL_ERROR = 3
INTERRUPTED = 128 + signal.SIGINT  # 130, the shell's code for a process ended by Ctrl-C
TERMINATED = 128 + signal.SIGTERM  # 143

#: (code, meaning) as README.md ("Exit status") and docs/cli.md show it; tests compare both with this.
TABLE: tuple[tuple[int, str], ...] = (
    (OK, "success: every artifact, figure or target within its tolerance"),
    (
        OUTSIDE_TOLERANCE,
        "outside tolerance, and only that: an artifact beyond its tolerance (export-alexnet, verify.py), drift "
        "(alexnet-drift, alexnet-debug's logits), a target beyond its tolerance or whose guest died "
        "(alexnet-targets); the report is still written",
    ),
    (
        BAD_INPUT,
        "bad input or an unusable environment: an impossible option, a missing or damaged file, a folder that "
        "cannot be written (no space, read-only, permission denied, name too long), an `--out` another run "
        "holds, not enough memory, a missing extra. One `error:` line naming the path and the reason",
    ),
    (
        INTERNAL_ERROR,
        "internal error (a bug): one `error: internal error` line naming the exception and the file "
        "holding its full traceback",
    ),
    (INTERRUPTED, "interrupted (Ctrl-C, SIGINT), after the same clean-up as any failed run"),
    (TERMINATED, "terminated (SIGTERM: `kill`, a CI timeout), after the same clean-up"),
)

#: Longest path an ``error:`` line shows whole (a path beyond PATH_MAX would fill a screen).
LONGEST_PATH_SHOWN = 160


def table_markdown() -> str:
    """TABLE as the Markdown table README.md and docs/cli.md hold."""
    rows = "".join(f"| {code} | {meaning} |\n" for code, meaning in TABLE)
    return "| exit status | meaning |\n|---|---|\n" + rows


def shown_path(path: object) -> str:
    """``path`` for one line of text: a longer one keeps its start and its end, and says how long it is."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    if len(text) <= LONGEST_PATH_SHOWN:
        return text
    half = LONGEST_PATH_SHOWN // 2
    return f"{text[:half]}…{text[-half:]} ({len(text):,} characters)"


def os_error_line(exc: OSError) -> str:
    """What an OSError says in one line: the path (both, for a rename) and the system's reason."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [shown_path(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


def internal_error_line(exc: BaseException, command: str) -> str:
    """Write ``exc``'s full traceback to a file of its own in $TMPDIR; the one line that says so.

    Where the file cannot be written (a full or read-only $TMPDIR), the line names the innermost frame instead.
    """
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" at {Path(where[0].filename).name}:{where[0].lineno}" if where else ""
    what = f"{type(exc).__name__}{at}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(exc))
    try:
        fd, name = tempfile.mkstemp(prefix=f"alexnet-edge-{command}-{stamp}-", suffix=".traceback.txt")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{command} (pid {os.getpid()}), {stamp}\n{text}")
    except OSError as write_error:
        return f"internal error: {what} (its traceback could not be written: {os_error_line(write_error)})"
    return f"internal error: {what}; full traceback in {name} (please report it)"
