"""All or nothing across --out, --bundle and its archive, and across spellings of a path (issue 28 §3).

On e9b3804: the lock was keyed on the path as spelled (``--out out`` and ``--out link`` ran together),
a failed run left the empty parents of --out it had created, and write_bundle swapped the bundle
folder in before its archive was written and before --out committed.
"""

import errno
import json
import os
import signal
import tarfile

import numpy as np
import pytest
from support.hostile import signature_model, tree

from alexnet_edge.export.bundle.writer import BUNDLE_FORMAT, bundle_paths, write_bundle
from alexnet_edge.export.pipeline import output_dir
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.errors import OutputDirError
from alexnet_edge.runtime.precision import Precision


def _quiet(line: str) -> None:
    pass


def test_out_and_a_symlink_to_it_share_one_lock(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "link").symlink_to(out)
    with output_dir.locked(out):
        with pytest.raises(OutputDirError, match="is in use by export-alexnet pid"):
            with output_dir.transaction(tmp_path / "link", log=_quiet):
                pytest.fail("a second run entered the folder another run holds")


def test_a_folder_locked_through_a_symlink_is_in_use_under_its_own_name(tmp_path):
    out = tmp_path / "real" / "out"
    out.mkdir(parents=True)
    (tmp_path / "link").symlink_to(out)
    with output_dir.locked(tmp_path / "link"):
        with pytest.raises(OutputDirError, match="in use"):
            with output_dir.transaction(out, log=_quiet):
                pytest.fail("a second run entered the folder another run holds")


def test_a_failed_run_removes_the_parents_of_out_it_created(tmp_path):
    out = tmp_path / "a" / "b" / "c" / "out"
    with pytest.raises(RuntimeError, match="stage failed"):
        with output_dir.transaction(out, log=_quiet) as staging:
            (staging / "model.onnx").write_bytes(b"half")
            raise RuntimeError("stage failed")
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_parents_that_were_there(tmp_path):
    (tmp_path / "a" / "mine.txt").parent.mkdir()
    (tmp_path / "a" / "mine.txt").write_text("the user's")
    with pytest.raises(RuntimeError):
        with output_dir.transaction(tmp_path / "a" / "b" / "out", log=_quiet):
            raise RuntimeError("stage failed")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["mine.txt"]


def _earlier_run(tmp_path):
    """--out, a bundle and its archive as an earlier, complete run left them."""
    out, bundle = tmp_path / "out", tmp_path / "bundle"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"artifacts": [{"file": "report.md"}]}))
    (out / "report.md").write_text("the earlier run's report")
    bundle.mkdir()
    (bundle / "manifest.json").write_text(json.dumps({"format": BUNDLE_FORMAT, "files": {}}))
    (tmp_path / "bundle.tar.gz").write_bytes(b"the earlier run's archive")
    return out, bundle


def _write_small_bundle(bundle, model, log):
    rng = np.random.default_rng(0)
    return write_bundle(
        bundle,
        models={Precision.FP32: model},
        calibration_table=None,
        images_uint8=rng.integers(0, 256, size=(4, 3, 32, 32), dtype=np.uint8),
        labels=np.arange(4),
        reference_logits=rng.standard_normal((4, 10)).astype(np.float32),
        expected={},
        engine_config=EngineBuildConfig(),
        source={},
        log=log,
    )


def test_sigterm_while_compressing_leaves_out_bundle_and_archive_as_they_were(tmp_path):
    model = signature_model(tmp_path.parent / f"{tmp_path.name}-model.onnx")
    out, bundle = _earlier_run(tmp_path)
    before = tree(tmp_path)

    def log(line: str) -> None:
        if line.strip().startswith("compressing"):  # what cli_support's SIGTERM handler raises, where the process is
            raise SystemExit(128 + signal.SIGTERM)

    with pytest.raises(SystemExit):
        with output_dir.transaction(out, log=_quiet, companions=bundle_paths(bundle)) as staging:
            (staging / "report.md").write_text("the new run's report")
            _write_small_bundle(bundle, model, log)
    assert tree(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == ["bundle", "bundle.tar.gz", "out"]  # no staged folder or lock left


def test_bundle_and_archive_appear_with_out_at_the_end(tmp_path):
    model = signature_model(tmp_path.parent / f"{tmp_path.name}-model.onnx")
    out, bundle = _earlier_run(tmp_path)
    with output_dir.transaction(out, log=_quiet, companions=bundle_paths(bundle)) as staging:
        (staging / "report.md").write_text("the new run's report")
        _write_small_bundle(bundle, model, _quiet)
        assert (out / "report.md").read_text() == "the earlier run's report"
        assert not (bundle / "models").exists() and (tmp_path / "bundle.tar.gz").read_bytes().startswith(b"the")
    assert (out / "report.md").read_text() == "the new run's report"
    assert (bundle / "models" / "model.fp32.onnx").read_bytes() == model.read_bytes()
    with tarfile.open(tmp_path / "bundle.tar.gz") as tar:
        assert "bundle/models/model.fp32.onnx" in tar.getnames()
    assert sorted(os.listdir(tmp_path)) == ["bundle", "bundle.tar.gz", "out"]


def test_two_runs_with_one_bundle_do_not_run_together(tmp_path):
    bundle = tmp_path / "bundle"
    with output_dir.transaction(tmp_path / "out1", log=_quiet, companions=bundle_paths(bundle)):
        with pytest.raises(OutputDirError, match=f"output {bundle} is in use by export-alexnet pid"):
            with output_dir.transaction(tmp_path / "out2", log=_quiet, companions=bundle_paths(bundle)):
                pytest.fail("a second run entered the bundle another run writes")


def test_a_full_disk_names_the_file_in_out_not_in_the_staging_folder(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OSError) as caught:
        with output_dir.transaction(out, log=_quiet) as staging:
            raise OSError(errno.ENOSPC, "No space left on device", str(staging / "model.fp32.onnx"))
    assert caught.value.filename == str(out / "model.fp32.onnx")
