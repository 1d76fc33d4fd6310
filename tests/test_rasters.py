from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.windows import Window

from helpers.io import rasters
from helpers.io.rasters import RasterError

CRS32633 = CRS.from_epsg(32633)


def _write(path, data, res=10.0, crs=CRS32633, **kw):
    return rasters.write(path, data, crs, from_origin(500000, 4500000, res, res), **kw)


def test_round_trip_keeps_georeference(tmp_path):
    data = np.arange(2 * 32 * 48, dtype=np.uint16).reshape(2, 32, 48)
    path = _write(
        tmp_path / "a.tif",
        data,
        nodata=0,
        descriptions=["B04", "B08"],
        tags={"EOSR_SOURCE": "test"},
    )
    r = rasters.read(path)
    assert np.array_equal(r.data, data)
    assert r.crs == CRS32633 and r.transform == from_origin(500000, 4500000, 10, 10)
    assert r.nodata == 0 and r.descriptions == ("B04", "B08") and r.tags["EOSR_SOURCE"] == "test"
    assert r.resolution == (10.0, 10.0)


def test_windowed_read_has_window_transform(tmp_path):
    data = np.random.default_rng(0).random((1, 64, 64)).astype(np.float32)
    path = _write(tmp_path / "w.tif", data)
    r = rasters.read(path, window=Window(16, 8, 10, 12))
    assert r.data.shape == (1, 12, 10)
    assert np.array_equal(r.data[0], data[0, 8:20, 16:26])
    assert r.transform.c == 500000 + 160 and r.transform.f == 4500000 - 80


def test_missing_corrupt_and_band_count_errors_name_the_file(tmp_path):
    with pytest.raises(RasterError, match="nope.tif.*not found"):
        rasters.read(tmp_path / "nope.tif")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    with pytest.raises(RasterError, match="bad.tif.*corrupt"):
        rasters.read(bad)
    ok = _write(tmp_path / "two.tif", np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(RasterError, match="two.tif.*2 band.*expected 13"):
        rasters.read(ok, expect_bands=13)


def test_masked_nodata_becomes_nan(tmp_path):
    data = np.array([[[1, 0], [3, 4]]], dtype=np.int16)
    r = rasters.read(_write(tmp_path / "n.tif", data, nodata=0), masked_nodata=True)
    assert np.isnan(r.data[0, 0, 1]) and r.data[0, 1, 1] == 4


def test_check_same_grid_names_both_files_and_difference(tmp_path):
    a = _write(tmp_path / "a.tif", np.zeros((1, 16, 16), np.uint8))
    b = _write(tmp_path / "b.tif", np.zeros((1, 16, 16), np.uint8), res=20.0)
    c = _write(tmp_path / "c.tif", np.zeros((1, 16, 16), np.uint8), crs=CRS.from_epsg(32632))
    rasters.check_same_grid(a, a)
    with pytest.raises(RasterError, match=r"a\.tif and .*b\.tif .*transform"):
        rasters.check_same_grid(a, b)
    with pytest.raises(RasterError, match="CRS"):
        rasters.check_same_grid(a, c)


def test_check_same_bounds_across_resolutions(tmp_path):
    hi = _write(tmp_path / "hi.tif", np.zeros((1, 64, 64), np.uint8), res=30.0)
    lo = _write(tmp_path / "lo.tif", np.zeros((1, 8, 8), np.uint8), res=240.0)
    rasters.check_same_bounds(hi, lo)
    off = _write(tmp_path / "off.tif", np.zeros((1, 7, 8), np.uint8), res=240.0)
    with pytest.raises(RasterError, match="different areas"):
        rasters.check_same_bounds(hi, off)


def test_write_is_atomic_and_respects_overwrite(tmp_path):
    path = _write(tmp_path / "x.tif", np.ones((1, 8, 8), np.uint8))
    with pytest.raises(FileExistsError):
        _write(path, np.ones((1, 8, 8), np.uint8), overwrite=False)
    assert [p.name for p in tmp_path.iterdir()] == ["x.tif"], "no temporary files left behind"


def test_utm_zone():
    assert rasters.utm_crs_for(15.2, 45.0).to_epsg() == 32633
    assert rasters.utm_crs_for(-70.0, -33.0).to_epsg() == 32719
