"""PyTorch -> ONNX (dynamic batch, metadata, checker) and simplification with a fallback chain."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import logging
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from alexnet_edge.export.convert.opsets import DEFAULT_OPSET
from alexnet_edge.runtime.constants import CLASS_NAMES, INPUT_NAME, MEAN, OUTPUT_NAME, STD
from alexnet_edge.runtime.errors import ModelFileError
from alexnet_edge.runtime.fileio import atomic_output, decode_metadata


def tool_versions() -> dict[str, str]:
    import platform

    versions = {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__}
    for name in ("onnxruntime", "onnxsim", "onnxslim", "onnxconverter_common"):
        try:
            module = __import__(name)
            versions[name] = getattr(module, "__version__", "unknown")
        except ImportError:
            pass
    return versions


def base_metadata(*, checkpoint_sha256: str, precision: str, opset: int) -> dict[str, object]:
    return {
        "model": "alexnet-cifar10",
        "class_names": list(CLASS_NAMES),
        "mean": list(MEAN),
        "std": list(STD),
        "input": f"{INPUT_NAME}: float32 [N,3,32,32], RGB/255 then (x-mean)/std",
        "output": f"{OUTPUT_NAME}: float32 [N,10]",
        "checkpoint_sha256": checkpoint_sha256,
        "precision": precision,
        "opset": opset,
        "tool_versions": tool_versions(),
    }


def set_metadata(model: onnx.ModelProto, metadata: dict[str, object]) -> None:
    """Replace or add ``metadata_props``; non-string values are stored as JSON."""
    current = {p.key: p.value for p in model.metadata_props}
    current.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    del model.metadata_props[:]
    for key, value in current.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def read_metadata(model: onnx.ModelProto) -> dict[str, object]:
    return decode_metadata({prop.key: prop.value for prop in model.metadata_props})


def save_checked(model: onnx.ModelProto, path: str | Path) -> Path:
    """Run the ONNX checker and write atomically."""
    onnx.checker.check_model(model, full_check=True)
    with atomic_output(path) as tmp:
        onnx.save(model, str(tmp))
    return Path(path)


@contextlib.contextmanager
def quiet_loggers(*names: str):
    """Third-party notices (the exporter's progress, onnxscript's "version conversion is not supported",
    the quantizer's advice; "" is the root logger) are not the user's business; errors still show."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def _inductor_cache_beside(path: Path):
    """torch.export creates inductor's cache, by default $TMPDIR/torchinductor_<user>, and leaves it
    there (torch/_inductor/runtime/cache_dir_utils.py); the export needs no lasting cache, so unless
    the user chose one (TORCHINDUCTOR_CACHE_DIR) it lives beside ``path`` for the export only."""
    import os

    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        yield
        return
    cache = path.parent / f".{path.name}.torchinductor"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache.resolve())
    try:
        yield
    finally:
        os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)  # cache_dir() set it for good; later calls get the default
        shutil.rmtree(cache, ignore_errors=True)


def export_onnx(
    model: torch.nn.Module,
    path: str | Path,
    *,
    metadata: dict[str, object],
    opset: int = DEFAULT_OPSET,
    verbose: bool = False,
) -> Path:
    """Export with a dynamic batch axis: ``input`` [N,3,H,W] -> ``logits`` [N,10]. ``verbose`` keeps
    the exporter's and onnxscript's own notices."""
    model = model.eval()
    size = getattr(model, "input_size", 32)
    example = torch.zeros(2, 3, size, size)
    batch = torch.export.Dim("batch", min=1, max=65536)
    quiet = contextlib.nullcontext() if verbose else quiet_loggers("torch.onnx", "onnxscript")
    with warnings.catch_warnings(), quiet, _inductor_cache_beside(Path(path)):
        if not verbose:
            warnings.simplefilter("ignore")
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={"x": {0: batch}},
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    proto = program.model_proto
    set_metadata(proto, metadata)
    return save_checked(proto, path)


@dataclass(frozen=True)
class SimplifyResult:
    tool: str  # "onnxsim", "onnxslim" or "none"
    note: str


def simplify(src: str | Path, dst: str | Path) -> SimplifyResult:
    """onnxsim, else onnxslim, else the unsimplified model: never lose the export.

    Only the simplifiers' own failures (and a model of theirs that the ONNX checker rejects) become the
    fallback note; an error of ours, or writing ``dst``, propagates."""
    model = onnx.load(str(src))
    notes: list[str] = []
    for tool in ("onnxsim", "onnxslim"):
        simplified = _simplified_by(tool, model, notes)
        if simplified is not None:
            try:
                onnx.checker.check_model(simplified, full_check=True)
            except onnx.checker.ValidationError as exc:
                notes.append(f"{tool}'s model fails the ONNX checker ({str(exc)[:80]})")
                continue
            save_checked(simplified, dst)
            version = importlib.metadata.version(tool)
            fallback = [f"fell back to {tool} {version}"] if notes else [f"{tool} {version}"]
            return SimplifyResult(tool, "; ".join(notes + fallback))
    with atomic_output(dst) as tmp:
        shutil.copyfile(src, tmp)
    return SimplifyResult("none", "; ".join(notes + ["kept the unsimplified export"]))


def _simplified_by(tool: str, model: onnx.ModelProto, notes: list[str]) -> onnx.ModelProto | None:
    """``tool``'s simplified copy of ``model``, or None with a note saying why not."""
    try:
        module = importlib.import_module(tool)
    except ImportError:
        notes.append(f"{tool} is not installed")
        return None
    try:
        if tool == "onnxsim":
            simplified, ok = module.simplify(model)
            if not ok:
                notes.append("onnxsim's own check failed")
                return None
            return simplified
        return module.slim(model)
    except Exception as exc:  # noqa: BLE001 - the simplifiers raise RuntimeError, their C++ errors, anything
        notes.append(f"{tool} failed ({exc.__class__.__name__}: {str(exc)[:80]})")
        return None


def load_onnx(path: str | Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except Exception as exc:
        raise ModelFileError(f"{path}: not a readable ONNX model ({exc.__class__.__name__})") from None
