"""Night-light evidence: the stratified block split, lit/dark errors, floors, saturated claims and
the closing-check rules of notebooks 08 and 09 (fed a broken record, they fail)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.core import checks
from helpers.data import layouts, ntl
from helpers.models import metrics
from helpers.training import ntl_baselines, ntl_evidence


def _counts(lit: int, sat: int = 0, bright: int = 0, pixels: int = 100) -> dict[str, int]:
    return {"pixels": pixels, "lit": lit, "bright": bright, "saturated": sat}


def test_stratified_split_matches_the_scene_share_and_a_column_split_does_not():
    # 16 blocks in a 4 x 4 grid, row-major; the light is in the left columns (a town), the last
    # column is dark: the old column split would test on dark land only.
    counts = [_counts(lit=40 - 10 * (i % 4), bright=12 - 4 * (i % 4), sat=6 - 2 * (i % 4))
              for i in range(16)]  # fmt: skip
    split = layouts.ntl_split_stratified(counts)
    assert split.count("test") == 4 and split.count("val") == 2 and split.count("train") == 10
    scene_lit = sum(c["lit"] for c in counts) / sum(c["pixels"] for c in counts)
    test = [c for c, s in zip(counts, split) if s == "test"]
    test_lit = sum(c["lit"] for c in test) / sum(c["pixels"] for c in test)
    assert abs(test_lit - scene_lit) < 0.02, (test_lit, scene_lit)
    assert sum(c["saturated"] for c in test) > 0
    column_test = [counts[i] for i in range(16) if i % 4 == 3]  # last column
    assert sum(c["saturated"] for c in column_test) == 0  # what the stratified split avoids
    assert layouts.ntl_split_stratified(counts) == split  # deterministic
    assert layouts.ntl_split_stratified(counts[:2]) == ["train", "train"]


def test_sample_scheme_cuts_stratified_blocks(tmp_path):
    from affine import Affine

    from helpers.io import rasters

    hr = np.zeros((1, 32, 32), np.float32)
    hr[0, :, :8] = 50.0  # lit column of blocks
    lr = np.zeros((1, 8, 8), np.float32)
    lr[0, :, :2] = 63
    mk = lambda a, res: rasters.Raster(a, "EPSG:32633", Affine(res, 0, 0, 0, -res, 0))  # noqa: E731
    high = {k: mk(hr, 30.0) for k in ("hr_ntl", "dmo", "dem", "isp")}
    paths = layouts.write_ntl_patches(
        high, mk(lr, 120.0), tmp_path, patch=4, ratio=4, scheme="sample"
    )
    split = {p.stem: p.parent.parent.name for p in paths if p.parent.name == "lr_ntl"}
    assert len(split) == 64 and list(split.values()).count("test") == 16  # 2 x 2 patch blocks
    lit_test = [k for k, s in split.items() if s == "test" and int(k.split("c")[1]) < 2]
    assert lit_test, "a test block in the lit column"
    for r in range(0, 8, 2):  # each 2 x 2 block of patches shares one split
        for c in range(0, 8, 2):
            ids = [layouts.ntl_patch_id(r + i, c + j, "sample") for i in (0, 1) for j in (0, 1)]
            assert len({split[i] for i in ids}) == 1


def test_lit_dark_errors_and_saturated_bootstrap():
    truth = np.array([[0.0, 0.5], [10.0, 30.0]])
    pred = np.array([[1.0, 0.5], [12.0, 26.0]])
    e = metrics.lit_dark_errors(pred, truth)
    assert e["n_lit"] == 2 and e["n_dark"] == 2
    assert e["mae_lit"] == pytest.approx(3.0) and e["mae_dark"] == pytest.approx(0.5)
    assert e["rmse_lit"] == pytest.approx(np.sqrt(10.0))
    rng = np.random.default_rng(0)
    t = rng.random((16, 16)) * 50
    low = np.zeros((4, 4))
    low[:2, :2] = 63
    b = metrics.saturated_bootstrap(t + 2.0, t, low, 4)
    assert b["n_coarse"] == 4 and b["n_fine"] == 64 and b["mae"] == pytest.approx(2.0)
    assert b["low"] <= b["mae"] <= b["high"]
    low[:] = 0
    low[0, 0] = 63
    assert np.isnan(metrics.saturated_bootstrap(t, t, low, 4)["low"])


def test_floors_are_the_trivial_answers():
    cal = ntl.Calibration(gain=2.0, offset=0.0, power=1.0, r2=1.0, rmse_dn=0.0, n_pixels=10)
    lo = np.array([[0.0, 4.0], [8.0, 63.0]])
    f = ntl_baselines.floors(lo, cal, scale=0.5, ratio=4)
    assert list(f) == list(ntl_baselines.FLOORS)
    assert all(v.shape == (8, 8) for v in f.values())
    assert not f["all-zero"].any()
    assert f["nearest (calibrated)"][0:4, 4:8] == pytest.approx(2.0)
    assert f["bicubic (raw DN x scale)"].min() >= 0


def _table(method_mae_lit: float, method_psnr: float) -> pd.DataFrame:
    rows = {
        "all-zero": [20.0, 10.0, 14.0, 1.0],
        "nearest (calibrated)": [24.0, 7.0, 10.0, 1.0],
        "bicubic (raw DN x scale)": [25.0, 6.5, 9.0, 1.0],
        "bicubic (calibrated)": [26.0, 6.0, 8.0, 1.0],
        "full model": [method_psnr, method_mae_lit, method_mae_lit * 1.3, 1.0],
    }
    table = pd.DataFrame(rows, index=["psnr", "mae_lit", "rmse_lit", "n_lit"]).T
    for col in ("mae_dark", "total_light_error"):
        table[col] = 0.1
    return table


def test_rules_sr_pass_a_trained_model_and_fail_one_on_its_floor():
    good = ntl_evidence.flat(ntl_evidence.versus_floors(_table(3.0, 30.0)))
    assert all(c.passed for c in ntl_evidence.rules_sr(good))
    checks.verify(ntl_evidence.rules_sr(good), "teaching")
    # a constant / untrained model: the full model's numbers equal the calibrated bicubic's
    broken = ntl_evidence.flat(_table(6.0, 26.0))
    with pytest.raises(AssertionError, match="below bicubic"):
        checks.verify(ntl_evidence.rules_sr(broken), "teaching")
    with pytest.warns(UserWarning):
        checks.verify(ntl_evidence.rules_sr(broken), "smoke")  # smoke: learned checks warn
    # a record without the floors fails in every profile
    no_floors = {k: v for k, v in good.items() if k.startswith("full model")}
    with pytest.raises(AssertionError, match="floors"):
        checks.verify(ntl_evidence.rules_sr(no_floors), "smoke")


def test_rules_ablation_fail_a_row_that_learned_nothing():
    table = _table(3.0, 30.0)
    summary = ntl_evidence.flat(table, {"full model|steps": 88.0, "row b|steps": 88.0})
    summary["row b|mae_lit"] = 3.5
    checks.verify(ntl_evidence.rules_ablation(summary, ["full model", "row b"]), "teaching")
    summary["row b|mae_lit"] = 10.0  # the all-zero floor's lit error: nothing learned
    with pytest.raises(AssertionError, match="row b"):
        checks.verify(ntl_evidence.rules_ablation(summary, ["full model", "row b"]), "teaching")
    summary["row b|mae_lit"], summary["row b|steps"] = 3.5, 40.0
    with pytest.raises(AssertionError, match="equal steps"):
        checks.verify(ntl_evidence.rules_ablation(summary, ["full model", "row b"]), "smoke")


def test_versus_floors_and_saturated_claim():
    v = ntl_evidence.versus_floors(_table(3.0, 30.0))
    assert v.loc["full model", "PSNR - best floor (dB)"] == pytest.approx(4.0)
    assert v.loc["full model", "best floor lit MAE - lit MAE"] == pytest.approx(3.0)
    few = {"a": {"n_coarse": 3, "n_fine": 192, "mae": 5.0, "low": 4.0, "high": 6.0},
           "b": {"n_coarse": 3, "n_fine": 192, "mae": 9.0, "low": 8.0, "high": 10.0}}  # fmt: skip
    assert "too few" in ntl_evidence.saturated_claim(few)
    many = {k: {**v, "n_coarse": 40, "n_fine": 2560} for k, v in few.items()}
    assert "a has the lowest error" in ntl_evidence.saturated_claim(many)
    many["b"]["low"] = 5.5
    assert "overlap" in ntl_evidence.saturated_claim(many)


def test_error_sentence_says_better_or_worse():
    floors = {"all-zero": 10.0, "bicubic": 6.0}
    assert "lower (better) than the best floor (bicubic" in ntl_evidence.error_versus_floors(
        "the MAE", 4.0, floors
    )
    assert "higher (worse)" in ntl_evidence.error_versus_floors("the MAE", 7.0, floors)


def _prep_record() -> dict[str, float]:
    return {
        "calibration_r2_aligned": 0.95, "calibration_r2_naive": 0.7,
        "agreement_r2_calibrated_aligned": 0.9, "agreement_r2_scale_only_aligned": 0.8,
        "shift_error_lr_px": 0.1, "denoise_rmse_after": 0.1, "denoise_rmse_before": 0.4,
        "spikes_removed": 1.0, "light_kept": 0.99, "max_block_error_preserving": 0.0,
        "calibrated_max": 100.0, "max_block_error_bilinear": 2.0,
    }  # fmt: skip


def test_rules_prep_fail_a_broken_preparation():
    checks.verify(ntl_evidence.rules_prep(_prep_record()), "teaching")
    for key, bad in (("shift_error_lr_px", 1.2), ("calibration_r2_aligned", 0.5),
                     ("denoise_rmse_after", 0.5), ("max_block_error_preserving", 1.0)):  # fmt: skip
        broken = {**_prep_record(), key: bad}
        with pytest.raises(AssertionError):  # not learned: fails in smoke too
            checks.verify(ntl_evidence.rules_prep(broken), "smoke")
