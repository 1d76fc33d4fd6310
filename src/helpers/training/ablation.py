"""The NTL ablation of notebook 09, row by row: one model per row of switches, trained the same
way, scored on the same test patches (PANDA-FINE's ablation table, on the sample scene).

Every row is trained by notebook 08's recipe (:func:`helpers.training.recipes.night_lights.train_model`,
here also ``train_row``) with its switches. Training writes where it is told: ``checkpoint_for(row
name)`` gives each row's checkpoint path (the notebook passes ``runs.new_checkpoint_path``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models import metrics
from .recipes import night_lights

Row = tuple[
    dict[str, Any], dict[str, Any], float | None
]  # model switches, loss switches, published


# One recipe (helpers.training.recipes.night_lights): a row trains and is scored as notebook 08's model.
evaluate = night_lights.evaluate
train_row = night_lights.train_model


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
    seed: int = 0,
    ratio: int,
    seeds: Sequence[int] | None = None,
    device: torch.device | str | None = None,
    checkpoint_for: Callable[[str], Any] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, torch.nn.Module], np.ndarray]:
    """Train and score one model per row and seed (``seeds``, default ``[seed]``), every one for
    the same number of optimisation steps (same epochs, same loader); returns one result per row
    and seed (metrics, ``seed``, ``steps``, seconds, epochs, whether the time cap cut it short
    (``capped``), the stacked prediction ``"pred"``), each row's model of the first seed, and the
    stacked truth. ``checkpoint_for(name)`` gets ``name`` or ``"name seed N"`` for later seeds."""
    results, models, truth = [], {}, np.zeros(0)
    seeds = list(seeds) if seeds is not None else [seed]
    jobs = [(name, row, s) for s in seeds for name, row in rows.items()]
    for name, (switches, loss_switches, published), s in tqdm(jobs, desc="rows x seeds"):
        tag = name if s == seeds[0] else f"{name} seed {s}"
        model, history, seconds, steps = train_row(
            switches, loss_switches, train_set, width=width, batch=batch, epochs=epochs,
            learning_rate=learning_rate, budget_s=budget_s, seed=s, device=device,
            checkpoint=checkpoint_for(tag) if checkpoint_for else None,
        )  # fmt: skip
        pred, truth, low = evaluate(model.eval(), test_set)
        if s == seeds[0]:
            models[name] = model
        scores = metrics.ntl_scores(
            pred, truth, low, ratio, data_range=float(truth.max()), block=16
        )
        results.append(
            {
                "row": name,
                "seed": s,
                "steps": steps,
                "seconds": seconds,
                "epochs": len(history.epoch),
                "capped": history.capped,
                "published PSNR": published,
                "pred": pred,
                **scores,
            }
        )
    return results, models, truth


METRICS = (
    "psnr", "ssim", "rmse", "mae", "r2", "total_light_error", "saturated_mae",
    "rmse_lit", "mae_lit", "rmse_dark", "mae_dark",
)  # fmt: skip


def summarise(results: list[dict[str, Any]], metrics_: Sequence[str] = METRICS) -> Any:
    """One line per row: mean and std over seeds of each metric (``psnr``, ``psnr std``, ...),
    the number of seeds, steps per run, and the published PSNR (a pandas DataFrame)."""
    import pandas as pd

    table = pd.DataFrame([{k: v for k, v in r.items() if k != "pred"} for r in results])
    grouped = table.groupby("row", sort=False)
    out = pd.DataFrame({"published PSNR": grouped["published PSNR"].first()})
    for m in metrics_:
        out[m] = grouped[m].mean()
        out[f"{m} std"] = grouped[m].std(ddof=1).fillna(0.0) if len(table) else 0.0
    out["seeds"] = grouped["seed"].nunique()
    out["steps"] = grouped["steps"].max()
    out["equal steps"] = grouped["steps"].nunique() == 1
    out["seconds"] = grouped["seconds"].mean()
    out["capped"] = grouped["capped"].any()
    return out


def versus_baseline(table: Any, baseline: str = "baseline", metric: str = "psnr") -> Any:
    """Each row's mean ``metric`` minus the baseline's, against the spread between seeds (the two
    standard deviations combined): ``beats``, ``ties with`` or ``falls below`` (a DataFrame)."""
    import pandas as pd

    base = table.loc[baseline]
    others = table.drop(index=baseline)
    diff = others[metric] - base[metric]
    spread = np.hypot(others[f"{metric} std"], base[f"{metric} std"])
    verdict = np.where(
        diff.abs() <= spread, "ties with", np.where(diff > 0, "beats", "falls below")
    )
    return pd.DataFrame({"difference": diff, "spread": spread, "verdict": verdict})
