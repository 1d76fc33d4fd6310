"""NTL SR metrics against their numpy formulas (helpers.models.metrics, night-lights section)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.models import metrics


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    target = rng.gamma(2.0, 10.0, size=(64, 64))
    pred = target + rng.normal(0, 3.0, size=target.shape)
    return pred, target


def test_psnr_formula(pair):
    pred, target = pair
    mse = ((pred - target) ** 2).mean()
    assert metrics.psnr(pred, target, 100.0) == pytest.approx(10 * np.log10(100.0**2 / mse))
    assert metrics.psnr(pred, target) == pytest.approx(10 * np.log10(target.max() ** 2 / mse))
    assert metrics.psnr(target, target) == float("inf")


def test_rmse_mae_r2_total_light(pair):
    pred, target = pair
    assert metrics.rmse(pred, target) == pytest.approx(np.sqrt(((pred - target) ** 2).mean()))
    assert metrics.mae(pred, target) == pytest.approx(np.abs(pred - target).mean())
    r2 = 1 - ((target - pred) ** 2).sum() / ((target - target.mean()) ** 2).sum()
    assert metrics.r2(pred, target) == pytest.approx(r2)
    assert metrics.r2(target, target) == 1.0
    assert metrics.total_light_error(pred * 1.1, target) == pytest.approx(
        abs(target.sum() - 1.1 * pred.sum()) / target.sum()
    )
    assert metrics.total_light_error(target, target) == 0.0


def test_ssim_identical_and_degraded(pair):
    pred, target = pair
    assert metrics.ssim(target, target) == pytest.approx(1.0, abs=1e-6)
    assert metrics.ssim(pred, target) < 0.99


def test_aggregated_r2_uses_block_sums(pair):
    pred, target = pair
    sums_t = target.reshape(4, 16, 4, 16).sum(axis=(1, 3))
    sums_p = pred.reshape(4, 16, 4, 16).sum(axis=(1, 3))
    expect = 1 - ((sums_t - sums_p) ** 2).sum() / ((sums_t - sums_t.mean()) ** 2).sum()
    assert metrics.aggregated_r2(pred, target, block=16) == pytest.approx(expect)
    assert metrics.aggregated_r2(target * 2, target, block=16) < 0


def test_saturated_mae():
    target = np.zeros((16, 16))
    pred = np.ones((16, 16))
    pred[:8, :8] = 5.0
    low = np.zeros((2, 2), dtype=np.uint8)
    low[0, 0] = 63
    assert metrics.saturated_mae(pred, target, low, ratio=8) == pytest.approx(5.0)
    assert np.isnan(metrics.saturated_mae(pred, target, np.zeros((2, 2)), ratio=8))
    with pytest.raises(ValueError, match="low_res"):
        metrics.saturated_mae(pred, target, np.zeros((3, 3)), ratio=8)


def test_scores_and_bad_input(pair):
    pred, target = pair
    s = metrics.ntl_scores(
        pred, target, low_res=np.full((8, 8), 63), ratio=8, data_range=200.0, block=16
    )
    assert s["psnr_data_range"] == 200.0 and s["psnr"] == pytest.approx(
        metrics.psnr(pred, target, 200.0)
    )
    assert s["saturated_mae"] == pytest.approx(metrics.mae(pred, target))
    assert set(s) >= {"psnr", "ssim", "rmse", "mae", "r2", "total_light_error", "aggregated_r2"}
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(pred[:-1], target)
    bad = target.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.rmse(pred, bad)


def test_displacement_field_error_weights_each_block_by_the_lights():
    block = 4
    true_dy = np.zeros((8, 8))
    true_dy[:4, :4] = 1.0  # top-left block moves by 1 LR px, the others stand still
    true_dy[0, 0] = 5.0  # an unlit pixel: no weight, so it must not count
    true_dx = np.full((8, 8), 0.5)
    weights = np.ones((8, 8))
    weights[0, 0] = 0.0
    field = {
        "rows": np.array([1.5, 5.5]),
        "cols": np.array([1.5, 5.5]),
        "dy": np.array([[1.0, 0.0], [0.0, np.nan]]),  # bottom-right block: no estimate
        "dx": np.array([[0.5, 0.5], [0.5, np.nan]]) + np.array([[0.0, 0.3], [0.4, 0.0]]),
    }
    rmse, blocks, truth = metrics.displacement_field_error(field, true_dy, true_dx, weights, block)
    assert blocks == 3
    np.testing.assert_allclose(truth["dy"], [[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(truth["dx"], 0.5)
    assert rmse == pytest.approx(np.sqrt((0.0 + 0.3**2 + 0.4**2) / 3))
    assert truth["rows"] is field["rows"]
