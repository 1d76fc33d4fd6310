"""Notebook 12: night-light super-resolution on a real VIIRS scene (``gridfinder_burundi``).

The real radiance is the fine truth; the kit's own :func:`helpers.ntl.simulate_dmsp` degrades it to
DMSP-like DN at the kit's ratio with the sample scene's sensor model (:data:`DEGRADATION`). The
scene is split west / east on the coarse grid (:func:`split`); floors, the NTL-only network of
:mod:`helpers.models.ntl_sr` (trained by :func:`helpers.ablation.train_row` and
:func:`fine_tune`, both through :func:`helpers.train.fit`) and the boosted-tree yardstick of
:mod:`helpers.ntl_baselines` are scored by :func:`score` over all, lit and dark test pixels.

The NTL-only network takes no guidance, so its DMO and DEM inputs are zeros (:func:`sample`);
the boosted trees get the same zeros, so their guidance features are constant and only the
lights' features (bicubic lights, saturation, blurs of the lights) can split a tree. Training on
the real half uses no impervious-surface map: the auxiliary ISP loss is off (``auxiliary=False``).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from . import crops, losses, ntl, ntl_baselines, real_lights, train
from .models import ntl_sr

RATIO = 8  # the kit's coarse/fine ratio (the sample scene's ntl_ratio; MMNTLSR is built for 8)
# The sample scene's sensor model (helpers.synthetic._lights) at the middle of its drawn ranges:
# gain 2.2-2.8 DN per nW/cm2/sr, offset 1-3 DN, 0.6 DN noise, blooming 0.75 and 2.5 coarse pixels
# (weights 0.85 / 0.15). Nothing here is fitted on the real scene.
DEGRADATION = {
    "psf_sigma": (0.75 * RATIO, 2.5 * RATIO),
    "psf_weights": (0.85, 0.15),
    "gain": 2.5,
    "offset": 2.0,
    "noise_dn": 0.6,
}
NTL_ONLY = dict(
    guidance=False, fusion=False, deformable=False, affine=False, local_deformation=False
)


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


def floors(pair: RealPair, calibration: Any, sample_calibration: Any) -> dict[str, np.ndarray]:
    """Whole-scene fine predictions that learn nothing beyond a calibration: all zero, nearest and
    bicubic of the calibrated DN, and bicubic with the sample scene's calibration ("raw": no
    real pixel seen)."""
    rad = calibration.to_radiance(pair.dn.astype(np.float64))
    near = np.kron(rad, np.ones((pair.ratio, pair.ratio)))
    return {
        "all zero": np.zeros(pair.truth.shape),
        "nearest (calibrated)": near,
        "bicubic raw (sample calibration)": ntl_baselines.bicubic(
            pair.dn, sample_calibration, pair.ratio
        ),
        "bicubic calibrated": ntl_baselines.bicubic(pair.dn, calibration, pair.ratio),
    }


def predict(model: torch.nn.Module, pair: RealPair, device: Any = None) -> np.ndarray:
    """The NTL-only network on the whole scene's coarse DN (zero guidance)."""
    h, w = pair.truth.shape
    zeros = np.zeros((7, h, w), np.float32)
    return ntl_sr.predict(model, pair.dn, zeros, zeros[:1], device=device)


def boosted(pair: RealPair, calibration: Any, seed: int = 0, **params: Any) -> np.ndarray:
    """The boosted-tree yardstick fitted on the training side, predicted on the whole scene."""
    model = ntl_baselines.BoostedBaseline(calibration, pair.ratio, seed=seed, **params)
    model.fit([sample(pair, "train")])
    h, w = pair.truth.shape
    zeros = np.zeros((7, h, w), np.float32)
    return model.predict(pair.dn, zeros, zeros[:1])


def fine_tune(
    model: torch.nn.Module,
    train_set: Any,
    *,
    batch: int,
    epochs: int,
    learning_rate: float,
    budget_s: float | None,
    seed: int,
    device: Any = None,
    checkpoint: Any = None,
) -> tuple[torch.nn.Module, Any, float, int]:
    """Continue training a model (e.g. sample-trained) on ``train_set`` with the kit's loop and
    loss (no ISP term), as :func:`helpers.ablation.train_row` trains a new one."""
    loader = DataLoader(
        train_set, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )
    start = time.perf_counter()
    history = train.fit(
        model,
        loader,
        functools.partial(losses.ntl_sr_loss, auxiliary=False),
        epochs=epochs,
        learning_rate=learning_rate,
        time_budget_s=budget_s,
        step_fn=ntl_sr.step,
        scheduler="cosine",
        seed=seed,
        device=device,
        progress=False,
        checkpoint=checkpoint,
    )
    return model.eval(), history, time.perf_counter() - start, len(history.epoch) * len(loader)


def real_crops(pair: RealPair, crop: int, repeats: int, seed: int) -> crops.Crops:
    """Random crops (with turns and flips) of the training side, ``repeats`` per epoch."""
    return crops.for_ntl([sample(pair, "train")], crop=crop, repeats=repeats, seed=seed)


# ---- scores ----


def score(pred: np.ndarray, pair: RealPair, name: str = "test") -> dict[str, float]:
    """RMSE and MAE over all, lit (truth > 1 nW/cm2/sr) and dark valid pixels of one side, the
    pixel counts, and the total-light error (area-weighted sums: pixels shrink with latitude)."""
    m = pair.side(name)
    truth, p = np.nan_to_num(pair.truth), np.asarray(pred, np.float64)
    lit = m & (truth > real_lights.LIT)
    out: dict[str, float] = {}
    for part, mask in (("all", m), ("lit", lit), ("dark", m & ~lit)):
        err = (p - truth)[mask]
        out[f"rmse_{part}"] = float(np.sqrt((err**2).mean())) if err.size else float("nan")
        out[f"mae_{part}"] = float(np.abs(err).mean()) if err.size else float("nan")
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
    pair: RealPair, sample_train: Any, s: dict[str, Any], seed: int, device: Any = None
) -> dict[str, tuple[torch.nn.Module, float, int]]:
    """One seed of the three NTL-only networks, each as ``(model, seconds, steps)``: (a) trained on
    the sample scene's training patches (``sample_train``, crops as notebook 08's), (b) that
    network fine-tuned on the real training half, (c) trained on the real training half only.
    ``s``: the profile's settings of notebook 12."""
    import copy

    from . import ablation

    fit = dict(width=s["width"], batch=s["batch"], learning_rate=s["learning_rate"],
               budget_s=s["time_cap_s"], seed=seed, device=device)  # fmt: skip
    real = real_crops(pair, s["crop"], s["real_repeats"], seed)
    sample_net, _, sec_a, steps_a = ablation.train_row(
        NTL_ONLY, {}, sample_train, epochs=s["sample_epochs"], **fit
    )
    tuned, _, sec_b, steps_b = fine_tune(
        copy.deepcopy(sample_net), real, epochs=s["tune_epochs"],
        **{k: v for k, v in fit.items() if k != "width"},
    )  # fmt: skip
    real_net, _, sec_c, steps_c = ablation.train_row(
        NTL_ONLY, {"auxiliary": False}, real, epochs=s["real_epochs"], **fit
    )
    return {
        "(a) sample-trained, as is": (sample_net.eval(), sec_a, steps_a),
        "(b) sample-trained, fine-tuned on real": (tuned, sec_a + sec_b, steps_a + steps_b),
        "(c) real training half only": (real_net.eval(), sec_c, steps_c),
    }
