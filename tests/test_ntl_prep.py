"""helpers.data.ntl: NTL preparation on constructed arrays with known answers, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter, shift

from helpers.data import ntl


def _city(size: int = 256, seed: int = 0) -> np.ndarray:
    """Fine radiance: a few Gaussian towns of different brightness on a dark background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(float)
    out = np.zeros((size, size))
    for _ in range(12):
        cy, cx = rng.uniform(0.1, 0.9, 2) * size
        out += rng.uniform(5, 80) * np.exp(
            -((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * rng.uniform(3, 12) ** 2)
        )
    return out + gaussian_filter(rng.random((size, size)), 4) * 2


def _shifted_pair(dy_hr: float, dx_hr: float, ratio: int = 8, size: int = 256):
    """HR reference and the same scene shifted by (dy_hr, dx_hr) HR px, without wrap-around."""
    big = _city(size + 64, seed=1)
    moved = shift(big, (dy_hr, dx_hr), order=3, mode="nearest")
    return big[32:-32, 32:-32], np.maximum(moved[32:-32, 32:-32], 0)


def test_aggregate_and_sum():
    img = np.arange(64, dtype=float).reshape(8, 8)
    agg = ntl.aggregate(img, 4)
    assert agg.shape == (2, 2)
    assert agg[0, 0] == pytest.approx(img[:4, :4].mean())
    assert ntl.aggregate(img, 4, how="sum").sum() == pytest.approx(img.sum())


def test_simulate_dmsp_saturates_and_quantises():
    fine = _city()
    dn = ntl.simulate_dmsp(fine, ratio=8, psf_sigma=6, gain=2.0, offset=3.0)
    assert dn.dtype == np.uint8 and dn.shape == (32, 32)
    assert dn.max() == 63 and dn.min() >= 0
    assert ntl.saturation_mask(dn).sum() == int((dn == 63).sum()) > 0
    assert np.array_equal(dn, np.rint(dn))


def test_saturation_mask_dilate():
    dn = np.zeros((9, 9), np.uint8)
    dn[4, 4] = 63
    dn[0, 0] = 62
    mask = ntl.saturation_mask(dn)
    assert mask.sum() == 1 and mask[4, 4]
    assert ntl.saturation_mask(dn, dilate=1).sum() == 5


@pytest.mark.parametrize("gain,offset,power", [(1.5, 4.0, 1.0), (6.0, 2.0, 0.6)])
def test_intercalibrate_recovers_model(gain, offset, power):
    rng = np.random.default_rng(3)
    radiance = rng.uniform(0, 120, (40, 40))
    dn = np.clip(np.rint(offset + gain * radiance**power), 0, 63).astype(np.uint8)
    assert (dn == 63).any(), "the test needs saturated pixels to check they are left out"
    fit, calibrated = ntl.intercalibrate(dn, radiance)
    assert fit.gain == pytest.approx(gain, rel=0.05)
    assert fit.offset == pytest.approx(offset, abs=0.3)
    assert fit.power == pytest.approx(power, abs=0.03)
    assert fit.r2 > 0.99
    unsat = (dn < 63) & (dn > offset + 1)
    assert np.abs(calibrated[unsat] - radiance[unsat]).mean() < 0.1 * radiance[unsat].mean()
    assert fit.saturation_radiance == pytest.approx(((63 - offset) / gain) ** (1 / power), rel=0.05)


def test_intercalibrate_errors():
    with pytest.raises(ValueError, match="shape mismatch"):
        ntl.intercalibrate(np.zeros((4, 4)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="unsaturated"):
        ntl.intercalibrate(np.full((4, 4), 63), np.ones((4, 4)))
    bad = np.ones((4, 4))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ntl.intercalibrate(np.ones((4, 4)), bad)


def test_denoise_removes_isolated_noise_keeps_town():
    img = np.zeros((40, 40))
    img[10:16, 10:16] = 50.0  # a town
    img[30, 5] = 80.0  # an isolated spike (fire, ship)
    img[3, 35] = 40.0
    img += np.random.default_rng(0).normal(0, 0.3, img.shape)  # background noise
    out = ntl.denoise(img)
    assert out[30, 5] == 0 and out[3, 35] == 0
    assert (out[10:16, 10:16] > 45).all(), "every town pixel, corners included, must stay"
    assert (out[20:28, 20:28] == 0).all(), "background noise must go"
    smooth = ntl.denoise(img, smooth="median")
    assert smooth[12, 12] > 45


def test_spatially_weighted_average_fills_nan_and_respects_weights():
    img = np.full((20, 20), 10.0)
    img[5, 5] = np.nan
    out = ntl.spatially_weighted_average(img, sigma=1.5)
    assert np.isfinite(out).all() and out[5, 5] == pytest.approx(10.0)
    step = np.zeros((20, 20))
    step[:, 10:] = 100.0
    weights = (step > 0).astype(float)  # e.g. impervious: only built-up pixels carry light
    weighted = ntl.spatially_weighted_average(step, sigma=2, weights=weights)
    assert weighted[:, 10:] == pytest.approx(100.0)
    plain = ntl.spatially_weighted_average(step, sigma=2)
    assert plain[5, 10] < 90  # without weights the edge is smeared
    with pytest.raises(ValueError, match="shape mismatch"):
        ntl.spatially_weighted_average(step, weights=np.ones((3, 3)))


def test_weighted_mosaic_has_no_seam():
    truth = np.linspace(0, 1, 30)[None].repeat(20, 0)
    a, b = truth.copy(), truth.copy() + 0.0
    a[:, 20:] = np.nan
    b[:, :10] = np.nan
    out = ntl.weighted_mosaic([a, b])
    assert np.allclose(out, truth)


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
def test_resample_preserves_total_light(method):
    low = np.random.default_rng(1).uniform(0, 50, (8, 10))
    low[2, 3] = 0.0
    up = ntl.resample(low, 4, method=method, preserve_total=True)
    assert up.shape == (32, 40) and (up >= 0).all()
    assert np.allclose(ntl.aggregate(up, 4), low)
    assert up.sum() / 16 == pytest.approx(low.sum())
    if method == "nearest":
        assert np.allclose(ntl.resample(low, 4, method), np.kron(low, np.ones((4, 4))))


def test_resample_bad_method_and_nan():
    with pytest.raises(ValueError, match="method"):
        ntl.resample(np.ones((4, 4)), 2, method="lanczos")
    bad = np.ones((4, 4))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ntl.resample(bad, 2)


def test_phase_correlation_subpixel():
    from scipy.ndimage import fourier_shift

    ref = gaussian_filter(np.random.default_rng(2).random((64, 64)), 3, mode="wrap")
    moved = np.fft.ifftn(fourier_shift(np.fft.fftn(ref), (0.37, -1.23))).real
    dy, dx = ntl.phase_correlation(moved, ref, upsample=100, window=False)
    assert abs(dy - 0.37) < 0.02 and abs(dx + 1.23) < 0.02


@pytest.mark.parametrize("dy_hr,dx_hr", [(3.0, -5.0), (-10.0, 7.0), (2.4, 0.8)])
def test_estimate_misregistration_recovers_known_shift(dy_hr, dx_hr):
    ratio = 8
    high, moved = _shifted_pair(dy_hr, dx_hr, ratio)
    low = ntl.aggregate(moved, ratio)
    est = ntl.estimate_misregistration(low, high, ratio)
    assert abs(est.dy - dy_hr / ratio) < 0.1 and abs(est.dx - dx_hr / ratio) < 0.1
    hy, hx = est.shift_high_res
    assert abs(hy - dy_hr) < 0.8 and abs(hx - dx_hr) < 0.8


def test_estimate_misregistration_on_dmsp_like_lights():
    ratio, dy_hr, dx_hr = 8, 4.0, -6.0
    high, moved = _shifted_pair(dy_hr, dx_hr, ratio)
    dn = ntl.simulate_dmsp(moved, ratio, psf_sigma=6, gain=2.0, offset=3.0)
    assert (dn == 63).any()
    est = ntl.estimate_misregistration(
        dn, high, ratio, psf_sigma=6, saturation=63, block=16, step=16
    )
    assert abs(est.dy - dy_hr / ratio) < 0.1 and abs(est.dx - dx_hr / ratio) < 0.1
    field = est.field
    assert field["dy"].shape == (2, 2)
    assert np.nanmax(np.abs(field["dy"] - dy_hr / ratio)) < 0.25


def test_estimate_misregistration_errors():
    with pytest.raises(ValueError, match="not divisible"):
        ntl.estimate_misregistration(np.ones((4, 4)), np.ones((30, 30)), 8)
    with pytest.raises(ValueError, match="shape mismatch"):
        ntl.estimate_misregistration(np.ones((4, 4)), np.ones((64, 64)), 8)
    bad = np.ones((4, 4))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ntl.estimate_misregistration(bad, np.ones((32, 32)), 8)
    with pytest.raises(ValueError, match="2-D"):
        ntl.estimate_misregistration(np.ones((2, 4, 4)), np.ones((32, 32)), 8)


def test_aggregate_ratio_must_divide():
    with pytest.raises(ValueError, match="not divisible by ratio 3"):
        ntl.aggregate(np.ones((10, 9)), 3)


def test_stats_and_r2():
    img = np.array([[0.0, 1.0], [63.0, 63.0]])
    stats = ntl.ntl_stats(img, saturation=63)
    assert stats["saturated_fraction"] == 0.5 and stats["lit_fraction"] == 0.75
    assert ntl.total_light(np.ones((4, 4)), pixel_area_km2=0.25) == pytest.approx(4.0)
    assert ntl.r2_score(img, img) == pytest.approx(1.0)
    assert ntl.r2_score(img, np.full_like(img, img.mean())) == pytest.approx(0.0)


def test_layout_patch_roundtrip(tmp_path):
    """The NTL layout's one reader also gives a patch as georeferenced rasters (notebook 07)."""
    from helpers.data.datasets import NTL
    from helpers.io import rasters
    from tests import fakes

    ratio, side = 4, 16
    ones = {
        "hr_ntl": np.ones((1, side, side), np.float32),
        "lr_ntl": np.ones((1, side // ratio, side // ratio), np.uint8),
        "dmo": np.full((7, side, side), 0.1, np.float32),
        "dem": np.ones((1, side, side), np.float32),
        "isp": np.ones((1, side, side), np.uint8),
    }
    paths = fakes.ntl_patch(tmp_path, "train", "a", side, ratio, layers=ones)
    reader = NTL(tmp_path, "train")
    assert reader.ids() == ["a"]
    patch = reader.rasters(0)
    assert patch["dmo"].data.shape == (7, side, side)
    table = ntl.modality_table(patch)
    assert (
        table.loc["number of bands", "dmo"] == 7 and table.loc["resolution (m)", "lr_ntl"] == "120"
    )
    up = ntl.resample_raster(patch["lr_ntl"], patch["hr_ntl"], "nearest")
    assert up.shape == (1, side, side) and np.allclose(up, 1)
    dem = rasters.read(paths["dem"])
    rasters.write(paths["dem"], np.ones((1, side + 1, side), np.float32), dem.crs, dem.transform)
    with pytest.raises(rasters.RasterError, match="same grid"):
        reader.rasters(0)
    with pytest.raises(rasters.RasterError, match="no files matched"):
        NTL(tmp_path, "val")


def test_swipe_widget_builds_headless():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.views import widgets

    a = np.zeros((8, 8))
    b = np.ones((8, 8))
    frame = widgets.swipe_compose(a, b, 0.5, "swipe")
    assert (frame[:, :4] == 0).all() and (frame[:, 4:] == 1).all()
    assert np.allclose(widgets.swipe_compose(a, b, 0.25, "blend"), 0.25)
    box = widgets.swipe(a, b)  # headless (EOSR_HEADLESS=1 in tests): a static first frame
    assert isinstance(box, widgets.StaticView) and len(box.children) == 1
    with pytest.raises(ValueError, match="one grid"):
        widgets.swipe_compose(a, np.ones((4, 4)))


def test_bloom_two_gaussians_keeps_total_and_spreads():
    img = np.zeros((128, 128))
    img[64, 64] = 100.0
    one = ntl.bloom(img, 2.0)
    two = ntl.bloom(img, [2.0, 8.0], [0.85, 0.15])
    assert one.sum() == pytest.approx(100.0) and two.sum() == pytest.approx(100.0)
    assert two[64, 76] > one[64, 76]  # the wide halo reaches further
    with pytest.raises(ValueError, match="psf_weights"):
        ntl.bloom(img, [2.0, 8.0], [1.0])


def test_quantise_and_saturated_lower_bound():
    assert ntl.quantise(np.array([[-3.0, 10.4, 70.0]])).tolist() == [[0, 10, 63]]
    fit = ntl.Calibration(gain=0.5, offset=2.0, power=1.0, r2=1.0, rmse_dn=0.0, n_pixels=10)
    assert fit.to_radiance(np.array([2.0, 12.0])).tolist() == [0.0, 20.0]
    assert fit.saturation_radiance == pytest.approx(122.0)
    assert fit.to_dn(np.array([20.0]))[0] == pytest.approx(12.0)


def test_displacement_field_skips_dark_blocks():
    high, moved = _shifted_pair(4.0, 0.0)
    moved[:, :128] = 0.0  # left half dark: no structure to register
    high = high.copy()
    high[:, :128] = 0.0
    low = ntl.aggregate(moved, 8)
    field = ntl.displacement_field(low, high, 8, block=16, step=16, start=(0.5, 0.0))
    assert np.isnan(field["dy"][:, 0]).all()
    assert np.nanmax(np.abs(field["dy"][:, 1] - 0.5)) < 0.2


def test_simulate_dmsp_accepts_viirs_background_noise_and_says_so():
    rng = np.random.default_rng(0)
    viirs = rng.normal(0.0, 0.2, (64, 64))  # background-subtracted dark scene
    viirs[20:30, 20:30] += 40.0
    with pytest.warns(UserWarning, match="clipped to 0"):
        dn = ntl.simulate_dmsp(viirs, ratio=8, psf_sigma=2, gain=1.0, offset=0.0)
    assert dn.dtype == np.uint8 and dn.max() > 0
    clean = ntl.simulate_dmsp(np.clip(viirs, 0, None), ratio=8, psf_sigma=2, gain=1.0, offset=0.0)
    assert np.array_equal(dn, clean)  # negatives are noise, not (negative) light
    with pytest.raises(ValueError, match="not VIIRS background noise"):
        ntl.simulate_dmsp(viirs - 50.0, ratio=8, psf_sigma=2)


def test_one_degradation_chain_the_sample_scene_runs_its_first_steps():
    """``synthetic.simulate_low_res`` without its warp is ``ntl.simulate_dmsp``'s bloom and
    aggregation (float32 there, float64 here), and ``synthetic.block_mean`` is ``ntl.aggregate``:
    the sample scene's lights come from the kit's one DMSP-like chain."""
    from helpers.data import synthetic

    rad = _city(128, seed=3)
    truth = {"blooming_weights": [0.85, 0.15], "blooming_sigma_hr_px": [6.0, 20.0], "ratio": 8}
    low = synthetic.simulate_low_res(rad, truth, warp=False)
    kit = ntl.aggregate(ntl.bloom(rad, [6.0, 20.0], [0.85, 0.15]), 8)
    assert np.allclose(low, kit, rtol=1e-5, atol=1e-4)
    assert np.array_equal(synthetic.block_mean(rad, 8), ntl.aggregate(rad, 8))
    dn = ntl.simulate_dmsp(rad, 8, [6.0, 20.0], [0.85, 0.15], gain=2.5, offset=2.0)
    theirs = np.clip(np.rint(2.5 * low.astype(np.float64) + 2.0), 0, 63)
    assert np.abs(dn.astype(int) - theirs).max() <= 1 and (dn == theirs).mean() > 0.99
    warped = synthetic.simulate_low_res(rad, {**truth, **_warp_truth()}, warp=True)
    assert not np.allclose(warped, low, atol=1e-2)  # the warp is what the sample scene adds


def _warp_truth() -> dict:
    """An affine misregistration of a few high-res pixels (``synthetic.displacement``'s keys)."""
    return {
        "center_hr_px": [63.5, 63.5],
        "rotation_deg": 1.0,
        "scale": 1.01,
        "shift_hr_px": [3, -2],
    }
