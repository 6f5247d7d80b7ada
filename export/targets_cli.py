"""``alexnet-targets`` and ``alexnet-debug``: parse options into API objects and call the API."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alexnet_edge.runtime.cli_support import one_line_errors

from . import data_paths
from .target_cpus import default_targets
from .targets import TargetsConfig

# checkpoint/data_root: filled in per run from the options or ALEXNET_EDGE_DATA (data_paths)
_DEFAULTS = TargetsConfig(models_dir=Path("artifacts"), checkpoint=Path(), data_root=Path())
TARGET_NAMES = [t.name for t in default_targets()]


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


def _deprecated_alias(old: str, new: str, minimum: int = 0):
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


def _take_aliases(opts: dict, pairs: dict[str, str]) -> dict:
    """Move each given deprecated alias (``pairs``: alias dest -> option dest) onto its option."""
    for alias, dest in pairs.items():
        value = opts.pop(alias)
        if value is not None:
            opts[dest] = value
    return opts


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=data_paths.EPILOG
)
@click.option(
    "--models",
    "models_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=_DEFAULTS.models_dir,
    show_default=True,
    help="folder with model.fp32.onnx (and model.fp16.onnx, model.int8.onnx)",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="the checkpoint the models came from: PyTorch FP32 on the host is the reference " + data_paths.CHECKPOINT_HELP,
)
@click.option(
    "--data-root", type=click.Path(path_type=Path, file_okay=False), default=None, help=data_paths.DATA_ROOT_HELP
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.out_dir, show_default=True
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=TargetSpec(),
    help=f"a CPU, @VERSION for one onnxruntime version; repeat to choose [default: {', '.join(_DEFAULTS.targets)}]",
)
@click.option(
    "--onnxruntime",
    multiple=True,
    metavar="VERSION",
    help="run the targets named without @VERSION on this onnxruntime (repeat for several; wheels and a venv "
    "are cached per CPU architecture, Python and version) [default: the host's]",
)
@click.option("--install-tools", is_flag=True, help="apt-get install qemu-user / mmdebstrap when missing (as root)")
@click.option(
    "--host-openvino", is_flag=True, help="also run the models on the host with OpenVINO, f32 (pip install openvino)"
)
@click.option(
    "--int8-size",
    "int8_images",
    type=click.IntRange(min=0),
    default=_DEFAULTS.int8_images,
    show_default=True,
    help="INT8 images per target (seeded sample of test_batch; 0 skips)",
)
@click.option(
    "--fp32-size",
    "fp32_images",
    type=click.IntRange(min=0),
    default=_DEFAULTS.fp32_images,
    show_default=True,
    help="FP32 images per target",
)
@click.option(
    "--fp16-size",
    "fp16_images",
    type=click.IntRange(min=0),
    default=_DEFAULTS.fp16_images,
    show_default=True,
    help="FP16 images; under emulation only aarch64 runs them, the one target whose CPU kernels compute in FP16",
)
@_deprecated_alias("--int8-images", "--int8-size")
@_deprecated_alias("--fp32-images", "--fp32-size")
@_deprecated_alias("--fp16-images", "--fp16-size")
@click.option("--seed", type=int, default=_DEFAULTS.seed, show_default=True, help="which test images (seeded sample)")
@click.option(
    "--cache",
    type=click.Path(path_type=Path, file_okay=False),
    default=_DEFAULTS.cache,
    show_default=True,
    help="arm64 userland, wheels and venv, reused across runs",
)
@one_line_errors
def alexnet_targets(targets, **opts) -> None:
    """Evaluate the models on every CPU target (host natively; x86 AVX2 without VNNI, x86 without AVX,
    aarch64 Cortex-A76 and Cortex-A72 under qemu-user), each on the host's onnxruntime or another
    version, and judge each against PyTorch FP32 and against the host. Exit 1 when a target is
    beyond tolerance, 2 when an emulator, userland or onnxruntime cannot be set up."""
    from .targets import render_table, run_targets

    opts = _take_aliases(opts, {f"{p}_images_alias": f"{p}_images" for p in ("int8", "fp32", "fp16")})
    opts["checkpoint"] = data_paths.checkpoint(opts["checkpoint"])
    opts["data_root"] = data_paths.data_root(opts["data_root"])
    opts["onnxruntime"] = tuple(opts["onnxruntime"])
    config = TargetsConfig(targets=tuple(targets) or _DEFAULTS.targets, **opts)
    rows, files = run_targets(config, log=lambda line: click.echo(line, err=True))
    click.echo(render_table(rows))
    click.echo(f"written: {', '.join(str(f) for f in files)}")
    failed = [f for r in rows for f in r.failures]
    for failure in failed:
        click.echo(f"error: outside tolerance: {failure}", err=True)
    if failed:
        sys.exit(1)


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
@click.option(
    "--data-root", type=click.Path(path_type=Path, file_okay=False), default=None, help=data_paths.DATA_ROOT_HELP
)
@click.option(
    "--sample-size",
    "images",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="images, a seeded sample of test_batch",
)
@_deprecated_alias("--images", "--sample-size", minimum=1)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--min-cosine", type=click.FloatRange(0, 1), default=0.99, show_default=True, help="a tensor below this drifts"
)
@click.option("--cache", type=click.Path(path_type=Path, file_okay=False), default=_DEFAULTS.cache, show_default=True)
@one_line_errors
def alexnet_debug(cache, **opts) -> None:
    """Compare every intermediate tensor of two runs (two models, or one model on two CPUs) and name
    the first that drifts. Exit 1 when the logits drift, 0 otherwise."""
    from .layer_debug import DebugConfig, first_drift, render, run_debug

    opts = _take_aliases(opts, {"images_alias": "images"})
    opts["data_root"] = data_paths.data_root(opts["data_root"])
    config = DebugConfig(**opts)
    rows, title = run_debug(config, cache=cache, log=lambda line: click.echo(line, err=True))
    click.echo(render(rows, config.min_cosine, title))
    first = first_drift(rows, config.min_cosine)
    if first is not None and rows and rows[-1].drifts(config.min_cosine):
        where = f"{first.layer} ({first.tensor})" if first.layer else first.tensor
        click.echo(f"error: the logits drift; it starts at {where} (cosine {first.cosine:.4f})", err=True)
        sys.exit(1)
