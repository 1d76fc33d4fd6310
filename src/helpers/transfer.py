"""Does a model trained on the sample scene carry over to real data? Notebook 03's U-Net, trained
on the sample scene with one seed at a time, applied to a real scene and scored there (notebook 11).

Nothing here is chosen on the real scene: the settings are notebook 03's profile settings, the
weights are those after the last planned epoch (no best-epoch pick), and the seeds are fixed by the
caller before anything is scored, so the spread over seeds is an honest error bar.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from . import config, crops, datasets, inference, labels, metrics, seeds, synthetic, train
from .models.unet import UNet

NOTEBOOK = "03_unet_landcover"  # whose settings and data are used
BANDS = ("B04", "B03", "B02", "B08")  # notebook 03's bands: RGB + NIR, by name


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Notebook 03's loss: pixel-wise cross-entropy, unlabelled pixels (255) left out."""
    return torch.nn.functional.cross_entropy(logits, target, ignore_index=255)


def train_sample_unet(
    profile: str,
    seed: int,
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = False,
    epochs: int | None = None,
) -> tuple[UNet, Any]:
    """Notebook 03's U-Net trained on the sample scene's DFC2020 training region with ``seed``
    (its profile's crops, width, depth and learning rate; the last epoch's weights); returns
    ``(model, history)``. ``epochs``: notebook 03's when ``None`` (notebook 11 trains fewer to
    stay within its time); ``checkpoint``: where training writes (default a temporary folder)."""
    s = config.settings(NOTEBOOK, profile)
    if epochs is not None:
        s["epochs"] = int(epochs)
    paths = synthetic.ensure_sample(profile, verbose=False)
    patches = datasets.DFC2020(paths.dfc2020, split="validation", s2_bands=BANDS)
    config.seed_everything(seed)
    train_crops = crops.for_landcover(patches, crop=s["crop"], samples=s["samples"], seed=seed)
    model = UNet(len(BANDS), len(labels.DFC8), width=s["width"], depth=s["depth"])
    history = train.fit(
        model,
        DataLoader(train_crops, batch_size=s["batch"], shuffle=True),
        cross_entropy,
        s["epochs"],
        learning_rate=s["learning_rate"],
        device=device,
        checkpoint=checkpoint,
        time_budget_s=s["time_cap_s"],
        progress=progress,
        scheduler="cosine",
        seed=seed,
        meta={
            "notebook": NOTEBOOK,
            "profile": profile,
            "bands": list(BANDS),
            "width": s["width"],
            "depth": s["depth"],
            "num_classes": len(labels.DFC8),
            "seed": seed,
            "scene": synthetic.scene_id(paths.root),
        },
    )
    return model, history


def predict_real(
    model: torch.nn.Module,
    image: np.ndarray,
    bands: tuple[str, ...] | list[str],
    lookup: np.ndarray,
    tile: int = 256,
    device: Any = None,
) -> np.ndarray:
    """The model's map of a real scene ``image`` ``(C, H, W)`` (reflectance, bands named by
    ``bands``), its DFC8 classes turned into the scene's class indices by ``lookup``
    (``realdata.dfc8_lookup``; 255 where no class corresponds)."""
    x = image[[list(bands).index(b) for b in BANDS]]
    dfc8 = inference.predict_scene(
        model, x, tile=tile, overlap=tile // 8, device=device, progress=False
    )
    return lookup[dfc8]


def seed_table(gains: dict[int, dict[str, float]]) -> dict[str, float]:
    """Mean, standard deviation (ddof 1, :func:`seeds.mean_std`), worst and best of each seed's
    ``"gain"`` (macro IoU minus the majority class's) and the mean ``"iou"``; ``gains``:
    ``{seed: {"iou": .., "gain": ..}}``."""
    if not gains:
        raise ValueError("no seeds to summarise")
    gain_mean, gain_std = seeds.mean_std([g["gain"] for g in gains.values()])
    worst = min(gains, key=lambda k: gains[k]["gain"])
    return {
        "seeds": len(gains),
        "iou_mean": seeds.mean_std([g["iou"] for g in gains.values()])[0],
        "gain_mean": gain_mean,
        "gain_std": gain_std,
        "gain_worst": float(gains[worst]["gain"]),
        "gain_best": float(max(g["gain"] for g in gains.values())),
        "worst_seed": int(worst),
    }


def score(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> metrics.ClassScores:
    """Scores of a transferred map on the labelled pixels of ``truth`` (255 = unlabelled); a
    predicted class with no counterpart (255) counts as a miss."""
    return metrics.landcover_scores(pred, truth, num_classes, unlabelled_pred=True)
