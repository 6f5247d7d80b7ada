"""On-target side of a deployment bundle: manifest check, engine build, verification, trtexec lines.

The bundle's ``build_engines.py``, ``verify.py`` and ``infer.py`` are thin wrappers around this
module, which needs only numpy, onnxruntime (and tensorrt + cuda-python for engines).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import click
import numpy as np

from .backends import open_runner
from .backends.trt_builder import EngineBuildConfig, build_engine
from .backends.trt_dla import engine_source
from .backends.trt_features import HARDWARE_LEVELS
from .bench import measure_latency
from .cli_support import one_line_errors
from .compare import DEFAULT_TOLERANCES
from .cpu_features import detect
from .errors import AlexNetEdgeError, ModelFileError
from .evaluation import evaluate
from .fileio import sha256_file
from .precision import Precision
from .preprocess import normalize_uint8

MANIFEST = "manifest.json"
MODELS_DIR = "models"
VERIFY_DATA = "data/verify_images.npz"


class ManifestError(AlexNetEdgeError):
    """A bundle file is missing or differs from what the manifest says."""


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
def _bundle_dir(value: str | None) -> Path:
    return Path(value) if value else Path(sys.argv[0]).resolve().parent


def _precisions(bundle: Path, chosen: tuple[str, ...]) -> list[Precision]:
    available = [p for p in Precision if (bundle / MODELS_DIR / p.onnx_name).is_file()]
    if not chosen:
        return available
    wanted = [Precision.parse(c) for c in chosen]
    missing = [p.onnx_name for p in wanted if p not in available]
    if missing:
        raise ModelFileError(f"not in this bundle: {', '.join(missing)}")
    return wanted


_FROM_MANIFEST = "[default: the exporter's, from manifest.json]"
_PRECISIONS = [p.value for p in Precision]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bundle-dir", metavar="DIR", default=None, help="the bundle [default: the folder of this script]")
@click.option(
    "--precision",
    "chosen",
    multiple=True,
    type=click.Choice(_PRECISIONS),
    help="repeat to choose [default: every model in the bundle]",
)
@click.option(
    "--min-batch",
    type=click.IntRange(min=1),
    metavar="N",
    default=None,
    help=f"smallest batch the engine takes {_FROM_MANIFEST}",
)
@click.option(
    "--opt-batch",
    type=click.IntRange(min=1),
    metavar="N",
    default=None,
    help=f"batch TensorRT tunes for {_FROM_MANIFEST}",
)
@click.option(
    "--max-batch", type=click.IntRange(min=1), metavar="N", default=None, help=f"largest batch {_FROM_MANIFEST}"
)
@click.option(
    "--workspace-mb", type=click.IntRange(min=1), metavar="MB", default=None, help=f"builder workspace {_FROM_MANIFEST}"
)
@click.option(
    "--dla-core",
    type=click.IntRange(min=0),
    metavar="N",
    default=None,
    help="build for this DLA core with GPU fallback (FP16/INT8; needs min = opt = max batch) [default: GPU]",
)
@click.option(
    "--timing-cache", metavar="FILE", default=None, help="TensorRT timing cache [default: models/timing.cache]"
)
@click.option(
    "--version-compatible/--no-version-compatible",
    default=None,
    help=f"TensorRT version-compatible engines {_FROM_MANIFEST}",
)
@click.option(
    "--hardware-compatibility",
    type=click.Choice(list(HARDWARE_LEVELS)),
    default=None,
    help=f"same_compute_capability needs TensorRT 10.9+; refused in one line where missing {_FROM_MANIFEST}",
)
@one_line_errors
def build_engines_main(bundle_dir, chosen, **options) -> None:
    """Build TensorRT engines on this device from the bundle's ONNX models, with the exporter's options
    unless overridden. Each engine gets a JSON sidecar that the runtime checks before loading."""
    bundle = _bundle_dir(bundle_dir)
    manifest = check_manifest(bundle)
    config = engine_config_from(manifest, **options)
    if config.timing_cache is None:
        config = replace(config, timing_cache=bundle / MODELS_DIR / "timing.cache")
    elif not config.timing_cache.is_absolute():
        config = replace(config, timing_cache=bundle / config.timing_cache)
    for precision in _precisions(bundle, chosen):
        if config.dla_core is not None and precision is Precision.FP32:
            click.echo(f"skipping {precision.onnx_name}: DLA runs FP16 and INT8 only", err=True)
            continue
        models = {p: bundle / MODELS_DIR / p.onnx_name for p in Precision}
        # INT8 on DLA: the FP32 model and the calibration table's ranges (trt_dla)
        source, ranges = engine_source(precision, config, models, bundle / MODELS_DIR / "calibration_table.json")
        engine = bundle / MODELS_DIR / precision.engine_name
        sidecar = build_engine(source, engine, precision, config, calibration_table=ranges)
        click.echo(
            f"built {MODELS_DIR}/{precision.engine_name}: TensorRT {sidecar['tensorrt_version']} "
            f"on {sidecar['gpu']['name']}, "
            f"strongly typed: {sidecar['strongly_typed']}, flags: {', '.join(sidecar['builder_flags']) or 'none'}"
        )


# -- verify.py ---------------------------------------------------------------------------------
def verification_tolerance(precision: Precision, images: int):
    """The precision's tolerance, with the accuracy bound widened to 3 images on a small set."""
    return DEFAULT_TOLERANCES[precision].for_sample(images)


def _open(backend: str, bundle: Path, precision: Precision, providers: str | None):
    name = precision.engine_name if backend == "tensorrt" else precision.onnx_name
    return open_runner(bundle / MODELS_DIR / name, backend, providers=providers)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--bundle-dir", metavar="DIR", default=None, help="the bundle [default: the folder of this script]")
@click.option(
    "--backend",
    type=click.Choice(["onnxruntime", "openvino", "tensorrt"]),
    default="onnxruntime",
    show_default=True,
    help="onnxruntime or openvino (pip install openvino; f32 arithmetic): the ONNX models; "
    "tensorrt: the engines build_engines.py wrote",
)
@click.option(
    "--precision",
    "chosen",
    multiple=True,
    type=click.Choice(_PRECISIONS),
    help="repeat to choose [default: all in the bundle]",
)
@click.option(
    "--providers",
    metavar="LIST",
    default=None,
    help="onnxruntime providers, comma-separated, e.g. cpu or cuda [default: best available]",
)
@click.option("--no-bench", is_flag=True, help="skip the p50 latency at batch 1 and 32")
@click.option("--json", "as_json", is_flag=True, help="print the results as one JSON object")
@one_line_errors
def verify_main(bundle_dir, backend, chosen, providers, no_bench, as_json) -> None:
    """Check the manifest, then run each model (or engine) on the bundled labelled images and
    compare with the pipeline's reference logits. Exit 1 when a figure is beyond its tolerance."""
    bundle = _bundle_dir(bundle_dir)
    result = verify_bundle(bundle, backend=backend, chosen=chosen, providers=providers, bench=not no_bench)
    if as_json:
        click.echo(
            json.dumps(
                {"reference_accuracy": result.reference_accuracy, "cpu": detect().as_dict(), "results": result.rows}
            )
        )
    else:
        _print_verification(result)
    if result.failures:
        for failure in result.failures:
            click.echo(f"error: outside tolerance: {failure}", err=True)
        sys.exit(1)


@dataclass(frozen=True)
class VerifyResult:
    """What ``verify_bundle`` measured: one row per model, and every bound a row broke."""

    source: str
    images: int
    reference_accuracy: float
    rows: list[dict]
    failures: list


def verify_bundle(bundle: Path, *, backend="onnxruntime", chosen=(), providers=None, bench=True) -> VerifyResult:
    """Check ``bundle``'s manifest, then evaluate each ``chosen`` precision (all if empty) on its labelled images
    with ``backend`` (onnxruntime, openvino or tensorrt). Returns a VerifyResult, its failures empty when within
    tolerance."""
    manifest = check_manifest(bundle)
    with np.load(bundle / VERIFY_DATA) as data:
        images, labels, reference = normalize_uint8(data["images"]), data["labels"], data["reference_logits"]
    expected = manifest.get("expected", {})
    rows, failed = [], []
    for precision in _precisions(bundle, chosen):
        with _open(backend, bundle, precision, providers) as runner:
            tolerance = verification_tolerance(precision, len(labels))
            evaluated = evaluate(runner, precision, images, labels, reference, tolerance, batch_size=64)
            latency = measure_latency(runner, images, batch_sizes=(1, 32), budget_s=0.5) if bench else {}
        row, failed = evaluated.row, failed + evaluated.failures
        rows.append(
            {
                **{key: getattr(row, key) for key in ("backend", "device", "cpu", "precision")},
                "images": len(labels),
                "accuracy": row.accuracy,
                "expected_accuracy": expected.get(precision.value, {}).get("accuracy"),
                "top1_agreement": row.top1_agreement,
                "max_abs_diff": row.max_abs_diff,
                "p50_ms": {k: v.p50 for k, v in latency.items()},
                "within_tolerance": row.within_tolerance,
                "failures": row.failures,
            }
        )
    source = manifest.get("source", {}).get("images", "CIFAR-10 test_batch")
    reference_accuracy = float((reference.argmax(1) == labels).mean())
    return VerifyResult(source, len(labels), reference_accuracy, rows, failed)


def _print_verification(result: VerifyResult) -> None:
    # The bundle holds the first N images of the evaluated set in its order: every figure here is
    # on those N (e.g. 92.20% for the first 500 of test_batch, not the 10,000-image 88.66%).
    n = result.images
    click.echo(
        f"{n} bundled images, the first {n} of {result.source}; PyTorch FP32 reference accuracy "
        f"on them {100 * result.reference_accuracy:.2f}% (the full set's figure differs)"
    )
    click.echo(f"cpu: {detect().summary()}")
    for r in result.rows:
        exp = "" if r["expected_accuracy"] is None else f" (pipeline: {100 * r['expected_accuracy']:.2f}%)"
        p50 = ", ".join(f"p50@{k} {v:.2f} ms" for k, v in r["p50_ms"].items())
        cpu = f" [int8 path: {r['cpu']['int8_path']}]" if r["cpu"] and r["precision"] == "int8" else ""
        click.echo(
            f"{r['backend']}/{r['device']}/{r['precision']}{cpu}: accuracy {100 * r['accuracy']:.2f}%{exp}, "
            f"agreement {100 * r['top1_agreement']:.2f}%, max |Δlogit| {r['max_abs_diff']:.3g}"
            f"{', ' + p50 if p50 else ''} — {'ok' if r['within_tolerance'] else 'OUTSIDE TOLERANCE'}"
        )
