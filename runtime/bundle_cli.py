"""The bundle's ``build_engines.py`` and ``verify.py``: parse the options, call ``deploy``, print.

Their help shows the defaults this bundle's manifest holds (the exporter's engine options), read when
the help is asked for; the logic is in ``deploy`` (``build_bundle_engines``, ``verify_bundle``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from alexnet_edge.runtime.backends.registry import BackendOptions
from alexnet_edge.runtime.backends.tensorrt.features import HARDWARE_LEVELS
from alexnet_edge.runtime.cli_support import BackendChoice, PrecisionChoice, backend_option_flag, one_line_errors
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.deploy import MANIFEST, VerifyResult, build_bundle_engines, verify_bundle
from alexnet_edge.runtime.exit_status import OUTSIDE_TOLERANCE
from alexnet_edge.runtime.fileio import strict_json
from alexnet_edge.runtime.precision import Precision
from alexnet_edge.runtime.results import Result, View, metrics


def _bundle_dir(value: str | None) -> Path:
    return Path(value) if value else Path(sys.argv[0]).resolve().parent


class ManifestDefault(click.Option):
    """An option whose default is the exporter's, stored in the bundle's manifest.json: the help shows that
    value (``[default: 256, from manifest.json]``), or says where it comes from when there is no manifest."""

    def get_help_record(self, ctx: click.Context):
        record = super().get_help_record(ctx)
        if record is None:
            return None
        if "manifest_engine_defaults" not in ctx.meta:  # read once per help text, not once per option
            ctx.meta["manifest_engine_defaults"] = _manifest_engine_defaults()
        value = ctx.meta["manifest_engine_defaults"].get(self.name)
        shown = "the exporter's" if value is None else _shown(value)
        return record[0], f"{record[1]}  [default: {shown}, from manifest.json]"


def _manifest_engine_defaults() -> dict:
    try:
        manifest = json.loads((_bundle_dir(None) / MANIFEST).read_text())
        defaults = manifest.get("engine_defaults") if isinstance(manifest, dict) else None
        return defaults if isinstance(defaults, dict) else {}
    except (OSError, ValueError):  # no manifest beside the script (help read from elsewhere), or a broken one
        return {}


def _engine_size(name: str, metavar: str, help_text: str):
    """A positive whole-number engine option whose default is the exporter's, from the manifest."""
    return click.option(
        name, cls=ManifestDefault, type=click.IntRange(min=1), metavar=metavar, default=None, help=help_text
    )


def _shown(value) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


_BUNDLE_DIR = click.option(
    "--bundle-dir", metavar="DIR", default=None, help="the bundle [default: the folder of this script]"
)


def _precision_option(default_text: str):
    return click.option(
        "--precision",
        "chosen",
        multiple=True,
        type=PrecisionChoice(),
        help=f"repeat to choose [default: {default_text}]",
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@_BUNDLE_DIR
@_precision_option("every model in the bundle")
@_engine_size("--min-batch", "N", "smallest batch the engine takes")
@_engine_size("--opt-batch", "N", "batch TensorRT tunes for")
@_engine_size("--max-batch", "N", "largest batch")
@_engine_size("--workspace-mb", "MB", "builder workspace")
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
    cls=ManifestDefault,
    default=None,
    help="TensorRT version-compatible engines",
)
@click.option(
    "--hardware-compatibility",
    cls=ManifestDefault,
    type=click.Choice(list(HARDWARE_LEVELS)),
    default=None,
    help="same_compute_capability needs TensorRT 10.9+; refused in one line where missing",
)
@one_line_errors
def build_engines_main(bundle_dir, chosen, **options) -> None:
    """Build TensorRT engines on this device from the bundle's ONNX models, with the exporter's options
    unless overridden. Each engine gets a JSON sidecar that the runtime checks before loading."""
    build_bundle_engines(_bundle_dir(bundle_dir), chosen, **options)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@_BUNDLE_DIR
@click.option(
    "--backend",
    type=BackendChoice(),
    default="onnxruntime",
    show_default=True,
    help="onnxruntime or openvino (pip install openvino; f32 unless openvino.precision=bf16): the ONNX models; "
    "tensorrt: the engines build_engines.py wrote",
)
@_precision_option("all in the bundle")
@click.option(
    "--providers",
    metavar="LIST",
    default=None,
    help="onnxruntime providers, comma-separated, e.g. cpu or cuda (the same as --backend-option "
    "onnxruntime.providers=...) [default: best available]",
)
@backend_option_flag()
@click.option("--no-bench", is_flag=True, help="skip the p50 latency at batch 1 and 32")
@click.option("--json", "as_json", is_flag=True, help="print the results as one JSON object")
@one_line_errors
def verify_main(bundle_dir, backend, chosen, providers, backend_options, no_bench, as_json) -> None:
    """Check the manifest, then run each model (or engine) on the bundled labelled images and
    compare with the pipeline's reference logits. Exit 1 when a figure is beyond its tolerance."""
    bundle = _bundle_dir(bundle_dir)
    options = BackendOptions.parse(backend_options)
    if providers is not None:
        options = options.with_value("onnxruntime.providers", providers)
    result = verify_bundle(bundle, backend=backend, chosen=chosen, options=options, bench=not no_bench)
    if as_json:
        click.echo(json.dumps(_verification_json(result)))
    else:
        _print_verification(result)
    if result.failures:
        for failure in result.failures:
            click.echo(f"error: outside tolerance: {failure}", err=True)
        sys.exit(OUTSIDE_TOLERANCE)


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
        cpu = f" [int8 path: {r.cpu['int8_path']}]" if r.cpu and r.precision is Precision.INT8 else ""
        figures = ", ".join(f"{m.header} {m.text(r)}" for m in metrics(View.VERIFY) if m.value(r) is not None)
        expected = result.expected_accuracy.get(r.precision)
        pipeline = "" if expected is None else f"; the pipeline's accuracy on them {100 * expected:.2f}%"
        click.echo(f"{r.key}{cpu}: {figures}{pipeline} — {'ok' if r.within_tolerance else 'OUTSIDE TOLERANCE'}")


def _verification_json(result: VerifyResult) -> dict:
    """verify.py --json: each model's report row (Result.to_dict), with the pipeline's accuracy on these images."""
    rows = [
        r.to_dict() | {"expected_accuracy": result.expected_accuracy.get(r.precision), "p50_ms": _p50s(r)}
        for r in result.rows
    ]
    return strict_json({"reference_accuracy": result.reference_accuracy, "cpu": detect().to_dict(), "results": rows})


def _p50s(result: Result) -> dict[str, float | None]:
    return {str(batch): stats.p50 for batch, stats in sorted(result.latency.items())}
