"""What ``alexnet-targets`` and ``alexnet-debug`` parse alike: the target names, the cache, deprecated aliases."""

from __future__ import annotations

import click

from alexnet_edge.export.targets.cpus import default_targets
from alexnet_edge.export.targets.env import default_cache

CACHE_SHOWN = "$XDG_CACHE_HOME/alexnet-edge/targets, ~/.cache when unset"
TARGET_NAMES = [t.name for t in default_targets()]


def cache_option(help_text: str):
    """``--cache``: where userlands, wheels and venvs are kept; read from the environment at parse time."""
    from pathlib import Path

    return click.option(
        "--cache",
        type=click.Path(path_type=Path, file_okay=False),
        default=default_cache,  # a callable: read when the command runs, not when this module is imported
        show_default=CACHE_SHOWN,
        help=help_text,
    )


class TargetSpec(click.ParamType):
    """NAME or NAME@VERSION: a CPU from TARGET_NAMES, optionally with an onnxruntime version."""

    name = "target"

    def get_metavar(self, param, *args, **kwargs) -> str:
        return f"[{'|'.join(TARGET_NAMES)}][@VERSION]"

    def convert(self, value, param, ctx):
        name, _, version = value.partition("@")
        if name not in TARGET_NAMES:
            self.fail(f"{name!r} is not one of {', '.join(TARGET_NAMES)}", param, ctx)
        if "@" in value and not version:
            self.fail(f"{value!r}: give a version after @, e.g. {name}@1.23.2", param, ctx)
        return value


def deprecated_alias(old: str, new: str, minimum: int = 0):
    """A hidden option ``old`` kept so that scripts written for it still run; it says to use ``new``."""

    def warn(ctx, param, value):
        if value is not None:
            click.echo(f"warning: {old} is deprecated; use {new}", err=True)
        return value

    return click.option(
        old,
        f"{old.lstrip('-').replace('-', '_')}_alias",
        type=click.IntRange(min=minimum),
        default=None,
        hidden=True,
        expose_value=True,
        callback=warn,
    )


def take_aliases(opts: dict, pairs: dict[str, str]) -> dict:
    """Move each given deprecated alias (``pairs``: alias dest -> option dest) onto its option."""
    for alias, dest in pairs.items():
        value = opts.pop(alias)
        if value is not None:
            opts[dest] = value
    return opts
