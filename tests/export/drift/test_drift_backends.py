"""alexnet-drift with a baseline holding figures of a backend that is not installed here: skipped, not failed."""

import sys
from importlib.machinery import ModuleSpec

from alexnet_edge.export.drift import gate as drift


def _baseline(*figures):
    return {"figures": {f: {"value": 0.9, "rule": "abs", "tolerance": 0.01} for f in figures}}


def test_figures_of_an_uninstalled_backend_are_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # not installed: the registry's find_spec says so
    baseline = _baseline("onnxruntime/cpu/int8/accuracy", "openvino/cpu/int8/accuracy")
    assert drift.absent_backends(baseline, {"onnxruntime/cpu/int8/accuracy": 0.9}) == ["openvino"]
    drifts = drift.compare_figures(baseline, {"onnxruntime/cpu/int8/accuracy": 0.9})
    assert [d.figure for d in drifts] == ["onnxruntime/cpu/int8/accuracy"] and all(d.ok for d in drifts)


def test_an_installed_backend_without_figures_still_fails(monkeypatch):
    installed = type(sys)("openvino")
    installed.__spec__ = ModuleSpec("openvino", None)
    monkeypatch.setitem(sys.modules, "openvino", installed)  # installed, whatever this host has
    baseline = _baseline("onnxruntime/cpu/int8/accuracy", "openvino/cpu/int8/accuracy")
    drifts = drift.compare_figures(baseline, {"onnxruntime/cpu/int8/accuracy": 0.9})
    assert drift.absent_backends(baseline, {"onnxruntime/cpu/int8/accuracy": 0.9}) == []
    assert [d.figure for d in drifts if not d.ok] == ["openvino/cpu/int8/accuracy"]
