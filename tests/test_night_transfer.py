"""Notebook 12's helpers on a small synthetic stand-in for the real scene (no download)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.crs import CRS

from helpers import night_transfer as nt
from helpers import ntl_baselines
from helpers.real_lights import RealLights

pytestmark = pytest.mark.usefixtures("one_thread")


def _lights(h: int = 130, w: int = 133, seed: int = 0) -> RealLights:
    """Dark noisy background, a few lit towns, a NaN border outside the 'country'."""
    rng = np.random.default_rng(seed)
    rad = 0.02 + 0.02 * rng.standard_normal((h, w))
    for r, c, size in ((30, 20, 6), (90, 40, 3), (60, 100, 4), (100, 110, 2)):
        rad[r : r + size, c : c + size] += rng.uniform(2, 8, (size, size))
    rad[:5] = np.nan  # outside
    transform = Affine(15 / 3600, 0, 29.0, 0, -15 / 3600, -2.3)
    return RealLights(rad, np.isfinite(rad), CRS.from_epsg(4326), transform, path=None)


@pytest.fixture(scope="module")
def pair() -> nt.RealPair:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nt.degrade(_lights())


def test_degrade_crops_to_the_ratio_and_keeps_outside_out_of_both_sides(pair: nt.RealPair) -> None:
    assert (
        pair.truth.shape == (128, 128) and pair.dn.shape == (16, 16) and pair.dn.dtype == np.uint8
    )
    train, test = pair.side("train"), pair.side("test")
    assert not (train & test).any() and not (train | test)[:5].any()
    assert (train | test).sum() == pair.valid.sum()
    counts = nt.split_counts(pair)
    assert counts["train"]["lit"] > 0 and counts["test"]["lit"] > 0
    assert counts["test"]["pixels"] == counts["test"]["lit"] + counts["test"]["dark"]
    with pytest.warns(UserWarning, match="nodata pixel"):  # outside: unlit for the sensor, said so
        nt.degrade(_lights())


def test_score_counts_pixels_and_weights_total_light_by_area(pair: nt.RealPair) -> None:
    truth = np.nan_to_num(pair.truth)
    perfect = nt.score(truth, pair)
    assert perfect["rmse_all"] == 0 and perfect["total_light_error"] == 0
    assert perfect["pixels_lit"] + perfect["pixels_dark"] == perfect["pixels_all"]
    assert nt.score(np.zeros_like(truth), pair)["total_light_error"] == -1.0
    # the same +1 error on the top or the bottom row changes the total by that row's area
    top, bottom = truth.copy(), truth.copy()
    top[5], bottom[-1] = top[5] + 1, bottom[-1] + 1
    t, b = nt.score(top, pair), nt.score(bottom, pair)
    assert t["rmse_all"] == pytest.approx(b["rmse_all"])
    assert t["total_light_error"] != pytest.approx(b["total_light_error"], rel=1e-6)


def test_sample_floors_and_fine_tuning_on_the_training_side(pair: nt.RealPair) -> None:
    s = nt.sample(pair, "train")
    assert s["low_res"].shape == (1, 16, 8) and s["high_res"].shape == (1, 128, 64)
    assert torch.isfinite(s["high_res"]).all() and s["dmo"].abs().sum() == 0
    calibration = ntl_baselines.calibrate([s], nt.RATIO)
    floors = nt.floors(pair, calibration, calibration)
    assert set(floors) >= {"all zero", "bicubic calibrated"}
    assert all(p.shape == pair.truth.shape for p in floors.values())
    model = nt.ntl_sr.build(width=4, **nt.NTL_ONLY)
    before = [p.detach().clone() for p in model.parameters()]
    _, history, _, steps = nt.fine_tune(
        model, nt.real_crops(pair, 64, 4, 0), batch=2, epochs=1, learning_rate=1e-2,
        budget_s=None, seed=0,
    )  # fmt: skip
    assert steps == 2 and np.isfinite(history.train_loss).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert nt.predict(model, pair).shape == pair.truth.shape


def test_seed_mean_is_mean_and_sample_std() -> None:
    mean, std = nt.seed_mean([{"a": 1.0}, {"a": 3.0}])
    assert mean["a"] == 2.0 and std["a"] == pytest.approx(np.sqrt(2.0))
    assert nt.seed_mean([{"a": 1.0}])[1]["a"] == 0.0
