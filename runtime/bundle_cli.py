"""The bundle's ``build_engines.py`` and ``verify.py``: parse the options, call ``deploy``, print.

Their help shows the defaults this bundle's manifest holds (the exporter's engine options), read when
the help is asked for; the logic is in ``deploy`` (``build_bundle_engines``, ``verify_bundle``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from alexnet_edge.runtime.backends.tensorrt.features import HARDWARE_LEVELS
from alexnet_edge.runtime.cli_support import one_line_errors
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.deploy import MANIFEST, VerifyResult, build_bundle_engines, verify_bundle
from alexnet_edge.runtime.precision import Precision

_PRECISIONS = [p.value for p in Precision]


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
        type=click.Choice(_PRECISIONS),
        help=f"repeat to choose [default: {default_text}]",
    )


_PRECISIONS = [p.value for p in Precision]


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
    type=click.Choice(["onnxruntime", "openvino", "tensorrt"]),
    default="onnxruntime",
    show_default=True,
    help="onnxruntime or openvino (pip install openvino; f32 arithmetic): the ONNX models; "
    "tensorrt: the engines build_engines.py wrote",
)
@_precision_option("all in the bundle")
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
                {"reference_accuracy": result.reference_accuracy, "cpu": detect().to_dict(), "results": result.rows}
            )
        )
    else:
        _print_verification(result)
    if result.failures:
        for failure in result.failures:
            click.echo(f"error: outside tolerance: {failure}", err=True)
        sys.exit(1)


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
