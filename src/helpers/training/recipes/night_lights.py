"""Notebook 08's night-light network (MMNTLSR), trained one way: the recipe of notebooks 08, 09
(through :mod:`helpers.training.ablation`) and ``eosr train ntl_sr`` (:mod:`helpers.apps.jobs`).

The steps, each a function here: the profile's settings (:func:`fit_settings`), the training
crops (:func:`training_data`), the model from its switches with the guidance standardised on the
training patches (:func:`build`), the loss from its switches (:func:`loss`), the seeded batches
(:func:`batches`), and :func:`train_model`, which runs them in that order through ``train.fit``.
:func:`evaluate` and :func:`scores` score a model on the test patches. A change here reaches every
caller at once; the same seed gives the same weights from a notebook and from the command line
(given the same batches: the command line draws them through a ``DistributedSampler``).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ...core import config
from ...data import crops, datasets
from ...models import losses, metrics, ntl_sr
from .. import train

NOTEBOOK = "08_ntl_super_resolution"  # whose profile settings the recipe uses by default
# The NTL-only network: the same model with the guidance (and so fusion and alignment) off.
NTL_ONLY = dict(
    guidance=False, fusion=False, deformable=False, affine=False, local_deformation=False
)


def fit_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :func:`train_model` from a notebook's profile settings
    (``config.settings(notebook, profile)``): width, batch, epochs, learning rate, time cap."""
    return {
        "width": settings["width"],
        "batch": settings["batch"],
        "epochs": settings["epochs"],
        "learning_rate": settings["learning_rate"],
        "budget_s": settings["time_cap_s"],
    }


def profile_settings(profile: str, notebook: str = NOTEBOOK) -> dict[str, Any]:
    """:func:`fit_settings` of ``notebook`` (08 by default, or ``"09_ntl_ablation"``) under a
    profile the caller resolved (``config.get_profile`` at its entry point)."""
    return fit_settings(config.settings(notebook, profile))


def training_data(ntl_root: str | os.PathLike, crop: int, repeats: int, seed: int) -> crops.Crops:
    """The training patches of an NTL layout held in memory, served as ``repeats`` random crops of
    ``crop`` fine pixels per patch and epoch, turned and flipped (``crops.for_ntl``)."""
    return crops.for_ntl(datasets.NTL(ntl_root, "train"), crop=crop, repeats=repeats, seed=seed)


def build(switches: Mapping[str, Any], width: int, train_samples: Any = None) -> ntl_sr.MMNTLSR:
    """The network from its switches (``ntl_sr.NTLSRConfig``); with guidance, its guidance bands
    standardised on ``train_samples`` (``ntl_sr.fit_guide_stats``), as every caller trains it."""
    model = ntl_sr.build(width=width, **switches)
    if model.config.guidance and train_samples is not None:
        ntl_sr.fit_guide_stats(model, train_samples)
    return model


def loss(switches: Mapping[str, Any]) -> Callable[..., torch.Tensor]:
    """The DeepLight objective with its switches (``auxiliary``, ``multiscale``, weights)."""
    return functools.partial(losses.ntl_sr_loss, **switches)


def batches(train_set: Any, batch: int, seed: int) -> DataLoader:
    """Shuffled batches whose order is set by ``seed`` alone (a generator of their own)."""
    return DataLoader(
        train_set, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def train_model(
    switches: Mapping[str, Any],
    loss_switches: Mapping[str, Any],
    train_set: Any,
    *,
    width: int,
    batch: int,
    epochs: int,
    learning_rate: float,
    budget_s: float | None,
    seed: int,
    device: torch.device | str | None = None,
    checkpoint: str | os.PathLike | None = None,
    loader: Callable[[Any], Iterable[Any]] | None = None,
    progress: bool = False,
    amp: bool = True,
    meta: dict[str, Any] | None = None,
) -> tuple[ntl_sr.MMNTLSR, Any, float, int]:
    """Train one model of the recipe: seed, :func:`build` (guidance statistics from
    ``train_set.samples``), batches (``loader(train_set)``, default :func:`batches`), :func:`loss`,
    ``train.fit`` with the model's own step and a cosine schedule. Returns the model, its
    history, seconds, and the optimisation steps it took (epochs run x batches per epoch)."""
    config.seed_everything(seed)
    model = build(switches, width, getattr(train_set, "samples", None))
    data = loader(train_set) if loader is not None else batches(train_set, batch, seed)
    start = time.perf_counter()
    history = train.fit(
        model,
        data,
        loss(loss_switches),
        epochs=epochs,
        learning_rate=learning_rate,
        time_budget_s=budget_s,
        step_fn=ntl_sr.step,
        scheduler="cosine",
        seed=seed,
        device=device,
        amp=amp,
        progress=progress,
        checkpoint=checkpoint,
        meta=meta,
    )
    return model, history, time.perf_counter() - start, len(history.epoch) * len(data)


def evaluate(model: torch.nn.Module, dataset: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prediction, truth and coarse input of every test patch as (patches, H, W) stacks (physical
    units), so SSIM is computed per patch."""
    preds, truth, low = [], [], []
    for s in dataset:
        lo, dmo, dem = (s[k].numpy() for k in ("low_res", "dmo", "dem"))
        preds.append(ntl_sr.predict(model, lo, dmo, dem))
        truth.append(s["high_res"].numpy()[0])
        low.append(lo[0])
    return np.stack(preds), np.stack(truth), np.stack(low)


def scores(model: torch.nn.Module, dataset: Any, ratio: int | None = None) -> dict[str, float]:
    """``metrics.ntl_scores`` of ``model`` on the test patches (radiance units; PSNR's data range
    the patches' peak true radiance; ``ratio`` default the dataset's)."""
    pred, truth, low = evaluate(model, dataset)
    ratio = ratio or dataset.ratio()
    return metrics.ntl_scores(pred, truth, low, ratio, data_range=float(truth.max()), block=16)
