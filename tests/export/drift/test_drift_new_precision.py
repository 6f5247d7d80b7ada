"""A precision added to the gate's defaults (int4w) joins an existing baseline at its next --update."""

import json
import shutil

from alexnet_edge.export.drift import gate as drift


def test_update_adds_a_new_default_precision_to_an_old_baseline(checkpoint, data_root, tmp_path, monkeypatch):
    old = tmp_path / "old.json"
    shutil.copyfile(drift.DEFAULT_BASELINE, old)
    baseline = json.loads(old.read_text())
    baseline["settings"]["precisions"] = ["fp32", "fp16", "int8"]  # a baseline made before int4w
    old.write_text(json.dumps(baseline))
    computed = []

    def fake_compute(request, settings, log, *, golden=True):  # the pipeline run itself is not the subject
        computed.append(list(settings["precisions"]))
        return {}, {}

    monkeypatch.setattr(drift, "_compute", fake_compute)
    _, new = drift.update(drift.GateRequest(checkpoint=checkpoint, data_root=data_root, baseline=old))
    assert computed == [["fp32", "fp16", "int8", "int4w"]]
    assert new["settings"]["precisions"] == ["fp32", "fp16", "int8", "int4w"]
