"""``alexnet-targets``: parse options into a TargetsConfig, call ``targets.run_targets``, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.export.targets.judge import TargetsConfig
from alexnet_edge.export.targets.options import TargetSpec, cache_option, deprecated_alias, take_aliases
from alexnet_edge.runtime.cli_support import one_line_errors

# checkpoint/data_root: filled in per run from the options or ALEXNET_EDGE_DATA (data_paths)
_DEFAULTS = TargetsConfig(models_dir=Path("artifacts"), checkpoint=Path(), data_root=Path())


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
@data_paths.data_root_option()
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
@deprecated_alias("--int8-images", "--int8-size")
@deprecated_alias("--fp32-images", "--fp32-size")
@deprecated_alias("--fp16-images", "--fp16-size")
@click.option("--seed", type=int, default=_DEFAULTS.seed, show_default=True, help="which test images (seeded sample)")
@cache_option("arm64 userland, wheels and venv, reused across runs")
@one_line_errors
def alexnet_targets(targets, **opts) -> None:
    """Evaluate the models on every CPU target (host natively; x86 AVX2 without VNNI, x86 without AVX,
    aarch64 Cortex-A76 and Cortex-A72 under qemu-user), each on the host's onnxruntime or another
    version, and judge each against PyTorch FP32 and against the host. Exit 1 when a target is
    beyond tolerance, 2 when an emulator, userland or onnxruntime cannot be set up."""
    from alexnet_edge.export.targets.judge import render_targets_md, run_targets

    opts = take_aliases(opts, {f"{p}_images_alias": f"{p}_images" for p in ("int8", "fp32", "fp16")})
    opts["checkpoint"] = data_paths.checkpoint(opts["checkpoint"])
    opts["data_root"] = data_paths.data_root(opts["data_root"])
    opts["onnxruntime"] = tuple(opts["onnxruntime"])
    config = TargetsConfig(targets=tuple(targets) or _DEFAULTS.targets, **opts)
    rows, files = run_targets(config, log=lambda line: click.echo(line, err=True))
    click.echo(render_targets_md(rows))
    click.echo(f"written: {', '.join(str(f) for f in files)}")
    failed = [f for r in rows for f in r.failures]
    for failure in failed:
        click.echo(f"error: outside tolerance: {failure}", err=True)
    if failed:
        sys.exit(1)
