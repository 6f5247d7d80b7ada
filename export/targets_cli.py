"""``alexnet-targets`` and ``alexnet-debug``: parse options into API objects and call the API."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alexnet_edge.runtime.cli_support import one_line_errors

from .targets import TargetsConfig

_SHARED = Path("../shared")
_DEFAULTS = TargetsConfig(models_dir=Path("artifacts"), checkpoint=_SHARED / "reference/alexnet_cifar10.pt", data_root=_SHARED / "cifar10")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--models", "models_dir", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.models_dir, show_default=True,
              help="folder with model.fp32.onnx (and model.fp16.onnx, model.int8.onnx)")
@click.option("--checkpoint", type=click.Path(path_type=Path, dir_okay=False), default=_DEFAULTS.checkpoint, show_default=True,
              help="the checkpoint the models came from: PyTorch FP32 on the host is the reference")
@click.option("--data-root", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.data_root, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.out_dir, show_default=True)
@click.option("--target", "targets", multiple=True, help=f"repeat to choose [default: {', '.join(_DEFAULTS.targets)}]")
@click.option("--int8-images", type=click.IntRange(min=0), default=_DEFAULTS.int8_images, show_default=True)
@click.option("--fp32-images", type=click.IntRange(min=0), default=_DEFAULTS.fp32_images, show_default=True)
@click.option("--fp16-images", type=click.IntRange(min=0), default=_DEFAULTS.fp16_images, show_default=True,
              help="FP16 under emulation runs only on aarch64, the one target whose CPU kernels compute in FP16")
@click.option("--seed", type=int, default=_DEFAULTS.seed, show_default=True, help="which test images (seeded sample)")
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.cache, show_default=True,
              help="arm64 userland, wheels and venv, reused across runs")
@one_line_errors
def alexnet_targets(targets, **opts) -> None:
    """Evaluate the models on every CPU target (host natively; x86 AVX2 without VNNI and aarch64
    under qemu-user) and judge each against PyTorch FP32 and against the host. Exit 1 when a target
    is beyond tolerance, 2 when an emulator or userland cannot be set up."""
    from .targets import render_table, run_targets

    config = TargetsConfig(targets=tuple(targets) or _DEFAULTS.targets, **opts)
    rows, files = run_targets(config, log=lambda line: click.echo(line, err=True))
    click.echo(render_table(rows))
    click.echo(f"written: {', '.join(str(f) for f in files)}")
    failed = [f for r in rows for f in r.failures]
    for failure in failed:
        click.echo(f"error: outside tolerance: {failure}", err=True)
    if failed:
        sys.exit(1)



@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), required=True, help="the model under diagnosis")
@click.option("--against", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="the reference model, run on the host (e.g. model.fp32.onnx against model.int8.onnx)")
@click.option("--target", default=None, help="or: run --model on this target (x86-avx2, aarch64) against the host")
@click.option("--data-root", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.data_root, show_default=True)
@click.option("--images", type=click.IntRange(min=1), default=100, show_default=True, help="seeded sample of test images")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--min-cosine", type=click.FloatRange(0, 1), default=0.99, show_default=True, help="a tensor below this drifts")
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.cache, show_default=True)
@one_line_errors
def alexnet_debug(cache, **opts) -> None:
    """Compare every intermediate tensor of two runs (two models, or one model on two CPUs) and name
    the first that drifts. Exit 1 when the logits drift, 0 otherwise."""
    from .layer_debug import DebugConfig, first_drift, render, run_debug

    config = DebugConfig(**opts)
    rows, title = run_debug(config, cache=cache, log=lambda line: click.echo(line, err=True))
    click.echo(render(rows, config.min_cosine, title))
    first = first_drift(rows, config.min_cosine)
    if first is not None and rows and rows[-1].drifts(config.min_cosine):
        click.echo(f"error: the logits drift; it starts at {first.tensor} (cosine {first.cosine:.4f})", err=True)
        sys.exit(1)
