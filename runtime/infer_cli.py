"""``alexnet-infer``: parse the options, call ``infer.classify``, print one line (or JSON object) per input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from alexnet_edge.runtime.backends.registry import BackendOptions, open_runner
from alexnet_edge.runtime.cli_support import BackendChoice, backend_option_flag, one_line_errors
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.exit_status import BAD_INPUT
from alexnet_edge.runtime.infer import Prediction, classify, skipped_in_folders
from alexnet_edge.runtime.model_folder import choose_model


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    required=True,
    help="model.*.onnx or model.*.engine, or an export's --out folder or a bundle: its report.json's recommended "
    "model and backend (batch 1), else its FP32 model",
)
@click.option(
    "--providers",
    default=None,
    help="onnxruntime providers for an ONNX model, e.g. cpu or cuda (as verify.py; the same as "
    "--backend-option onnxruntime.providers=...) [default: best available]",
)
@click.option(
    "--backend",
    type=BackendChoice("auto"),
    default="auto",
    show_default=True,
    help="auto: TensorRT for .engine/.plan/.trt, onnxruntime otherwise; openvino needs the [openvino] extra",
)
@backend_option_flag()
@click.option("--top-k", type=click.IntRange(1, len(CLASS_NAMES)), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per input, one per line")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@one_line_errors
def main(
    model: Path,
    providers: str | None,
    backend: str,
    backend_options: tuple[str, ...],
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
    An input that cannot be read gets its own error line; the others are still classified (exit 2: bad input).
    """
    options = BackendOptions.parse(backend_options)
    if providers is not None:
        options = options.with_value("onnxruntime.providers", providers)
    if model.is_dir():
        choice = choose_model(model)
        model, backend = choice.path, choice.backend if backend == "auto" and choice.backend else backend
        unused = f"; not used: {', '.join(choice.not_used)}" if choice.not_used else ""
        click.echo(f"model: {model} ({choice.reason}){unused}", err=True)
    for skipped in skipped_in_folders(inputs):
        click.echo(
            f"{skipped.folder}: skipped {len(skipped.names)} (not images or .npy): {', '.join(skipped.names)}", err=True
        )
    with open_runner(model, None if backend == "auto" else backend, options=options) as runner:
        predictions = classify(runner, inputs, top_k=top_k, batch_size=batch_size)
        where = {"model": model.name, "precision": runner.metadata().get("precision"), "device": runner.device}
        if as_json:  # the CPU once, not on every line
            click.echo(f"cpu: {json.dumps(runner.cpu_features())}", err=True)
    for pred in predictions:
        _print_prediction(pred, top_k, as_json, where)
    if any(p.error is not None for p in predictions):
        sys.exit(BAD_INPUT)


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
        "latency_ms": pred.latency_ms,  # the infer call that classified it, holding `batch` images
        "batch": pred.batch,
    }
    if top_k > 1:
        record["top_k"] = [{"class": c.name, "class_index": c.index, "probability": c.probability} for c in pred.top]
    click.echo(json.dumps(record, allow_nan=False))
