"""Notebook 03's U-Net recipe as one function: random crops of land-cover patches, the U-Net, pixel-wise
cross-entropy, AdamW with a cosine schedule, the profile's epochs (the last epoch's weights).

Notebook 03 trains it on the sample scene, ``transfer.train_sample_unet`` for notebook 11, and notebook
13 on the real scene's west half: the same function, so a change of recipe reaches every caller.
Patches are any sequence of dicts with ``image`` ``(C, H, W)`` float and ``mask`` ``(H, W)`` int64
(255 = unlabelled), e.g. ``datasets.DFC2020`` or :func:`patches_from_arrays`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ...core import config
from ...data import crops
from ...models.unet import UNet
from .. import train

NOTEBOOK = "03_unet_landcover"  # whose profile settings the recipe reads by default


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Notebook 03's loss: pixel-wise cross-entropy, unlabelled pixels (255) left out."""
    return torch.nn.functional.cross_entropy(logits, target, ignore_index=255)


def weighted_cross_entropy(weights: Sequence[float] | torch.Tensor) -> Callable[..., torch.Tensor]:
    """Cross-entropy with one weight per class (notebook 11's sparse real labels), 255 left out."""
    w = torch.as_tensor(weights, dtype=torch.float32)

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(
            logits, target, weight=w.to(logits.device), ignore_index=255
        )

    return loss


def class_weights(mask: np.ndarray, num_classes: int, power: float = 1.0) -> torch.Tensor:
    """(1 / (K x class share)) ** ``power`` from the training labels only (0: all weights 1)."""
    counts = np.bincount(mask[mask != 255].ravel(), minlength=num_classes)[:num_classes]
    share = np.maximum(counts, 1) / max(int(counts.sum()), 1)
    return torch.tensor((1.0 / (num_classes * share)) ** power, dtype=torch.float32)


def patches_from_arrays(
    image: np.ndarray, mask: np.ndarray, size: int, min_labelled: float = 0.0, **extra: np.ndarray
) -> list[dict[str, torch.Tensor]]:
    """Non-overlapping ``size`` px patches of an image ``(C, H, W)`` and its label array ``(H, W)``
    (255 = unlabelled; more label arrays as ``extra``) as the dicts the recipes read; a patch with
    a share of labelled pixels below ``min_labelled`` is left out."""
    _, h, w = image.shape
    out = []
    for top in range(0, h - size + 1, size):
        for left in range(0, w - size + 1, size):
            window = (slice(top, top + size), slice(left, left + size))
            m = mask[window]
            if (m != 255).mean() < min_labelled or (m != 255).sum() == 0:
                continue
            patch = {
                "image": torch.from_numpy(np.ascontiguousarray(image[(slice(None), *window)])),
                "mask": torch.from_numpy(m.astype(np.int64)),
            }
            for key, arr in extra.items():
                patch[key] = torch.from_numpy(np.ascontiguousarray(arr[window]).astype(np.int64))
            out.append(patch)
    if not out:
        raise ValueError(f"no {size} px patch holds enough labelled pixels (min {min_labelled})")
    return out


def unet(
    patches: Any,
    settings: Mapping[str, Any],
    seed: int,
    *,
    num_classes: int,
    loss: Callable[..., torch.Tensor] = cross_entropy,
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    val_loader: Any = None,
    progress: bool = False,
    meta: dict[str, Any] | None = None,
    loader: Callable[[Any], Any] | None = None,
    amp: bool = True,
    step_fn: Callable[..., torch.Tensor] | None = None,
) -> tuple[UNet, Any]:
    """Notebook 03's U-Net trained on ``patches`` with ``seed``: ``settings`` holds ``crop``,
    ``samples`` (crops per epoch), ``batch``, ``width``, ``depth``, ``epochs``, ``learning_rate`` and
    ``time_cap_s`` (a profile's, e.g. ``config.settings("03_unet_landcover", profile)``); returns
    ``(model, history)`` with the last epoch's weights. The seed is set first, so the crops, the
    initial weights and the batch order depend on it alone. ``loader(crops)``: the batches
    (``eosr train``: its ``DistributedSampler``; default shuffled batches of ``batch``);
    ``amp``, ``step_fn``: as ``train.fit`` (``eosr train label_sr``: notebook 04's coarse step)."""
    s = dict(settings)
    config.seed_everything(seed)
    train_crops = crops.for_landcover(patches, crop=s["crop"], samples=s["samples"], seed=seed)
    channels = int(train_crops.samples[0]["image"].shape[0])
    model = UNet(channels, num_classes, width=s["width"], depth=s["depth"])
    if loader is None:
        batches = DataLoader(train_crops, batch_size=s["batch"], shuffle=True)
    else:
        batches = loader(train_crops)
    history = train.fit(
        model,
        batches,
        loss,
        s["epochs"],
        learning_rate=s["learning_rate"],
        device=device,
        val_loader=val_loader,
        num_classes=num_classes,
        checkpoint=checkpoint,
        time_budget_s=s["time_cap_s"],
        progress=progress,
        scheduler="cosine",
        seed=seed,
        meta=meta,
        amp=amp,
        step_fn=step_fn,
    )
    return model, history
