import pytest
from click.testing import CliRunner

from alexnet_edge.export.cli.inspect import alexnet_inspect
from alexnet_edge.export.errors import InputSizeError
from alexnet_edge.export.model.architecture import flatten_size, walk


def test_seed_walkthrough_at_32():
    rows = walk("cifar", 32)
    spatial = [r.out_shape[1] for r in rows if r.name.startswith("features") and r.layer.kind in ("conv", "maxpool")]
    assert spatial == [32, 15, 15, 7, 7, 7, 7, 3]
    assert flatten_size("cifar", 32) == 2304
    assert sum(r.params for r in rows) == 28_714_826


def test_original_variant_on_32_names_the_layer_and_sizes():
    with pytest.raises(InputSizeError) as info:
        walk("original", 32)
    assert info.value.layer == "features.12" and info.value.in_size == 1 and info.value.window == 3
    assert "features.12 MaxPool2d(3, stride=2) gets a 1x1 map" in str(info.value)


def test_tiny_input_is_refused_for_the_cifar_variant_too():
    with pytest.raises(InputSizeError, match="features.5 MaxPool2d"):
        walk("cifar", 4)


def test_inspect_prints_the_table():
    result = CliRunner().invoke(alexnet_inspect, [])
    assert result.exit_code == 0
    assert "32 -> 32 -> 15 -> 15 -> 7 -> 7 -> 7 -> 7 -> 3; flatten 2304" in result.output
    assert "28,714,826 parameters" in result.output


def test_inspect_impossible_configuration_is_one_line_not_a_traceback():
    result = CliRunner().invoke(alexnet_inspect, ["--variant", "original"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: original net cannot take 32x32 input: features.12")
    assert "Traceback" not in result.output


def test_inspect_other_sizes_note_the_checkpoint():
    result = CliRunner().invoke(alexnet_inspect, ["--input-size", "64"])
    assert (
        result.exit_code == 0
        and "flatten 12544" in result.output
        and "needs a model trained for 12544" in result.output
    )


def test_summarize_is_what_alexnet_inspect_prints():
    """The inspect numbers come from the API; the command only formats them."""
    from alexnet_edge.export.model.architecture import summarize

    net = summarize("cifar", 32)
    assert net.spatial == (32, 32, 15, 15, 7, 7, 7, 7, 3) and net.flatten == 2304 and net.fits_reference
    assert net.params == sum(r.params for r in net.rows) and net.macs == sum(r.macs for r in net.rows)
    assert not summarize("cifar", 64).fits_reference
