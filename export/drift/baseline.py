"""Drift baselines: where the packaged one lives, reading and checking one, writing a new one.

The reference baseline ships inside the package (alexnet_edge/export/drift/baselines/), so
``alexnet-drift`` works from an installed wheel, outside any source checkout.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alexnet_edge.export.convert.onnx_export import tool_versions
from alexnet_edge.export.errors import DriftInputError
from alexnet_edge.export.report.render import host_info
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.fileio import write_json

SCHEMA = "alexnet-edge-drift/1"
RULES = ("abs", "drop", "rise", "max", "min")
_BASELINE_KEYS = {"schema": str, "settings": dict, "inputs": dict, "figures": dict}


def baseline_dir() -> Path:
    """The installed package's baselines folder (a real folder: setuptools installs package data unzipped)."""
    return Path(str(resources.files("alexnet_edge.export.drift") / "baselines"))


def default_baseline(variant: str) -> Path:
    """One baseline per variant (and, through its recorded sha256, per checkpoint)."""
    return baseline_dir() / ("reference_cpu.json" if variant == "cifar" else f"{variant}_cpu.json")


def check_variant(baseline: dict, variant: str, path: Path) -> None:
    expected = baseline.get("settings", {}).get("variant", "cifar")  # baselines before variants: cifar
    if expected != variant:
        raise DriftInputError(
            f"baseline {path.name} was computed for variant {expected}, this run is {variant}: "
            f"compare against a {variant} baseline (make one with --update --variant {variant} --baseline PATH)",
            name="variant",
            expected=expected,
            actual=variant,
        )


def check_inputs(
    baseline: dict, current: dict, *, allow_new_checkpoint: bool, reference_dir: Path | None = None
) -> list[str]:
    """Refuse different dataset files, a different checkpoint unless allowed, and different golden logits.
    The golden logits are the baseline checkpoint's CUDA outputs: they are checked (and compared) only for
    that checkpoint; with a new one they do not apply. Returns notes."""
    for name, expected in baseline["inputs"]["dataset"].items():
        actual = current["dataset"].get(name)
        if actual != expected:
            raise DriftInputError(
                f"dataset file {name} has sha256 {actual}, "
                f"the baseline was computed from {expected}: not the same data",
                name=name,
                expected=expected,
                actual=str(actual),
            )
    expected = baseline["inputs"]["checkpoint"]["sha256"]
    actual = current["checkpoint"]["sha256"]
    if actual != expected:
        if not allow_new_checkpoint:
            raise DriftInputError(
                f"checkpoint has sha256 {actual[:16]}…, the baseline's is {expected[:16]}…: a different model "
                "(pass --allow-new-checkpoint to compare it against the baseline's figures)",
                name="checkpoint",
                expected=expected,
                actual=actual,
            )
        return [f"new checkpoint {actual[:16]}… compared against the baseline of {expected[:16]}…"]
    _check_golden(baseline, current, reference_dir)
    return []


def is_new_checkpoint(baseline: dict, current: dict) -> bool:
    """Whether the checkpoint is not the one the baseline (and its golden logits) was computed from."""
    return current["checkpoint"]["sha256"] != baseline["inputs"]["checkpoint"]["sha256"]


def _check_golden(baseline: dict, current: dict, reference_dir: Path | None) -> None:
    for name, expected in baseline["inputs"].get("golden_logits", {}).items():
        actual = current["golden_logits"].get(name)
        if actual is None:
            where = (
                "missing"
                if reference_dir is None
                else f"not in {reference_dir}" + ("" if reference_dir.is_dir() else " (no such folder)")
            )
            raise DriftInputError(
                f"golden logits {name} are {where}; the baseline was computed with them: pass "
                "--reference-dir DIR, the folder holding them [default: the folder of --checkpoint]",
                name=name,
                expected=expected,
                actual="missing",
            )
        if actual != expected:
            raise DriftInputError(
                f"golden logits {name} have sha256 {actual}, the baseline used {expected}",
                name=name,
                expected=expected,
                actual=str(actual),
            )


@dataclass(frozen=True)
class Figure:
    """One watched figure as a baseline stores it: its value and the drift rule it is judged by."""

    value: float
    rule: str  # one of RULES
    tolerance: float


def make_baseline(figures: dict[str, Figure], inputs: dict, models: dict[str, str], settings: dict) -> dict:

    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": settings,
        "inputs": {**inputs, "onnx_models": models},
        "tool_versions": tool_versions(),
        "host": host_info(),
        "figures": {
            name: {"value": figure.value, "rule": figure.rule, "tolerance": figure.tolerance}
            for name, figure in sorted(figures.items())
        },
    }


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
            raise AlexNetEdgeError(
                f"baseline {path}: '{key}' is missing or not a JSON {'object' if kind is dict else 'string'}"
            )
    inputs = baseline["inputs"]
    if (
        not isinstance(inputs.get("checkpoint"), dict)
        or "sha256" not in inputs["checkpoint"]
        or not isinstance(inputs.get("dataset"), dict)
    ):
        raise AlexNetEdgeError(f"baseline {path}: 'inputs' lacks checkpoint.sha256 or dataset")
    for name, entry in baseline["figures"].items():
        if (
            not isinstance(entry, dict)
            or not {"value", "rule", "tolerance"} <= set(entry)
            or entry["rule"] not in RULES
        ):
            raise AlexNetEdgeError(f"baseline {path}: figure {name!r} lacks value, rule or tolerance")
    return baseline


def save_baseline(path: Path, baseline: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, baseline)
