"""Options and output folders checked before the first stage (issue 28 §2): each refusal is one
``error:`` line and exit 2 with no stage run. On e9b3804 --calib-seed -1 failed after a 35 s export,
--batch-sizes 1,100000000 tried to allocate 1.12 TiB after the evaluation, --int8 --calib-size 10 was
refused only after the reference and export stages, and a read-only --bundle after the whole run."""

import pytest
from support.cli_args import run_args
from support.filesystems import tmpfs
from support.hostile import one_error

from alexnet_edge.export.cli.export import export_alexnet


@pytest.fixture(autouse=True)
def no_stage_may_run(monkeypatch):
    def stage(*args, **kwargs):
        raise AssertionError("a stage ran before the options were refused")

    monkeypatch.setattr("alexnet_edge.export.pipeline.stages.load_data", stage)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (["--int8", "--calib-seed", "-1"], "--calib-seed -1: a seed is 0 or more"),
        (["--int8", "--calib-size", "10"], "--calib-size 10 is smaller than one calibration batch (64 images)"),
        (["--int8", "--calib-batches", "test_batch"], "calibration draws from the train split only"),
        (["--batch-sizes", "1,100000000"], "a timed batch takes at most 4,096 images"),
    ],
)
def test_options_that_failed_late_are_refused_before_the_first_stage(options, match, checkpoint, data_root, tmp_path):
    one_error(export_alexnet, *run_args(checkpoint, data_root, tmp_path / "out"), "--quiet", *options, match=match)
    assert list(tmp_path.iterdir()) == []  # nothing written, no folder created


def test_a_read_only_bundle_folder_is_refused_before_the_first_stage(checkpoint, data_root, tmp_path):
    with tmpfs(tmp_path / "ro", size="1m", read_only=True) as read_only:
        line = one_error(
            export_alexnet,
            *run_args(checkpoint, data_root, tmp_path / "out"),
            "--bundle",
            read_only / "bundle",
            match=f"--bundle {read_only / 'bundle'}: cannot write to {read_only}",
        )
    assert "Read-only file system" in line and not (tmp_path / "out").exists()


def test_a_read_only_tmpdir_is_refused_before_the_first_stage(checkpoint, data_root, tmp_path, monkeypatch):
    with tmpfs(tmp_path / "ro", size="1m", read_only=True) as read_only:
        monkeypatch.setattr("tempfile.tempdir", str(read_only))
        line = one_error(export_alexnet, *run_args(checkpoint, data_root, tmp_path / "out"), match="TMPDIR")
    assert "Read-only file system" in line
