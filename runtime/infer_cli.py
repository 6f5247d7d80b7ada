"""``alexnet-infer``: classify image files, folders of images and .npy batches with an ONNX model or engine.

Class names and normalization come from the ONNX model's metadata_props, so nothing else is needed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from .backends import open_runner
from .cli_support import one_line_errors
from .constants import CLASS_NAMES, MEAN, STD
from .errors import AlexNetEdgeError, InputError
from .npy_file import load_npy
from .preprocess import IMAGE_SUFFIXES, load_image, normalize_uint8, validate_batch


@dataclass
class Item:
    path: str
    tensor: np.ndarray | None = None  # float32 [3,32,32]
    error: str | None = None


def _npy_items(path: Path, mean, std) -> list[Item]:
    try:
        array = load_npy(path)  # regular files only; the header is checked against the file's size first
    except AlexNetEdgeError as exc:
        return [Item(str(path), error=f"not a usable .npy file: {str(exc).removeprefix(f'{path}: ')}")]
    try:
        if array.dtype == np.uint8 and array.ndim == 4 and array.shape[-1] == 3:
            batch = normalize_uint8(array, layout="NHWC", mean=mean, std=std)
        elif array.dtype == np.float32:
            batch = validate_batch(array)
        else:
            raise InputError(
                "expected uint8 NHWC [N,32,32,3] or normalized float32 NCHW [N,3,32,32], "
                f"got {array.dtype} {list(array.shape)}"
            )
        validate_batch(batch)
    except AlexNetEdgeError as exc:
        return [Item(str(path), error=str(exc))]
    finite = np.isfinite(batch).reshape(len(batch), -1).all(axis=1)
    return [
        Item(f"{path}[{i}]", tensor=batch[i])
        if finite[i]
        else Item(f"{path}[{i}]", error="holds NaN or infinite values")
        for i in range(len(batch))
    ]


def collect(inputs: list[Path], mean, std) -> list[Item]:
    items: list[Item] = []
    for path in inputs:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES or p.suffix == ".npy")
            if not files:
                items.append(Item(str(path), error="folder holds no images or .npy files"))
            items += collect(files, mean, std)
        elif path.suffix == ".npy":
            items += _npy_items(path, mean, std)
        else:
            try:
                pixels = load_image(path)[None]
                items.append(Item(str(path), tensor=normalize_uint8(pixels, layout="NHWC", mean=mean, std=std)[0]))
            except AlexNetEdgeError as exc:
                items.append(Item(str(path), error=str(exc).removeprefix(f"{path}: ")))
    return items


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


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
    runner = open_runner(model, None if backend == "auto" else backend, providers=providers)
    with runner:
        meta = runner.metadata()
        cpu = runner.cpu_features()
        names = list(meta.get("class_names", CLASS_NAMES))
        mean, std = meta.get("mean", MEAN), meta.get("std", STD)
        items = collect(list(inputs), mean, std)
        probs = classify(runner, items, batch_size)
    failed = 0
    for it in items:
        failed += it.error is not None
        _print_item(it, probs.get(id(it)), names, top_k, as_json, {"device": runner.device, "cpu": cpu})
    if failed:
        sys.exit(1)


def classify(runner, items: list, batch_size: int) -> dict[int, np.ndarray]:
    """Class probabilities of every readable input, keyed by ``id(item)``, in batches the runner can take.

    An input whose logits are not finite gets its ``error`` set instead of probabilities.
    """
    good = [it for it in items if it.tensor is not None]
    if runner.max_batch:
        batch_size = min(batch_size, runner.max_batch)
    probs = {}
    for start in range(0, len(good), batch_size):
        chunk = good[start : start + batch_size]
        logits = runner.infer(np.stack([it.tensor for it in chunk]))
        for it, p in zip(chunk, softmax(logits.astype(np.float64)), strict=False):
            if np.isfinite(p).all():
                probs[id(it)] = p
            else:
                it.error = "the model returned NaN or infinite logits for this input"
    return probs


def _print_item(it, p: np.ndarray | None, names: list[str], top_k: int, as_json: bool, where: dict) -> None:
    if it.error is not None:
        if as_json:
            click.echo(json.dumps({"path": it.path, "error": it.error}))
        else:
            click.echo(f"{it.path}: error: {it.error}", err=True)
        return
    order = np.argsort(-p)[:top_k]
    if not as_json:
        click.echo(f"{it.path}: " + ", ".join(f"{names[i]} {p[i]:.3f}" for i in order))
        return
    record = {
        "path": it.path,
        "class": names[order[0]],
        "class_index": int(order[0]),
        "probability": float(p[order[0]]),
        **where,
    }
    if top_k > 1:
        record["top_k"] = [{"class": names[i], "class_index": int(i), "probability": float(p[i])} for i in order]
    click.echo(json.dumps(record, allow_nan=False))
