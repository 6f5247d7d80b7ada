import json

import numpy as np
import torch

from alexnet_edge.export.model.alexnet import alexnet_cifar10
from alexnet_edge.export.model.recipe import Recipe
from alexnet_edge.export.model.train import augment, train


def test_augment_is_a_shifted_crop_or_its_mirror():
    batch = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    out = augment(batch, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape
    padded = torch.nn.functional.pad(batch, (4, 4, 4, 4), mode="reflect")
    for i in range(2):
        found = any(
            torch.equal(out[i], padded[i, :, dy : dy + 32, dx : dx + 32])
            or torch.equal(out[i], padded[i, :, dy : dy + 32, dx : dx + 32].flip(-1))
            for dy in range(9)
            for dx in range(9)
        )
        assert found


def test_short_cpu_training_writes_a_loadable_checkpoint_and_metadata(data_root, tmp_path):
    recipe = Recipe(epochs=1, batch_size=64, train_size=256, train_files=("data_batch_1",))
    lines = []
    ckpt = train(data_root, tmp_path, recipe=recipe, device="cpu", progress=False, log=lines.append, test_size=500)
    model = alexnet_cifar10(weights=ckpt)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    meta = json.loads((tmp_path / "alexnet_cifar10.json").read_text())
    assert meta["train_images"] == 256 and meta["val_images"] == 1000
    assert meta["recipe"]["lr"] == 0.04 and meta["dataset_md5"] == {"data_batch_1": "c99cafc152244af753f735de768cd75f"}
    assert meta["test_images"] == 500 and 0.0 <= meta["test_acc_fp32"] <= 1.0 and len(meta["state_dict_sha256"]) == 64
    assert any("training on CPU" in line for line in lines)
    assert np.isfinite(meta["val_acc"])
