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

from ..models import metrics, ntl_sr
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
    measure: Callable[[torch.nn.Module], dict[str, float]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, torch.nn.Module], np.ndarray]:
    """Train and score one model per row and seed (``seeds``, default ``[seed]``), every one for
    the same number of optimisation steps (same epochs, same loader); returns one result per row
    and seed (metrics, ``seed``, ``steps``, seconds, epochs, whether the time cap cut it short
    (``capped``), the stacked prediction ``"pred"``), each row's model of the first seed, and the
    stacked truth. ``checkpoint_for(name)`` gets ``name`` or ``"name seed N"`` for later seeds;
    ``measure(model)`` adds its numbers to each result (e.g. :func:`warp_errors`)."""
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
                **(measure(model) if measure is not None else {}),
            }
        )
    return results, models, truth


METRICS = (
    "psnr", "ssim", "rmse", "mae", "r2", "total_light_error", "saturated_mae",
    "rmse_lit", "mae_lit", "rmse_dark", "mae_dark",
)  # fmt: skip


# what warp_errors measures (coarse px), summarised beside the metrics when the results hold it
WARP = (
    "warp_rms_coarse_px",
    "null_rms_coarse_px",
    "coarse_grid_rms_coarse_px",
    "applied_rms_coarse_px",
    "lit_warp_rms_coarse_px",
    "lit_null_rms_coarse_px",
)


def summarise(results: list[dict[str, Any]], metrics_: Sequence[str] = METRICS) -> Any:
    """One line per row: mean and std over seeds of each metric (``psnr``, ``psnr std``, ...;
    also the :data:`WARP` errors when measured), the number of seeds, steps per run, and the
    published PSNR (a pandas DataFrame)."""
    import pandas as pd

    table = pd.DataFrame([{k: v for k, v in r.items() if k != "pred"} for r in results])
    metrics_ = tuple(metrics_) + tuple(m for m in WARP if m in table and m not in metrics_)
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


def warp_errors(
    model: torch.nn.Module,
    dataset: Any,
    displacement: np.ndarray,
    origins: dict[str, tuple[int, int]],
    ratio: int,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """How well the alignment modules undo the scene's misregistration, in coarse px: the RMS
    over every fine pixel of the patches of the residual ``D(q) + displacement(q + D(q))``, where
    ``D`` is the model's whole warp (:func:`helpers.models.ntl_sr.warp_offsets`, upsampled) and
    ``displacement`` the scene's ``source(p) - p`` (fine px, whole scene; patches placed by
    ``origins``). Zero: the model reads each coarse light where the scene put it. Beside it the
    null warp (``D = 0``, a model without alignment), the reference warp on the coarse grid (the
    exact inverse of the scene's field averaged over each coarse pixel: what a warp that is one
    vector per coarse pixel reaches at best, roughly) and the RMS size of the model's warp; the
    ``lit_`` errors over the lit fine pixels only (true radiance above ``metrics.NTL_LIT``: where
    misplaced light shows; in the dark the displacement moves nothing visible)."""
    from scipy import ndimage

    device = device or next(model.parameters()).device
    sums = {"warp": 0.0, "null": 0.0, "coarse_grid": 0.0, "applied": 0.0, "lit_warp": 0.0}
    sums["lit_null"], count, lit_count = 0.0, 0, 0
    for s in dataset:
        batch = ntl_sr.scale_batch({k: s[k][None] for k in ("low_res", "dmo", "dem")})
        with torch.no_grad():
            out = model.eval()(*(batch[k].to(device) for k in ("low_res", "dmo", "dem")))
        size = tuple(s["low_res"].shape[-2:])
        offsets = ntl_sr.warp_offsets({k: out[k] for k in ("theta", "flow") if k in out}, size)
        warp = _upsample(offsets.float().cpu() * ratio, ratio)
        row, col = origins[s["id"]]
        lit = np.asarray(s["high_res"])[0] > metrics.NTL_LIT
        yy, xx = np.mgrid[row : row + warp.shape[1], col : col + warp.shape[2]].astype(np.float32)
        inverse = _inverse(displacement, yy, xx)  # where each fine pixel's light is read
        cells = inverse.reshape(2, size[0], ratio, size[1], ratio).mean((2, 4))
        reference = _upsample(torch.from_numpy(np.ascontiguousarray(cells))[None], ratio)
        for name, d in (("warp", warp), ("null", np.zeros_like(warp)), ("coarse_grid", reference)):
            at = [yy + d[1], xx + d[0]]
            read = np.stack(
                [ndimage.map_coordinates(c, at, order=1, mode="nearest") for c in displacement]
            )
            sums[name] += float(((d + read) ** 2).sum())
            if name != "coarse_grid":
                sums[f"lit_{name}"] += float(((d + read) ** 2).sum(0)[lit].sum())
        sums["applied"] += float((warp**2).sum())
        count, lit_count = count + warp[0].size, lit_count + int(lit.sum())
    if not count:
        raise ValueError("warp_errors: the dataset holds no patch; pass the test (or val) split.")
    n = {k: lit_count if k.startswith("lit_") else count for k in sums}
    return {
        f"{k}_rms_coarse_px": float(np.sqrt(v / n[k])) / ratio if n[k] else float("nan")
        for k, v in sums.items()
    }


def _inverse(
    displacement: np.ndarray, yy: np.ndarray, xx: np.ndarray, steps: int = 20
) -> np.ndarray:
    """The offsets ``D`` (2, h, w) with ``D + displacement(q + D) = 0`` at the positions (yy, xx):
    the exact undoing of the scene's field, by fixed-point steps ``D <- -displacement(q + D)``."""
    from scipy import ndimage

    d = np.zeros((2, *yy.shape), np.float32)
    for _ in range(steps):
        at = [yy + d[1], xx + d[0]]
        d = -np.stack(
            [ndimage.map_coordinates(c, at, order=1, mode="nearest") for c in displacement]
        )
    return d


def _upsample(offsets: torch.Tensor, ratio: int) -> np.ndarray:
    """LR-centre offsets (1, 2, h, w) -> fine-pixel offsets (2, h * ratio, w * ratio), bilinear."""
    fine = torch.nn.functional.interpolate(
        offsets, scale_factor=ratio, mode="bilinear", align_corners=False
    )
    return fine[0].numpy()


# a difference of warp errors below this (coarse px; 0.4 fine px) is a tie even without a seed spread
WARP_TIE = 0.05


def alignment_verdict(warp: float, spread: float, null: float) -> str:
    """``"beats"``, ``"ties with"`` or ``"falls behind"`` the null warp: the warp error's mean over
    seeds against the null's, a difference within the spread between seeds (or within
    :data:`WARP_TIE`, so one seed cannot call a hair's breadth a win) being a tie."""
    if not (np.isfinite(warp) and np.isfinite(null)):
        return "not measured against"
    if abs(warp - null) <= max(spread, WARP_TIE):
        return "ties with"
    return "beats" if warp < null else "falls behind"


def rules_alignment(
    record: dict[str, Any], seeds: int, promised: bool = False, prefix: str = "lit_"
) -> list[Any]:
    """What notebook 09 promises about alignment: the full model's warp error (``prefix`` "lit_":
    over the lit fine pixels, where misplaced light shows and there is light to register; "":
    every pixel) is measured on every seed and reported beside the null warp's, and the stated
    verdict is the numbers' (whichever way it goes). ``promised`` (a misregistration the coarse
    lights can show, the default scene) adds a learned check: the warp beats the null warp."""
    from ..core import checks

    key = f"{prefix}warp_rms_coarse_px"
    warp, null = record.get(key), record.get(f"{prefix}null_rms_coarse_px")
    spread = record.get(f"{key} std", float("nan"))
    numbers = [v for v in (warp, null, spread) if isinstance(v, int | float) and np.isfinite(v)]
    reported = len(numbers) == 3 and min(numbers) >= 0 and record.get("warp seeds") == seeds
    said = record.get("verdict")
    true = alignment_verdict(*(float(v) for v in (warp, spread, null))) if reported else None
    where = "lit pixels" if prefix == "lit_" else "all pixels"
    detail = (
        f"warp {warp:.3f} +- {spread:.3f} coarse px vs null {null:.3f}" if reported else "missing"
    )
    detail += f" ({where}) over {record.get('warp seeds')} seed(s)"
    rules = [
        checks.holds("full model's warp error measured on every seed", reported, detail),
        checks.holds("alignment verdict stated as measured", said == true, f"{said!r} ({detail})"),
    ]
    if promised:
        rules.append(
            checks.Check(
                "the alignment modules beat no warp", true == "beats", detail, learned=True
            )
        )
    return rules
