"""The PyTorch reference logits are cached by what determines them: a rerun reads them instead of running
PyTorch again; any other input, or an entry that fails a check, is recomputed."""

import numpy as np
import pytest
from click.testing import CliRunner

from alexnet_edge.export.cli.export import export_alexnet
from alexnet_edge.export.model.torch_runner import TorchRunner
from alexnet_edge.export.pipeline import reference_cache

SHA = "ab" * 32


@pytest.fixture
def images(rng):
    return rng.standard_normal((6, 3, 32, 32)).astype(np.float32)


def _logits(rng, n=6):
    return rng.standard_normal((n, 10)).astype(np.float32)


def test_a_rerun_reads_the_reference_logits_instead_of_running_pytorch(checkpoint, data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("ALEXNET_EDGE_REFERENCE_CACHE", str(tmp_path / "cache"))
    calls = []
    real = TorchRunner.infer_many

    def counted(self, images, *args, **kwargs):
        calls.append(len(images))
        return real(self, images, *args, **kwargs)

    monkeypatch.setattr(TorchRunner, "infer_many", counted)
    args = ["--checkpoint", checkpoint, "--data-root", data_root, "--eval-size", "16", "--no-bench"]
    args += ["--no-engines", "--backends", "onnxruntime", "--quiet"]
    for out in ("first", "second"):
        result = CliRunner().invoke(export_alexnet, [str(a) for a in args] + ["--out", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    assert calls.count(16) == 1  # the first run computed them; the second read them
    assert "read from the cache" in result.output


def test_entry_round_trip_and_key(images, rng, tmp_path):
    entry = reference_cache.entry_for(SHA, images, "cifar", folder=tmp_path)
    lines = []
    assert entry.load(lines.append) is None
    logits = _logits(rng)
    entry.store(logits, lines.append)
    assert np.array_equal(entry.load(lines.append), logits) and lines == []
    other_images = images.copy()
    other_images[0, 0, 0, 0] += 1e-3
    for other in (
        reference_cache.entry_for("cd" * 32, images, "cifar", folder=tmp_path),
        reference_cache.entry_for(SHA, other_images, "cifar", folder=tmp_path),
        reference_cache.entry_for(SHA, images[:5], "cifar", folder=tmp_path),
        reference_cache.entry_for(SHA, images, "cifar-bn", folder=tmp_path),
    ):
        assert other.load(lines.append) is None


def _corrupt_bytes(entry):
    data = bytearray(entry.array.read_bytes())
    data[-1] ^= 0xFF
    entry.array.write_bytes(bytes(data))


def _truncate(entry):
    entry.array.write_bytes(entry.array.read_bytes()[:50])


def _bad_record(entry):
    entry.record.write_text("{")


def _wrong_shape(entry):
    np.save(entry.array, np.zeros((6, 3), np.float32))
    record = entry.record.read_text()
    entry.record.write_text(
        record.replace(record.split('"sha256": "')[-1][:64], reference_cache.sha256_file(entry.array))
    )


@pytest.mark.parametrize("damage", [_corrupt_bytes, _truncate, _bad_record, _wrong_shape])
def test_a_damaged_entry_is_recomputed_not_trusted(images, rng, tmp_path, damage):
    entry = reference_cache.entry_for(SHA, images, "cifar", folder=tmp_path)
    entry.store(_logits(rng), lambda line: None)
    damage(entry)
    lines = []
    assert entry.load(lines.append) is None
    assert len(lines) == 1 and "not used" in lines[0] and "recomputing" in lines[0]


def test_where_the_cache_lives_and_how_to_turn_it_off(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert reference_cache.default_folder(env) == tmp_path / "alexnet-edge" / "reference-logits"
    assert (
        reference_cache.default_folder({**env, "ALEXNET_EDGE_REFERENCE_CACHE": str(tmp_path / "x")}) == tmp_path / "x"
    )
    assert reference_cache.default_folder({**env, "ALEXNET_EDGE_REFERENCE_CACHE": "off"}) is None


def test_an_unwritable_cache_is_a_line_not_an_error(images, rng, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    entry = reference_cache.entry_for(SHA, images, "cifar", folder=blocker / "cache")
    lines = []
    entry.store(_logits(rng), lines.append)
    assert len(lines) == 1 and "not cached" in lines[0]


def test_an_edit_to_the_model_code_is_a_new_entry(images, rng, tmp_path, monkeypatch):
    entry = reference_cache.entry_for(SHA, images, "cifar", folder=tmp_path)
    entry.store(_logits(rng), lambda line: None)
    monkeypatch.setattr(reference_cache, "MODEL_CODE", (*reference_cache.MODEL_CODE, "alexnet_edge.export.errors"))
    assert reference_cache.entry_for(SHA, images, "cifar", folder=tmp_path).load(lambda line: None) is None
