"""alexnet-inspect: every layer's output shape, parameters and MACs, from the torch-free shape walk."""

from __future__ import annotations

import click

from alexnet_edge.export.model.architecture import VARIANTS, flatten_size, summarize
from alexnet_edge.runtime.cli_support import one_line_errors

MAX_INSPECT_INPUT = 1024  # pixels per side: well past ImageNet's 224, far below sizes whose figures mean nothing


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--input-size",
    type=click.IntRange(1, MAX_INSPECT_INPUT),
    default=32,
    show_default=True,
    help="square input side in pixels",
)
@click.option(
    "--variant",
    type=click.Choice(VARIANTS),
    default="cifar",
    show_default=True,
    help="cifar: the 32x32 first block (Conv k5 s1 p2); cifar-bn: the same with BatchNorm2d after each "
    "conv; original: the 224-style Conv k11 s4 p2",
)
@one_line_errors
def alexnet_inspect(input_size: int, variant: str) -> None:
    """Print the output shape, parameters and multiply-accumulates of every layer."""
    net = summarize(variant, input_size)
    click.echo(f"AlexNet ({variant}) on a {input_size}x{input_size} input")
    click.echo(f"{'layer':<14} {'op':<36} {'output':<16} {'params':>12} {'MACs':>14}")
    click.echo(f"{'input':<14} {'':<36} {str([3, input_size, input_size]):<16} {'':>12} {'':>14}")
    for row in net.rows:
        click.echo(
            f"{row.name:<14} {row.layer.summary():<36} {str(list(row.out_shape)):<16} {row.params:>12,} {row.macs:>14,}"
        )
    click.echo(f"spatial: {' -> '.join(map(str, net.spatial))}; flatten {net.flatten}")
    if not net.fits_reference:
        click.echo(
            f"note: the reference checkpoint's classifier.1 takes {flatten_size('cifar')} features; "
            f"this input size needs a model trained for {net.flatten}"
        )
    click.echo(f"total: {net.params:,} parameters, {net.macs:,} MACs per image")
