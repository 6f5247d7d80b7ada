"""What one pipeline run writes from its ``RunArtifacts``: the report, the manifest and the bundle."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from alexnet_edge.export.bundle.writer import VERIFY_IMAGES as BUNDLE_IMAGES
from alexnet_edge.export.bundle.writer import expected_figures, write_bundle
from alexnet_edge.export.pipeline.artifacts import RunArtifacts
from alexnet_edge.export.report.render import REPORT_SCHEMA, host_info
from alexnet_edge.runtime.fileio import strict_json
from alexnet_edge.runtime.precision import Precision

X86_FP16_NOTE = (
    "onnxruntime's CPU provider has no FP16 kernels on x86: it runs FP16 models with FP32 arithmetic "
    "(weights stay FP16-rounded), so the fp16 row checks the graph and weights, not FP16 arithmetic."
)


def _notes(config, run: RunArtifacts) -> list[str]:
    notes = [X86_FP16_NOTE, "Accuracy rows use all evaluated images."]
    if config.bench:
        notes.append(
            "Latency is wall-clock around each call (perf_counter), p50 of the timed runs counted in report.json."
        )
    if run.engines.note:
        notes.append(run.engines.note)
    notes += [f"**Outside tolerance** at the parity check: {failure}" for failure in run.exported.failures]
    if config.eval_data is not None:
        notes.append(
            f"Evaluated on the user's images ({run.data.source}); the cross-device figures against the CUDA golden "
            "logits apply only to CIFAR-10's test_batch and are not computed for them."
        )
    if run.checkpoint.batchnorm_folded:
        notes.append(
            "BatchNorm was folded into the preceding convolutions before export; every ONNX row is "
            "compared with the unfolded PyTorch model in eval mode."
        )
    return notes


def build_report(config, run: RunArtifacts, load_before: list[float] | None = None) -> dict:
    """report.json's content (schema REPORT_SCHEMA) for the run of ``config``."""
    data, ref = run.data, run.reference
    return {
        "schema": REPORT_SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "eval_images": len(data.labels),
        "eval_source": data.source,
        "eval_subset": data.subset,
        "reference": {"backend": "torch", "device": ref.device, "precision": "fp32", "accuracy": ref.accuracy},
        "checkpoint": {"path": str(run.checkpoint.path), "sha256": run.checkpoint.sha256},
        "model": {"variant": config.variant, "batchnorm_folded": run.checkpoint.batchnorm_folded},
        "checks": list(run.exported.checks),
        "simplifier": run.exported.simplifier,
        "calibration": run.converted.calibration.summary if run.converted.calibration else None,
        "rows": [row.to_dict() for row in run.evaluation.rows],
        "host": host_info(),
        "timing": _timing(config, load_before),
        "notes": _notes(config, run),
    }


def _timing(config, load_before: list[float] | None) -> dict:
    """Whether latency was measured, and how busy the machine was when the run started."""
    cores = os.cpu_count() or 1
    busy = load_before is not None and load_before[0] > cores
    return {
        "measured": config.bench,
        "load_average_at_start": load_before,
        "cores": cores,
        "busy": busy,
        "budget_s_per_batch_size": config.bench_budget_s if config.bench else None,
    }


def build_manifest(config, run: RunArtifacts, tool_versions: dict[str, str]) -> dict:
    """manifest.json's content: the config as run, tool versions, devices and the data's fingerprint."""
    return {
        "config": config_dict(config, run.checkpoint.path),
        "tool_versions": tool_versions,
        "devices": sorted({f"{r.device}: {r.device_name}" for r in run.evaluation.rows}),
        "dataset_md5": run.data.fingerprint(),
    }


def write_run_bundle(config, run: RunArtifacts, tool_versions: dict, log: Callable[[str], None]) -> list[Path]:
    """The deployment bundle of the run: its ONNX models, the first BUNDLE_IMAGES images and their figures."""
    n = min(BUNDLE_IMAGES, len(run.data.labels))
    labels, reference = run.data.labels[:n], run.reference.logits[:n]
    calibration = run.converted.calibration
    files = write_bundle(
        config.bundle,
        models=run.converted.paths(),
        calibration_table=calibration.table.path if calibration else None,
        images_uint8=run.data.split.images[:n],
        labels=labels,
        reference_logits=reference,
        expected=expected_figures(list(run.evaluation.evaluated), n, labels, reference),
        engine_config=config.engine,
        source={"checkpoint_sha256": run.checkpoint.sha256, "tool_versions": tool_versions, "images": run.data.source},
        log=log,
    )
    log(f"bundle written: {config.bundle} and {config.bundle.name}.tar.gz ({n} verification images)")
    return files


def config_dict(config, checkpoint: Path) -> dict:
    """The config as JSON: paths as strings, enums as their values, the tolerances as judged."""
    data = asdict(config)
    data["checkpoint"] = str(checkpoint)
    data["precisions"] = [p.value for p in config.precisions]
    data["tolerance_overrides"] = {p.value: v for p, v in config.tolerance_overrides.items()}
    data["tolerances"] = {p.value: asdict(config.tolerance(p)) for p in Precision}
    return strict_json(_plain(data))


def _plain(value):
    """Paths and enums as JSON values (strict_json then turns NaN and infinities into null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.value
    return value
