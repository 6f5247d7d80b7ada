"""pipeline.validate refuses a bad engine configuration from Python too, before any work (not only in the CLI)."""

import pytest

from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
from alexnet_edge.export.pipeline.run import validate
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.errors import AlexNetEdgeError


def test_a_bad_batch_profile_is_refused_by_the_api(data_root, checkpoint, tmp_path):
    export = ExportSpec(checkpoint=checkpoint, engine=EngineBuildConfig(min_batch=8, opt_batch=4, max_batch=16))
    with pytest.raises(AlexNetEdgeError, match="batch profile must satisfy"):
        validate(export, EvaluationSpec(), RunOptions(data_root=data_root, out_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_tensorrt_whose_libraries_fail_to_load_gives_no_version(monkeypatch, tmp_path):
    """The manifest's tool versions: a tensorrt package that imports but cannot load libnvinfer is absent."""
    import sys

    from alexnet_edge.export.pipeline import run as pipeline

    (tmp_path / "tensorrt.py").write_text("raise OSError('libnvinfer.so.10: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tensorrt", raising=False)
    assert pipeline._tensorrt_version() == {}
