"""The drift gate's figures come from typed Results and the metric list (runtime/results.py), named in one place
(``Result.figure``), each with its rule from the precision's bounds (runtime/fidelity.py): exactly the names, rules
and tolerances of the packaged baseline, which therefore loads and is compared unchanged (no --update)."""

import numpy as np
from support.results import FakeRun, make_result, reference_logits

from alexnet_edge.export.drift import gate as drift
from alexnet_edge.export.drift.baseline import load_baseline
from alexnet_edge.runtime.precision import Precision, PrecisionKey, parse_precision


def _run(
    backends: tuple[str, ...], precisions: tuple[PrecisionKey, ...] = (Precision.FP32, Precision.FP16, Precision.INT8)
) -> tuple[FakeRun, dict]:
    reference, labels = reference_logits()
    rows, logits = [make_result("torch", Precision.FP32, reference, reference, labels)], {}
    for backend in backends:
        for precision in precisions:
            rows.append(make_result(backend, precision, reference, reference, labels))
    logits = {row.key: reference for row in rows}
    golden = {Precision.FP32: reference, Precision.FP16: reference}
    return FakeRun(rows, labels, logits), golden


def test_figures_have_the_packaged_baselines_names_rules_and_tolerances():
    baseline = load_baseline(drift.DEFAULT_BASELINE)
    backends = tuple(sorted({name.split("/")[0] for name in baseline["figures"]} - {"torch"}))
    precisions = tuple(parse_precision(p) for p in baseline["settings"]["precisions"])  # the models it was made of
    figures = drift.figures_from(*_run(backends, precisions))
    assert set(figures) == set(baseline["figures"])
    for name, figure in figures.items():
        entry = baseline["figures"][name]
        assert (figure.rule, figure.tolerance) == (entry["rule"], entry["tolerance"]), name


def test_the_reference_row_is_watched_for_accuracy_only_against_pytorch():
    figures = drift.figures_from(*_run(("onnxruntime",)))
    torch_figures = {name.removeprefix("torch/cpu/fp32/") for name in figures if name.startswith("torch/")}
    assert "accuracy" in torch_figures and "top1_agreement" not in torch_figures
    assert {"vs_cuda/fp32/max_abs_diff", "vs_cuda/fp32/top1_agreement"} <= torch_figures
    assert figures["onnxruntime/cpu/int8/max_abs_diff"].rule == "rise"
    assert figures["onnxruntime/cpu/int8/max_flipped_margin"].tolerance == 1.5  # the precision's own bound
    assert np.isclose(figures["onnxruntime/cpu/int8/top1_agreement"].value, 1.0)
