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
from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec
from alexnet_edge.export.report.render import REPORT_SCHEMA, host_info
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.fileio import strict_json
from alexnet_edge.runtime.precision import Precision, precisions

X86_FP16_NOTE = (
    "onnxruntime's CPU provider has no FP16 kernels on x86: it runs FP16 models with FP32 arithmetic "
    "(weights stay FP16-rounded), so the fp16 row checks the graph and weights, not FP16 arithmetic."
)


def _notes(run: RunArtifacts, timed: bool) -> list[str]:
    notes = [X86_FP16_NOTE, "Accuracy rows use all evaluated images."]
    if timed:
        notes.append(
            "Latency is wall-clock around each call (perf_counter), p50 of the timed runs counted in report.json."
        )
    if run.engines.note:
        notes.append(run.engines.note)
    notes += [f"**Outside tolerance** at the parity check: {failure}" for failure in run.exported.failures]
    if run.data.user_data:
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


def build_report(
    run: RunArtifacts, *, variant: str, bench_budget_s: float | None, load_before: list[float] | None = None
) -> dict:
    """report.json's content (schema REPORT_SCHEMA) for ``run``, of the model ``variant``; ``bench_budget_s``:
    the seconds each latency figure was timed for, None when latency was not measured."""
    data, ref = run.data, run.reference
    return {
        "schema": REPORT_SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "eval_images": len(data.labels),
        "eval_source": data.source,
        "eval_subset": data.subset,
        "reference": {
            "backend": "torch",
            "device": ref.device,
            "precision": Precision.FP32.value,
            "accuracy": ref.accuracy,
        },
        "checkpoint": {"path": str(run.checkpoint.path), "sha256": run.checkpoint.sha256},
        "model": {"variant": variant, "batchnorm_folded": run.checkpoint.batchnorm_folded},
        "checks": list(run.exported.checks),
        "simplifier": run.exported.simplifier,
        "calibration": run.converted.calibration.summary if run.converted.calibration else None,
        "rows": [row.to_dict() for row in run.evaluation.rows],
        "host": host_info(),
        "timing": _timing(bench_budget_s, load_before),
        "notes": _notes(run, bench_budget_s is not None),
    }


def _timing(bench_budget_s: float | None, load_before: list[float] | None) -> dict:
    """Whether latency was measured, and how busy the machine was when the run started."""
    cores = os.cpu_count() or 1
    busy = load_before is not None and load_before[0] > cores
    return {
        "measured": bench_budget_s is not None,
        "load_average_at_start": load_before,
        "cores": cores,
        "busy": busy,
        "budget_s_per_batch_size": bench_budget_s,
    }


def build_manifest(run: RunArtifacts, config: dict, tool_versions: dict[str, str]) -> dict:
    """manifest.json's content: the specs as run (``config_dict``), tool versions, devices and the data's
    fingerprint."""
    return {
        "config": config,
        "tool_versions": tool_versions,
        "devices": sorted({f"{r.device}: {r.device_name}" for r in run.evaluation.rows}),
        "dataset_md5": run.data.fingerprint(),
    }


def write_run_bundle(
    run: RunArtifacts,
    bundle: Path,
    engine: EngineBuildConfig,
    tool_versions: dict,
    log: Callable[[str], None],
    *,
    carry: tuple[Precision, ...] | None = None,
) -> list[Path]:
    """The deployment bundle of the run into ``bundle``: its ONNX models (those of ``carry``; None: all),
    the first BUNDLE_IMAGES images and their figures, and the exporter's ``engine`` options as the defaults of
    the bundle's build_engines.py."""
    n = min(BUNDLE_IMAGES, len(run.data.labels))
    labels, reference = run.data.labels[:n], run.reference.logits[:n]
    models = {p: path for p, path in run.converted.paths().items() if carry is None or p in carry}
    calibration = run.converted.calibration if Precision.INT8 in models else None  # the table is INT8's
    evaluated = [item for item in run.evaluation.evaluated if item.row.precision in models]
    files = write_bundle(
        bundle,
        models=models,
        calibration_table=calibration.table.path if calibration else None,
        images_uint8=run.data.split.images[:n],
        labels=labels,
        reference_logits=reference,
        expected=expected_figures(evaluated, n, labels, reference),
        engine_config=engine,
        source={"checkpoint_sha256": run.checkpoint.sha256, "tool_versions": tool_versions, "images": run.data.source},
        log=log,
    )
    log(f"bundle written: {bundle} and {bundle.name}.tar.gz ({n} verification images)")
    return files


def config_dict(export: ExportSpec, evaluation: EvaluationSpec, checkpoint: Path) -> dict:
    """What was built and how it was judged, as JSON: paths as strings, enums as their values, the
    checkpoint as used (trained or given), the tolerances as judged."""
    built = asdict(export) | {"checkpoint": str(checkpoint), "precisions": [p.value for p in export.precisions]}
    judged = asdict(evaluation) | {
        "backends": list(evaluation.host_backends()),
        "backend_options": dict(evaluation.backend_options),
        "tolerance_overrides": {p.value: v for p, v in evaluation.tolerance_overrides.items()},
        "tolerances": {p.value: asdict(evaluation.tolerance(p)) for p in precisions()},
    }
    return strict_json(_plain({"export": built, "evaluation": judged}))


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
