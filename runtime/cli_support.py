"""Shared by the command-line tools: one line and a nonzero exit for every known error."""

from __future__ import annotations

import functools
import sys
import warnings

import click

from .errors import AlexNetEdgeError


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

    return wrapper
