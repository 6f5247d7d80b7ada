"""``alexnet-targets``: parse options into a TargetsConfig, call ``targets.run_targets``, print."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.export.targets import judge
from alexnet_edge.export.targets.judge import TargetsConfig, render_targets_md
from alexnet_edge.export.targets.options import TargetSpec, cache_option, deprecated_alias, take_aliases
from alexnet_edge.runtime.backends import registry
from alexnet_edge.runtime.cli_support import BackendChoice, backend_option_flag, one_line_errors
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.exit_status import OUTSIDE_TOLERANCE
from alexnet_edge.runtime.precision import Precision, PrecisionKey, parse_precision

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
    "--host-backend",
    "host_backends",
    multiple=True,
    type=BackendChoice(),
    help=f"also run the models on the host with this backend, judged like a target; repeat for several "
    f"(host backends: {', '.join(registry.host_backends())})",
)
@click.option("--host-openvino", is_flag=True, help="the same as --host-backend openvino")
@backend_option_flag()
@click.option(
    "--size",
    "sizes",
    multiple=True,
    metavar="PRECISION=N",
    help="images per target of one precision, e.g. int8=400 (a seeded sample of test_batch; 0 skips); repeat "
    "for several [default: " + ", ".join(f"{p.value}={n}" for p, n in _DEFAULTS.images.items()) + "]",
)
@click.option(
    "--int8-size",
    "int8_images",
    type=click.IntRange(min=0),
    default=None,
    help=f"the same as --size int8=N [default: {_DEFAULTS.images[Precision.INT8]}]",
)
@click.option(
    "--fp32-size",
    "fp32_images",
    type=click.IntRange(min=0),
    default=None,
    help=f"the same as --size fp32=N [default: {_DEFAULTS.images[Precision.FP32]}]",
)
@click.option(
    "--fp16-size",
    "fp16_images",
    type=click.IntRange(min=0),
    default=None,
    help="the same as --size fp16=N; under emulation only aarch64 runs FP16, the one target whose CPU kernels "
    f"compute in FP16 [default: {_DEFAULTS.images[Precision.FP16]}]",
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

    shortcuts = {p: f"{p.value}_images" for p in (Precision.INT8, Precision.FP32, Precision.FP16)}
    opts = take_aliases(opts, {f"{dest}_alias": dest for dest in shortcuts.values()})
    given = {p: opts.pop(dest) for p, dest in shortcuts.items()}
    opts["images"] = {**_DEFAULTS.images, **image_sizes(opts.pop("sizes"))}
    opts["images"].update({p: n for p, n in given.items() if n is not None})
    opts["checkpoint"] = data_paths.checkpoint(opts["checkpoint"])
    opts["data_root"] = data_paths.data_root(opts["data_root"])
    opts["onnxruntime"] = tuple(opts["onnxruntime"])
    opts["host_backends"] = tuple(
        dict.fromkeys(opts["host_backends"] + (("openvino",) if opts.pop("host_openvino") else ()))
    )
    opts["backend_options"] = registry.BackendOptions.parse(opts["backend_options"])
    config = TargetsConfig(targets=tuple(targets) or _DEFAULTS.targets, **opts)
    rows, files = judge.run_targets(config, log=lambda line: click.echo(line, err=True))
    click.echo(render_targets_md(rows))
    click.echo(f"written: {', '.join(str(f) for f in files)}")
    failed = [f for r in rows for f in r.failures]
    for failure in failed:
        click.echo(f"error: outside tolerance: {failure}", err=True)
    if failed:
        sys.exit(OUTSIDE_TOLERANCE)


def image_sizes(items: tuple[str, ...]) -> dict[PrecisionKey, int]:
    """``("int8=400", ...)`` -> {Precision.INT8: 400}; an unknown precision or a bad count fails in one line."""
    sizes: dict[PrecisionKey, int] = {}
    for item in items:
        name, _, number = item.partition("=")
        if not number.isdigit():
            raise AlexNetEdgeError(f"--size {item}: write PRECISION=N with N >= 0, e.g. int8=400")
        sizes[parse_precision(name)] = int(number)
    return sizes
