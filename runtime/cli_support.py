"""Shared by the command-line tools: one line and a nonzero exit for every known error."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import warnings

import click

from alexnet_edge.runtime.errors import AlexNetEdgeError

#: The logger every module of the package logs under (``logging.getLogger(__name__)``).
PACKAGE_LOGGER = "alexnet_edge"
#: Modules only the [export] extra installs: a runtime-only ([cpu]/[gpu]) install lacks them.
EXPORT_EXTRA_MODULES = {"torch", "onnx", "onnxscript", "onnxsim", "onnxslim", "onnxconverter_common", "matplotlib"}


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (``kill``, a CI timeout) as SystemExit(143): ``finally`` blocks run, so work folders and
    staging folders go as on any error. Python's default lets the process die without them."""
    import signal
    import threading

    def terminate(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, terminate)


@contextlib.contextmanager
def _command_output():
    """For one command's run: warnings as one ``warning:`` line each, and the package's log records (library
    code logs, never prints) as plain lines on stderr. Both are undone when the command returns."""

    def show_warning(message, category, filename, lineno, file=None, line=None):
        click.echo(f"warning: {message}", err=True)

    handler = logging.StreamHandler(sys.stderr)  # this run's stderr (click's test runner swaps it before)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(PACKAGE_LOGGER)
    saved = warnings.showwarning, logger.level
    warnings.showwarning = show_warning
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        warnings.showwarning = saved[0]
        logger.removeHandler(handler)
        logger.setLevel(saved[1])


def one_line_errors(func):
    """Turn AlexNetEdgeError into ``error: <message>`` on stderr and its exit code; warnings into one line each."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _exit_cleanly_on_sigterm()
        try:
            with _command_output():
                return func(*args, **kwargs)
        except AlexNetEdgeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except ModuleNotFoundError as exc:
            top = (exc.name or "").split(".")[0]
            if top not in EXPORT_EXTRA_MODULES:
                raise
            command = click.get_current_context(silent=True)
            name = command.info_name if command else "this command"
            from alexnet_edge.runtime.install_hints import install_hint

            click.echo(
                f"error: {name} needs the [export] extra, which is not installed (no module {top!r}): "
                f"{install_hint('export', bundled=False)}",
                err=True,
            )
            sys.exit(2)

    return wrapper


class LogFile:
    """``--log-file``: every line appended, timestamped. Opened and written once up front, so a path
    that cannot be written (``/dev/full``: ENOSPC only at the first flush) is refused before any
    work; a later failure raises once, and the file is then left alone (also at close)."""

    def __init__(self, path, *, first_line: str):
        from alexnet_edge.runtime.errors import OutputDirError

        self.path, self._error = path, OutputDirError
        try:
            self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise OutputDirError(f"--log-file {path}: {exc.strerror or exc}") from None
        self.write(first_line)

    def write(self, line: str) -> None:
        import datetime as _dt

        if self._handle is None:
            return
        stamp = _dt.datetime.now().isoformat(timespec="seconds")
        try:
            self._handle.write("".join(f"{stamp} {part}\n" for part in str(line).splitlines() or [""]))
            self._handle.flush()
        except OSError as exc:
            self.close()
            raise self._error(f"--log-file {self.path}: cannot write to it ({exc.strerror or exc})") from None

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass  # the unwritten lines' error was raised by write(); a second one would hide it
