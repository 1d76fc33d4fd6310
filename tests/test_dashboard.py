"""The dashboard's logic (notebook 10): layers with ground-truth fallback, lat/lon windows, class
distributions, overlays and GeoTIFF export, on a tiny fake scene written here."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rasterio.crs import CRS

from helpers.io import rasters
from helpers.records import results
from helpers.views import dashboard
from tests import fakes

CRS_UTM = CRS.from_epsg(32632)  # UTM 32N
ORIGIN = (500_000.0, 5_000_000.0)


def _write_scene(root):
    return fakes.scene_folder(root / "scene", crs=CRS_UTM, origin=ORIGIN)


def _box_of(path, rows, cols):
    """Lat/lon box of a pixel window (rows, cols are (start, stop)) of a raster, shrunk a little."""
    from rasterio.warp import transform_bounds

    _, transform, _ = rasters.grid_of(path)
    left, top = transform * (cols[0] + 0.2, rows[0] + 0.2)
    right, bottom = transform * (cols[1] - 0.2, rows[1] - 0.2)
    west, south, east, north = transform_bounds(CRS_UTM, "EPSG:4326", left, bottom, right, top)
    return south, west, north, east


def test_layers_fall_back_to_ground_truth(tmp_path):
    scene = _write_scene(tmp_path)
    layers = dashboard.dashboard_layers(scene, tmp_path / "predictions")
    assert [x.kind for x in layers] == ["rgb", "landcover", "landcover", "lights", "lights"]
    fine_lc, fine_ntl = layers[2], layers[4]
    assert fine_lc.source == "ground truth" and "03_unet_landcover" in fine_lc.note
    assert "ground truth" in fine_lc.name and fine_lc.path.name == "dfc.tif"
    assert fine_ntl.source == "ground truth" and "08_ntl_super_resolution" in fine_ntl.note
    assert layers[1].scheme == "igbp" and layers[1].source == "input"


def test_layers_use_predictions(tmp_path):
    scene = _write_scene(tmp_path)
    preds = tmp_path / "predictions"
    like = rasters.read(scene / "dfc.tif")
    rasters.write_like(preds / "landcover_fine.tif", np.full((48, 48), 7, np.uint16), like)
    layers = dashboard.dashboard_layers(scene, preds)
    assert layers[2].source == "prediction" and layers[2].path == preds / "landcover_fine.tif"
    assert layers[4].source == "ground truth"


def test_missing_scene_names_the_file(tmp_path):
    with pytest.raises(rasters.RasterError, match="s2.tif"):
        dashboard.dashboard_layers(tmp_path / "nowhere")


def test_box_window_and_distribution(tmp_path):
    scene = _write_scene(tmp_path)
    layers = dashboard.dashboard_layers(scene)
    box = _box_of(scene / "dfc.tif", (0, 48), (30, 48))  # east part only
    win = dashboard.box_window(scene / "dfc.tif", box)
    assert abs(win.col_off - 30) <= 1 and abs(win.width - 18) <= 1 and win.height >= 46
    fine = dashboard.class_distribution(layers[2], box)
    assert fine[10] == pytest.approx(1.0) and fine[1] == 0.0
    coarse = dashboard.class_distribution(layers[1], box)  # IGBP 17 -> DFC 10, IGBP 1 -> DFC 1
    assert coarse[10] == pytest.approx(8 / 18, abs=0.1) and coarse[1] > 0.4
    assert sum(coarse.values()) == pytest.approx(1.0)
    whole = dashboard.class_distribution(layers[2])
    assert whole[1] == pytest.approx(0.5) and whole[10] == pytest.approx(0.5)


def test_box_outside_scene_is_an_error(tmp_path):
    scene = _write_scene(tmp_path)
    with pytest.raises(ValueError, match="lies outside"):
        dashboard.box_window(scene / "dfc.tif", (10.0, 10.0, 10.1, 10.1))


def test_parse_box():
    assert dashboard.parse_box("1, 2, 3, 4") == (1.0, 2.0, 3.0, 4.0)
    s, w, n, e = dashboard.parse_box("45.0 9.0")
    assert s < 45.0 < n and w < 9.0 < e and n - s == pytest.approx(1000 / 111_320)
    for bad in ("a, b", "1, 2, 3", "3, 2, 1, 4"):
        with pytest.raises(ValueError):
            dashboard.parse_box(bad)


def test_overlays_render(tmp_path):
    scene = _write_scene(tmp_path)
    for layer in dashboard.dashboard_layers(scene):
        rgba = dashboard.layer_rgba(layer, max_side=24)
        assert rgba.dtype == np.uint8 and rgba.shape[-1] == 4 and max(rgba.shape[:2]) <= 24
        assert rgba[..., 3].max() > 0
        assert dashboard.layer_data_url(layer, 24).startswith("data:image/png;base64,")
    s, w, n, e = dashboard.latlon_bounds(scene / "s2.tif")
    assert 44 < s < n < 46 and 8 < w < e < 10  # UTM 32N, 500 km E, 5000 km N is near 45N 9E


def test_export_view_is_georeferenced(tmp_path):
    scene = _write_scene(tmp_path)
    layers = dashboard.dashboard_layers(scene)
    box = _box_of(scene / "dfc.tif", (10, 20), (5, 15))
    paths = dashboard.export_view(layers, box, tmp_path / "exports")
    assert len(paths) == 2 and all(p.name.startswith("groundtruth_") for p in paths)
    out = rasters.read(paths[0])
    full = rasters.read(scene / "dfc.tif")
    win = dashboard.box_window(scene / "dfc.tif", box)
    assert out.crs == full.crs
    x0, y0 = full.transform * (win.col_off, win.row_off)
    assert (out.transform.c, out.transform.f) == pytest.approx((x0, y0))
    np.testing.assert_array_equal(
        out.data[0],
        full.data[0, win.row_off : win.row_off + win.height, win.col_off : win.col_off + win.width],
    )
    assert out.tags["source"] == "ground truth"


def test_dashboard_widget_headless(tmp_path):
    pytest.importorskip("ipyleaflet")
    scene = _write_scene(tmp_path)
    dash = dashboard.results_dashboard(
        scene, tmp_path / "predictions", tmp_path / "exports", basemap=False
    )
    names = [layer.name for layer in dash.map.layers]
    assert sum("ground truth" in n for n in names) == 2 and len(names) == 5
    low, high = dash.last_distributions
    assert sum(high.values()) == pytest.approx(1.0)
    assert [p.parent for p in dash.export()] == [tmp_path / "exports"] * 2


def test_find_results_run(tmp_path):
    runs = tmp_path / "runs"
    old, new, current = runs / "a", runs / "b", tmp_path / "current"
    for run, nb in (
        (old, "03_unet_landcover"),
        (new, "06_bag_of_colors"),
        (current, "10_results_dashboard"),
    ):
        run.mkdir(parents=True)
        (run / "results.jsonl").write_text(
            json.dumps({"notebook": nb, "method": "x", "metrics": {}}) + "\n"
        )
    import os

    os.utime(old / "results.jsonl", (1, 1))
    assert dashboard.find_results_run(current, runs) == new
    assert dashboard.find_results_run(new, runs) == new
    assert dashboard.find_results_run(tmp_path / "empty", tmp_path / "none") is None
    assert results.load(current)[0]["notebook"] == "10_results_dashboard"
