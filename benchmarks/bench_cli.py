"""The command-line pieces both benchmarks share: the data and artifact options, resolved in one place."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MODELS = ("model.fp32.onnx", "model.int8.onnx")


def parser(doc: str) -> argparse.ArgumentParser:
    """--checkpoint, --data-root (both by the ALEXNET_EDGE_DATA convention), --artifacts and --rounds."""
    from alexnet_edge.export.pipeline import data_paths

    out = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=data_paths.EPILOG
    )
    out.add_argument("--checkpoint", type=Path, default=None, help=data_paths.CHECKPOINT_HELP)
    out.add_argument("--data-root", type=Path, default=None, help=data_paths.DATA_ROOT_HELP)
    out.add_argument(
        "--artifacts", type=Path, default=Path("artifacts"), help="folder with model.fp32.onnx and model.int8.onnx"
    )
    out.add_argument("--rounds", type=int, default=3)
    return out


def resolve_data(args: argparse.Namespace) -> bool:
    """Fill in --checkpoint and --data-root; False (after one error line) when neither they nor the default say."""
    from alexnet_edge.export.pipeline import data_paths

    try:
        args.checkpoint, args.data_root = data_paths.checkpoint(args.checkpoint), data_paths.data_root(args.data_root)
    except data_paths.DataPathError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return False
    return True


def missing_model(artifacts: Path, hint: str) -> bool:
    """True (after one error line naming the first missing model and ``hint``) when a model is not there."""
    missing = [name for name in MODELS if not (artifacts / name).is_file()]
    if missing:
        print(f"error: {artifacts / missing[0]} is missing: {hint}", file=sys.stderr)
    return bool(missing)
