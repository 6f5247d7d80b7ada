"""The drift gate runs for minutes (10,000 images): it reports progress through its log, a line at least
every 10 s (README's promise), instead of running the pipeline silently."""

import pytest

from alexnet_edge.export.drift import gate as drift


class _Stop(Exception):
    pass


def test_drift_runs_the_pipeline_with_heartbeat_lines(checkpoint, data_root, tmp_path, monkeypatch):
    given: list = []

    def run(*args, **kwargs):
        given.extend([*args, *kwargs.values()])
        raise _Stop  # what the pipeline was asked for is under test, not the pipeline

    monkeypatch.setattr(drift, "run", run)

    def log(line: str) -> None:
        pass

    with pytest.raises(_Stop):
        drift.compute(
            checkpoint, data_root, dict(drift.DEFAULT_SETTINGS), reference_dir=None, work_dir=tmp_path, log=log
        )
    sinks = [arg.progress_sink(log) for arg in given if hasattr(arg, "progress_sink")]
    assert sinks == [log]  # heartbeat lines through the gate's log: not silent (False), not a bar (True)
