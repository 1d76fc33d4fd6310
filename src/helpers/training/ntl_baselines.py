"""Night-light baselines beside the NTL preparation code: the DN <-> radiance calibration, bicubic
upsampling of the calibrated coarse lights, and boosted trees on per-pixel context features
(a yardstick for the network of :mod:`helpers.models.ntl_sr`, not the method).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..core.bands import DN_MAX
from ..core.bands import NTL_CONTEXT_BANDS as CONTEXT_BANDS  # DMO B4 red, B5 NIR, B6 SWIR1
from ..core.bands import NTL_CONTEXT_SIGMAS as CONTEXT_SIGMAS  # HR px: street, block, district
from ..data import ntl

# ---- baseline: bicubic upsampling of the inter-calibrated LR lights ----


def calibrate(dataset: Any, ratio: int = 8) -> Any:
    """Fit the DN <-> radiance inter-calibration (:func:`helpers.data.ntl.intercalibrate`) on a
    dataset's LR DN against its HR radiance aggregated to the LR grid (training split only)."""
    dn, ref = [], []
    for i in range(len(dataset)):
        s = dataset[i]
        dn.append(np.asarray(s["low_res"]).ravel())
        ref.append(ntl.aggregate(np.asarray(s["high_res"])[0], ratio).ravel())
    fit, _ = ntl.intercalibrate(np.concatenate(dn)[None], np.concatenate(ref)[None])
    return fit


def bicubic(low_res_dn: np.ndarray, calibration: Any, ratio: int = 8) -> np.ndarray:
    """Baseline: LR DN -> radiance (inverse calibration) -> bicubic x``ratio`` (clipped at 0)."""
    rad = np.asarray(calibration.to_radiance(np.asarray(low_res_dn).squeeze()), np.float32)
    t = torch.as_tensor(rad)[None, None]
    up = F.interpolate(t, scale_factor=ratio, mode="bicubic", align_corners=False).clamp(min=0)
    return up[0, 0].numpy()


# ---- baseline: boosted trees on per-pixel context features (a yardstick, not the method) ----


def context_features(
    low_res_dn: np.ndarray, dmo: np.ndarray, dem: np.ndarray, calibration: Any, ratio: int = 8
) -> np.ndarray:
    """Per-HR-pixel features (H, W, F): the 7 DMO bands, DEM, bicubic lights, the saturation
    mask, and Gaussian blurs (:data:`CONTEXT_SIGMAS`) of the bicubic lights and of red/NIR/SWIR1."""
    dmo = np.asarray(dmo, np.float32)
    lights = bicubic(low_res_dn, calibration, ratio)
    if dmo.ndim != 3 or dmo.shape[0] != 7 or dmo.shape[-2:] != lights.shape:
        raise ValueError(
            f"context_features: dmo must be (7, {lights.shape[0]}, {lights.shape[1]}) for low_res "
            f"{np.shape(low_res_dn)} at ratio {ratio}, got {dmo.shape}; pass the 7 Landsat bands "
            "on the fine grid that covers the coarse pixels."
        )
    dem = np.asarray(dem, np.float32)
    if dem.size != lights.size:
        raise ValueError(
            f"context_features: dem must be {lights.shape} (the fine grid), got {dem.shape}."
        )
    dem = dem.reshape(lights.shape)
    saturated = np.kron(np.asarray(low_res_dn).squeeze() >= DN_MAX, np.ones((ratio, ratio)))
    layers = [*dmo, dem, lights, saturated.astype(np.float32)]
    for sigma in CONTEXT_SIGMAS:
        layers += [ndimage.gaussian_filter(lights, sigma)]
        layers += [ndimage.gaussian_filter(dmo[b], sigma) for b in CONTEXT_BANDS]
    return np.stack(layers, -1).astype(np.float32)


class BoostedBaseline:
    """scikit-learn gradient-boosted trees from :func:`context_features` to sqrt(radiance).

    Fast (seconds on CPU) and strong on small data: it shows how much of the fine lights the
    guidance can explain, which tells whether a network is short of data, time or capacity.
    """

    def __init__(self, calibration: Any, ratio: int = 8, seed: int = 0, **params: Any) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor  # slow to import: only here

        defaults = {"max_iter": 300, "learning_rate": 0.1, "max_leaf_nodes": 63}
        self.model = HistGradientBoostingRegressor(random_state=seed, **{**defaults, **params})
        self.calibration, self.ratio = calibration, ratio

    def fit(self, dataset: Any) -> BoostedBaseline:
        """Fit on every pixel of a :class:`helpers.data.datasets.NTL` split (physical units)."""
        x, y = [], []
        for i in range(len(dataset)):
            s = dataset[i]
            f = context_features(
                s["low_res"].numpy(),
                s["dmo"].numpy(),
                s["dem"].numpy(),
                self.calibration,
                self.ratio,
            )
            x.append(f.reshape(-1, f.shape[-1]))
            y.append(np.sqrt(np.clip(s["high_res"].numpy()[0].ravel(), 0, None)))
        self.model.fit(np.concatenate(x), np.concatenate(y))
        return self

    def predict(self, low_res_dn: np.ndarray, dmo: np.ndarray, dem: np.ndarray) -> np.ndarray:
        """Radiance (H, W) for one patch or scene in physical units."""
        f = context_features(low_res_dn, dmo, dem, self.calibration, self.ratio)
        pred = self.model.predict(f.reshape(-1, f.shape[-1])).reshape(f.shape[:2])
        return (np.clip(pred, 0, None) ** 2).astype(np.float32)


# ---- floors: the trivial answers every night-light table shows beside a method ----

FLOORS = ("all-zero", "nearest (calibrated)", "bicubic (raw DN x scale)", "bicubic (calibrated)")


def raw_scale(dataset: Any, ratio: int = 8) -> float:
    """One scale factor from DN to radiance (mean aggregated fine radiance / mean DN over the
    unsaturated coarse pixels of a dataset, the training split): the 'raw' floor's only fit."""
    dn, ref = [], []
    for i in range(len(dataset)):
        s = dataset[i]
        dn.append(np.asarray(s["low_res"], np.float64).ravel())
        ref.append(ntl.aggregate(np.asarray(s["high_res"])[0], ratio).ravel())
    dn_all, ref_all = np.concatenate(dn), np.concatenate(ref)
    keep = dn_all < DN_MAX
    return float(ref_all[keep].mean() / max(dn_all[keep].mean(), 1e-9))


def nearest(low_res_dn: np.ndarray, calibration: Any, ratio: int = 8) -> np.ndarray:
    """Floor: LR DN -> radiance (inverse calibration), each coarse pixel repeated ``ratio`` x ``ratio``."""
    rad = np.asarray(calibration.to_radiance(np.asarray(low_res_dn).squeeze()), np.float32)
    return np.kron(np.clip(rad, 0, None), np.ones((ratio, ratio), np.float32))


def bicubic_raw(low_res_dn: np.ndarray, scale: float, ratio: int = 8) -> np.ndarray:
    """Floor: LR DN times one scale factor (:func:`raw_scale`), bicubic x``ratio``, clipped at 0."""
    t = torch.as_tensor(np.asarray(low_res_dn, np.float32).squeeze() * scale)[None, None]
    up = F.interpolate(t, scale_factor=ratio, mode="bicubic", align_corners=False).clamp(min=0)
    return up[0, 0].numpy()


def floors(
    low_res_dn: np.ndarray, calibration: Any, scale: float, ratio: int = 8
) -> dict[str, np.ndarray]:
    """The four floors (:data:`FLOORS`) of one coarse patch, each on the fine grid (radiance)."""
    lo = np.asarray(low_res_dn).squeeze()
    shape = (lo.shape[-2] * ratio, lo.shape[-1] * ratio)
    return {
        "all-zero": np.zeros(shape, np.float32),
        "nearest (calibrated)": nearest(lo, calibration, ratio),
        "bicubic (raw DN x scale)": bicubic_raw(lo, scale, ratio),
        "bicubic (calibrated)": bicubic(lo, calibration, ratio),
    }
