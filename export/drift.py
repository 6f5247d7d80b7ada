"""Accuracy-drift gate: recompute what the deployed models compute and compare with committed baselines.

A baseline (tests/baselines/*.json) holds, per backend/device/precision, accuracy on the evaluated
test images, per-class accuracy, top-1 agreement and |Δlogit| against PyTorch FP32, cross-device
figures against the CUDA golden logits, each with its tolerance, and the hashes of every input.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.calibration.cifar10 import batches_dir
from alexnet_edge.runtime.constants import CLASS_NAMES
from alexnet_edge.runtime.errors import AlexNetEdgeError, CheckpointError, DatasetError
from alexnet_edge.runtime.fileio import sha256_file, write_json
from alexnet_edge.runtime.precision import Precision

from .pipeline import PipelineConfig, PipelineResult, run

SCHEMA = "alexnet-edge-drift/1"
DEFAULT_BASELINE = Path(__file__).resolve().parents[1] / "tests" / "baselines" / "reference_cpu.json"
GOLDEN = {"fp32": "test_logits_fp32_cuda.npy", "fp16": "test_logits_fp16_cuda.npy"}
# What a new baseline is computed with (an existing baseline carries its own settings).
DEFAULT_SETTINGS = {
    "variant": "cifar",
    "eval_size": 10000,
    "precisions": ["fp32", "fp16", "int8"],
    "calib_size": 512,
    "calib_method": "percentile",
    "calib_seed": 0,
    "calib_files": ["data_batch_1"],
}

# Tolerances, in one place. Run-to-run spread on one machine is zero (same inputs, same versions:
# identical logits), so these are set by what may legitimately move between machines and versions,
# and kept under what must fail: a 0.5-point accuracy change, a 1-point INT8 agreement drop.
#   rule "abs": |now - baseline| <= tol      "drop": baseline - now <= tol
#   rule "rise": now - baseline <= tol       "max"/"min": now <= tol / now >= tol (absolute bounds)
TOLERANCES: dict[str, tuple[str, float]] = {
    "accuracy": ("abs", 0.0025),  # 25 of 10,000 images; a 0.5-point change fails
    "per_class": ("abs", 0.01),  # 10 of 1,000 images of a class
    "top1_agreement": ("drop", 0.005),  # a 1-point INT8 agreement drop fails
    "max_abs_diff/fp32": ("rise", 1e-3),  # seen 2.7e-5; 1e-3 is the export tolerance
    "max_abs_diff/fp16": ("rise", 1e-3),
    "max_abs_diff/int8": ("rise", 5.0),  # one worst image among 10,000: a noisy statistic
    "mean_abs_diff/fp32": ("rise", 1e-5),
    "mean_abs_diff/fp16": ("rise", 1e-5),
    "mean_abs_diff/int8": ("rise", 0.01),  # seen 0.074
    "vs_cuda/fp32/max_abs_diff": ("max", 0.05),  # seen 0.0126 for PyTorch CPU vs CUDA (TF32 off)
    "vs_cuda/fp32/top1_agreement": ("min", 0.9995),  # seen 100%
    "vs_cuda/fp16/max_abs_diff": ("max", 0.1),  # seen 0.045: CPU runs FP16 models in FP32
    "vs_cuda/fp16/top1_agreement": ("min", 0.999),  # seen 99.98%
}


RULES = ("abs", "drop", "rise", "max", "min")


class DriftInputError(AlexNetEdgeError):
    """An input differs from the one the baseline was computed from."""

    def __init__(self, message: str, *, name: str, expected: str, actual: str):
        super().__init__(message)
        self.name, self.expected, self.actual = name, expected, actual


@dataclass(frozen=True)
class Drift:
    figure: str
    baseline: float
    now: float
    rule: str
    tolerance: float

    @property
    def ok(self) -> bool:
        if math.isnan(self.now) or math.isnan(self.baseline):
            return math.isnan(self.now) and math.isnan(self.baseline)
        return {
            "abs": lambda: abs(self.now - self.baseline) <= self.tolerance + 1e-12,
            "drop": lambda: self.baseline - self.now <= self.tolerance + 1e-12,
            "rise": lambda: self.now - self.baseline <= self.tolerance + 1e-12,
            "max": lambda: self.now <= self.tolerance,
            "min": lambda: self.now >= self.tolerance,
        }[self.rule]()


def rule_for(figure: str) -> tuple[str, float]:
    parts = figure.split("/")  # backend/device/precision/metric[/...]
    precision, metric = parts[2], parts[3]
    if metric == "vs_cuda":
        return TOLERANCES[f"vs_cuda/{parts[4]}/{parts[5]}"]
    if metric in ("max_abs_diff", "mean_abs_diff"):
        return TOLERANCES[f"{metric}/{precision}"]
    return TOLERANCES[metric]


def figures_from(result: PipelineResult, golden: dict[str, np.ndarray]) -> dict[str, float]:
    """Every figure the gate watches, keyed "backend/device/precision/metric[/detail]"."""
    figures: dict[str, float] = {}
    n = len(result.labels)
    for row in result.report["rows"]:
        key = f"{row['backend']}/{row['device']}/{row['precision']}"
        figures[f"{key}/accuracy"] = row["accuracy"]
        for name, value in zip(CLASS_NAMES, row["per_class_accuracy"]):
            figures[f"{key}/per_class/{name}"] = value
        if row["backend"] != "torch":
            for metric in ("top1_agreement", "max_abs_diff", "mean_abs_diff"):
                figures[f"{key}/{metric}"] = row[metric]
        target = "fp16" if row["precision"] == "fp16" else "fp32" if row["precision"] == "fp32" else None
        if target in golden:
            logits, gold = result.logits[key], golden[target][:n]
            figures[f"{key}/vs_cuda/{target}/max_abs_diff"] = float(np.abs(logits - gold).max())
            figures[f"{key}/vs_cuda/{target}/top1_agreement"] = float((logits.argmax(1) == gold.argmax(1)).mean())
    return figures


def input_hashes(checkpoint: Path, data_root: Path, calib_files: list[str], reference_dir: Path | None) -> dict:
    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint not found: {checkpoint}")
    dataset = {}
    for name in ["test_batch", *calib_files]:
        path = batches_dir(data_root) / name
        if not path.is_file():
            raise DatasetError(f"CIFAR-10 file missing: {path}", path=str(path))
        dataset[name] = sha256_file(path)
    golden = {}
    if reference_dir is not None:
        for precision, name in GOLDEN.items():
            if (reference_dir / name).is_file():
                golden[name] = sha256_file(reference_dir / name)
    return {"checkpoint": {"file": checkpoint.name, "sha256": sha256_file(checkpoint)}, "dataset": dataset, "golden_logits": golden}


def default_baseline(variant: str) -> Path:
    """One baseline per variant (and, through its recorded sha256, per checkpoint)."""
    return DEFAULT_BASELINE if variant == "cifar" else DEFAULT_BASELINE.with_name(f"{variant}_cpu.json")


def check_variant(baseline: dict, variant: str, path: Path) -> None:
    expected = baseline.get("settings", {}).get("variant", "cifar")  # baselines before variants: cifar
    if expected != variant:
        raise DriftInputError(
            f"baseline {path.name} was computed for variant {expected}, this run is {variant}: "
            f"compare against a {variant} baseline (make one with --update --variant {variant} --baseline PATH)",
            name="variant", expected=expected, actual=variant,
        )  # fmt: skip


def check_inputs(baseline: dict, current: dict, *, allow_new_checkpoint: bool) -> list[str]:
    """Refuse different dataset files or golden logits (and checkpoint unless allowed). Returns notes."""
    for name, expected in baseline["inputs"]["dataset"].items():
        actual = current["dataset"].get(name)
        if actual != expected:
            raise DriftInputError(
                f"dataset file {name} has sha256 {actual}, the baseline was computed from {expected}: not the same data",
                name=name, expected=expected, actual=str(actual),
            )  # fmt: skip
    for name, expected in baseline["inputs"].get("golden_logits", {}).items():
        actual = current["golden_logits"].get(name)
        if actual != expected:
            raise DriftInputError(f"golden logits {name} have sha256 {actual}, the baseline used {expected}",
                                  name=name, expected=expected, actual=str(actual))  # fmt: skip
    expected = baseline["inputs"]["checkpoint"]["sha256"]
    actual = current["checkpoint"]["sha256"]
    if actual != expected:
        if not allow_new_checkpoint:
            raise DriftInputError(
                f"checkpoint has sha256 {actual[:16]}…, the baseline's is {expected[:16]}…: a different model "
                "(pass --allow-new-checkpoint to compare it against the baseline's figures)",
                name="checkpoint", expected=expected, actual=actual,
            )  # fmt: skip
        return [f"new checkpoint {actual[:16]}… compared against the baseline of {expected[:16]}…"]
    return []


def compute(checkpoint: Path, data_root: Path, settings: dict, *, reference_dir: Path | None, work_dir: Path | None,
            log: Callable[[str], None]) -> tuple[dict[str, float], dict[str, str]]:  # fmt: skip
    """Run the pipeline (no benchmark, no engines) and return (figures, ONNX model sha256s)."""
    golden = {}
    if reference_dir is not None:
        golden = {p: np.load(reference_dir / name) for p, name in GOLDEN.items() if (reference_dir / name).is_file()}
    with tempfile.TemporaryDirectory(prefix="alexnet-drift-") as tmp:
        out = work_dir or Path(tmp)
        config = PipelineConfig(
            data_root=data_root, out_dir=out, checkpoint=checkpoint, eval_size=settings["eval_size"],
            precisions=tuple(Precision(p) for p in settings["precisions"]), calib_size=settings["calib_size"],
            calib_method=settings["calib_method"], calib_seed=settings["calib_seed"],
            calib_files=tuple(settings["calib_files"]), bench=False, engines=False, progress=False,
            variant=settings.get("variant", "cifar"),
        )  # fmt: skip
        result = run(config, log=log)
        models = {p.onnx_name: sha256_file(out / p.onnx_name) for p in config.precisions}
    return figures_from(result, golden), models


def compare_figures(baseline: dict, figures: dict[str, float]) -> list[Drift]:
    drifts = []
    for figure, entry in baseline["figures"].items():
        now = figures.get(figure, float("nan"))
        value = float("nan") if entry["value"] is None else entry["value"]  # strict JSON writes NaN as null
        drifts.append(Drift(figure, value, now, entry["rule"], entry["tolerance"]))
    return drifts


def make_baseline(figures: dict[str, float], inputs: dict, models: dict[str, str], settings: dict) -> dict:
    from .onnx_export import tool_versions
    from .report import host_info

    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": settings,
        "inputs": {**inputs, "onnx_models": models},
        "tool_versions": tool_versions(),
        "host": host_info(),
        "figures": {name: {"value": value, "rule": rule_for(name)[0], "tolerance": rule_for(name)[1]} for name, value in sorted(figures.items())},
    }


_BASELINE_KEYS = {"schema": str, "settings": dict, "inputs": dict, "figures": dict}


def load_baseline(path: Path) -> dict:
    """Read a baseline and check its shape, naming the first thing that is wrong."""
    try:
        baseline = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise AlexNetEdgeError(f"baseline {path} not found (create one with --update)") from None
    except IsADirectoryError:
        raise AlexNetEdgeError(f"baseline {path} is a folder, not a baseline file") from None
    except UnicodeDecodeError:
        raise AlexNetEdgeError(f"baseline {path} is not a text file (not UTF-8)") from None
    except json.JSONDecodeError as exc:
        raise AlexNetEdgeError(f"baseline {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(baseline, dict):
        raise AlexNetEdgeError(f"baseline {path} holds a JSON {type(baseline).__name__}, not an object")
    if baseline.get("schema") != SCHEMA:
        raise AlexNetEdgeError(f"baseline {path} has schema {baseline.get('schema')!r}, expected {SCHEMA!r}")
    for key, kind in _BASELINE_KEYS.items():
        if not isinstance(baseline.get(key), kind):
            raise AlexNetEdgeError(f"baseline {path}: '{key}' is missing or not a JSON {'object' if kind is dict else 'string'}")
    inputs = baseline["inputs"]
    if not isinstance(inputs.get("checkpoint"), dict) or "sha256" not in inputs["checkpoint"] or not isinstance(inputs.get("dataset"), dict):
        raise AlexNetEdgeError(f"baseline {path}: 'inputs' lacks checkpoint.sha256 or dataset")
    for name, entry in baseline["figures"].items():
        if not isinstance(entry, dict) or not {"value", "rule", "tolerance"} <= set(entry) or entry["rule"] not in RULES:
            raise AlexNetEdgeError(f"baseline {path}: figure {name!r} lacks value, rule or tolerance")
    return baseline


def save_baseline(path: Path, baseline: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, baseline)


def _num(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.6g}"


def render(drifts: list[Drift], *, only_failed: bool) -> str:
    shown = [d for d in drifts if not (only_failed and d.ok)]
    rule_text = {"abs": "±{}", "drop": "drop ≤ {}", "rise": "rise ≤ {}", "max": "≤ {}", "min": "≥ {}"}
    width = max([len(d.figure) for d in shown] + [6])
    lines = [f"{'figure':<{width}}  {'baseline':>10}  {'now':>10}  {'change':>11}  {'tolerance':<14}  status"]
    for d in shown:
        change = d.now - d.baseline if not (math.isnan(d.now) or math.isnan(d.baseline)) else float("nan")
        lines.append(
            f"{d.figure:<{width}}  {_num(d.baseline):>10}  {_num(d.now):>10}  {_num(change):>11}  "
            f"{rule_text[d.rule].format(_num(d.tolerance)):<14}  {'ok' if d.ok else 'MOVED'}"
        )
    return "\n".join(lines)


def render_update(old: dict | None, new: dict) -> str:
    old_figures = (old or {}).get("figures", {})
    width = max(len(k) for k in new["figures"])
    lines = [f"{'figure':<{width}}  {'old':>10}  {'new':>10}"]
    for name, entry in new["figures"].items():
        before = old_figures.get(name, {}).get("value", float("nan"))
        lines.append(f"{name:<{width}}  {_num(before):>10}  {_num(entry['value']):>10}")
    for name in sorted(set(old_figures) - set(new["figures"])):
        lines.append(f"{name:<{width}}  {_num(old_figures[name]['value']):>10}  {'(gone)':>10}")
    return "\n".join(lines)
