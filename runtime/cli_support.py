"""Shared by the command-line tools: one line and a nonzero exit for every known error."""

from __future__ import annotations

import functools
import sys
import warnings

import click

from .errors import AlexNetEdgeError

#: Modules only the [export] extra installs: a runtime-only ([cpu]/[gpu]) install lacks them.
EXPORT_EXTRA_MODULES = {"torch", "onnx", "onnxscript", "onnxsim", "onnxslim", "onnxconverter_common", "matplotlib"}


def one_line_errors(func):
    """Turn AlexNetEdgeError into ``error: <message>`` on stderr and its exit code; warnings into one line each."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        def show_warning(message, category, filename, lineno, file=None, line=None):
            click.echo(f"warning: {message}", err=True)

        warnings.showwarning = show_warning
        try:
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
            click.echo(f"error: {name} needs the [export] extra, which is not installed (no module {top!r}): "
                       "pip install 'alexnet-edge[export]'", err=True)  # fmt: skip
            sys.exit(2)

    return wrapper
