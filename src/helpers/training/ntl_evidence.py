"""Evidence for the night-light notebooks (07-09): what the test split holds, every method beside
the trivial floors (:data:`helpers.training.ntl_baselines.FLOORS`) on lit and dark pixels, claims about
saturated cores only with enough pixels to measure them, and the closing checks as rules.

A rules function (:func:`rules_sr`, :func:`rules_ablation`) takes the flat ``{"method|metric":
value}`` dict a notebook records (:func:`flat`) and returns :class:`helpers.core.checks.Check` objects,
so a test can feed it the numbers of a broken run and see the checks fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core import checks, narrate
from ..data import layouts
from ..models import metrics
from .ntl_baselines import FLOORS

# Columns of a night-light table: PSNR with its stated data range, then errors over lit pixels
# (true radiance > metrics.NTL_LIT), over dark pixels, the total light and the saturated areas.
COLUMNS = (
    "psnr", "ssim", "rmse", "mae", "rmse_lit", "mae_lit", "rmse_dark", "mae_dark",
    "total_light_error", "saturated_mae", "n_lit", "n_dark",
)  # fmt: skip
# Fewest saturated coarse pixels in the test patches for a claim about saturated cores.
MIN_SATURATED_COARSE = 25


def split_counts(root: Any, ratio: int | None = None) -> Any:
    """Per split of an NTL layout: patches, fine pixels, lit / bright / saturated fine pixels
    (:func:`helpers.data.layouts.ntl_strata_counts`) and their shares (a DataFrame)."""
    import pandas as pd

    from ..data.datasets import NTL

    rows = {}
    for split in layouts.NTL_SPLITS:
        data = NTL(root, split)
        r = ratio or data.ratio()
        total = dict.fromkeys(("pixels", *layouts.NTL_STRATA), 0)
        for s in data:
            c = layouts.ntl_strata_counts(s["high_res"].numpy(), s["low_res"].numpy(), r)
            total = {k: total[k] + c[k] for k in total}
        rows[split] = {"patches": len(data), **total}
    table = pd.DataFrame(rows).T
    all_px = table.sum()
    table.loc["scene"] = all_px
    for key in layouts.NTL_STRATA:
        table[f"{key} share %"] = 100 * table[key] / table["pixels"]
    return table


def score_table(
    predictions: Mapping[str, Sequence[np.ndarray]],
    truth: np.ndarray,
    low: np.ndarray,
    ratio: int,
    data_range: float,
) -> Any:
    """Scores (:data:`COLUMNS`) of each method's stacked test patches; the floors among them are
    compared by :func:`versus_floors`. PSNR uses ``data_range`` (stated in the table's caption)."""
    import pandas as pd

    rows = {}
    for name, pred in predictions.items():
        s = metrics.ntl_scores(np.stack(pred), truth, low, ratio, data_range=data_range, block=16)
        rows[name] = {k: s[k] for k in COLUMNS}
    return pd.DataFrame(rows).T


def best_floors(table: Any) -> dict[str, tuple[str, float]]:
    """The best floor per column: highest PSNR, lowest errors, among the table's floor rows."""
    fl = table.loc[[f for f in FLOORS if f in table.index]]
    if fl.empty:
        raise ValueError(f"the table has none of the floors {FLOORS}")
    out = {}
    for col in ("psnr", "mae_lit", "rmse_lit", "mae_dark", "total_light_error"):
        name = fl[col].idxmax() if col == "psnr" else fl[col].idxmin()
        out[col] = (str(name), float(fl.loc[name, col]))
    return out


def versus_floors(table: Any) -> Any:
    """The table with how far each row is above the best floor: PSNR gain (dB) and lit-pixel MAE
    and RMSE reductions (positive = better than every floor)."""
    best = best_floors(table)
    out = table.copy()
    out["PSNR - best floor (dB)"] = table["psnr"] - best["psnr"][1]
    out["best floor lit MAE - lit MAE"] = best["mae_lit"][1] - table["mae_lit"]
    out["best floor lit RMSE - lit RMSE"] = best["rmse_lit"][1] - table["rmse_lit"]
    return out


def flat(table: Any, extra: Mapping[str, float] | None = None) -> dict[str, float]:
    """``{"method|metric": value}`` of a score table (plus ``extra`` plain entries): the record
    a rules function reads."""
    out = {f"{m}|{c}": float(v) for m, row in table.iterrows() for c, v in row.items()}
    return {**out, **dict(extra or {})}


def floors_record(table: Any) -> dict[str, dict[str, float]]:
    """``floors=`` for :func:`helpers.records.results.record`: each floor's scores."""
    return {f: {c: float(table.loc[f, c]) for c in COLUMNS} for f in FLOORS if f in table.index}


def _below(name: str, value: float, floor: float, floor_name: str, unit: str = "") -> checks.Check:
    """An error below a floor's error (lower is better)."""
    ok = math.isfinite(value) and math.isfinite(floor) and value < floor
    detail = f"{value:.4g}{unit} vs {floor_name} {floor:.4g}{unit} (gap {value - floor:+.4g}{unit})"
    return checks.Check(name, ok, detail, learned=True)


def rules_sr(summary: Mapping[str, float], method: str = "full model") -> list[checks.Check]:
    """What notebook 08 promises: ``method`` below every floor's lit-pixel MAE and RMSE, above the
    best floor's PSNR, with lit pixels in the test patches to measure it on."""
    n_lit = summary.get(f"{method}|n_lit", float("nan"))
    out = [checks.holds("lit pixels in the test patches", n_lit > 0, f"{n_lit:.0f} lit pixels")]
    floors = [f for f in FLOORS if f"{f}|mae_lit" in summary]
    out.append(checks.holds("the table holds the floors", len(floors) == len(FLOORS), str(floors)))
    for f in floors:
        for col, unit in (("mae_lit", " nW"), ("rmse_lit", " nW")):
            out.append(
                _below(f"{method} {col} below {f}", summary[f"{method}|{col}"],
                       summary[f"{f}|{col}"], f, unit)
            )  # fmt: skip
    best = max(floors, key=lambda f: summary[f"{f}|psnr"]) if floors else "none"
    out.append(
        checks.above(f"{method} PSNR above the best floor", summary[f"{method}|psnr"],
                     summary.get(f"{best}|psnr", float("nan")), best, unit=" dB")
    )  # fmt: skip
    return out


def rules_ablation(
    summary: Mapping[str, float],
    rows: Sequence[str],
    floors: Sequence[str] = ("all-zero", "nearest (calibrated)"),
) -> list[checks.Check]:
    """What notebook 09 promises: equal steps in every row, and each row's lit-pixel MAE below the
    ``floors`` (a row that learned nothing sits on them)."""
    out = []
    steps = {summary.get(f"{r}|steps", float("nan")) for r in rows}
    out.append(checks.holds("equal steps in every row", len(steps) == 1, f"steps {sorted(steps)}"))
    for r in rows:
        for f in floors:
            out.append(
                _below(f"{r}: lit MAE below {f}", summary.get(f"{r}|mae_lit", float("nan")),
                       summary.get(f"{f}|mae_lit", float("nan")), f, " nW")
            )  # fmt: skip
    return out


def saturated_claim(
    boots: Mapping[str, Mapping[str, float]], minimum: int = MIN_SATURATED_COARSE
) -> str:
    """A sentence about saturated cores from :func:`helpers.models.metrics.saturated_bootstrap` results
    per method: the count, each MAE with its 95 % interval, and a verdict only when there are at
    least ``minimum`` saturated coarse pixels and the intervals do not overlap."""
    first = next(iter(boots.values()))
    n, n_fine = int(first["n_coarse"]), int(first["n_fine"])
    parts = [
        f"{m} {narrate.fmt(b['mae'], 2)} [{narrate.fmt(b['low'], 2)}, {narrate.fmt(b['high'], 2)}]"
        for m, b in boots.items()
    ]
    text = (
        f"Saturated areas in the test patches: {n} coarse pixels ({n_fine} fine pixels). MAE "
        f"(nW/cm2/sr) with 95 % bootstrap intervals over the saturated coarse pixels: "
        + "; ".join(parts)
        + ". "
    )
    if n < minimum:
        return (
            text
            + f"That is fewer than {minimum} coarse pixels: too few to say anything about saturated cores."
        )
    ordered = sorted(boots.items(), key=lambda kv: kv[1]["mae"])
    (best, b1), (second, b2) = ordered[0], ordered[1]
    if b1["high"] < b2["low"]:
        return text + f"{best} has the lowest error inside saturated areas, beyond the intervals."
    return (
        text
        + f"The intervals of {best} and {second} overlap: no method is ahead in saturated areas."
    )


def error_versus_floors(
    method: str, value: float, floors: Mapping[str, float], digits: int = 2
) -> str:
    """'the full model's MAE is 3.10, 1.20 lower (better) than the best floor (bicubic, 4.30)'."""
    name, floor = narrate.best_floor(floors, higher_is_better=False)
    gap = floor - value
    word = (
        "lower (better) than" if gap > 0 else ("level with" if gap == 0 else "higher (worse) than")
    )
    return (
        f"{method} is {narrate.fmt(value, digits)}, {narrate.fmt(abs(gap), digits)} {word} the "
        f"best floor ({name}, {narrate.fmt(floor, digits)})"
    )


def rules_prep(m: Mapping[str, float]) -> list[checks.Check]:
    """What notebook 07 promises, from its record: calibration fits after alignment and beats one
    scale factor, the misregistration estimate is within half a coarse pixel of the truth,
    denoising helps, total-preserving resampling keeps each block's light and plain bilinear does not."""
    f = lambda k: float(m.get(k, float("nan")))  # noqa: E731
    return [
        checks.at_least("calibration R2 after alignment", f("calibration_r2_aligned"), 0.8, learned=False),
        checks.holds(
            "aligned calibration beats one scale factor",
            f("agreement_r2_calibrated_aligned") > f("agreement_r2_scale_only_aligned"),
            f"R2 {f('agreement_r2_calibrated_aligned'):.3f} vs {f('agreement_r2_scale_only_aligned'):.3f}",
        ),
        checks.holds(
            "modelling PSF and shift does not worsen the fit",
            f("calibration_r2_aligned") >= f("calibration_r2_naive"),
            f"R2 {f('calibration_r2_aligned'):.3f} vs plain {f('calibration_r2_naive'):.3f}",
        ),
        checks.within("shift error (LR px)", f("shift_error_lr_px"), 0.0, 0.5, learned=False),
        checks.holds(
            "denoising brings the lights closer",
            f("denoise_rmse_after") < f("denoise_rmse_before"),
            f"RMSE {f('denoise_rmse_after'):.3f} vs {f('denoise_rmse_before'):.3f}",
        ),
        checks.at_least("isolated spikes removed", f("spikes_removed"), 0.9, learned=False),
        checks.at_least("light on impervious pixels kept", f("light_kept"), 0.9, learned=False),
        checks.within("block error, total-preserving bilinear", f("max_block_error_preserving"),
                      0.0, 1e-6 * f("calibrated_max"), learned=False),
        checks.at_least("bilinear alone moves light between blocks",
                        f("max_block_error_bilinear"), 1e-3, learned=False),
    ]  # fmt: skip
