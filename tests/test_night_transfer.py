"""Notebook 12's helpers on a small synthetic stand-in for the real scene (no download)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.crs import CRS

from helpers.data.real_lights import RealLights
from helpers.training import night_transfer as nt
from helpers.training import ntl_baselines
from helpers.training.recipes import night_transfer as rc

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
    model = rc.ntl_sr.build(width=4, **rc.NTL_ONLY)
    before = [p.detach().clone() for p in model.parameters()]
    _, history, _, steps = rc.fine_tune(
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


# ---- the residual recipe ----


def test_an_untrained_residual_network_is_the_calibrated_bicubic_floor(pair: nt.RealPair) -> None:
    calibration = ntl_baselines.calibrate([nt.sample(pair, "train")], nt.RATIO)
    model = rc.build_residual(4, calibration)
    floor = ntl_baselines.bicubic(pair.dn, calibration, nt.RATIO)
    pred = nt.predict(model, pair)
    assert pred.shape == floor.shape and floor.max() > 0
    np.testing.assert_allclose(pred, floor, atol=1e-5)
    other = ntl_baselines.calibrate([nt.sample(pair, "test")], nt.RATIO)
    swapped = nt.predict(model.set_calibration(other), pair)
    np.testing.assert_allclose(swapped, ntl_baselines.bicubic(pair.dn, other, nt.RATIO), atol=1e-5)


def test_lights_loss_weights_lit_pixels_ignores_invalid_ones_and_checks_coarse_totals() -> None:
    target = torch.zeros(1, 1, 16, 16)
    target[..., 0, 0] = 5.0  # one lit pixel
    valid = torch.ones_like(target)
    assert rc.lights_loss(target, target, valid, 10.0, 1.0).item() == 0
    miss = target.clone()
    miss[..., 0, 0] = 3.0  # the lit pixel 2 too dark
    plain = rc.lights_loss(miss, target, valid).item()
    assert plain == pytest.approx(4 / 256)
    assert rc.lights_loss(miss, target, valid, lit_weight=9.0).item() == pytest.approx(10 * plain)
    outside = valid.clone()
    outside[..., 0, 0] = 0
    assert rc.lights_loss(miss, target, outside, 9.0, 1.0).item() == 0
    moved = target.clone()
    moved[..., 0, 0], moved[..., 1, 1] = 0.0, 5.0  # same coarse total, wrong place
    assert rc.lights_loss(moved, target, valid, 0.0, 1.0).item() == pytest.approx(50 / 256)
    moved[..., 1, 1] = 6.0  # now the coarse pixel's mean is off by 1 / 64
    extra = rc.lights_loss(moved, target, valid, 0.0, 1.0) - rc.lights_loss(moved, target, valid)
    assert extra.item() == pytest.approx((1 / 64) ** 2 / 4)


def test_lit_crops_hold_lights_as_often_as_asked(pair: nt.RealPair) -> None:
    region = nt.region(pair, (0, pair.dn.shape[0]), (0, pair.split_col))
    assert region["valid"].shape == region["high_res"].shape == (1, 128, 64)
    lit = rc.LitCrops([region], 32, length=40, lit_share=1.0, seed=0)
    uniform = rc.LitCrops([region], 32, length=40, lit_share=0.0, seed=0)
    assert rc.lit_crop_share(lit) == 1.0 and rc.lit_crop_share(uniform) < 1.0
    crop = lit[3]
    assert crop["low_res"].shape == (1, 4, 4) and crop["high_res"].shape == (1, 32, 32)
    assert torch.equal(lit[3]["high_res"], crop["high_res"])  # deterministic in seed and index
    lit.set_epoch(1)
    assert any(not torch.equal(lit[i]["high_res"], crop["high_res"]) for i in range(3, 4))


def test_residual_training_moves_the_network_off_the_floor(pair: nt.RealPair) -> None:
    calibration = ntl_baselines.calibrate([nt.sample(pair, "train")], nt.RATIO)
    model = rc.build_residual(4, calibration)
    floor = nt.predict(model, pair)
    region = nt.region(pair, (0, pair.dn.shape[0]), (0, pair.split_col))
    crops = rc.LitCrops([region], 32, length=8, lit_share=0.5, seed=0)
    model, history, _, steps = rc.fit_residual(
        model, crops, batch=4, epochs=2, learning_rate=1e-2, budget_s=None, seed=0
    )
    assert steps == 4 and np.isfinite(history.train_loss).all()
    pred = nt.predict(model, pair)
    assert (pred >= 0).all() and not np.allclose(pred, floor)
    score = nt.score(pred, pair)
    assert {"bias_lit", "bias_dark", "bias_all"} <= set(score)
    assert score["bias_all"] == pytest.approx(
        float((pred - np.nan_to_num(pair.truth))[pair.side("test")].mean())
    )


def test_closing_rules_fail_on_a_network_that_is_only_the_floor() -> None:
    bic = {"rmse_lit": 2.06, "total_light_error": 1.97}
    good = {
        nt.BICUBIC: bic,
        nt.RAW_ROW: {"rmse_lit": 1.9, "total_light_error": 5.9},
        nt.REAL_ROW: {"rmse_lit": 2.28, "total_light_error": 1.2},
        nt.GUIDED_ROW: {"rmse_lit": 1.5, "total_light_error": 0.4},
    }
    assert [c.passed and c.learned for c in nt.closing_rules(good)] == [True] * 4
    as_floor = {
        **good,
        nt.RAW_ROW: dict(bic),
        nt.REAL_ROW: dict(bic),
        nt.GUIDED_ROW: dict(bic),
    }  # untrained
    assert not any(c.passed for c in nt.closing_rules(as_floor))
    dark = {**good, nt.RAW_ROW: {"rmse_lit": 2.5, "total_light_error": -0.5}}  # learned "dark"
    assert [c.passed for c in nt.closing_rules(dark)][:2] == [False, True]
    carpet = {**good, nt.REAL_ROW: {"rmse_lit": 1.9, "total_light_error": 5.9}}  # step not applied
    assert [c.passed for c in nt.closing_rules(carpet)][:2] == [True, False]
    negative = {**good, nt.REAL_ROW: {"rmse_lit": 2.0, "total_light_error": -2.5}}  # |error| counts
    assert [c.passed for c in nt.closing_rules(negative)][:2] == [True, False]
    for row in (nt.REAL_ROW, nt.RAW_ROW, nt.BICUBIC):
        missing = {k: v for k, v in good.items() if k != row}
        assert not all(c.passed for c in nt.closing_rules(missing)), row


def test_verdict_names_what_a_row_beats() -> None:
    floor = {"rmse_lit": 2.0, "total_light_error": 2.0}
    assert nt.verdict({"rmse_lit": 1.9, "total_light_error": -0.5}, floor).endswith("on both")
    assert nt.verdict({"rmse_lit": 2.1, "total_light_error": -0.5}, floor).endswith("light only")
    assert nt.verdict({"rmse_lit": 1.9, "total_light_error": -2.5}, floor).endswith("RMSE only")
    assert nt.verdict({"rmse_lit": 2.1, "total_light_error": 3.0}, floor).endswith("neither")


# ---- total light: DN means and the consistency step ----


def test_dn_means_are_the_mean_truth_per_dn_non_decreasing_with_a_fallback() -> None:
    dn = torch.tensor([[[1.0, 1.0, 2.0, 2.0, 3.0]]])
    truth = torch.zeros(1, 8, 40)
    for j, v in enumerate((0.1, 0.3, 0.5, 0.1, 4.0)):  # coarse pixel j's fine block mean is v
        truth[0, :, 8 * j : 8 * j + 8] = v
    law = type("Law", (), {"to_radiance": lambda self, d: np.asarray(d, float) * 10})()
    means = nt.dn_means([{"low_res": dn, "high_res": truth}], law, min_count=2)
    assert means.counts[1] == 2 and means.counts[3] == 1
    assert means.table[1] == pytest.approx(0.2) and means.table[2] == pytest.approx(0.3)
    assert means.table[3] == 30.0 and means.table[0] == 0.0  # seen once / never: the law
    assert (np.diff(means.table) >= 0).all()
    np.testing.assert_allclose(means.to_radiance(np.array([[1, 2]])), [[0.2, 0.3]])


def _table(values: dict[int, float]) -> nt.DnMeans:
    table = np.zeros(64)
    for k, v in values.items():
        table[k] = v
    return nt.DnMeans(table, np.ones(64))


def test_consistent_meets_the_coarse_target_keeps_peaks_and_fills_shortfalls() -> None:
    rng = np.random.default_rng(0)
    pred = 0.3 + 0.05 * rng.random((16, 16))
    pred[2, 3] = 4.0  # a bright pixel in coarse pixel (0, 0)
    valid = np.ones((16, 16), bool)
    valid[8:, 15] = False  # coarse pixel (1, 1) is partly outside
    dn = np.array([[2, 2], [2, 3]], np.uint8)
    means = _table({2: 0.1, 3: 1.0})
    out = nt.consistent(pred, dn, means, valid, strength=1.0)
    blocks = out.reshape(2, 8, 2, 8).mean(axis=(1, 3))
    np.testing.assert_allclose(blocks, [[0.1, 0.1], [0.1, 1.0]], atol=1e-6)
    assert out[2, 3] == out[:8, :8].max() and (out >= 0).all()  # the peak keeps its lead
    assert (out[~valid] == 0).all()
    gap = out[8:, 8:][valid[8:, 8:]] - pred[8:, 8:][valid[8:, 8:]]  # short of light: added evenly
    np.testing.assert_allclose(gap, gap[0])
    np.testing.assert_allclose(nt.consistent(pred, dn, means, valid, strength=0.0),
                               np.where(valid, pred, 0), atol=1e-6)  # fmt: skip
    half = nt.consistent(pred, dn, means, valid, strength=0.5).reshape(2, 8, 2, 8).mean(axis=(1, 3))
    own = np.where(valid, pred, 0).reshape(2, 8, 2, 8).mean(axis=(1, 3))
    np.testing.assert_allclose(
        half, 0.5 * own + 0.5 * np.array([[0.1, 0.1], [0.1, 1.0]]), atol=1e-6
    )


def test_predict_rows_gives_row_c_with_and_without_the_step(pair: nt.RealPair) -> None:
    s = nt.sample(pair, "train")
    calibration = ntl_baselines.calibrate([s], nt.RATIO)
    means = nt.dn_means([s], calibration)
    nets = {nt.REAL_ROW: (rc.build_residual(4, calibration), 1.0, 2)}
    rows = nt.predict_rows(nets, pair, (means, means), strength=1.0)
    assert set(rows) == {nt.REAL_ROW, nt.RAW_ROW}
    np.testing.assert_allclose(
        rows[nt.RAW_ROW], ntl_baselines.bicubic(pair.dn, calibration), atol=1e-5
    )
    inside = pair.valid.reshape(16, 8, 16, 8).all(axis=(1, 3))
    got = rows[nt.REAL_ROW].reshape(16, 8, 16, 8).mean(axis=(1, 3))
    np.testing.assert_allclose(got[inside], means.to_radiance(pair.dn)[inside], atol=1e-5)
    floors = nt.floors(pair, calibration, calibration, means)
    assert "nearest (west-half DN means)" in floors


# ---- population guidance (row d) ----


def _density(pair: nt.RealPair, seed: int = 1) -> np.ndarray:
    """People per km2: many where the stand-in's towns are lit, few elsewhere."""
    rng = np.random.default_rng(seed)
    lit = np.nan_to_num(pair.truth) > 1.0
    return np.where(lit, 5000.0, 20.0) * rng.uniform(0.5, 1.5, pair.truth.shape)


def test_read_population_sums_counts_onto_the_lights_grid(tmp_path) -> None:
    import rasterio

    lights = _lights()
    t, (h, w) = lights.transform, lights.radiance.shape
    fine = Affine(t.a / 2, 0, t.c, 0, t.e / 2, t.f)  # counts on a grid twice as fine
    counts = np.full((2 * h, 2 * w), 3.0, np.float32)
    counts[0, 0] = -9999.0  # nodata: no people
    path = tmp_path / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", height=2 * h, width=2 * w, count=1, dtype="float32",
                       crs=lights.crs, transform=fine, nodata=-9999.0) as dst:  # fmt: skip
        dst.write(counts, 1)
    from helpers.data import real_lights

    dens = real_lights.read_population(path, lights)
    assert np.isnan(dens[~lights.valid]).all()
    people = dens * lights.pixel_area_km2
    np.testing.assert_allclose(people[lights.valid], 12.0, rtol=1e-6)  # 4 fine cells of 3 people
    with rasterio.open(path, "r+") as dst:
        dst.write(np.full((2 * h, 2 * w), -1.0, np.float32), 1)
    with pytest.raises(ValueError, match="pop.tif.*negative"):
        real_lights.read_population(path, lights)


def test_guide_bands_are_standardised_on_the_fitted_side_only(pair: nt.RealPair) -> None:
    dens = _density(pair)
    west = pair.side("train")
    bands = nt.guide_bands(dens, west)
    assert bands.shape == (4, *pair.truth.shape) and bands.dtype == np.float32
    np.testing.assert_allclose(bands[:, west].mean(1), 0, atol=1e-4)
    np.testing.assert_allclose(bands[:, west].std(1), 1, atol=1e-4)
    changed = dens.copy()
    changed[pair.side("test")] *= 10  # east population changes: the west-fitted constants do not
    again = nt.guide_bands(changed, west)
    np.testing.assert_allclose(again[0][west], bands[0][west], atol=1e-5)
    assert not np.allclose(again[0][pair.side("test")], bands[0][pair.side("test")])


def test_population_floor_keeps_each_coarse_pixels_light_and_follows_people(
    pair: nt.RealPair,
) -> None:
    s = nt.sample(pair, "train")
    means = nt.dn_means([s], ntl_baselines.calibrate([s], nt.RATIO))
    dens = _density(pair)
    floor = nt.population_floor(pair, dens, means)
    inside = pair.valid.reshape(16, 8, 16, 8).all(axis=(1, 3))
    got = floor.reshape(16, 8, 16, 8).mean(axis=(1, 3))
    np.testing.assert_allclose(got[inside], means.to_radiance(pair.dn)[inside], rtol=1e-6)
    block = (slice(24, 32), slice(16, 24))  # a coarse pixel holding part of a town
    d, f = dens[block].ravel(), floor[block].ravel()
    assert np.corrcoef(d, f)[0, 1] > 0.99 and (floor[~pair.valid] == 0).all()
    assert nt.POPULATION_FLOOR in nt.floors(pair, means, means, means, dens)


def test_guided_network_starts_as_row_c_needs_its_guide_and_learns_from_it(
    pair: nt.RealPair,
) -> None:
    calibration = ntl_baselines.calibrate([nt.sample(pair, "train")], nt.RATIO)
    guide = nt.guide_bands(_density(pair), pair.side("train"))
    model = rc.build_guided(4, calibration, guide.shape[0])
    untrained = nt.predict(model, pair, guide=guide)
    np.testing.assert_allclose(untrained, ntl_baselines.bicubic(pair.dn, calibration), atol=1e-5)
    with pytest.raises(ValueError, match="guide"):
        nt.predict(model, pair)
    region = nt.region(pair, (0, pair.dn.shape[0]), (0, pair.split_col), guide)
    assert region["guide"].shape == (4, *region["high_res"].shape[-2:])
    crops = rc.LitCrops([region], 32, length=8, lit_share=0.5, seed=0)
    model, *_ = rc.fit_residual(model, crops, batch=4, epochs=2, learning_rate=1e-2,
                                budget_s=None, seed=0)  # fmt: skip
    assert model.head[-1].weight.abs().sum() > 0  # the guided head moved off zero
    pred = nt.predict(model, pair, guide=guide)
    assert not np.allclose(pred, nt.predict(model, pair, guide=guide[:, ::-1].copy()))


def test_lit_share_by_population_and_the_guided_trees(pair: nt.RealPair) -> None:
    dens = _density(pair)
    table = nt.lit_share_by_population(pair, dens, "train")
    assert sum(r["pixels"] for r in table) == int(pair.side("train").sum())
    shares = {r["people per km2"]: r["lit share"] for r in table if r["pixels"]}
    assert shares["1000 to 10000"] > shares["10 to 100"]  # lit where people live
    calibration = ntl_baselines.calibrate([nt.sample(pair, "train")], nt.RATIO)
    guide = nt.guide_bands(dens, pair.side("train"))
    pred = nt.boosted_guided(pair, calibration, guide, seed=0, max_iter=20)
    assert pred.shape == pair.truth.shape and (pred >= 0).all()


def test_closing_rules_hold_row_d_to_both_goals() -> None:
    bic = {"rmse_lit": 2.06, "total_light_error": 1.97}
    good = {
        nt.BICUBIC: bic,
        nt.RAW_ROW: {"rmse_lit": 1.9, "total_light_error": 5.9},
        nt.REAL_ROW: {"rmse_lit": 2.28, "total_light_error": 1.2},
        nt.GUIDED_ROW: {"rmse_lit": 1.5, "total_light_error": 0.4},
    }
    assert all(c.passed for c in nt.closing_rules(good))
    for broken in ({"rmse_lit": 2.2, "total_light_error": 0.4}, {"rmse_lit": 1.5, "total_light_error": 2.5},
                   {"rmse_lit": 1.5, "total_light_error": -2.5}, dict(bic)):  # fmt: skip
        assert not all(c.passed for c in nt.closing_rules({**good, nt.GUIDED_ROW: broken})), broken
    assert not all(
        c.passed for c in nt.closing_rules({k: v for k, v in good.items() if k != nt.GUIDED_ROW})
    )
