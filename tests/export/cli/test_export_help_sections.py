"""``export-alexnet --help``: dozens of options grouped under headings (data, precision, calibration, benchmark,
TensorRT, output), each option in one of them and each with a description."""

import click
from click.testing import CliRunner

from alexnet_edge.export.cli.export import export_alexnet

SECTIONS = ("Model and data", "Precision and evaluation", "INT8 calibration", "Benchmark", "TensorRT engines", "Output")


def _options():
    ctx = click.Context(export_alexnet)
    return [p for p in export_alexnet.get_params(ctx) if isinstance(p, click.Option) and "--help" not in p.opts]


def test_every_option_is_described():
    undescribed = [p.opts[0] for p in _options() if not (p.help or "").strip()]
    assert undescribed == []


def test_help_lists_the_options_under_sections_in_order():
    text = CliRunner().invoke(export_alexnet, ["--help"]).output
    headings = [
        line.rstrip(":") for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")
    ]
    assert headings[: len(SECTIONS)] == list(SECTIONS)
    section_of = {}
    current = None
    for line in text.splitlines():
        if line.rstrip(":") in SECTIONS:
            current = line.rstrip(":")
        elif line.startswith("  --") and current:
            section_of[line.split()[0].split("/")[0].rstrip(",")] = current
    ungrouped = [p.opts[0] for p in _options() if p.opts[0] not in section_of]
    assert ungrouped == []
    assert section_of["--out"] == "Output" and section_of["--calib-seed"] == "INT8 calibration"
    assert section_of["--min-batch"] == "TensorRT engines" and section_of["--batch-sizes"] == "Benchmark"
