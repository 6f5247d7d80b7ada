"""alexnet-drift: the accuracy-drift gate's command line; the logic is export/drift/gate.py's check() and update()."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alexnet_edge.export.model.architecture import VARIANTS
from alexnet_edge.export.pipeline import data_paths
from alexnet_edge.runtime.cli_support import one_line_errors
from alexnet_edge.runtime.exit_status import OUTSIDE_TOLERANCE
from alexnet_edge.runtime.lazy import lazy_import, load

# The gate runs the pipeline (torch, onnx): loaded when the gate runs, not for --help.
drift = lazy_import("alexnet_edge.export.drift.gate")
drift_text = lazy_import("alexnet_edge.export.drift.text")


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=data_paths.EPILOG
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"the model to check {data_paths.CHECKPOINT_HELP}",
)
@data_paths.data_root_option()
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=(
        "[default: the packaged baseline of --variant (alexnet_edge/export/drift/baselines/); "
        "needed for --update from a wheel]"
    ),
)
@click.option(
    "--reference-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="folder with the CUDA golden logits (test_logits_fp32_cuda.npy, ..._fp16_...) "
    "[default: the folder of --checkpoint]",
)
@click.option(
    "--allow-new-checkpoint", is_flag=True, help="compare a different checkpoint against the baseline's figures"
)
@click.option("--update", is_flag=True, help="recompute and rewrite the baseline, showing old and new side by side")
@click.option(
    "--eval-size", type=click.IntRange(min=1), default=None, help="with --update: evaluate only the first N test images"
)
@click.option(
    "--work-dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="keep the recomputed models here"
)
@click.option("--all", "show_all", is_flag=True, help="list every figure, not only those that moved")
@click.option(
    "--variant",
    type=click.Choice([v for v in VARIANTS if v != "original"]),
    default="cifar",
    show_default=True,
    help="the checkpoint's variant; each variant has its own baseline",
)
@one_line_errors
def alexnet_drift(
    checkpoint, data_root, baseline, reference_dir, allow_new_checkpoint, update, eval_size, work_dir, show_all, variant
) -> None:
    """Recompute accuracy, agreement and |Δlogit| of the deployed models and compare them with a
    committed baseline. Exit 0 within tolerance, 1 when a figure moved beyond it, 2 when an input
    (dataset, golden logits, checkpoint) is not the one the baseline was computed from."""
    load(drift)  # a missing [export] extra is the first thing said
    checkpoint, data_root = data_paths.checkpoint(checkpoint), data_paths.data_root(data_root)
    reference_dir = reference_dir if reference_dir is not None else checkpoint.parent
    request = drift.GateRequest(
        checkpoint=checkpoint,
        data_root=data_root,
        baseline=baseline,
        reference_dir=reference_dir,
        variant=variant,
        allow_new_checkpoint=allow_new_checkpoint,
        work_dir=work_dir,
    )

    def log(line: str) -> None:
        click.echo(line, err=True)

    if update:
        old, new = drift.update(request, eval_size=eval_size, log=log)
        click.echo(drift_text.render_update(old, new))
        click.echo(f"baseline written: {request.baseline_path}")
        return
    result = drift.check(request, log=log)
    for note in result.notes:
        click.echo(f"note: {note}")
    moved = result.moved
    click.echo(drift_text.render(result.drifts, only_failed=not show_all) if (moved or show_all) else "")
    click.echo(
        f"{len(result.drifts) - len(moved)} of {len(result.drifts)} figures "
        f"within tolerance of {result.baseline_path.name}"
    )
    if moved:
        click.echo(f"error: {len(moved)} figure(s) moved beyond tolerance", err=True)
        sys.exit(OUTSIDE_TOLERANCE)
