"""README's "is my retrained model as good as the shipped one?": ``alexnet-drift --checkpoint new.pt
--allow-new-checkpoint`` with no CUDA golden logits beside new.pt. The golden logits are the reference
checkpoint's outputs, so with another checkpoint the cross-device figures are skipped (one note saying which
and why) and everything else is compared; no exit 2. The pipeline is replaced by the baseline's own figures
(the comparison, not the recomputation, is under test here)."""

import json
import math

from click.testing import CliRunner

from alexnet_edge.export.cli.drift import alexnet_drift
from alexnet_edge.export.drift import gate as drift

CROSS_DEVICE = "/vs_cuda/"  # the figures against the CUDA golden logits


def _baseline() -> dict:
    return json.loads(drift.DEFAULT_BASELINE.read_text())


def _recompute_as_baseline(calls: list):
    """compute() that returns the baseline's own non-cross-device figures, recording its reference_dir."""

    def compute(checkpoint, data_root, settings, *, reference_dir, work_dir, log):
        calls.append(reference_dir)
        figure = getattr(drift, "Figure", None)  # a figure with its rule where the gate has that type
        figures = {
            name: figure(value, entry["rule"], entry["tolerance"]) if figure else value
            for name, entry in _baseline()["figures"].items()
            if CROSS_DEVICE not in name
            for value in [math.nan if entry["value"] is None else entry["value"]]
        }
        return figures, {}

    return compute


def test_new_checkpoint_skips_cross_device_figures_in_one_note(tmp_path, data_root, monkeypatch):
    new = tmp_path / "new.pt"
    new.write_bytes(b"a retrained state_dict stand-in: only its sha256 is read")
    calls: list = []
    monkeypatch.setattr(drift, "compute", _recompute_as_baseline(calls))
    result = CliRunner().invoke(
        alexnet_drift, ["--checkpoint", str(new), "--data-root", str(data_root), "--allow-new-checkpoint"]
    )
    assert result.exit_code == 0, result.output
    assert calls == [None]  # no golden logits are compared against another checkpoint
    notes = [line for line in result.output.splitlines() if "cross-device" in line]
    skipped = [name for name in _baseline()["figures"] if CROSS_DEVICE in name]
    assert len(notes) == 1 and notes[0].startswith(f"note: {len(skipped)} cross-device figures")
    assert "golden logits" in notes[0] and "not of this one" in notes[0]
    compared = len(_baseline()["figures"]) - len(skipped)
    assert skipped and f"{compared} of {compared} figures within tolerance" in result.output


def test_new_checkpoint_without_the_flag_is_refused_for_the_checkpoint(tmp_path, data_root, monkeypatch):
    new = tmp_path / "new.pt"
    new.write_bytes(b"another model")
    monkeypatch.setattr(drift, "compute", _recompute_as_baseline([]))
    result = CliRunner().invoke(alexnet_drift, ["--checkpoint", str(new), "--data-root", str(data_root)])
    assert result.exit_code == 2 and "a different model" in result.output and "golden" not in result.output


def test_reference_checkpoint_still_needs_its_golden_logits(tmp_path, checkpoint, data_root, monkeypatch):
    monkeypatch.setattr(drift, "compute", _recompute_as_baseline([]))
    result = CliRunner().invoke(
        alexnet_drift,
        ["--checkpoint", str(checkpoint), "--data-root", str(data_root), "--reference-dir", str(tmp_path)],
    )
    assert result.exit_code == 2 and "golden logits test_logits_fp32_cuda.npy are not in" in result.output
