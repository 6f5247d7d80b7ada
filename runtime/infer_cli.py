"""``alexnet-infer``: parse the options, call ``infer.classify``, print one line (or JSON object) per input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from alexnet_edge.runtime.backends import open_runner
from alexnet_edge.runtime.cli_support import one_line_errors
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.infer import Prediction, classify


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--model", type=click.Path(path_type=Path, dir_okay=False), required=True, help="model.*.onnx or model.*.engine"
)
@click.option(
    "--providers",
    default=None,
    help="onnxruntime providers for an ONNX model, e.g. cpu or cuda (as verify.py) [default: best available]",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "onnxruntime", "openvino", "tensorrt"]),
    default="auto",
    show_default=True,
    help="auto: TensorRT for .engine/.plan/.trt, onnxruntime otherwise; openvino needs the [openvino] extra",
)
@click.option("--top-k", type=click.IntRange(1, len(CLASS_NAMES)), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per input, one per line")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@one_line_errors
def main(
    model: Path,
    providers: str | None,
    backend: str,
    top_k: int,
    as_json: bool,
    batch_size: int,
    inputs: tuple[Path, ...],
) -> None:
    """Print the top-k classes with probabilities for each input.

    \b
    INPUTS, any mix of:
      image files   .png .jpg .jpeg .bmp .gif .webp .tif .tiff, any size (resized to 32x32)
      folders       every image and every .npy file directly inside (not subfolders)
      .npy files    uint8 NHWC [N,32,32,3] or normalized float32 NCHW [N,3,32,32]; one line per image
    An input that cannot be read gets its own error line; the others are still classified (exit 1).
    """
    with open_runner(model, None if backend == "auto" else backend, providers=providers) as runner:
        predictions = classify(runner, inputs, top_k=top_k, batch_size=batch_size)
        where = {"device": runner.device, "cpu": runner.cpu_features()}
    for pred in predictions:
        _print_prediction(pred, top_k, as_json, where)
    if any(p.error is not None for p in predictions):
        sys.exit(1)


def _print_prediction(pred: Prediction, top_k: int, as_json: bool, where: dict) -> None:
    if pred.error is not None:
        if as_json:
            click.echo(json.dumps({"path": pred.path, "error": pred.error}))
        else:
            click.echo(f"{pred.path}: error: {pred.error}", err=True)
        return
    if not as_json:
        click.echo(f"{pred.path}: " + ", ".join(f"{c.name} {c.probability:.3f}" for c in pred.top))
        return
    best = pred.top[0]
    record = {
        "path": pred.path,
        "class": best.name,
        "class_index": best.index,
        "probability": best.probability,
        **where,
    }
    if top_k > 1:
        record["top_k"] = [{"class": c.name, "class_index": c.index, "probability": c.probability} for c in pred.top]
    click.echo(json.dumps(record, allow_nan=False))
