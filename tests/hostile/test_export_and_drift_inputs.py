"""Hostile and unusual inputs to export-alexnet, alexnet-drift, the output folder and the bundle: every
case checks the exit code, that no traceback is printed, that exactly the expected `error:` lines appear
and name the problem, and what is on disk afterwards.
(alexnet-infer and the runtime API: test_infer_and_bundle_inputs.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.cli_args import run_args
from support.hostile import invoke, manifest_matches_disk, one_error, tree

from alexnet_edge.export.cli.drift import alexnet_drift
from alexnet_edge.export.cli.export import export_alexnet

# -- alexnet-drift -----------------------------------------------------------------------------
DRIFT_BAD_BASELINES = {
    "random_bytes": (bytes(range(256)) * 4, "not a text file"),
    "json_list": (b"[1, 2, 3]", "holds a JSON list"),
    "missing_keys": (b'{"schema": "alexnet-edge-drift/1"}', "'settings' is missing"),
    "bad_figure": (
        b'{"schema": "alexnet-edge-drift/1", "settings": {}, "figures": {"x": 1},'
        b' "inputs": {"checkpoint": {"sha256": "0"}, "dataset": {}}}',
        "figure 'x' lacks",
    ),
    "truncated": (b'{"schema": "alexnet-edge-drift/1", "sett', "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(DRIFT_BAD_BASELINES))
def test_drift_bad_baseline_is_one_line(case, checkpoint, data_root, tmp_path):
    content, match = DRIFT_BAD_BASELINES[case]
    (tmp_path / "b.json").write_bytes(content)
    one_error(
        alexnet_drift,
        "--baseline",
        tmp_path / "b.json",
        "--checkpoint",
        checkpoint,
        "--data-root",
        data_root,
        match=match,
    )


def test_drift_missing_checkpoint_is_one_line(data_root, tmp_path):
    one_error(
        alexnet_drift, "--checkpoint", tmp_path / "none.pt", "--data-root", data_root, match="checkpoint not found"
    )


# -- export-alexnet: options and inputs refused before anything is written ----------------------
def _export_refused(checkpoint, data_root, out, *extra, match):
    before = tree(out)
    one_error(
        export_alexnet,
        *run_args(checkpoint, data_root, out),
        "--no-bench",
        *extra,
        match=match,
    )
    assert tree(out) == before  # nothing written, nothing deleted
    assert not list(out.parent.glob(f".{out.name}.run-*"))


@pytest.mark.parametrize(
    "option, match",
    [
        ("fp32.max_abs_diff=nan", "must be a finite number"),
        ("fp32.max_abs_diff=inf", "must be a finite number"),
        ("int8.min_top1_agreement=2", "must be between 0 and 1"),
        ("fp16.max_rel_diff=-1", "must be a finite number"),
        ("int8.min_cosine_similarity=-0.5", "must be between 0 and 1"),
        ("int8.nonsense=1", "unknown tolerance field"),
    ],
)
def test_bad_tolerance_override_is_exit_2(option, match, checkpoint, data_root, tmp_path):
    _export_refused(checkpoint, data_root, tmp_path / "out", "--tolerance", option, match=match)


def _state_file(path: Path, state) -> Path:
    torch.save(state, path)
    return path


class Hostile:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "case, match",
    [
        ("nan_weights", "holds NaN or infinite values in features.0.weight"),
        ("pickled_code", "refused: the pickle references print, which weights_only loading does not allow"),
        ("random_bytes", "not a PyTorch state_dict file"),
        ("list_of_tensors", "does not hold a state_dict of tensors"),
    ],
)
def test_bad_checkpoints_are_exit_2_with_a_complete_sentence(case, match, reference_model, data_root, tmp_path):
    path = tmp_path / "bad.pt"
    if case == "nan_weights":
        state = {k: v.clone() for k, v in reference_model.state_dict().items()}
        state["features.0.weight"][0, 0, 0, 0] = float("nan")
        _state_file(path, state)
    elif case == "pickled_code":
        torch.save({"x": Hostile()}, path)  # a pickle whose loading would call print("pwned")
    elif case == "random_bytes":
        path.write_bytes(bytes(range(256)) * 8)
    else:
        _state_file(path, [torch.zeros(3)])
    line = one_error(
        export_alexnet, "--checkpoint", path, "--data-root", data_root, "--out", tmp_path / "out", match=match
    )
    assert line.rstrip().endswith((")", "allow", "values in features.0.weight", "tensors")) and "Re-running" not in line
    assert not (tmp_path / "out").exists()


def test_out_equal_to_bundle_is_refused_and_deletes_nothing(checkpoint, data_root, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "model.fp32.onnx").write_text("an earlier run's model")
    _export_refused(checkpoint, data_root, out, "--bundle", out, match="would replace the output folder")


def test_bundle_over_a_users_folder_needs_force(checkpoint, data_root, tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "thesis.txt").write_text("irreplaceable")
    _export_refused(checkpoint, data_root, tmp_path / "out", "--bundle", users, match="not an alexnet-edge bundle")
    assert (users / "thesis.txt").read_text() == "irreplaceable"


@pytest.mark.parametrize(
    "extra, match",
    [
        (("--int8", "--calib-size", "20001"), "more than the 10,000 images"),
        (("--variant", "original"), "cannot take 32x32"),
        (("--eval-size", "0"), "0"),
    ],
)
def test_impossible_options_write_nothing(extra, match, checkpoint, data_root, tmp_path):
    _export_refused(checkpoint, data_root, tmp_path / "new-out", *extra, match=match)
    assert not (tmp_path / "new-out").exists()


def test_missing_dataset_leaves_no_empty_out(checkpoint, tmp_path):
    one_error(
        export_alexnet,
        *run_args(checkpoint, tmp_path / "nodata", tmp_path / "out"),
        match="",
    )
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_out_is_a_file_or_locked_is_exit_2(checkpoint, data_root, tmp_path):
    import fcntl

    (tmp_path / "file").write_text("x")
    one_error(
        export_alexnet, "--checkpoint", checkpoint, "--data-root", data_root, "--out", tmp_path / "file", match="file"
    )
    out = tmp_path / "busy"
    with open(tmp_path / ".busy.lock", "w") as lock:
        lock.write("export-alexnet pid 4242, started today")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        line = one_error(
            export_alexnet,
            *run_args(checkpoint, data_root, out),
            "--no-bench",
            match="is in use by export-alexnet pid 4242",
        )
    assert "choose another --out" in line and not out.exists()


# -- export-alexnet: what a run leaves in --out ----------------------------------------------
def test_a_run_replaces_its_own_files_keeps_the_users_and_cleans_leftovers(checkpoint, data_root, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "model.int8.onnx").write_text("an earlier run's int8 model")
    (out / "manifest.json").write_text(json.dumps({"artifacts": [{"file": "model.int8.onnx"}]}))
    (out / ".model.fp32.onnx.abc.tmp").write_bytes(b"\0" * 1000)  # as a SIGKILL leaves them
    (tmp_path / ".out.run-99999").mkdir()
    result, errors = invoke(
        export_alexnet,
        *run_args(checkpoint, data_root, out),
        "--eval-size",
        100,
        "--no-bench",
        "--quiet",
    )
    assert result.exit_code == 0 and not errors, result.output
    assert "left by an interrupted run" in result.output
    assert (out / "notes.txt").read_text() == "mine" and not (out / "model.int8.onnx").exists()
    assert not list(out.glob(".*")) and not list(tmp_path.glob(".out.*"))
    manifest_matches_disk(out)


def test_a_failed_run_leaves_out_exactly_as_it_was(exported, checkpoint, data_root, tmp_path):
    import shutil

    out = tmp_path / "good"
    shutil.copytree(exported.out, out, ignore=shutil.ignore_patterns("bundle"))
    before = tree(out)
    # Fails after export, at calibration: the train batch is not there.
    one_error(
        export_alexnet,
        *run_args(checkpoint, data_root, out),
        "--eval-size",
        50,
        "--no-bench",
        "--int8",
        "--calib-batches",
        "data_batch_4",
        match="data_batch_4",
    )
    assert tree(out) == before and not list(tmp_path.glob(".good.*"))


def _export_process(checkpoint, data_root, out, *extra):
    cmd = [
        str(Path(sys.executable).parent / "export-alexnet"),
        *run_args(str(checkpoint), str(data_root), str(out)),
        "--eval-size",
        "300",
        "--no-bench",
        "--quiet",
        *extra,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_two_runs_on_one_out_never_mix(checkpoint, data_root, tmp_path):
    import time

    out = tmp_path / "out"
    first = _export_process(checkpoint, data_root, out, "--int8")
    time.sleep(3)
    second = _export_process(checkpoint, data_root, out, "--int8", "--calib-method", "minmax")
    _, err = second.communicate(timeout=300)
    assert second.returncode == 2 and "is in use by export-alexnet pid" in err and "Traceback" not in err
    assert first.wait(timeout=600) == 0
    manifest_matches_disk(out)


@pytest.mark.slow
def test_a_killed_run_leaves_nothing_the_next_run_does_not_clean(checkpoint, data_root, tmp_path):
    import signal
    import time

    out = tmp_path / "out"
    proc = _export_process(checkpoint, data_root, out)
    time.sleep(12)  # mid-export
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # nothing reached --out
    rerun = _export_process(checkpoint, data_root, out)
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert not list(tmp_path.glob(".out.run-*"))
    manifest_matches_disk(out)
