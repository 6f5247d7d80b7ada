import pytest
import torch

from alexnet_edge.export.errors import CheckpointError, InputSizeError
from alexnet_edge.export.model.alexnet import AlexNet, alexnet_cifar10, count_parameters


def test_shapes_and_parameter_count():
    model = AlexNet().eval()
    assert count_parameters(model) == 28_714_826
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    keys = list(model.state_dict())
    assert keys[0] == "features.0.weight" and keys[-1] == "classifier.6.bias"


def test_construction_is_guarded_by_the_shape_walk():
    with pytest.raises(InputSizeError, match="features.12"):
        AlexNet(variant="original")


def test_reference_checkpoint_loads_with_hash_check(reference_model):
    assert not reference_model.training


def test_wrong_hash_is_refused(checkpoint):
    with pytest.raises(CheckpointError, match="sha256"):
        alexnet_cifar10(weights=checkpoint, expected_sha256="0" * 64)


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        alexnet_cifar10(weights=tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        alexnet_cifar10(weights=bad)


def test_other_architecture_lists_missing_unexpected_and_misshaped_keys(tmp_path):
    state = AlexNet().state_dict()
    state.pop("classifier.6.bias")
    state["features.99.weight"] = torch.zeros(1)
    state["classifier.1.weight"] = torch.zeros(4096, 9216)
    path = tmp_path / "other.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        alexnet_cifar10(weights=path)
    err = info.value
    assert err.missing == ["classifier.6.bias"] and err.unexpected == ["features.99.weight"]
    assert err.mismatched == [("classifier.1.weight", (4096, 9216), (4096, 2304))]
    assert "mis-shaped classifier.1.weight [4096, 9216] (model wants [4096, 2304])" in str(err)


def test_pickled_code_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        alexnet_cifar10(weights=path)


def test_an_unknown_layer_kind_is_refused_not_turned_into_dropout():
    from alexnet_edge.export.model.alexnet import _module
    from alexnet_edge.export.model.architecture import Layer

    layer = Layer("conv3d", in_ch=3, out_ch=8, kernel=3)
    with pytest.raises(ValueError, match="no module for layer kind 'conv3d'"):
        _module(layer)


def test_the_reference_weights_record_finds_checks_and_builds(checkpoint, tmp_path):
    """torchvision-style: the record carries sha256, variant and normalisation; the file is found under
    $ALEXNET_EDGE_DATA and refused when its hash differs."""
    from alexnet_edge.export.model.weights import REFERENCE
    from alexnet_edge.runtime.constants import MEAN

    env = {"ALEXNET_EDGE_DATA": str(checkpoint.parents[1])}
    assert REFERENCE.locate(environ=env) == checkpoint.parents[1] / "reference" / "alexnet_cifar10.pt"
    assert REFERENCE.variant == "cifar" and REFERENCE.mean == MEAN and len(REFERENCE.class_names) == 10
    other = tmp_path / "reference" / "alexnet_cifar10.pt"
    other.parent.mkdir()
    torch.save(AlexNet().state_dict(), other)
    with pytest.raises(CheckpointError, match="expected b14e73d7"):
        alexnet_cifar10(
            weights=REFERENCE.locate(environ={"ALEXNET_EDGE_DATA": str(tmp_path)}), expected_sha256=REFERENCE.sha256
        )
