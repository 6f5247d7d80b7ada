"""``alexnet-debug``: parse options into a DebugConfig, call ``layer_debug.run_debug``, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alexnet_edge.export.debug import layers
from alexnet_edge.export.debug.layers import DebugConfig, first_drift, render_layers_md
from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.export.targets.options import TARGET_NAMES, cache_option, deprecated_alias, take_aliases
from alexnet_edge.runtime.cli_support import one_line_errors
from alexnet_edge.runtime.exit_status import OUTSIDE_TOLERANCE


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=data_paths.EPILOG_DATA_ONLY,
)
@click.option(
    "--model", type=click.Path(path_type=Path, dir_okay=False), required=True, help="the model under diagnosis"
)
@click.option(
    "--against",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="the reference model, run on the host (e.g. model.fp32.onnx against model.int8.onnx)",
)
@click.option(
    "--target",
    type=click.Choice([n for n in TARGET_NAMES if n != "host"]),
    default=None,
    help="or: run --model on this target against the host",
)
@data_paths.data_root_option()
@click.option(
    "--sample-size",
    "images",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="images, a seeded sample of test_batch",
)
@deprecated_alias("--images", "--sample-size", minimum=1)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--min-cosine", type=click.FloatRange(0, 1), default=0.99, show_default=True, help="a tensor below this drifts"
)
@cache_option("arm64 userland, wheels and venvs, shared with alexnet-targets")
@one_line_errors
def alexnet_debug(cache, **opts) -> None:
    """Compare every intermediate tensor of two runs (two models, or one model on two CPUs) and name
    the first that drifts. Exit 1 when the logits drift, 0 otherwise."""

    opts = take_aliases(opts, {"images_alias": "images"})
    opts["data_root"] = data_paths.data_root(opts["data_root"])
    config = DebugConfig(**opts)
    rows, title = layers.run_debug(config, cache=cache, log=lambda line: click.echo(line, err=True))
    click.echo(render_layers_md(rows, config.min_cosine, title))
    first = first_drift(rows, config.min_cosine)
    if first is not None and rows and rows[-1].drifts(config.min_cosine):
        where = f"{first.layer} ({first.tensor})" if first.layer else first.tensor
        click.echo(f"error: the logits drift; it starts at {where} (cosine {first.cosine:.4f})", err=True)
        sys.exit(OUTSIDE_TOLERANCE)
