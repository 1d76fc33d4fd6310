"""Figures built from files: the scene overview of notebook 01 draws every raster of a scene folder."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from helpers import plots, rasters  # noqa: E402


def _scene(folder, size=16):
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    crs, transform = CRS.from_epsg(32632), from_origin(600000, 5300000, 10, 10)
    rng = np.random.default_rng(0)
    bands = ["B01", "B02", "B03", "B04", "B08"]
    s2 = rng.integers(1, 3000, (len(bands), size, size)).astype(np.uint16)
    rasters.write(folder / "s2.tif", s2, crs, transform, descriptions=bands)
    for name, dtype, high in [("dfc", np.uint8, 8), ("lc", np.uint8, 17), ("isp", np.uint8, 2)]:
        rasters.write(
            folder / f"{name}.tif",
            rng.integers(0, high, (size, size)).astype(dtype),
            crs,
            transform,
        )
    for name in ("dem", "ntl_hr"):
        data = rng.random((size, size)).astype(np.float32)
        rasters.write(folder / f"{name}.tif", data, crs, transform, nodata=-9999)
    ntl_lr = rng.integers(0, 64, (size, size)).astype(np.uint8)
    rasters.write(folder / "ntl_lr.tif", ntl_lr, crs, transform)


def test_scene_overview_draws_every_raster(tmp_path):
    _scene(tmp_path)
    fig = plots.scene_overview(tmp_path, title="sample scene")
    titles = [ax.get_title() for ax in fig.axes]
    for want in (
        "Sentinel-2 B04/B03/B02",
        "fine labels (DFC classes)",
        "coarse labels (MODIS IGBP)",
        "elevation (m)",
        "fine lights, log(1 + radiance)",
        "coarse lights (DN 0..63)",
        "impervious surface (0/1)",
        "coarse lights: DN histogram",
    ):
        assert want in titles
    assert fig._suptitle.get_text() == "sample scene"
    (tmp_path / "isp.tif").unlink()
    with pytest.raises(Exception, match="isp.tif"):
        plots.scene_overview(tmp_path)
