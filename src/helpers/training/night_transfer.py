"""Notebook 12: night-light super-resolution on a real VIIRS scene (``gridfinder_burundi``).

The real radiance is the fine truth; the kit's own :func:`helpers.data.ntl.simulate_dmsp` degrades it to
DMSP-like DN at the kit's ratio with the sample scene's sensor model (:data:`DEGRADATION`). The
scene is split west / east on the coarse grid (:func:`degrade`, :meth:`RealPair.side`); floors, the NTL-only network of
:mod:`helpers.models.ntl_sr` (trained by :mod:`helpers.training.recipes.night_transfer`: a
residual over the calibrated bicubic floor; the kit's L1 recipe by
:func:`helpers.training.ablation.train_row`) and the boosted-tree yardstick of
:mod:`helpers.training.ntl_baselines` are scored by :func:`score` over all, lit and dark test pixels.

The NTL-only network takes no guidance, so its DMO and DEM inputs are zeros (:func:`sample`);
the boosted trees get the same zeros, so their guidance features are constant and only the
lights' features (bicubic lights, saturation, blurs of the lights) can split a tree. Training on
the real half uses no impervious-surface map: the auxiliary ISP loss is off (``auxiliary=False``).

Total light: the power-law calibration answers far more light for a DN just above the background
than such coarse pixels hold on average (most are background plus sensor noise), and a loss on lit
pixels rewards light spread over dark ones. :func:`dn_means` is the training side's mean radiance
per DN; :func:`consistent`, a step after prediction, pulls each coarse pixel's mean towards it
(``RECIPE["consistency"]``, chosen on west-half folds), lowering the level so the brightest fine
pixels keep their lead. No east pixel chose any setting.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core import checks, config
from ..core.bands import DN_MAX
from ..data import crops, ntl, real_lights
from ..models import ntl_sr
from . import ntl_baselines
from .recipes.night_lights import NTL_ONLY
from .recipes.night_transfer import (
    RATIO,
    RECIPE,
    GuidedLights,
    LitCrops,
    ResidualLights,
    build_guided,
    build_residual,
    fit_residual,
    predict_residual,
)

# The sample scene's sensor model (helpers.data.synthetic._lights) at the middle of its drawn ranges:
# gain 2.2-2.8 DN per nW/cm2/sr, offset 1-3 DN, 0.6 DN noise, blooming 0.75 and 2.5 coarse pixels
# (weights 0.85 / 0.15). Nothing here is fitted on the real scene.
DEGRADATION = {
    "psf_sigma": (0.75 * RATIO, 2.5 * RATIO),
    "psf_weights": (0.85, 0.15),
    "gain": 2.5,
    "offset": 2.0,
    "noise_dn": 0.6,
}


@dataclass
class RealPair:
    """The real scene cropped to a multiple of the ratio: fine truth, its valid mask, the
    simulated coarse DN, the pixel areas and the coarse column where the test (east) side begins."""

    truth: np.ndarray  # float64 (H, W), NaN outside the country
    valid: np.ndarray  # bool (H, W)
    dn: np.ndarray  # uint8 (H / ratio, W / ratio)
    area_km2: np.ndarray  # (H, 1)
    split_col: int  # coarse column: west (training) < split_col <= east (test)
    ratio: int = RATIO

    def side(self, name: str) -> np.ndarray:
        """Bool (H, W): the valid fine pixels of ``"train"`` (west) or ``"test"`` (east)."""
        cols = np.arange(self.truth.shape[1]) // self.ratio
        side = cols < self.split_col if name == "train" else cols >= self.split_col
        return self.valid & side[None, :]


def degrade(lights: real_lights.RealLights, ratio: int = RATIO, seed: int = 0) -> RealPair:
    """Crop to a multiple of ``ratio`` and simulate DMSP-like DN with :data:`DEGRADATION`; pixels
    outside the country are unlit for the sensor (``nodata="dark"``) and left out of every score."""
    h, w = (s - s % ratio for s in lights.radiance.shape)
    truth, valid = lights.radiance[:h, :w], lights.valid[:h, :w]
    dn = ntl.simulate_dmsp(
        np.where(valid, truth, np.nan), ratio, seed=seed, nodata="dark", **DEGRADATION
    )
    area = lights.pixel_area_km2[:h]
    return RealPair(truth, valid, dn, area, split_col=(w // ratio) // 2, ratio=ratio)


def sample(pair: RealPair, name: str) -> dict[str, torch.Tensor]:
    """One side as an NTL-layout sample in physical units (what ``crops.for_ntl`` and the baselines
    read): the truth with NaN set to 0, zero DMO and DEM, the lit mask as ``isp`` (unused: the
    auxiliary loss is off)."""
    c0, c1 = (0, pair.split_col) if name == "train" else (pair.split_col, pair.dn.shape[1])
    r = pair.ratio
    fine = np.nan_to_num(pair.truth[:, c0 * r : c1 * r], nan=0.0).astype(np.float32)
    h, w = fine.shape
    return {
        "low_res": torch.as_tensor(pair.dn[None, :, c0:c1].astype(np.float32)),
        "high_res": torch.as_tensor(fine[None]),
        "dmo": torch.zeros(7, h, w),
        "dem": torch.zeros(1, h, w),
        "isp": torch.as_tensor((fine > real_lights.LIT)[None].astype(np.float32)),
    }


def split_counts(pair: RealPair) -> dict[str, dict[str, int]]:
    """Valid, lit and dark fine pixels per side (the numbers the notebook states)."""
    out = {}
    for name in ("train", "test"):
        m = pair.side(name)
        lit = m & (np.nan_to_num(pair.truth) > real_lights.LIT)
        out[name] = {"pixels": int(m.sum()), "lit": int(lit.sum()), "dark": int((m & ~lit).sum())}
    return out


# ---- floors, networks and the yardstick on the whole scene ----


def floors(pair: RealPair, calibration: Any, sample_calibration: Any,
           means: DnMeans | None = None, density: np.ndarray | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Whole-scene fine predictions that learn nothing beyond a calibration: all zero, nearest and
    bicubic of the calibrated DN, bicubic with the sample scene's calibration ("raw": no
    real pixel seen) and, given ``means``, nearest of the west half's DN means (:func:`dn_means`)
    and, given ``density`` too, those means spread by population (:func:`population_floor`)."""
    rad = calibration.to_radiance(pair.dn.astype(np.float64))
    near = np.kron(rad, np.ones((pair.ratio, pair.ratio)))
    extra = {} if means is None else {
        "nearest (west-half DN means)": np.kron(means.to_radiance(pair.dn), np.ones((pair.ratio,) * 2))
    }  # fmt: skip
    if means is not None and density is not None:
        extra[POPULATION_FLOOR] = population_floor(pair, density, means)
    return extra | {
        "all zero": np.zeros(pair.truth.shape),
        "nearest (calibrated)": near,
        "bicubic raw (sample calibration)": ntl_baselines.bicubic(
            pair.dn, sample_calibration, pair.ratio
        ),
        "bicubic calibrated": ntl_baselines.bicubic(pair.dn, calibration, pair.ratio),
    }


def predict(model: torch.nn.Module, pair: RealPair, device: Any = None,
            guide: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The NTL-only network (plain or :class:`ResidualLights`) on the whole scene's coarse DN; a
    :class:`GuidedLights` also reads the whole scene's guidance bands ``guide``."""
    if isinstance(model, GuidedLights):
        return predict_residual(model, pair.dn, device, guide=guide)
    if isinstance(model, ResidualLights):
        return predict_residual(model, pair.dn, device)
    h, w = pair.truth.shape
    zeros = np.zeros((7, h, w), np.float32)
    return ntl_sr.predict(model, pair.dn, zeros, zeros[:1], device=device)


def predict_rows(nets: Mapping[str, tuple[torch.nn.Module, float, int]], pair: RealPair,
                 means: tuple[Any, Any], strength: float | None = None,
                 guide: np.ndarray | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Whole-scene predictions of :func:`train_networks`' rows; residual rows go through
    :func:`consistent` (``strength`` default ``RECIPE["consistency"]``; the guided row
    ``RECIPE["guided_consistency"]``) towards ``means`` = (west half's, sample scene's) DN means,
    row (a) towards the sample scene's (no real pixel seen). Row (c) is also given without the
    step, as :data:`RAW_ROW`; the guided row reads ``guide``."""
    strength = RECIPE["consistency"] if strength is None else strength
    out = {}
    for name, (model, _, _) in nets.items():
        pred = predict(model, pair, guide=guide)
        if isinstance(model, ResidualLights):
            if name == REAL_ROW:
                out[RAW_ROW] = pred
            target = means[1] if name.startswith("(a)") else means[0]
            st = RECIPE["guided_consistency"] if isinstance(model, GuidedLights) else strength
            pred = consistent(pred, pair.dn, target, pair.valid, st, pair.ratio) if st else pred
        out[name] = pred
    return out


def boosted(pair: RealPair, calibration: Any, seed: int = 0, **params: Any) -> np.ndarray:
    """The boosted-tree yardstick fitted on the training side, predicted on the whole scene."""
    model = ntl_baselines.BoostedBaseline(calibration, pair.ratio, seed=seed, **params)
    model.fit([sample(pair, "train")])
    h, w = pair.truth.shape
    zeros = np.zeros((7, h, w), np.float32)
    return model.predict(pair.dn, zeros, zeros[:1])


def population_floor(pair: RealPair, density: np.ndarray, means: DnMeans) -> np.ndarray:
    """Floor with the guidance: each coarse pixel's light (``means``, the west half's DN means)
    spread over its valid fine pixels in proportion to 1 + people per km2 (dasymetric mapping;
    the weight is the textbook one, not fitted)."""
    r, (h, w) = pair.ratio, pair.truth.shape
    weight = _blocks(np.where(pair.valid, 1.0 + np.nan_to_num(density[:h, :w]), 0.0), r)
    share = weight / np.maximum(weight.sum(-1, keepdims=True), 1e-12)
    total = means.to_radiance(pair.dn)[..., None] * share * r * r
    return total.reshape(h // r, w // r, r, r).transpose(0, 2, 1, 3).reshape(h, w)


def lit_share_by_population(pair: RealPair, density: np.ndarray, name: str = "train",
                            edges: tuple[float, ...] = (0, 10, 100, 1000, 10000, np.inf)) -> list[dict[str, Any]]:  # fmt: skip
    """For each band of people per km2 (``edges``): the side's valid fine pixels in it and the
    share of them that are lit (NaN for an empty band); how much population says about lights."""
    h, w = pair.truth.shape
    dens, side = np.nan_to_num(np.asarray(density, np.float64)[:h, :w]), pair.side(name)
    lit = np.nan_to_num(pair.truth) > real_lights.LIT
    out = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = side & (dens >= lo) & (dens < hi)
        out.append({"people per km2": f"{lo:g} to {hi:g}", "pixels": int(m.sum()),
                    "lit share": float(lit[m].mean()) if m.any() else float("nan")})  # fmt: skip
    return out


def boosted_guided(pair: RealPair, calibration: Any, guide: np.ndarray, seed: int = 0,
                   **params: Any) -> np.ndarray:  # fmt: skip
    """The boosted-tree yardstick with the guidance: the NTL-only features plus the guidance
    bands at each fine pixel, fitted on the training side's valid pixels, predicted everywhere."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    h, w = pair.truth.shape
    zeros = np.zeros((7, h, w), np.float32)
    f = ntl_baselines.context_features(pair.dn, zeros, zeros[:1], calibration, pair.ratio)
    x = np.concatenate([f, np.moveaxis(guide, 0, -1)], -1).reshape(h * w, -1)
    defaults = {"max_iter": 300, "learning_rate": 0.1, "max_leaf_nodes": 63}
    model = HistGradientBoostingRegressor(random_state=seed, **{**defaults, **params})
    train = pair.side("train").ravel()
    y = np.sqrt(np.clip(np.nan_to_num(pair.truth).ravel()[train], 0, None))
    model.fit(x[train], y)
    return (np.clip(model.predict(x), 0, None) ** 2).reshape(h, w)


def real_crops(pair: RealPair, crop: int, repeats: int, seed: int) -> crops.Crops:
    """Random crops (with turns and flips) of the training side, ``repeats`` per epoch."""
    return crops.for_ntl([sample(pair, "train")], crop=crop, repeats=repeats, seed=seed)


def region(pair: RealPair, rows: tuple[int, int], cols: tuple[int, int],
           guide: np.ndarray | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
    """A block of coarse rows / columns as a training sample: DN, truth (NaN -> 0), valid mask
    and, given whole-scene guidance bands ``guide`` (C, H, W), their block as ``"guide"``."""
    r, (r0, r1), (c0, c1) = pair.ratio, rows, cols
    fine = (slice(r0 * r, r1 * r), slice(c0 * r, c1 * r))
    truth = np.nan_to_num(pair.truth[fine], nan=0.0).astype(np.float32)
    out = {
        "low_res": torch.as_tensor(pair.dn[None, r0:r1, c0:c1].astype(np.float32)),
        "high_res": torch.as_tensor(truth[None]),
        "valid": torch.as_tensor(pair.valid[fine][None].astype(np.float32)),
    }
    if guide is not None:
        out["guide"] = torch.as_tensor(np.ascontiguousarray(guide[:, fine[0], fine[1]], np.float32))
    return out


def guide_bands(density: np.ndarray, fitted_on: np.ndarray, ratio: int = RATIO) -> np.ndarray:
    """Population guidance (4, H, W) from people per km2 (NaN -> 0): log(1 + density), its blurs at
    2 and 6 fine pixels (the neighbourhood of a town) and its difference from the coarse pixel's mean
    (where in the coarse pixel people live), each standardised with the mean and std of the pixels in
    ``fitted_on`` (the training side: no test pixel sets a constant)."""
    from scipy import ndimage

    h, w = (s - s % ratio for s in density.shape)
    x = np.log1p(np.clip(np.nan_to_num(np.asarray(density, np.float64)[:h, :w]), 0, None))
    block = np.kron(
        x.reshape(h // ratio, ratio, w // ratio, ratio).mean((1, 3)), np.ones((ratio,) * 2)
    )
    bands = np.stack([x, ndimage.gaussian_filter(x, 2), ndimage.gaussian_filter(x, 6), x - block])
    m = np.asarray(fitted_on, bool)[:h, :w]
    mean, std = bands[:, m].mean(1), bands[:, m].std(1)
    return ((bands - mean[:, None, None]) / np.maximum(std, 1e-6)[:, None, None]).astype(np.float32)


# ---- total light: the DN's conditional means and a consistency step after prediction ----


@dataclass
class DnMeans:
    """A calibration as a table: radiance = the mean aggregated truth of the training pixels with
    that DN (``counts`` of them), made non-decreasing; DN seen fewer than ``min_count`` times take
    the fitted power law's value. Mean-seeking where the power law is not: at the background DN the
    law answers the light of the few lit pixels it was fitted on, the table what such pixels hold."""

    table: np.ndarray  # (DN_MAX + 1,) radiance per DN
    counts: np.ndarray  # training coarse pixels per DN

    def to_radiance(self, dn: np.ndarray) -> np.ndarray:
        """DN -> radiance (rounded, clipped to the table)."""
        i = np.clip(np.rint(np.asarray(dn, np.float64)), 0, self.table.size - 1).astype(int)
        return self.table[i]


def dn_means(samples: list[dict[str, Any]], fallback: Any, ratio: int = RATIO,
             min_count: int = 5) -> DnMeans:  # fmt: skip
    """:class:`DnMeans` from training samples (:func:`sample` / :func:`region` dicts: coarse DN,
    fine truth), ``fallback`` (``to_radiance``) for DN seen fewer than ``min_count`` times."""
    dn = np.concatenate([np.asarray(s["low_res"]).ravel() for s in samples]).astype(int)
    truth = np.concatenate([ntl.aggregate(np.asarray(s["high_res"])[0], ratio).ravel()
                            for s in samples])  # fmt: skip
    size = DN_MAX + 1
    counts = np.bincount(dn, minlength=size).astype(np.float64)
    sums = np.bincount(dn, weights=truth, minlength=size)
    law = fallback.to_radiance(np.arange(size, dtype=np.float64))
    table = np.where(counts >= min_count, sums / np.maximum(counts, 1), law)
    return DnMeans(np.maximum.accumulate(table), counts)


def _blocks(a: np.ndarray, r: int) -> np.ndarray:
    """(H, W) -> (H / r, W / r, r * r): the fine pixels of each coarse pixel."""
    h, w = a.shape
    return a.reshape(h // r, r, w // r, r).transpose(0, 2, 1, 3).reshape(h // r, w // r, r * r)


def consistent(pred: np.ndarray, dn: np.ndarray, calibration: Any, valid: np.ndarray,
               strength: float = 1.0, ratio: int = RATIO) -> np.ndarray:  # fmt: skip
    """Make each coarse pixel's mean (``ntl.aggregate``, outside pixels 0) equal its target,
    ``strength`` x ``calibration.to_radiance(dn)`` + (1 - ``strength``) x the prediction's own
    mean: where the prediction holds too much light, lower its level (clipped at 0: the brightest
    pixels keep their lead, the dim carpet goes); where too little, add the rest evenly."""
    p = _blocks(np.where(valid, np.clip(pred, 0, None), 0.0), ratio)
    vb = _blocks(np.asarray(valid, bool), ratio)
    mean = p.mean(-1)
    target = strength * calibration.to_radiance(dn) + (1.0 - strength) * mean
    lo, hi = np.zeros_like(mean), p.max(-1)
    for _ in range(40):  # bisection for the level t with mean(max(p - t, 0)) = target
        t = (lo + hi) / 2
        over = np.clip(p - t[..., None], 0, None).mean(-1) > target
        lo, hi = np.where(over, t, lo), np.where(over, hi, t)
    short = np.maximum(target - mean, 0) * ratio**2 / np.maximum(vb.sum(-1), 1)
    out = np.where((mean > target)[..., None], np.clip(p - hi[..., None], 0, None),
                   p + short[..., None] * vb)  # fmt: skip
    h, w = np.shape(pred)
    out = out.reshape(h // ratio, w // ratio, ratio, ratio).transpose(0, 2, 1, 3).reshape(h, w)
    return np.where(valid, out, 0.0)


# ---- scores ----


def score(pred: np.ndarray, pair: RealPair, name: str = "test") -> dict[str, float]:
    """RMSE, MAE and bias (mean of prediction - truth) over all, lit (truth > 1 nW/cm2/sr) and
    dark valid pixels of one side, the pixel counts, and the total-light error (area-weighted sums: pixels shrink with latitude)."""
    m = pair.side(name)
    truth, p = np.nan_to_num(pair.truth), np.asarray(pred, np.float64)
    lit = m & (truth > real_lights.LIT)
    out: dict[str, float] = {}
    for part, mask in (("all", m), ("lit", lit), ("dark", m & ~lit)):
        err = (p - truth)[mask]
        out[f"rmse_{part}"] = float(np.sqrt((err**2).mean())) if err.size else float("nan")
        out[f"mae_{part}"] = float(np.abs(err).mean()) if err.size else float("nan")
        out[f"bias_{part}"] = float(err.mean()) if err.size else float("nan")
        out[f"pixels_{part}"] = int(mask.sum())
    area = np.broadcast_to(pair.area_km2, truth.shape)
    true_total = float((truth * area)[m].sum())
    out["total_light_true"] = true_total
    out["total_light_error"] = float((p * area)[m].sum() - true_total) / true_total
    return out


def seed_mean(per_seed: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample std (ddof 1; 0 for one seed) of every score over seeds."""
    keys = per_seed[0].keys()
    arr = {k: np.array([s[k] for s in per_seed], np.float64) for k in keys}
    mean = {k: float(v.mean()) for k, v in arr.items()}
    std = {k: float(v.std(ddof=1)) if v.size > 1 else 0.0 for k, v in arr.items()}
    return mean, std


def train_networks(
    pair: RealPair, sample_train: Any, s: dict[str, Any], seed: int, device: Any = None,
    calibrations: tuple[Any, Any] | None = None, guide: np.ndarray | None = None,
) -> dict[str, tuple[torch.nn.Module, float, int]]:  # fmt: skip
    """One seed of the NTL-only rows, each as ``(model, seconds, steps)``. Residual recipe: (a)
    trained on the sample scene (``sample_train``, on the sample calibration), (b) that network
    on the west-half calibration, fine-tuned on the real training half, (c) trained on the real
    training half only; and, when ``s["l1_epochs"]``, the kit's L1 recipe of notebook 08 on the
    real half (the row before this recipe); given ``guide`` (:func:`guide_bands`), (d): (c) with
    the guided head of :class:`GuidedLights`. ``calibrations``: (west half, sample scene)."""
    from . import ablation

    west, sample_cal = calibrations or (ntl_baselines.calibrate([sample(pair, "train")]),) * 2
    fit = dict(batch=s["batch"], learning_rate=s["learning_rate"], budget_s=s["time_cap_s"],
               seed=seed, device=device)  # fmt: skip
    real = LitCrops([region(pair, (0, pair.dn.shape[0]), (0, pair.split_col))], s["crop"],
                    s["real_repeats"], RECIPE["lit_share"], seed)  # fmt: skip
    config.seed_everything(seed)
    net_a = build_residual(s["width"], sample_cal, RECIPE["input_gain"])
    net_a, _, sec_a, steps_a = fit_residual(net_a, sample_train, epochs=s["sample_epochs"], **fit)
    tuned = copy.deepcopy(net_a).set_calibration(west)
    tuned, _, sec_b, steps_b = fit_residual(tuned, real, epochs=s["tune_epochs"], **fit)
    config.seed_everything(seed)
    net_c = build_residual(s["width"], west, RECIPE["input_gain"])
    net_c, _, sec_c, steps_c = fit_residual(net_c, real, epochs=s["real_epochs"], **fit)
    rows = {
        "(a) sample-trained, as is": (net_a, sec_a, steps_a),
        "(b) sample-trained, fine-tuned on real": (tuned, sec_a + sec_b, steps_a + steps_b),
        "(c) real training half only": (net_c, sec_c, steps_c),
    }
    if s.get("l1_epochs"):
        l1, _, sec, steps = ablation.train_row(
            NTL_ONLY, {"auxiliary": False}, real_crops(pair, s["crop"], s["real_repeats"], seed),
            epochs=s["l1_epochs"], width=s["width"], **fit,
        )  # fmt: skip
        rows["(c, before) real half, the kit's L1 recipe"] = (l1.eval(), sec, steps)
    if guide is not None:
        guided = LitCrops([region(pair, (0, pair.dn.shape[0]), (0, pair.split_col), guide)],
                          s["crop"], s["real_repeats"], RECIPE["lit_share"], seed)  # fmt: skip
        config.seed_everything(seed)
        net_d = build_guided(s["width"], west, guide.shape[0], RECIPE["input_gain"])
        net_d, _, sec_d, steps_d = fit_residual(
            net_d, guided, epochs=s["real_epochs"],
            recipe={"lit_weight": RECIPE["guided_lit_weight"]}, **fit,
        )  # fmt: skip
        rows[GUIDED_ROW] = (net_d, sec_d, steps_d)
    return rows


def verdict(row: Mapping[str, float], floor: Mapping[str, float]) -> str:
    """In words, on which of lit-pixel RMSE and |total-light error| ``row`` beats ``floor``."""
    lit = row["rmse_lit"] < floor["rmse_lit"]
    tle = abs(row["total_light_error"]) < abs(floor["total_light_error"])
    if lit and tle:
        return "beats calibrated bicubic on both"
    if lit or tle:
        return f"beats calibrated bicubic on {'lit RMSE' if lit else 'total light'} only"
    return "beats calibrated bicubic on neither"


# ---- closing checks of notebook 12 (rules a test can feed a broken record) ----

BICUBIC = "floor: bicubic calibrated"
ALL_ZERO = "floor: all zero"
REAL_ROW = "(c) real training half only"
RAW_ROW = "(c, no consistency step) real training half only"
GUIDED_ROW = "(d) real training half, population-guided"
POPULATION_FLOOR = "population-weighted (west-half DN means)"


def closing_rules(table: Mapping[str, Mapping[str, float]]) -> list[checks.Check]:
    """Notebook 12's learned checks on ``{row: mean scores}``, what its teaching run supports: the
    real-trained network (c) beats calibrated bicubic on lit-pixel RMSE without the consistency
    step (:data:`RAW_ROW`) and on |total-light error| with it (:data:`REAL_ROW`). One setting
    beating it on both is the goal, not met on the east half (teaching, 2026-12-05: with the step
    lit RMSE 2.278 vs 2.058, total light +120 % vs +197 %; without, 1.897 and +587 %), so not
    promised for (c). The population-guided row (d) is promised both: teaching, 2026-12-05, seeds
    0-2, settings chosen on west-half folds only, then the east half once: lit RMSE 1.450 +- 0.072,
    total light +79 +- 3 %. A missing row or value fails."""
    nan = float("nan")
    net, raw, bic, guided = (table.get(k, {}) for k in (REAL_ROW, RAW_ROW, BICUBIC, GUIDED_ROW))
    tle = {k: abs(v.get("total_light_error", nan))
           for k, v in (("net", net), ("bic", bic), ("guided", guided))}  # fmt: skip
    return [
        checks.above("(c) without the consistency step: lit-pixel RMSE below calibrated bicubic's "
                     "(negated)", -raw.get("rmse_lit", nan), -bic.get("rmse_lit", nan),
                     "calibrated bicubic"),
        checks.above("(c) with the consistency step: |total-light error| below calibrated "
                     "bicubic's (negated)", -tle["net"], -tle["bic"], "calibrated bicubic"),
        checks.above("(d) population-guided: lit-pixel RMSE below calibrated bicubic's (negated)",
                     -guided.get("rmse_lit", nan), -bic.get("rmse_lit", nan), "calibrated bicubic"),
        checks.above("(d) population-guided: |total-light error| below calibrated bicubic's "
                     "(negated)", -tle["guided"], -tle["bic"], "calibrated bicubic"),
    ]  # fmt: skip
