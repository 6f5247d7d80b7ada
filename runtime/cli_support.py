"""Shared by the command-line tools: the exit-status policy (``exit_status``) applied to every command,
one line per error and per warning."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import warnings

import click

from alexnet_edge.runtime import exit_status
from alexnet_edge.runtime.backends import registry
from alexnet_edge.runtime.errors import AlexNetEdgeError, OutputDirError
from alexnet_edge.runtime.install_hints import export_hint
from alexnet_edge.runtime.precision import NamedPrecision, Precision, precisions

#: The logger every module of the package logs under (``logging.getLogger(__name__)``).
PACKAGE_LOGGER = "alexnet_edge"
#: Modules only the [export] extra installs: a runtime-only ([cpu]/[gpu]) install lacks them.
EXPORT_EXTRA_MODULES = {"torch", "onnx", "onnxscript", "onnxsim", "onnxslim", "onnxconverter_common", "matplotlib"}


class Terminated(SystemExit):
    """SIGTERM, raised where the process was: a SystemExit (143), so ``finally`` blocks run and no
    ``except Exception`` takes it for an error."""


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM (``kill``, a CI timeout) as Terminated(143): ``finally`` blocks run, so work folders and
    staging folders go as on any error. Python's default lets the process die without them."""
    import signal
    import threading

    def terminate(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
        raise Terminated(exit_status.TERMINATED)

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
    """Apply the exit-status policy (``exit_status.TABLE``) to a command: every failure is one ``error:``
    line and its code (never a traceback, never 1 unless outside tolerance); SIGINT and SIGTERM end it
    with 130 and 143 once the clean-up (``finally`` blocks) has run; warnings are one line each."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _exit_cleanly_on_sigterm()
        try:
            with _command_output():
                return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own usage errors (exit 2) and exits
        except Terminated:
            click.echo("terminated (SIGTERM)", err=True)
            raise
        except KeyboardInterrupt:
            click.echo("interrupted (SIGINT)", err=True)
            sys.exit(exit_status.INTERRUPTED)
        except Exception as exc:  # noqa: BLE001 - the policy: every exception gets its line and code
            line, code = _failure(exc)
            click.echo(line, err=True)
            sys.exit(code)

    return wrapper


def _command_name() -> str:
    command = click.get_current_context(silent=True)
    return command.info_name if command and command.info_name else "this command"


def _failure(exc: Exception) -> tuple[str, int]:
    """The one line and the exit code of a command that raised ``exc``."""
    if isinstance(exc, AlexNetEdgeError):
        return f"error: {exc}", exc.exit_code
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in EXPORT_EXTRA_MODULES:
        top = (exc.name or "").split(".")[0]
        return (
            f"error: {_command_name()} needs the [export] extra, which is not installed (no module {top!r}): "
            f"{export_hint()}",
            exit_status.BAD_INPUT,
        )
    if isinstance(exc, OSError):  # no space, read-only, permission, name too long: the environment, not a bug
        return f"error: {exit_status.os_error_line(exc)}", exit_status.BAD_INPUT
    if isinstance(exc, MemoryError):
        return f"error: not enough memory ({str(exc) or 'MemoryError'})", exit_status.BAD_INPUT
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in _command_name())
    return f"error: {exit_status.internal_error_line(exc, name)}", exit_status.INTERNAL_ERROR


class LogFile:
    """``--log-file``: every line appended, timestamped. Opened and written once up front, so a path
    that cannot be written (``/dev/full``: ENOSPC only at the first flush) is refused before any
    work; a later failure raises once, and the file is then left alone (also at close)."""

    def __init__(self, path, *, first_line: str):
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


class PrecisionChoice(click.Choice):
    """The registered precisions (runtime/precision.py), read when the command line is parsed, so a
    precision registered after import is a choice too; converts to the precision itself."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=False)

    @property
    def choices(self) -> tuple:
        return precisions()

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ sets it; the registry is the one list
        pass

    def normalize_choice(self, choice: object, ctx: click.Context | None) -> str:
        name = choice.value if isinstance(choice, (Precision, NamedPrecision)) else choice
        return super().normalize_choice(name, ctx)


class BackendChoice(click.Choice):
    """The registered backends (runtime/backends/registry.py), read when the command line is parsed, so a
    backend registered after import is a choice too; ``extra`` choices (e.g. "auto") come first."""

    def __init__(self, *extra: str) -> None:
        self.extra = extra
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple:
        return (*self.extra, *registry.names())

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ sets it; the registry is the one list
        pass


def backend_option_flag():
    """``--backend-option BACKEND.OPTION=VALUE``, repeatable: a typed backend setting from its spec, parsed
    (and refused in one line) by ``registry.BackendOptions.parse`` in the command's body, before any work."""
    return click.option(
        "--backend-option",
        "backend_options",
        multiple=True,
        metavar="BACKEND.OPTION=VALUE",
        help=f"a backend's setting, repeatable: {registry.describe_options()}",
    )
