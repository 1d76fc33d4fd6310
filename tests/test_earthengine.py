"""helpers.data.earthengine: grids, chunk planning, scale factors, layouts, cache, retries, no-credentials path.

Earth Engine is never contacted except by the test marked ``earthengine`` (skipped without credentials);
everything else injects a fake fetcher ``(spec, grid) -> array``.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import rasterio

from helpers.data import earthengine as E
from helpers.data import earthengine_specs as S
from helpers.data.layouts import SCENE_FILES, ntl_split
from helpers.io import rasters

BBOX = S.aoi_around(13.40, 52.52, 2.0)  # Berlin, UTM 33N


def fake_fetcher(calls: list | None = None):
    """Pixel values that depend only on absolute coordinates, so a mosaic equals one big request."""

    def fetch(spec, grid):
        if calls is not None:
            calls.append((spec.name, grid.shape))
        a, _, c, _, e, f = grid.transform
        h, w = grid.shape
        xi = np.floor((c + a * (np.arange(w) + 0.5)) / a).astype(np.int64)
        yi = np.floor((f + e * (np.arange(h) + 0.5)) / -e).astype(np.int64)
        base = (xi[None, :] + 3 * yi[:, None]) % 50 + 1
        return np.stack([base + b for b in range(len(spec.bands))]).astype(spec.dtype)

    return fetch


# ------------------------------------------------------------------ chunk planning


@pytest.mark.parametrize("method", ["computePixels", "getDownloadURL"])
@pytest.mark.parametrize(
    "shape,bands,dtype",
    [
        ((20000, 13000), 12, "uint16"),
        ((40000, 700), 1, "uint8"),
        ((5000, 5000), 7, "float32"),
        ((3, 70000), 4, "float64"),
        ((1, 1), 1, "uint8"),
    ],
)
def test_chunks_respect_limits_and_tile_exactly(method, shape, bands, dtype):
    limit = E.LIMITS[method]
    chunks = E.plan_chunks(shape, bands, dtype, method=method)
    cover = np.zeros(shape, dtype=np.uint8)
    for ch in chunks:
        assert E.chunk_bytes(ch.height, ch.width, bands, dtype) <= limit["max_bytes"]
        assert ch.height <= limit["max_side"] and ch.width <= limit["max_side"]
        assert ch.height > 0 and ch.width > 0
        cover[ch.row : ch.row + ch.height, ch.col : ch.col + ch.width] += 1
    assert cover.min() == 1 and cover.max() == 1, "chunks must cover every pixel exactly once"


def test_chunk_budget_uses_margin():
    chunks = E.plan_chunks((30000, 30000), 13, "uint16", margin=0.5)
    assert max(E.chunk_bytes(c.height, c.width, 13, "uint16") for c in chunks) <= 0.5 * 48 * 2**20


# ------------------------------------------------------------------ grids


@pytest.mark.parametrize(
    "lon,lat", [(13.40, 52.52), (-58.38, -34.60), (2.99, 0.01), (151.2, -33.9)]
)
def test_grids_nest_across_scales(lon, lat):
    grids = S.nested_grids(S.aoi_around(lon, lat, 3.0), (10, 30, 240))
    fine, mid, coarse = grids[10], grids[30], grids[240]
    assert fine.crs == mid.crs == coarse.crs and fine.crs.startswith("EPSG:32")
    assert (fine.transform[2], fine.transform[5]) == (coarse.transform[2], coarse.transform[5])
    assert fine.shape[0] == 24 * coarse.shape[0] and fine.shape[1] == 24 * coarse.shape[1]
    assert mid.shape[0] == 8 * coarse.shape[0] and mid.shape[1] == 8 * coarse.shape[1]
    assert np.allclose(fine.bounds, coarse.bounds) and np.allclose(mid.bounds, coarse.bounds)
    assert fine.coarsen(24) == coarse and mid.coarsen(8) == coarse
    left, _, _, top = coarse.bounds
    assert left % 240 == 0 and top % 240 == 0


def test_grid_covers_the_aoi_and_rejects_bad_input():
    from rasterio.warp import transform_bounds

    grid = S.grid_for_aoi(BBOX, 10)
    left, bottom, right, top = transform_bounds("EPSG:4326", grid.crs, *BBOX)
    g_left, g_bottom, g_right, g_top = grid.bounds
    assert g_left <= left and g_bottom <= bottom and g_right >= right and g_top >= top
    with pytest.raises(ValueError, match="divide"):
        S.grid_for_aoi(BBOX, 70)
    with pytest.raises(ValueError, match="west"):
        S.grid_for_aoi((1, 1, 0, 2), 10)
    with pytest.raises(ValueError, match="divide"):
        S.grid_for_aoi(BBOX, 10).coarsen(7)


def test_ee_pixel_grid_matches_rest_schema():
    grid = S.grid_for_aoi(BBOX, 30)
    pg = grid.ee_pixel_grid()
    assert pg["dimensions"] == {"width": grid.shape[1], "height": grid.shape[0]}
    assert pg["affineTransform"]["scaleX"] == 30 and pg["affineTransform"]["scaleY"] == -30
    assert pg["crsCode"] == grid.crs


# ------------------------------------------------------------------ scale factors and specs


def test_landsat_scale_factor():
    dn = np.array([[[0, 7273, 43636, 20000]]], dtype=np.uint16)
    sr = S.landsat_reflectance(dn)
    assert np.isnan(sr[0, 0, 0])
    assert sr[0, 0, 1] == pytest.approx(7273 * 0.0000275 - 0.2, abs=1e-6)
    assert sr[0, 0, 2] == pytest.approx(1.0, abs=1e-4)
    assert sr[0, 0, 3] == pytest.approx(0.35, abs=1e-6)
    assert S.LandsatSpec().postprocess(dn).dtype == np.float32


def test_s2_product_level_picks_the_collection():
    l1c, l2a = S.Sentinel2Spec(), S.Sentinel2Spec(product="L2A")
    assert l1c.dataset == "COPERNICUS/S2_HARMONIZED" and len(l1c.bands) == 13 and "B10" in l1c.bands
    assert l2a.dataset == "COPERNICUS/S2_SR_HARMONIZED" and "B10" not in l2a.bands
    toa = l1c.postprocess(np.arange(13, dtype=np.uint16)[:, None, None] + 1)
    assert toa[:, 0, 0].tolist() == list(range(1, 14))  # B10 kept in L1C
    assert E.default_requests()["s2"][0].product == "L1C"
    with pytest.raises(ValueError, match="L1C"):
        S.Sentinel2Spec(product="L3")
    with pytest.raises(ValueError, match="SCL"):
        S.Sentinel2Spec(mask="scl")


def test_spec_postprocessing():
    s2 = S.Sentinel2Spec(product="L2A").postprocess(
        np.arange(12, dtype=np.uint16)[:, None, None] + 1
    )
    assert s2.shape == (13, 1, 1) and s2[10, 0, 0] == 0  # B10 absent in L2A
    assert s2[0, 0, 0] == 1 and s2[8, 0, 0] == 9 and s2[12, 0, 0] == 12  # B01, B8A, B12
    assert len(S.Sentinel2Spec(product="L2A").out_bands) == 13
    wc = S.WorldCoverSpec(to_dfc=True).postprocess(
        np.array([[[10, 50, 80, 95, 0]]], dtype=np.uint8)
    )
    assert wc.tolist() == [[[1, 7, 10, 5, 0]]]
    gaia = S.ImperviousSpec(year=1990).postprocess(np.array([[[34, 29, 28, 0]]], dtype=np.uint8))
    assert gaia.tolist() == [[[1, 1, 0, 0]]]  # 34 = 1985, 29 = 1990, 28 = 1991
    dmsp = S.DmspSpec().postprocess(np.array([[[0, 63, 70]]], dtype=np.uint8))
    assert dmsp.max() == 63 and dmsp.dtype == np.uint8
    dem = S.DemSpec().postprocess(np.array([[[-9999.0, 12.5]]], dtype=np.float32))
    assert np.isnan(dem[0, 0, 0]) and dem[0, 0, 1] == 12.5
    assert S.ModisLandCoverSpec().out_bands == ("IGBP", "LCCS_LC", "LCCS_LU", "LCCS_SH")


# ------------------------------------------------------------------ export, mosaics, cache, retries


def test_export_mosaics_chunks_with_the_grid_georeference(tmp_path, monkeypatch):
    monkeypatch.setitem(E.LIMITS, "computePixels", {"max_bytes": 4000, "max_side": 40})
    grid = S.grid_for_aoi(BBOX, 30)
    calls: list = []
    path = E.export(
        S.LandsatSpec(), grid, tmp_path / "dmo.tif", fetcher=fake_fetcher(calls), progress=False
    )
    assert len(calls) > 4, "the small budget must force several chunks"
    with rasterio.open(path) as src:
        assert src.crs.to_string() == grid.crs
        assert tuple(src.transform)[:6] == grid.transform
        assert (src.height, src.width) == grid.shape and src.count == 7
        got = src.read()
    expected = S.landsat_reflectance(fake_fetcher()(S.LandsatSpec(), grid))
    np.testing.assert_allclose(got, expected)


def test_cache_skips_a_second_download(tmp_path):
    grid = S.grid_for_aoi(BBOX, 30)
    calls: list = []
    fetch = fake_fetcher(calls)
    path = tmp_path / "dem.tif"
    E.export(S.DemSpec(), grid, path, fetcher=fetch, progress=False)
    first = len(calls)
    E.export(S.DemSpec(), grid, path, fetcher=fetch, progress=False)
    assert first >= 1 and len(calls) == first, "same spec + grid must not download again"
    assert E.is_cached(path, S.DemSpec(), grid)
    assert not E.is_cached(path, S.ViirsSpec(), grid)
    E.export(S.DemSpec(resample=None), grid, path, fetcher=fetch, progress=False)
    assert len(calls) == 2 * first, "a changed spec must download again"
    assert E.cache_key(S.DemSpec(), grid) != E.cache_key(S.DemSpec(), S.grid_for_aoi(BBOX, 10))


def test_rate_limits_are_retried_with_backoff(tmp_path):
    grid = S.grid_for_aoi(BBOX, 240)
    attempts, sleeps = [], []
    good = fake_fetcher()

    def flaky(spec, g):
        attempts.append(1)
        if len(attempts) <= 2:
            raise RuntimeError("Too many concurrent aggregations. (HTTP 429)")
        return good(spec, g)

    E.export(
        S.DmspSpec(),
        grid,
        tmp_path / "lr.tif",
        fetcher=flaky,
        sleep=sleeps.append,
        base_delay=1.0,
        progress=False,
    )
    assert len(attempts) == 3 and len(sleeps) == 2
    assert 1.0 <= sleeps[0] <= 1.25 and 2.0 <= sleeps[1] <= 2.5  # exponential, with jitter


def test_other_errors_fail_at_once_with_a_fix(tmp_path):
    grid = S.grid_for_aoi(BBOX, 240)
    attempts = []

    def broken(spec, g):
        attempts.append(1)
        raise RuntimeError("Image.select: Pattern 'nope' did not match any bands.")

    with pytest.raises(
        E.EarthEngineFetchError, match="NOAA/DMSP-OLS/NIGHTTIME_LIGHTS.*Check the dataset"
    ):
        E.export(
            S.DmspSpec(),
            grid,
            tmp_path / "x.tif",
            fetcher=broken,
            sleep=lambda s: None,
            progress=False,
        )
    assert len(attempts) == 1
    assert not (tmp_path / "x.tif").exists()


def test_retries_give_up_after_the_limit():
    sleeps = []
    with pytest.raises(RuntimeError, match="429"):
        E.with_retries(
            lambda: (_ for _ in ()).throw(RuntimeError("HTTP 429")), retries=3, sleep=sleeps.append
        )
    assert len(sleeps) == 3


# ------------------------------------------------------------------ layouts


def test_layouts_have_the_right_georeference(tmp_path):
    result = E.fetch_or_sample(
        BBOX, root=tmp_path, fetcher=fake_fetcher(), patch=64, ntl_patch=16, progress=False
    )
    assert result.source == "earth engine"
    scene = result.scene
    for name in SCENE_FILES:
        assert (scene / f"{name}.tif").exists(), name
    rasters.check_same_grid(scene / "s2.tif", scene / "dfc.tif")
    rasters.check_same_grid(scene / "ntl_hr.tif", scene / "dmo.tif")
    rasters.check_same_bounds(scene / "ntl_hr.tif", scene / "ntl_lr.tif")
    rasters.check_same_bounds(scene / "s2.tif", scene / "ntl_hr.tif")
    assert rasters.read(scene / "s2.tif").data.shape[0] == 13
    assert rasters.read(scene / "ntl_lr.tif").resolution == (240.0, 240.0)

    s2_patches = sorted(
        (tmp_path / "DFC2020" / "ROIs0000_test" / "s2_0").glob("ROIs0000_test_s2_0_p*.tif")
    )
    assert s2_patches, "DFC2020-like patches must be written"
    whole = rasters.read(scene / "s2.tif")
    with rasterio.open(s2_patches[1]) as src:  # second patch: one patch to the east
        assert src.crs == whole.crs and src.count == 13 and (src.height, src.width) == (64, 64)
        assert src.transform.c == pytest.approx(whole.transform.c + 64 * 10)
        assert src.transform.f == pytest.approx(whole.transform.f)
        np.testing.assert_array_equal(src.read(), whole.data[:, :64, 64:128])
    for mod in ("lc", "dfc"):
        rasters.check_same_grid(s2_patches[0], Path(str(s2_patches[0]).replace("s2_0", f"{mod}_0")))

    ntl = tmp_path / "NTL"
    ids = sorted(p.stem for p in ntl.glob("*/hr_ntl/*.tif"))
    assert ids and {p.name for p in ntl.iterdir()} <= {"train", "val", "test"}
    for hr in ntl.glob("*/hr_ntl/*.tif"):
        split = hr.parent.parent
        for mod in ("dmo", "dem", "isp"):
            rasters.check_same_grid(hr, split / mod / hr.name)
        rasters.check_same_bounds(hr, split / "lr_ntl" / hr.name)
        with rasterio.open(split / "lr_ntl" / hr.name) as lr, rasterio.open(hr) as h:
            assert (lr.height * 8, lr.width * 8) == (h.height, h.width)
            assert lr.dtypes[0] == "uint8" and h.dtypes[0] == "float32"
        assert rasters.read(split / "dmo" / hr.name).data.shape[0] == 7


def test_too_small_aoi_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="enlarge the AOI"):
        E.fetch_or_sample(
            S.aoi_around(13.4, 52.5, 0.5),
            root=tmp_path,
            fetcher=fake_fetcher(),
            patch=256,
            ntl_patch=16,
            progress=False,
        )


def test_ntl_split_is_spatial_blocks():
    splits = [ntl_split(i, 20) for i in range(20)]
    assert splits == sorted(splits, key=["train", "val", "test"].index)
    assert splits.count("test") == 3 and splits.count("val") == 3


# ------------------------------------------------------------------ no credentials


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    """A home without Earth Engine or gcloud credentials and no project."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.delenv("EE_PROJECT", raising=False)
    try:
        import ee.oauth

        monkeypatch.setattr(ee.oauth, "get_credentials_path", lambda: str(tmp_path / "credentials"))
    except ImportError:
        pass


def test_no_credentials_gives_a_clear_status(no_credentials):
    status = E.connect()
    assert status.ok is False
    assert "credentials" in status.missing and "project" in status.missing
    assert "earthengine authenticate" in status.fix and "EE_PROJECT" in status.fix
    assert "not available" in str(status)


def test_missing_package_gives_a_clear_status(monkeypatch):
    monkeypatch.setitem(sys.modules, "ee", None)
    status = E.connect()
    assert status.ok is False and status.missing == ("package",)
    assert "pip install earthengine-api" in status.fix


def test_project_comes_from_argument_or_environment(monkeypatch):
    monkeypatch.setenv("EE_PROJECT", "from-env")
    assert E.resolve_project("from-arg") == "from-arg"
    assert E.resolve_project() == "from-env"
    monkeypatch.delenv("EE_PROJECT")
    assert E.resolve_project() is None


def test_tokens_never_reach_messages():
    text = E._scrub("refresh failed for ya29.a0AfH6SMB-secret and 1//0gAbc-def token")
    assert "ya29" not in text and "1//" not in text and "<token>" in text


def test_fallback_returns_the_sample_scene_without_traceback(tmp_path, monkeypatch):
    scene = tmp_path / "scene"
    scene.mkdir()
    (scene / "s2.tif").write_bytes(b"")
    fake = types.SimpleNamespace(
        root=tmp_path,
        scene=scene,
        dfc2020=tmp_path / "DFC2020",
        ntl=tmp_path / "NTL",
        sen12ms=tmp_path / "SEN12MS",
    )
    module = types.ModuleType("helpers.data.synthetic")
    module.ensure_sample = lambda profile=None, seed=0, force=False, verbose=True: fake
    monkeypatch.setitem(sys.modules, "helpers.data.synthetic", module)
    import helpers

    monkeypatch.setattr(helpers.data, "synthetic", module, raising=False)
    status = E.Status(False, ("credentials",), "Sign in.")
    result = E.fetch_or_sample(BBOX, status=status)
    assert result.source == "sample scene"
    assert result.scene == scene and result.ntl == tmp_path / "NTL"
    assert "sample scene" in result.message and "credentials" in result.message
    assert "Traceback" not in result.message and "\n" not in result.message


# ------------------------------------------------------------------ live (needs credentials)


def _live_status():
    if not (os.environ.get("EE_PROJECT") or os.environ.get("EE_PROJECT_ID")):
        return None, "neither EE_PROJECT nor EE_PROJECT_ID is set"
    status = E.connect()
    return status, "" if status.ok else str(status)


@pytest.mark.earthengine
def test_live_small_export(tmp_path):
    status, reason = _live_status()
    if status is None or not status.ok:
        pytest.skip(f"Earth Engine not available: {reason}")
    grid = S.grid_for_aoi(S.aoi_around(13.40, 52.52, 1.0), 240)
    path = E.export(S.DmspSpec(year=2013), grid, tmp_path / "dmsp.tif", progress=False)
    data = rasters.read(path).data
    assert data.shape[1:] == grid.shape and data.max() <= 63 and data.max() > 0  # Berlin is lit


def test_failure_half_way_can_fall_back(tmp_path, monkeypatch):
    fake = types.SimpleNamespace(
        root=tmp_path, scene=tmp_path / "scene", dfc2020=tmp_path / "D", ntl=tmp_path / "N"
    )
    module = types.ModuleType("helpers.data.synthetic")
    module.ensure_sample = lambda profile=None, seed=0, force=False, verbose=True: fake
    monkeypatch.setitem(sys.modules, "helpers.data.synthetic", module)
    import helpers

    monkeypatch.setattr(helpers.data, "synthetic", module, raising=False)

    def quota(spec, grid):
        raise RuntimeError("User memory limit exceeded.")

    kwargs = dict(root=tmp_path / "ee", fetcher=quota, ntl_patch=16, progress=False)
    with pytest.raises(E.EarthEngineFetchError, match="Reduce the AOI"):
        E.fetch_or_sample(BBOX, **kwargs)
    result = E.fetch_or_sample(BBOX, fallback_on_error=True, **kwargs)
    assert result.source == "sample scene" and "memory limit" in result.message
