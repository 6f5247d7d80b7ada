"""alexnet-targets and the folders it writes (issue 28 §1, §3): an --out it cannot write is refused
before any evaluation (e9b3804: a traceback in write_results after the whole run, exit 1), and a
failed download leaves no ``.partial`` folder in --cache (e9b3804: host@99.0.0 left one)."""

import pytest
from support.cli_args import run_args
from support.filesystems import tmpfs
from support.hostile import assert_one_error, run_command, signature_model


@pytest.fixture
def models(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    signature_model(folder / "model.fp32.onnx")
    return folder


def _targets(models, checkpoint, data_root, out, *extra, tmp_path):
    return run_command(
        "alexnet-targets",
        "--models",
        models,
        *run_args(checkpoint, data_root, out),
        *extra,
        "--int8-size",
        0,
        "--fp32-size",
        4,
        "--fp16-size",
        0,
        tmpdir=tmp_path / "tmpdir",
        timeout=240,
    )


def test_a_read_only_out_is_refused_before_any_evaluation(models, checkpoint, data_root, tmp_path):
    with tmpfs(tmp_path / "ro", size="1m", read_only=True) as read_only:
        proc = _targets(models, checkpoint, data_root, read_only / "res", "--target", "host", tmp_path=tmp_path)
    line = assert_one_error(proc, code=2, match=f"--out {read_only / 'res'}: cannot write to {read_only}")
    assert "Read-only file system" in line
    assert "test images (seed" not in proc.stderr  # refused before the sample was drawn and evaluated


def test_a_failed_wheel_download_leaves_no_partial_folder_in_the_cache(models, checkpoint, data_root, tmp_path):
    cache = tmp_path / "cache"
    proc = _targets(
        models, checkpoint, data_root, tmp_path / "res", "--target", "host@99.0.0", "--cache", cache, tmp_path=tmp_path
    )
    assert_one_error(proc, code=2, match="pip download (x86_64 wheels) failed")
    assert not list(cache.glob("*.partial")), sorted(p.name for p in cache.iterdir())
