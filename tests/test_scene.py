"""helpers.data.datasets.Scene: your own rasters + labels (another CRS/grid, polygons) to metrics, no glue."""

from __future__ import annotations

import json
import sqlite3
import struct

import numpy as np
import pytest
import torch
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform
from torch.utils.data import DataLoader

from helpers.data.datasets.scene import ClassTable, Scene, SceneError, split_mask
from helpers.io import rasters
from helpers.models import metrics
from helpers.models.unet import UNet
from helpers.training import train

UTM = CRS.from_epsg(32633)
X0, Y0, N = 330000.0, 5822000.0, 128  # 128 x 128 px of 10 m


def _truth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Raw class codes (10, 20, 30; NLCD-like) as stripes of northing; 0 (no data) in the north half."""
    band = ((Y0 - y) // 160).astype(int) % 3
    codes = np.array([10, 20, 30])[band]
    return np.where((Y0 - y) > 700, codes, 0)


def _utm_centres(n: int = N, res: float = 10.0):
    cols, rows = np.meshgrid(np.arange(n), np.arange(n))
    return X0 + (cols + 0.5) * res, Y0 - (rows + 0.5) * res


@pytest.fixture
def pair(tmp_path):
    """An image GeoTIFF (UTM, 4 named bands) and a label raster on a WGS 84 grid of other size."""
    x, y = _utm_centres()
    truth = _truth(x, y)
    rng = np.random.default_rng(0)
    level = {0: 500, 10: 1000, 20: 3000, 30: 6000}
    base = np.vectorize(level.get)(truth).astype(np.float32)
    image = np.stack([base * f + rng.normal(0, 50, base.shape) for f in (1.0, 0.8, 0.5, 1.2)])
    img = rasters.write(
        tmp_path / "image.tif",
        np.clip(image, 0, 10000).astype(np.uint16),
        UTM,
        from_origin(X0, Y0, 10, 10),
        descriptions=["B02", "B03", "B04", "B08"],
    )
    lon, lat = warp_transform(UTM, "EPSG:4326", [X0, X0 + 1280], [Y0, Y0 - 1280])
    step = 0.00011  # ~8 m x ~12 m: another grid, another CRS
    west, north = min(lon) - 0.001, max(lat) + 0.001
    n_cols, n_rows = int((max(lon) - west + 0.001) / step), int((north - min(lat) + 0.001) / step)
    cols, rows = np.meshgrid(np.arange(n_cols), np.arange(n_rows))
    lons, lats = west + (cols + 0.5) * step, north - (rows + 0.5) * step
    ux, uy = warp_transform("EPSG:4326", UTM, lons.ravel(), lats.ravel())
    codes = _truth(np.array(ux), np.array(uy)).reshape(lons.shape).astype(np.uint8)
    lab = rasters.write(
        tmp_path / "labels_wgs84.tif", codes, "EPSG:4326", from_origin(west, north, step, step)
    )
    return img, lab, truth


CLASSES = {"low": 10, "mid": 20, "high": 30}


def test_files_to_metrics_on_another_crs_and_grid(pair):
    img, lab, truth = pair
    expected = ClassTable.make(CLASSES).map(truth, img, "raise")
    full = Scene(img, lab, classes=CLASSES)
    agree = (full.mask() == expected).mean()
    assert agree > 0.97, agree  # nearest-neighbour reprojection: only class borders differ
    torch.manual_seed(0)
    trainset = Scene(img, lab, classes=CLASSES, split="west", crop=32, samples=16, augment=True)
    testset = Scene(img, lab, classes=CLASSES, split="east", tile=64)
    assert trainset.bands == ("B02", "B03", "B04", "B08")
    model = UNet(in_channels=4, num_classes=3, width=4, depth=2)
    loss = lambda logits, mask: torch.nn.functional.cross_entropy(logits, mask, ignore_index=255)  # noqa: E731
    history = train.fit(
        model,
        DataLoader(trainset, batch_size=8),
        loss,
        2,
        learning_rate=1e-2,
        progress=False,
        amp=False,
    )
    assert np.isfinite(history.train_loss).all()
    out = train.predict(model, DataLoader(testset, batch_size=4))
    scores = metrics.landcover_scores(out["pred"], out["mask"], 3)
    east = testset.mask()
    assert (east[:, : N // 2] == 255).all() and (east[:, N // 2 :] != 255).any()
    assert scores.confusion.sum() == (east != 255).sum()  # every east pixel scored exactly once
    assert 0 <= scores.summary()["iou"] <= 1


def test_multi_resolution_files_named_by_file_and_chosen_by_name(tmp_path):
    fine = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    coarse = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 3
    f10 = rasters.write(tmp_path / "T33UUU_X_B04.tif", fine, UTM, from_origin(X0, Y0, 10, 10))
    f20 = rasters.write(tmp_path / "T33UUU_X_B8A.tif", coarse, UTM, from_origin(X0, Y0, 20, 20))
    scene = Scene([f10, f20], bands=["B8A", "B04"], resampling="nearest", normalise=None)
    assert scene.grid.shape == (64, 64)
    image = scene.image()
    np.testing.assert_array_equal(image[1], fine)
    np.testing.assert_array_equal(image[0], np.kron(coarse, np.ones((2, 2))))
    with pytest.raises(SceneError, match=r"unknown band name.*B99"):
        Scene([f10, f20], bands=["B99"])


def _gpkg(path, polygons, srs=32633):
    """A minimal GeoPackage with one polygon layer 'landuse' (fclass)."""
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE gpkg_spatial_ref_sys (srs_name, srs_id, organization, "
        "organization_coordsys_id, definition, description)"
    )
    con.execute(
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('utm', ?, 'EPSG', ?, 'x', '')", (srs, srs)
    )
    con.execute("CREATE TABLE gpkg_contents (table_name, data_type, identifier, srs_id)")
    con.execute("INSERT INTO gpkg_contents VALUES ('landuse', 'features', 'landuse', ?)", (srs,))
    con.execute(
        "CREATE TABLE gpkg_geometry_columns (table_name, column_name, geometry_type_name, "
        "srs_id, z, m)"
    )
    con.execute(
        "INSERT INTO gpkg_geometry_columns VALUES ('landuse', 'geom', 'POLYGON', ?, 0, 0)", (srs,)
    )
    con.execute("CREATE TABLE landuse (fid INTEGER PRIMARY KEY, geom BLOB, fclass TEXT)")
    for ring, fclass in polygons:
        wkb = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", len(ring))
        wkb += b"".join(struct.pack("<dd", *p) for p in ring)
        blob = b"GP\x00\x01" + struct.pack("<i", srs) + wkb  # flags: little endian, no envelope
        con.execute("INSERT INTO landuse (geom, fclass) VALUES (?, ?)", (blob, fclass))
    con.commit()
    con.close()
    return path


def _square(x, y, side):
    return [(x, y), (x + side, y), (x + side, y - side), (x, y - side), (x, y)]


def test_polygons_are_rasterised_small_on_top(pair, tmp_path):
    img, _, _ = pair
    gpkg = _gpkg(
        tmp_path / "osm.gpkg",
        [
            (_square(X0, Y0, 640), "forest"),  # 64 x 64 px
            (_square(X0 + 100, Y0 - 100, 200), "water"),  # 20 x 20 px inside the forest
        ],
    )
    scene = Scene(img, gpkg, classes={"forest": "forest", "water": ["water"]}, label_field="fclass")
    mask = scene.mask()
    assert (mask == 1).sum() == 400 and (mask == 0).sum() == 64 * 64 - 400
    assert (mask == 255).sum() == N * N - 64 * 64
    geojson = tmp_path / "osm.geojson"
    lon, lat = warp_transform(
        UTM, "EPSG:4326", [X0, X0 + 640, X0 + 640, X0], [Y0, Y0, Y0 - 640, Y0 - 640]
    )
    ring = [list(p) for p in zip(lon, lat)] + [[lon[0], lat[0]]]
    geojson.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"fclass": "forest"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    via_wgs84 = Scene(img, geojson, classes={"forest": "forest"}, label_field="fclass").mask()
    assert abs(int((via_wgs84 == 0).sum()) - 64 * 64) < 200
    with pytest.raises(SceneError, match=r"'water'.*not in the class table"):
        Scene(img, gpkg, classes={"forest": "forest"}, label_field="fclass")
    only_forest = Scene(
        img, gpkg, classes={"forest": "forest"}, label_field="fclass", unlisted="ignore"
    ).mask()
    assert (only_forest == 0).sum() == 64 * 64  # the water polygon left out, forest under it
    with pytest.raises(SceneError, match="label_field"):
        Scene(img, gpkg, classes={"forest": "forest"})


def test_splits_are_disjoint_and_crops_stay_inside(pair):
    img, lab, _ = pair
    for a, b in (("west", "east"), ("north", "south"), ("blocks:train", "blocks:test")):
        ma, mb = split_mask((N, N), a, block=32), split_mask((N, N), b, block=32)
        assert not (ma & mb).any() and (ma | mb).all()
    scene = Scene(img, lab, classes=CLASSES, split="blocks:train", block=32, crop=32, samples=8)
    for i in range(len(scene)):
        r, c, h, w = scene.window_for(i)
        assert scene.region[r : r + h, c : c + w].all()
        assert (scene[i]["mask"] != 255).any()  # min_labelled: sparse labels still give signal
    test = Scene(img, lab, classes=CLASSES, split="blocks:test", block=32, tile=32)
    scored = sum(int((test[i]["mask"] != 255).sum()) for i in range(len(test)))
    assert scored == int((test.mask() != 255).sum())
    assert not (scene.region & test.region).any()


def test_bad_inputs_name_the_file_and_the_fix(pair, tmp_path):
    img, lab, _ = pair
    far = rasters.write(
        tmp_path / "far.tif", np.ones((8, 8), np.uint8), UTM, from_origin(X0 + 1e6, Y0, 10, 10)
    )
    with pytest.raises(SceneError, match=r"far\.tif: does not overlap"):
        Scene(img, far, classes={"x": 1})
    with pytest.raises(SceneError, match=r"labels_wgs84\.tif: label code\(s\) \[30\].*unlisted"):
        Scene(img, lab, classes={"low": 10, "mid": 20})
    with pytest.raises(SceneError, match=r"labels_wgs84\.tif: no labelled pixel in split 'north'"):
        Scene(img, lab, classes=CLASSES, split="north")
    with pytest.raises(SceneError, match="without a class table"):
        Scene(img, lab)
    with pytest.raises(SceneError, match="unknown split"):
        Scene(img, lab, classes=CLASSES, split="random")
