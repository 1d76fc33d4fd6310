"""The NTL ablation of notebook 09, row by row: one model per row of switches, trained the same
way, scored on the same test patches (PANDA-FINE's ablation table, on the sample scene).

Training writes where it is told: ``checkpoint_for(row name)`` gives each row's checkpoint path
(the notebook passes ``runs.new_checkpoint_path``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from . import config, losses, metrics, train
from .models import ntl_sr

Row = tuple[
    dict[str, Any], dict[str, Any], float | None
]  # model switches, loss switches, published


def evaluate(model: torch.nn.Module, dataset: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prediction, truth and coarse input of every test patch as (patches, H, W) stacks (physical
    units), so SSIM is computed per patch."""
    preds, truth, low = [], [], []
    for s in dataset:
        preds.append(
            ntl_sr.predict(model, s["low_res"].numpy(), s["dmo"].numpy(), s["dem"].numpy())
        )
        truth.append(s["high_res"].numpy()[0])
        low.append(s["low_res"].numpy()[0])
    return np.stack(preds), np.stack(truth), np.stack(low)


def run_rows(
    rows: dict[str, Row],
    train_set: Any,
    test_set: Any,
    *,
    width: int,
    batch: int,
    epochs: int,
    learning_rate: float,
    budget_s: float | None,
    seed: int,
    ratio: int,
    device: torch.device | str | None = None,
    checkpoint_for: Callable[[str], Any] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, torch.nn.Module], np.ndarray]:
    """Train and score one model per row; returns the rows' results (metrics, seconds, epochs,
    whether the time cap cut the row short (``capped``), the stacked prediction ``"pred"``), the trained models by name, and the stacked truth."""
    results, models, truth = [], {}, np.zeros(0)
    for name, (switches, loss_switches, published) in tqdm(rows.items(), desc="rows"):
        config.seed_everything(seed)
        model = ntl_sr.build(width=width, **switches)
        loader = DataLoader(
            train_set, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )
        start = time.perf_counter()
        history = train.fit(
            model,
            loader,
            functools.partial(losses.ntl_sr_loss, **loss_switches),
            epochs=epochs,
            learning_rate=learning_rate,
            time_budget_s=budget_s,
            step_fn=ntl_sr.step,
            scheduler="cosine",
            seed=seed,
            device=device,
            progress=False,
            checkpoint=checkpoint_for(name) if checkpoint_for else None,
        )
        seconds = time.perf_counter() - start
        pred, truth, low = evaluate(model.eval(), test_set)
        models[name] = model
        scores = metrics.ntl_scores(
            pred, truth, low, ratio, data_range=float(truth.max()), block=16
        )
        results.append(
            {
                "row": name,
                "seconds": seconds,
                "epochs": len(history.epoch),
                "capped": history.capped,
                "published PSNR": published,
                "pred": pred,
                **scores,
            }
        )
    return results, models, truth
