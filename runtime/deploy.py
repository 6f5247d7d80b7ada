"""On-target side of a deployment bundle: manifest check, engine build, verification, trtexec lines.

The bundle's ``build_engines.py`` and ``verify.py`` (``bundle_cli``) print what this module's
``build_bundle_engines`` and ``verify_bundle`` return; it needs only numpy, onnxruntime (and
tensorrt + cuda-python for engines).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.backends.registry import BackendOptions, backend_spec, open_runner
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig, build_engine
from alexnet_edge.runtime.backends.tensorrt.dla import engine_source
from alexnet_edge.runtime.bench import TimingPolicy, measure_latency
from alexnet_edge.runtime.compare import accuracy
from alexnet_edge.runtime.errors import ManifestError, ModelFileError
from alexnet_edge.runtime.evaluation import evaluate
from alexnet_edge.runtime.fileio import sha256_file
from alexnet_edge.runtime.precision import Precision, PrecisionKey, parse_precision, precisions, spec_for, tolerance_for
from alexnet_edge.runtime.preprocess import normalize_uint8
from alexnet_edge.runtime.results import Result

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MODELS_DIR = "models"
VERIFY_DATA = "data/verify_images.npz"

# verify.py's latency line: a quick p50 per batch size (10 runs and 0.5 s each at least), not a benchmark.
VERIFY_TIMING = TimingPolicy(warmup=3, min_runs=10, min_seconds=0.5)


def check_manifest(bundle: Path) -> dict:
    """Verify every file the manifest lists; raise naming each one that is missing or changed."""
    try:
        manifest = json.loads((bundle / MANIFEST).read_text())
    except FileNotFoundError:
        raise ManifestError(f"{bundle / MANIFEST} is missing: not a complete bundle") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ManifestError(f"{bundle / MANIFEST} is not valid JSON (truncated or damaged)") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if (
        not isinstance(files, dict)
        or not files
        or not all(isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in files.values())
    ):
        raise ManifestError(f"{bundle / MANIFEST} lists no files with their sha256: not this bundle's manifest")
    problems, root = [], bundle.resolve()
    for rel, entry in files.items():
        path = bundle / rel
        if not _inside(root, bundle, rel):
            problems.append(f"{rel} is outside the bundle (refused, not read)")  # ../, absolute, or a symlink out
        elif not path.is_file():
            problems.append(f"{rel} is missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{rel} has been modified (sha256 differs from the manifest)")
    if problems:
        raise ManifestError(f"bundle check failed: {'; '.join(problems)}")
    return manifest


def _inside(root: Path, bundle: Path, rel: str) -> bool:
    """Whether the manifest's ``rel`` names a file inside the bundle (symlinks followed)."""
    try:
        return not Path(rel).is_absolute() and root in (bundle / rel).resolve().parents
    except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
        return False


def engine_config_from(manifest: dict, **overrides) -> EngineBuildConfig:
    """The exporter's engine options from the manifest, with the command line's on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return EngineBuildConfig.from_dict({**manifest.get("engine_defaults", {}), **given})


# -- build_engines.py --------------------------------------------------------------------------
def _precisions(bundle: Path, manifest: dict, chosen: tuple[PrecisionKey, ...]) -> list[PrecisionKey]:
    """The precisions to use: those chosen, or every model the manifest lists (its sha256 checked by
    check_manifest). The manifest, not the disk, says what the bundle holds: an ONNX model in models/
    that it does not list is refused, never evaluated."""
    listed = manifest["files"]
    unlisted = sorted(
        f"{MODELS_DIR}/{p.name}" for p in (bundle / MODELS_DIR).glob("*.onnx") if f"{MODELS_DIR}/{p.name}" not in listed
    )
    if unlisted:
        raise ManifestError(
            f"bundle check failed: {', '.join(unlisted)} is not in {MANIFEST} (added or replaced after export); "
            "remove it or re-export the bundle"
        )
    available = [p for p in precisions() if f"{MODELS_DIR}/{p.onnx_name}" in listed]
    if not chosen:
        return available
    wanted = [parse_precision(p) for p in chosen]  # precisions, or their names (verify_bundle's callers)
    missing = [p.onnx_name for p in wanted if p not in available]
    if missing:
        raise ModelFileError(f"not in this bundle: {', '.join(missing)}")
    return wanted


def build_bundle_engines(bundle: Path, chosen: tuple[PrecisionKey, ...] = (), **options) -> list[dict]:
    """Build TensorRT engines on this device from ``bundle``'s ONNX models (all if ``chosen`` is empty), with the
    exporter's engine options from the manifest unless ``options`` override them. Returns each engine's sidecar."""
    manifest = check_manifest(bundle)
    config = engine_config_from(manifest, **options)
    if config.timing_cache is None:
        config = replace(config, timing_cache=bundle / MODELS_DIR / "timing.cache")
    elif not config.timing_cache.is_absolute():
        config = replace(config, timing_cache=bundle / config.timing_cache)
    models = {p: bundle / MODELS_DIR / p.onnx_name for p in precisions()}
    table = bundle / MODELS_DIR / "calibration_table.json"
    built = build_engines_for(models, _precisions(bundle, manifest, chosen), bundle / MODELS_DIR, config, table)
    for precision, _, sidecar in built:
        logger.info(
            "built %s/%s: TensorRT %s on %s, strongly typed: %s, flags: %s",
            MODELS_DIR,
            precision.engine_name,
            sidecar["tensorrt_version"],
            sidecar["gpu"]["name"],
            sidecar["strongly_typed"],
            ", ".join(sidecar["builder_flags"]) or "none",
        )
    return [sidecar for _, _, sidecar in built]


def build_engines_for(
    models: dict[Precision, Path], precisions, out_dir: Path, config: EngineBuildConfig, calibration_table: Path | None
) -> list[tuple[Precision, Path, dict]]:
    """One engine per precision into ``out_dir`` (the pipeline's and the bundle's one build loop): FP32 is
    skipped on DLA, which runs FP16 and INT8 only; INT8 on DLA builds from the FP32 model and the
    calibration table's ranges (trt_dla). Returns (precision, engine path, sidecar) per engine built."""
    built = []
    for precision in precisions:
        if config.dla_core is not None and precision is Precision.FP32:
            logger.warning("skipping %s: DLA runs FP16 and INT8 only", precision.onnx_name)
            continue
        if spec_for(precision).tensorrt.refusal:  # e.g. int4w: an onnxruntime contrib op TensorRT cannot parse
            logger.warning("skipping %s: %s", precision.engine_name, spec_for(precision).tensorrt.refusal)
            continue
        source, ranges = engine_source(precision, config, models, calibration_table)
        engine = out_dir / precision.engine_name
        built.append((precision, engine, build_engine(source, engine, precision, config, calibration_table=ranges)))
    return built


# -- verify.py ---------------------------------------------------------------------------------
def _open(backend: str, bundle: Path, precision: PrecisionKey, options: BackendOptions | None):
    name = precision.engine_name if backend_spec(backend).model_kind == "engine" else precision.onnx_name
    return open_runner(bundle / MODELS_DIR / name, backend, precision=precision, options=options)


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify_bundle`` measured: one Result per model, the pipeline's accuracy of each on the same images
    (from the manifest; None where it has none), and every bound a row broke."""

    source: str
    images: int
    reference_accuracy: float
    rows: list[Result]
    expected_accuracy: dict[PrecisionKey, float | None]
    failures: list


def _verify_data(bundle: Path, manifest: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labelled images and reference logits; only when the manifest lists them (so their sha256 was checked)."""
    if VERIFY_DATA not in manifest["files"]:
        raise ManifestError(f"{bundle / MANIFEST} does not list {VERIFY_DATA}: not a complete bundle")
    with np.load(bundle / VERIFY_DATA, allow_pickle=False) as data:
        missing = {"images", "labels", "reference_logits"} - set(data.files)
        if missing:
            raise ManifestError(f"{bundle / VERIFY_DATA} lacks {', '.join(sorted(missing))}: not this bundle's data")
        return normalize_uint8(data["images"]), data["labels"], data["reference_logits"]


def verify_bundle(
    bundle: Path, *, backend="onnxruntime", chosen=(), options: BackendOptions | None = None, bench=True
) -> VerifyResult:
    """Check ``bundle``'s manifest, then evaluate each ``chosen`` precision (all if empty) on its labelled images
    with ``backend`` (a registered backend: its ONNX models, or the engines build_engines.py wrote for an engine
    backend), set by ``options``. Returns a VerifyResult, its failures empty when within tolerance."""
    manifest = check_manifest(bundle)
    images, labels, reference = _verify_data(bundle, manifest)
    rows, failed, expected = [], [], {}
    for precision in _precisions(bundle, manifest, chosen):
        with _open(backend, bundle, precision, options) as runner:
            tolerance = tolerance_for(precision, len(labels))
            evaluated = evaluate(runner, precision, images, labels, reference, tolerance, batch_size=64)
            latency = measure_latency(runner, images, batch_sizes=(1, 32), policy=VERIFY_TIMING) if bench else {}
        evaluated.row.latency = {int(batch): stats for batch, stats in latency.items()}
        rows.append(evaluated.row)
        failed += evaluated.failures
        expected[precision] = manifest.get("expected", {}).get(precision.value, {}).get("accuracy")
    source = manifest.get("source", {}).get("images", "CIFAR-10 test_batch")
    return VerifyResult(source, len(labels), accuracy(reference, labels), rows, expected, failed)
