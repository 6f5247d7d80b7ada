"""Training with the reference recipe (../shared/reference/meta.json), on CUDA when there is one.

SGD nesterov 0.9, OneCycle (cos, pct_start 0.15, div 20, final_div 200), lr 0.04, weight decay
5e-4 on conv/linear weights only (never biases or BatchNorm), batch 256, 60 epochs, reflect-pad-4
random crop + horizontal flip, bf16 autocast on CUDA; validation on the first 5,000 of
torch.randperm(50000, seed 0), training on the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from alexnet_edge.calibration.cifar10 import load_split, load_test, split_fingerprint
from alexnet_edge.export.model.alexnet import AlexNet
from alexnet_edge.export.model.architecture import has_batchnorm
from alexnet_edge.export.model.recipe import Recipe
from alexnet_edge.runtime.compare import accuracy
from alexnet_edge.runtime.fileio import atomic_output, sha256_file, write_json
from alexnet_edge.runtime.preprocess import normalize_uint8
from alexnet_edge.runtime.progress import Progress, track

logger = logging.getLogger(__name__)

CPU_IMAGES_PER_SECOND = 75.0  # measured on the 2-core development machine


def estimate_cpu_seconds(recipe: Recipe, train_images: int) -> float:
    return recipe.epochs * train_images / CPU_IMAGES_PER_SECOND


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Reflect-pad 4, random 32x32 crop, random horizontal flip (per image)."""
    n, _, h, w = batch.shape
    padded = F.pad(batch, (4, 4, 4, 4), mode="reflect")
    dx = torch.randint(0, 9, (n,), generator=generator)
    dy = torch.randint(0, 9, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :]).to(batch.device)
    cols = (dx[:, None] + torch.arange(w)[None, :]).to(batch.device)
    index = torch.arange(n, device=batch.device)[:, None, None, None]
    channel = torch.arange(batch.shape[1], device=batch.device)[None, :, None, None]
    out = padded[index, channel, rows[:, None, :, None], cols[:, None, None, :]]
    flip = (torch.rand(n, generator=generator) < 0.5).to(batch.device)
    out[flip] = out[flip].flip(-1)
    return out


def _split(data_root, recipe: Recipe, dev: torch.device, log: Callable[[str], None]):
    """The recipe's validation/training split of the train files (and, on CPU, what it will cost)."""
    split = load_split(data_root, recipe.train_files)
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(recipe.seed)).numpy()
    val_size = min(recipe.val_size, len(split) // 10)  # 5,000 of 50,000; a tenth of a smaller split
    val_idx, train_idx = order[:val_size], order[val_size:]
    if recipe.train_size is not None:
        train_idx = train_idx[: recipe.train_size]
    if dev.type == "cpu":
        full_hours = estimate_cpu_seconds(Recipe(), 45_000) / 3600
        minutes = estimate_cpu_seconds(recipe, len(train_idx)) / 60
        log(
            f"training on CPU: the full recipe (60 epochs x 45,000 images) would take about {full_hours:.0f} h here; "
            f"this run ({recipe.epochs} epochs x {len(train_idx)} images) about {minutes:.1f} min"
        )
    return split, train_idx, val_idx


def _optimizer(model: torch.nn.Module, recipe: Recipe, steps_per_epoch: int):
    """SGD (nesterov) with weight decay on conv/linear weights only, under the OneCycle schedule."""
    decay, no_decay = decay_groups(model)
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=recipe.lr,
        momentum=recipe.momentum,
        nesterov=True,
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=recipe.lr,
        epochs=recipe.epochs,
        steps_per_epoch=steps_per_epoch,
        pct_start=recipe.pct_start,
        anneal_strategy="cos",
        div_factor=recipe.div_factor,
        final_div_factor=recipe.final_div_factor,
    )
    return optimizer, scheduler


def _save(out: Path, model: torch.nn.Module, metadata: dict) -> Path:
    """The checkpoint and its metadata (with the checkpoint's sha256), each written atomically."""
    ckpt = out / "alexnet_cifar10.pt"
    with atomic_output(ckpt) as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(out / "alexnet_cifar10.json", {**metadata, "state_dict_sha256": sha256_file(ckpt)})
    return ckpt


def decay_groups(model: torch.nn.Module) -> tuple[list, list]:
    """(conv/linear weights, everything else): weight decay applies to the first only. BatchNorm's
    gamma is named "weight" too, but decaying it would pull the normalization scale to zero."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return decay, no_decay


BN_STAT_IMAGES = 2048


def reestimate_batchnorm(model: torch.nn.Module, images: torch.Tensor, batch_size: int, device: torch.device) -> None:
    """Recompute BatchNorm's running statistics for the current weights ("precise BN").

    The running averages trail the weights by ~10 steps (momentum 0.1); after a short run, or when
    the LR schedule ends, that lag makes eval-mode outputs wrong. A no-grad pass over up to 2,048
    un-augmented training images in train mode, with a cumulative average, fixes it at low cost.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the pass
    model.train()
    with torch.no_grad():
        for i in range(0, min(len(images), BN_STAT_IMAGES), batch_size):
            model(images[i : i + batch_size].to(device))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum


def _evaluate(model: torch.nn.Module, images: torch.Tensor, labels: np.ndarray, device: torch.device) -> float:
    model.eval()
    outs = []
    with torch.inference_mode():
        for i in range(0, len(images), 512):
            outs.append(model(images[i : i + 512].to(device)).float().cpu().numpy())
    return accuracy(np.concatenate(outs), labels)


def train(
    data_root: str | Path,
    out_dir: str | Path,
    *,
    recipe: Recipe = Recipe(),
    device: str | None = None,
    progress: Progress = True,
    log: Callable[[str], None] = logger.info,
    test_size: int | None = None,
    variant: str = "cifar",
) -> Path:
    """Train, then write ``alexnet_cifar10.pt`` (state_dict) and ``alexnet_cifar10.json`` into ``out_dir``.

    The test accuracy in the metadata is on the first ``test_size`` test images (default: all).
    """
    torch.manual_seed(recipe.seed)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    split, train_idx, val_idx = _split(data_root, recipe, dev, log)
    x_train = torch.from_numpy(normalize_uint8(split.images[train_idx]))
    y_train = torch.from_numpy(split.labels[train_idx])
    x_val = torch.from_numpy(normalize_uint8(split.images[val_idx]))

    model = AlexNet(variant=variant).to(dev)
    started = time.perf_counter()
    best_val, best_state = _fit(
        model,
        recipe,
        (x_train, y_train),
        (x_val, split.labels[val_idx]),
        dev,
        variant=variant,
        progress=progress,
        log=log,
    )
    model.load_state_dict(best_state)
    test = load_test(data_root)
    n_test = len(test) if test_size is None else min(test_size, len(test))
    test_acc = _evaluate(model, torch.from_numpy(normalize_uint8(test.images[:n_test])), test.labels[:n_test], dev)
    ckpt = _save(
        Path(out_dir),
        model,
        {
            "recipe": asdict(recipe),
            "variant": variant,
            "device": str(dev),
            "train_images": int(len(train_idx)),
            "val_images": int(len(val_idx)),
            "val_acc": best_val,
            "test_acc_fp32": test_acc,
            "test_images": n_test,
            "seconds": round(time.perf_counter() - started, 1),
            "dataset_md5": split_fingerprint(split),
        },
    )
    log(f"trained: val {best_val:.4f}, test {test_acc:.4f}; checkpoint {ckpt}")
    return ckpt


def _fit(
    model, recipe: Recipe, train_set, val_set, dev, *, variant: str, progress: Progress, log: Callable[[str], None]
):
    """The training loop; returns (best validation accuracy, that epoch's state_dict)."""
    (x_train, y_train), (x_val, y_val) = train_set, val_set
    steps_per_epoch = -(-len(x_train) // recipe.batch_size)
    optimizer, scheduler = _optimizer(model, recipe, steps_per_epoch)
    generator = torch.Generator().manual_seed(recipe.seed)
    best_val, best_state = -1.0, None
    for epoch in range(recipe.epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=generator)
        steps = track(
            range(steps_per_epoch),
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{recipe.epochs}",
            unit="steps",
            progress=progress,
        )
        for step in steps:
            idx = perm[step * recipe.batch_size : (step + 1) * recipe.batch_size]
            xb = augment(x_train[idx], generator).to(dev, non_blocking=True)
            yb = y_train[idx].to(dev, non_blocking=True)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                loss = F.cross_entropy(model(xb), yb, label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
        if has_batchnorm(variant):
            reestimate_batchnorm(model, x_train, recipe.batch_size, dev)
        val_acc = _evaluate(model, x_val, y_val, dev)
        if val_acc > best_val:
            best_val, best_state = val_acc, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        log(f"epoch {epoch + 1}/{recipe.epochs}: loss {loss.item():.4f}, val {val_acc:.4f}")
    return best_val, best_state
