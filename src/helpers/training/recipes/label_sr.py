"""Notebook 04's recipes: a U-Net learning fine land cover from coarse labels, naively or by label SR.

Two ways to learn a 10 m map from coarse labels (Malkin et al. 2018, "Label super-resolution
networks"), both on the same U-Net, the same batches (crops cut on the training device by
``crops.ResidentBatches``, seeded) and the same steps, so they compare on equal steps:

- :func:`naive`: pixel-wise cross-entropy against the coarse labels as if they were right at 10 m
  (optionally class-weighted from the *coarse* training labels);
- :func:`label_sr`: the label super-resolution loss (``losses.LabelSRLoss``, variant
  ``"gaussian"`` or ``"reference"``) with co-occurrence statistics from :func:`statistics`, plus
  ``ce_weight`` x the naive cross-entropy (the kit's addition: it keeps rare classes alive).

:func:`supervised` trains the same U-Net on fine labels (the upper reference). Everything is
array-based: patches are dicts of tensors, ``image`` ``(C, H, W)`` float, ``coarse`` ``(H, W)``
int64 and, where known, ``mask`` ``(H, W)`` int64 fine labels (255 = unknown), e.g.
``crops.load(datasets.DFC2020(...))`` or :func:`patches_from_arrays` for any image + coarse
label arrays (a real scene). ``settings`` is a profile's dict, e.g.
``config.settings("04_label_super_resolution", profile)``: ``crop``, ``batch``, ``samples``
(crops per epoch), ``epochs``, ``width``, ``depth``, ``learning_rate``, ``time_cap_s`` and
optionally ``class_power`` (naive class weights ``(1 / (K x share)) ** power``, 0 = none) and
``ce_weight`` (label SR's cross-entropy term on the coarse labels, 0 = Malkin et al.'s loss alone).
Each returns ``(model, history)`` with the last epoch's weights (nothing chosen on test pixels).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ...core import config, labels
from ...data import crops
from ...io import rasters
from ...models import losses
from ...models.unet import UNet
from .. import train
from .landcover import class_weights, cross_entropy, weighted_cross_entropy
from .landcover import patches_from_arrays as _landcover_patches

KEYS = ("image", "mask", "coarse")
# The sample scene's coarse label layers and their ratio to the 10 m grid: MODIS-like 500 m
# (``lc``, IGBP, read by ``datasets.DFC2020`` as ``coarse``) and the 30 m national-product-like
# labels (``lc30``, DFC codes) that HR-MARS's 30 m -> 10 m setting corresponds to.
RATIOS = {"lc": 50, "lc30": 3}


def read_layer(dataset: Any, layer: str = "lc30") -> list[torch.Tensor]:
    """A DFC-coded label layer (e.g. ``lc30``) of every patch of a ``datasets.DFC2020``, in the
    0..7 training index (255 = unknown), in the dataset's order (whole patches, no crop)."""
    out = []
    for patch in dataset.patches:
        path = patch.path(layer)
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: the sample scene has no {layer!r} layer (written since generator "
                "2.3.0); rebuild it with helpers.data.synthetic.ensure_sample(profile, force=True)"
            )
        raw = rasters.read_array(path, expect_bands=1)[0]
        out.append(torch.from_numpy(labels.to_train_index(raw).astype(np.int64)))
    return out


def coarse_layer(dataset: Any, layer: str) -> list[torch.Tensor]:
    """One coarse label layer of every patch of a ``datasets.DFC2020``: ``"lc"`` (the MODIS-like
    500 m labels the dataset reads as ``coarse``) or a DFC-coded layer such as ``"lc30"``."""
    if layer == "lc":
        return [dataset[i]["coarse"] for i in range(len(dataset))]
    return read_layer(dataset, layer)


def with_coarse(
    patches: Sequence[Mapping[str, torch.Tensor]], coarse: Sequence[torch.Tensor]
) -> list[dict[str, torch.Tensor]]:
    """The patches with their ``coarse`` labels replaced (e.g. by :func:`read_layer`'s 30 m ones)."""
    if len(patches) != len(coarse):
        raise ValueError(f"{len(patches)} patches but {len(coarse)} coarse label arrays")
    return [dict(p, coarse=c) for p, c in zip(patches, coarse)]


def patches_from_arrays(
    image: np.ndarray,
    coarse: np.ndarray,
    size: int,
    fine: np.ndarray | None = None,
    min_labelled: float = 0.0,
) -> list[dict[str, torch.Tensor]]:
    """Non-overlapping ``size`` px patches of an image ``(C, H, W)`` with its coarse labels on the
    same grid ``(H, W)`` (255 = unknown) and, if given, fine labels (for the statistics only)."""
    fine_or_coarse = coarse if fine is None else fine
    out = _landcover_patches(image, fine_or_coarse, size, min_labelled, coarse=coarse)
    if fine is None:
        for p in out:
            p["mask"] = torch.full_like(p["coarse"], 255)
    return out


def statistics(
    patches: Sequence[Mapping[str, torch.Tensor]],
    block: int,
    num_classes: int,
    min_var: float = 1e-3,
    use_prior: bool = False,
) -> dict[str, Any]:
    """``mu``/``sigma2`` of the label-SR loss from the patches' coarse and fine labels (training
    patches only), or the hand-made prior table (``use_prior``: no fine labels needed)."""
    if use_prior:
        return losses.prior_statistics(num_classes)
    coarse = torch.stack([p["coarse"] for p in patches])
    fine = torch.stack([p["mask"] for p in patches])
    if bool((fine == 255).all()):
        raise ValueError(
            "label_sr.statistics: the patches hold no fine labels; pass fine= to "
            "patches_from_arrays for a labelled area, or use_prior=True"
        )
    return losses.cooccurrence_statistics(
        coarse, fine, block, num_classes, num_classes, min_var=min_var
    )


def batches(
    patches: Sequence[Mapping[str, torch.Tensor]],
    settings: Mapping[str, Any],
    seed: int,
    device: Any = None,
) -> crops.ResidentBatches:
    """``samples // batch`` batches of ``crop`` px crops per epoch, cut on ``device`` (seeded)."""
    keys = [k for k in KEYS if k in patches[0]]
    return crops.ResidentBatches(
        list(patches),
        int(settings["crop"]),
        int(settings["batch"]),
        keys=keys,
        batches=max(1, int(settings["samples"]) // int(settings["batch"])),
        augment="rot90+flip",
        seed=seed,
        device=device,
    )


def _coarse_step(model: torch.nn.Module, batch: dict[str, Any], loss_fn: Callable) -> Any:
    """Both coarse-label models see only the image and the coarse labels of a batch."""
    return loss_fn(model(batch["image"]), batch["coarse"])


def _fine_step(model: torch.nn.Module, batch: dict[str, Any], loss_fn: Callable) -> Any:
    """The supervised reference learns from the fine labels."""
    return loss_fn(model(batch["image"]), batch["mask"])


def _fit(
    patches: Sequence[Mapping[str, torch.Tensor]],
    settings: Mapping[str, Any],
    seed: int,
    loss: Callable,
    step: Callable,
    num_classes: int,
    device: Any,
    checkpoint: str | os.PathLike | None,
    meta: dict[str, Any] | None,
    progress: bool,
    validation: Mapping[str, Any] | None = None,
) -> tuple[UNet, Any]:
    """One U-Net trained on resident crops with the profile's cosine schedule, seeded first
    (``validation``: ``val_loader`` / ``val_fn`` for ``train.fit``, e.g. a long run's)."""
    s = dict(settings)
    device = device if device is not None else config.pick_device(verbose=False)
    config.seed_everything(seed)
    channels = int(patches[0]["image"].shape[0])
    model = UNet(channels, num_classes, width=int(s["width"]), depth=int(s["depth"]))
    history = train.fit(
        model,
        batches(patches, s, seed, device),
        loss,
        int(s["epochs"]),
        learning_rate=float(s["learning_rate"]),
        device=device,
        step_fn=step,
        time_budget_s=s.get("time_cap_s"),
        scheduler="cosine",
        seed=seed,
        checkpoint=checkpoint,
        meta=meta,
        progress=progress,
        **dict(validation or {}),
    )
    return model, history


def naive_loss(
    patches: Sequence[Mapping[str, torch.Tensor]], num_classes: int, power: float = 0.0
) -> Callable[..., torch.Tensor]:
    """Cross-entropy on coarse labels, class-weighted ``(1 / (K x share)) ** power`` from the
    *coarse* training labels (power 0: plain cross-entropy)."""
    if not power:
        return cross_entropy
    coarse = torch.stack([p["coarse"] for p in patches]).numpy()
    return weighted_cross_entropy(class_weights(coarse, num_classes, power))


def naive(
    patches: Sequence[Mapping[str, torch.Tensor]],
    settings: Mapping[str, Any],
    seed: int,
    *,
    num_classes: int,
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    meta: dict[str, Any] | None = None,
    progress: bool = False,
    val_loader: Any = None,
    val_fn: Callable[..., dict[str, float]] | None = None,
) -> tuple[UNet, Any]:
    """The naive U-Net: cross-entropy against the coarse labels up-sampled to the fine grid
    (``val_loader``, ``val_fn``: held-out patches scored during training, as ``train.fit``)."""
    loss = naive_loss(patches, num_classes, float(settings.get("class_power", 0.0)))
    return _fit(
        patches, settings, seed, loss, _coarse_step, num_classes, device, checkpoint, meta, progress,
        {"val_loader": val_loader, "val_fn": val_fn},
    )  # fmt: skip


def label_sr(
    patches: Sequence[Mapping[str, torch.Tensor]],
    settings: Mapping[str, Any],
    seed: int,
    *,
    num_classes: int,
    mu: np.ndarray,
    sigma2: np.ndarray,
    block: int,
    variant: str = "gaussian",
    min_pixels: int | None = None,
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    meta: dict[str, Any] | None = None,
    progress: bool = False,
    val_loader: Any = None,
    val_fn: Callable[..., dict[str, float]] | None = None,
) -> tuple[UNet, Any]:
    """Label SR: the same U-Net and batches as :func:`naive`, the label-SR loss with ``mu`` /
    ``sigma2`` (K, C) over ``block`` px coarse cells (blocks with fewer than ``min_pixels`` pixels
    inside a crop left out; default half a block), plus ``settings["ce_weight"]`` x cross-entropy on
    the coarse labels (class-weighted as the naive U-Net) when it is set (``val_loader``,
    ``val_fn``: as :func:`naive`)."""
    ce_weight = float(settings.get("ce_weight", 0.0))
    power = float(settings.get("class_power", 0.0))
    weights = None
    if ce_weight and power:  # the keep-alive term weighs classes as the naive U-Net does
        coarse = torch.stack([p["coarse"] for p in patches]).numpy()
        weights = class_weights(coarse, num_classes, power)
    loss = label_sr_criterion(mu, sigma2, block, variant, min_pixels, ce_weight, weights)
    return _fit(
        patches, settings, seed, loss, _coarse_step, num_classes, device, checkpoint, meta, progress,
        {"val_loader": val_loader, "val_fn": val_fn},
    )  # fmt: skip


def label_sr_criterion(
    mu: np.ndarray,
    sigma2: np.ndarray,
    block: int,
    variant: str = "gaussian",
    min_pixels: int | None = None,
    ce_weight: float = 0.0,
    ce_class_weights: Any = None,
) -> losses.LabelSRLoss:
    """The label-SR loss of :func:`label_sr` (half-block minimum unless ``min_pixels`` is given),
    plus ``ce_weight`` x cross-entropy on the coarse labels (keeps rare classes alive)."""
    keep = block * block // 2 if min_pixels is None else int(min_pixels)
    return losses.LabelSRLoss(
        mu, sigma2, block, min_pixels=keep, variant=variant, ce_weight=ce_weight,
        ce_class_weights=ce_class_weights,
    )  # fmt: skip


def supervised(
    patches: Sequence[Mapping[str, torch.Tensor]],
    settings: Mapping[str, Any],
    seed: int,
    *,
    num_classes: int,
    device: Any = None,
    checkpoint: str | os.PathLike | None = None,
    meta: dict[str, Any] | None = None,
    progress: bool = False,
) -> tuple[UNet, Any]:
    """The upper reference: the same U-Net, batches and steps, cross-entropy on fine labels."""
    return _fit(
        patches, settings, seed, cross_entropy, _fine_step, num_classes, device, checkpoint, meta,
        progress,
    )  # fmt: skip


# ---- why a short run sits below its floor (notebook 04, section 5): measured on the run's models ----


def step_profile(
    patches: Sequence[Mapping[str, torch.Tensor]],
    settings: Mapping[str, Any],
    seed: int,
    history: Any,
    device: Any = None,
) -> dict[str, float]:
    """Milliseconds a step spent feeding (cutting one epoch of resident batches, timed here) and
    training (``history``'s seconds over its steps: forward, backward, update), and the steps."""
    feed = batches(patches, settings, seed, device)  # patches moved to the device: not timed
    started = time.perf_counter()
    n = sum(1 for _ in feed)
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    feed_ms = 1000 * (time.perf_counter() - started) / max(n, 1)
    steps = int(history.epochs_done) * n
    return {
        "feed_ms": feed_ms,
        "step_ms": 1000 * float(sum(history.seconds)) / max(steps, 1),
        "steps": steps,
    }


def _maps(model: torch.nn.Module, images: torch.Tensor, device: Any, size: int = 8) -> torch.Tensor:
    """Softmax probabilities ``(N, K, H, W)`` of ``model`` on ``images``, on the CPU (eval mode)."""
    model.eval()
    with torch.no_grad():
        out = [
            model(images[i : i + size].to(device)).float().softmax(1).cpu()
            for i in range(0, len(images), size)
        ]
    return torch.cat(out)


def own_label_agreement(
    model: torch.nn.Module, patches: Sequence[Mapping[str, torch.Tensor]], device: Any = None
) -> dict[str, float]:
    """How well a coarse-label model learned its *training* labels: the share of labelled training
    pixels where its map equals the coarse labels (``model``), beside the share where the fine
    truth does (``fine``). A model below the fine truth has not fitted what it was shown."""
    images = torch.stack([p["image"] for p in patches])
    coarse = torch.stack([p["coarse"] for p in patches])
    pred = _maps(model, images, device).argmax(1)
    known = coarse != 255
    out = {"model": float((pred[known] == coarse[known]).float().mean())}
    if "mask" in patches[0]:
        fine = torch.stack([p["mask"] for p in patches])
        both = known & (fine != 255)
        out["fine"] = float((fine[both] == coarse[both]).float().mean())
    return out


def class_usage(
    model: torch.nn.Module, images: torch.Tensor, device: Any = None
) -> dict[str, np.ndarray]:
    """Per class over ``images``: the share of pixels the model's map gives it (``share``) and its
    largest softmax probability (``max_prob``). A class whose probability stays near 0 everywhere
    is dead: a loss on probabilities (label SR) reaches its logits through ``p (1 - p)``, ~0 there."""
    probs = _maps(model, images, device)
    pred = probs.argmax(1)
    k = probs.shape[1]
    return {
        "share": np.bincount(pred.flatten().numpy(), minlength=k)[:k] / pred.numel(),
        "max_prob": probs.amax((0, 2, 3)).numpy(),
    }
