"""Scene and vector readers under hostile input: grids across CRSs, bad pixels, label
nodata, memory on a large declared raster, and one-line messages naming the file and the fix."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform

from helpers.data.datasets.scene import Scene, SceneError
from helpers.data.normalise import DatasetError
from helpers.data.vectors import VectorError, geojson_crs
from helpers.io import rasters

UTM = CRS.from_epsg(32633)
X0, Y0, N = 330000.0, 5822000.0, 64  # 64 x 64 px of 10 m
CLASSES = {"low": 10, "mid": 20}


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


def _image(path, data=None, nodata=None, res=10.0, x0=X0, name="B04"):
    """A single-band UTM GeoTIFF named ``..._<name>.tif`` (DN 1000 unless ``data``)."""
    data = np.full((N, N), 1000, np.uint16) if data is None else data
    return rasters.write(path / f"T33UUU_X_{name}.tif", data, UTM, from_origin(x0, Y0, res, res),
                         nodata=nodata)  # fmt: skip


def _labels(path, data=None, nodata=None):
    """Codes 10 (west) / 20 (east) on the image grid."""
    if data is None:
        data = np.where(np.arange(N)[None, :] < N // 2, 10, 20).repeat(N, 0).astype(np.uint8)
    return rasters.write(path / "labels.tif", data, UTM, from_origin(X0, Y0, 10, 10), nodata=nodata)


# ---- grids, pixels, label nodata (the four bad cases) ----


def test_finest_grid_is_chosen_in_metres_not_in_numbers(tmp_path):
    utm = _image(tmp_path)
    lon, lat = warp_transform(UTM, "EPSG:4326", [X0, X0 + N * 10], [Y0, Y0 - N * 10])
    step = 0.0005  # ~34 m x 56 m at 52 N: coarser than 10 m, although 0.0005 < 10
    n_x, n_y = int((max(lon) - min(lon)) / step) + 2, int((max(lat) - min(lat)) / step) + 2
    geo = rasters.write(
        tmp_path / "T33UUU_X_B8A.tif",
        np.full((n_y, n_x), 2000, np.uint16),
        "EPSG:4326",
        from_origin(min(lon) - step, max(lat) + step, step, step),
    )
    for files in ([utm, geo], [geo, utm]):
        scene = Scene(files, normalise=None, resampling="nearest")
        assert scene.grid.crs == UTM and scene.grid.shape == (N, N)


@pytest.mark.parametrize(
    ("dtype", "value", "nodata"),
    [("uint16", 65535, 65535), ("uint16", 0, 0), ("float32", np.nan, None), ("float32", np.inf, None)],
)  # fmt: skip
def test_bad_pixels_are_refused_or_zeroed_and_left_out_of_the_mask(tmp_path, dtype, value, nodata):
    data = np.full((N, N), 1000, dtype)
    data[:8, :8] = value
    img, lab = _image(tmp_path, data, nodata), _labels(tmp_path)
    with pytest.raises(SceneError) as err:
        Scene(img, lab, classes=CLASSES)[0]
    assert "T33UUU_X_B04.tif: 64 NaN/inf/nodata" in _one_line(err)
    assert "nan_policy='zero'" in str(err.value)
    sample = Scene(img, lab, classes=CLASSES, nan_policy="zero")[0]
    image, mask = sample["image"].numpy(), sample["mask"].numpy()
    assert np.isfinite(image).all() and (image[:, :8, :8] == 0).all()
    assert np.allclose(image[:, 8:, 8:], 0.1)  # the good pixels read as before
    assert (mask[:8, :8] == 255).all() and (mask[8:, :] != 255).all()
    whole = Scene(img, lab, classes=CLASSES, nan_policy="zero").load()
    assert (whole[0]["mask"].numpy() == mask).all()  # the same from the cached image


def test_partial_coverage_is_not_filled_with_zeros_silently(tmp_path):
    full = _image(tmp_path)
    half = rasters.write(  # a 20 m band covering the west half only
        tmp_path / "T33UUU_X_B8A.tif",
        np.full((N // 2, N // 4), 3000, np.uint16),
        UTM,
        from_origin(X0, Y0, 20, 20),
    )
    lab = _labels(tmp_path)
    with pytest.raises(SceneError) as err:
        Scene([full, half], lab, classes=CLASSES, resampling="nearest")[0]
    assert "T33UUU_X_B8A.tif: 0 NaN/inf/nodata (None) pixel(s) and 2048 pixel(s) outside" in (
        _one_line(err)
    )
    scene = Scene([full, half], lab, classes=CLASSES, resampling="nearest", nan_policy="zero")
    sample = scene[0]
    image, mask = sample["image"].numpy(), sample["mask"].numpy()
    assert (image[:, :, N // 2 :] == 0).all() and (mask[:, N // 2 :] == 255).all()
    assert np.allclose(image[1, :, : N // 2], 0.3) and (mask[:, : N // 2] == 0).all()


def test_float_labels_with_nan_nodata_are_masked(tmp_path):
    img = _image(tmp_path)
    data = np.where(np.arange(N)[None, :] < N // 2, 10.0, 20.0).repeat(N, 0).astype(np.float32)
    data[:4] = np.nan
    for nodata in (float("nan"), None, -9999.0):  # NaN is never a class code, nodata or not
        lab = _labels(tmp_path, data, nodata=nodata)
        mask = Scene(img, lab, classes=CLASSES).mask()
        assert (mask[:4] == 255).all() and (mask[4:, : N // 2] == 0).all()
        assert (mask[4:, N // 2 :] == 1).all()


def test_label_nodata_that_is_a_class_code_is_refused(tmp_path):
    img, lab = _image(tmp_path), _labels(tmp_path, nodata=10)
    with pytest.raises(SceneError) as err:
        Scene(img, lab, classes=CLASSES)
    text = _one_line(err)
    assert "labels.tif: its nodata value 10 is also the code of class 'low'" in text
    assert "gdal_edit.py -unsetnodata" in text


def test_class_code_also_in_ignore_codes_is_refused(tmp_path):
    img, lab = _image(tmp_path), _labels(tmp_path)
    with pytest.raises(SceneError) as err:
        Scene(img, lab, classes=CLASSES, ignore_codes=(0, 20))
    assert "code(s) [20] are both a class (['mid']) and in ignore_codes" in _one_line(err)


# ---- memory: a large declared raster under an address-space cap ----

_BIG = textwrap.dedent(
    """
    import resource, sys
    import numpy as np, rasterio
    from helpers.data.datasets.scene import Scene
    base = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1])
    cap = base * 1024 + (1 << 30)  # what the process maps after imports, plus 1 GiB
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    train = Scene(sys.argv[1], sys.argv[2], classes={"a": 1}, split="blocks:train", crop=64,
                  samples=3, normalise=None)
    assert train[0]["image"].shape == (1, 64, 64)
    test = Scene(sys.argv[1], split="blocks:test", normalise=None)  # the evaluation grid
    assert len(test) > 1000 and test[5]["image"].shape == (1, 256, 256)
    print("ok")
    """
)


def _sparse(path, dtype, nodata=None):
    """A tiled GeoTIFF declared 20000 x 20000 px with no tile written (a few kB on disk)."""
    profile = dict(driver="GTiff", width=20000, height=20000, count=1, dtype=dtype, crs=UTM,
                   transform=from_origin(X0, Y0, 10, 10), tiled=True, sparse_ok=True,
                   compress="deflate", nodata=nodata)  # fmt: skip
    with rasterio.open(path, "w", **profile):
        pass
    return path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux")
def test_a_large_declared_raster_reads_within_a_memory_cap(tmp_path):
    img = _sparse(tmp_path / "big_B04.tif", "uint16")
    lab = _sparse(tmp_path / "big_labels.tif", "uint8")
    with rasterio.open(lab, "r+") as dst:  # a few labelled pixels of class 1, the rest 0 (ignore)
        dst.write(
            np.ones((1, 4096, 4096), np.uint8), window=rasterio.windows.Window(0, 0, 4096, 4096)
        )
    env = {**os.environ, "GDAL_CACHEMAX": "64", "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", _BIG, str(img), str(lab)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


# ---- polygons: CRS, coordinates, odd files (one line naming the file and the fix) ----


def _geojson(path, ring, crs=None, value="forest"):
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"fclass": value},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    if crs is not None:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(data))
    return path


_UTM_RING = [[X0, Y0], [X0 + 320, Y0], [X0 + 320, Y0 - 320], [X0, Y0 - 320], [X0, Y0]]


def test_geojson_with_projected_coordinates_and_no_crs_member(tmp_path):
    img, gj = _image(tmp_path), _geojson(tmp_path / "osm.geojson", _UTM_RING)
    with pytest.raises(VectorError) as err:
        Scene(img, gj, classes={"forest": "forest"}, label_field="fclass")
    text = _one_line(err)
    assert "osm.geojson: feature 0 has coordinates such as (330000, 5.822e+06)" in text
    assert "RFC 7946" in text and "ogr2ogr -t_srs EPSG:4326" in text
    named = _geojson(tmp_path / "named.geojson", _UTM_RING, "urn:ogc:def:crs:EPSG::32633")
    mask = Scene(img, named, classes={"forest": "forest"}, label_field="fclass").mask()
    assert (mask == 0).sum() == 32 * 32  # the same polygon with its crs member is read


def test_latitude_95_is_refused(tmp_path):
    img = _image(tmp_path)
    ring = [[13.0, 52.5], [13.1, 52.5], [13.1, 95.0], [13.0, 52.5]]
    with pytest.raises(VectorError) as err:
        Scene(img, _geojson(tmp_path / "p.geojson", ring), classes={"forest": "forest"},
              label_field="fclass")  # fmt: skip
    assert "p.geojson: feature 0 has coordinates such as (13.1, 95) outside" in _one_line(err)


def test_geojson_crs_member_naming_a_file_is_refused(tmp_path):
    img = _image(tmp_path)
    local = tmp_path / "secret.wkt"
    local.write_text(UTM.to_wkt())  # GDAL would read this file if the name were passed to it
    for name in (str(local), "+proj=utm +zone=33", "http://example.invalid/crs"):
        gj = _geojson(tmp_path / "p.geojson", _UTM_RING, name)
        with pytest.raises(VectorError) as err:
            Scene(img, gj, classes={"forest": "forest"}, label_field="fclass")
        assert "p.geojson: crs member names" in _one_line(err) and "EPSG:32633" in str(err.value)


def test_geojson_crs_names_that_are_read():
    where = None  # only names are parsed: no file is touched
    for name, epsg in (("EPSG:32633", 32633), ("urn:ogc:def:crs:EPSG::32633", 32633),
                       ("urn:ogc:def:crs:OGC:1.3:CRS84", 4326), ("OGC:CRS84", 4326)):  # fmt: skip
        assert geojson_crs(name, where).to_epsg() == epsg


def test_list_valued_property_is_refused(tmp_path):
    img = _image(tmp_path)
    gj = _geojson(tmp_path / "p.geojson", _UTM_RING, "EPSG:32633", value=["forest", "water"])
    with pytest.raises(VectorError) as err:
        Scene(img, gj, classes={"forest": "forest"}, label_field="fclass")
    assert "p.geojson: feature 0 has fclass = ['forest', 'water'] (list)" in _one_line(err)


def test_geopackage_without_its_geometry_columns_row(tmp_path):
    img, path = _image(tmp_path), tmp_path / "osm.gpkg"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE gpkg_contents (table_name, data_type, identifier, srs_id)")
    con.execute("INSERT INTO gpkg_contents VALUES ('landuse', 'features', 'landuse', 32633)")
    con.execute("CREATE TABLE gpkg_geometry_columns (table_name, column_name)")
    con.execute("CREATE TABLE landuse (fid INTEGER PRIMARY KEY, geom BLOB, fclass TEXT)")
    wkb = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", 5)
    wkb += b"".join(struct.pack("<dd", *p) for p in _UTM_RING)
    con.execute("INSERT INTO landuse (geom, fclass) VALUES (?, 'forest')",
                (b"GP\x00\x01" + struct.pack("<i", 32633) + wkb,))  # fmt: skip
    con.commit()
    con.close()
    with pytest.raises(VectorError) as err:
        Scene(img, path, classes={"forest": "forest"}, label_field="fclass")
    assert "osm.gpkg: layer 'landuse' has no entry in gpkg_geometry_columns" in _one_line(err)


def test_folders_given_as_polygons_or_class_table(tmp_path):
    img, lab = _image(tmp_path), _labels(tmp_path)
    (tmp_path / "polys.geojson").mkdir()
    (tmp_path / "classes.json").mkdir()
    with pytest.raises(VectorError) as err:
        Scene(img, tmp_path / "polys.geojson", classes={"a": 1}, label_field="fclass")
    assert "polys.geojson: is a folder" in _one_line(err)
    with pytest.raises(SceneError) as err:
        Scene(img, lab, classes=tmp_path / "classes.json")
    assert "classes.json: is a folder" in _one_line(err)


def test_class_table_that_is_not_json(tmp_path):
    img, lab = _image(tmp_path), _labels(tmp_path)
    bad = tmp_path / "classes.json"
    bad.write_text("low: 10\nmid: 20\n")
    with pytest.raises(SceneError) as err:
        Scene(img, lab, classes=bad)
    assert "classes.json: not a JSON class table" in _one_line(err)


# ---- messages of the grid and the reader ----


def test_range_refusal_names_the_file_not_an_array(tmp_path):
    img = _image(tmp_path, np.full((N, N), 0.2, np.float32))  # reflectance 0..1, not DN
    with pytest.raises(DatasetError) as err:
        Scene(img)[0]
    assert "T33UUU_X_B04.tif: Sentinel-2 values look like reflectance" in _one_line(err)


def test_non_overlap_bounds_on_a_geographic_grid_keep_their_decimals(tmp_path):
    geo = rasters.write(tmp_path / "geo_B04.tif", np.ones((8, 8), np.uint16), "EPSG:4326",
                        from_origin(13.25, 52.75, 0.001, 0.001))  # fmt: skip
    far = rasters.write(tmp_path / "far.tif", np.ones((8, 8), np.uint8), "EPSG:4326",
                        from_origin(14.25, 52.75, 0.001, 0.001))  # fmt: skip
    with pytest.raises(SceneError) as err:
        Scene(geo, far, classes={"a": 1})
    assert "grid: (13.250000, 52.742000, 13.258000, 52.750000)" in _one_line(err)


def test_empty_split_zero_block_and_no_band_are_refused(tmp_path):
    img, lab = _image(tmp_path), _labels(tmp_path)
    thin = rasters.write(tmp_path / "thin_B04.tif", np.ones((8, 1), np.uint16), UTM,
                         from_origin(X0, Y0, 10, 10))  # fmt: skip
    with pytest.raises(SceneError) as err:
        Scene(thin, split="west")
    assert "thin_B04.tif: split 'west' holds no pixel of the (8, 1) grid" in _one_line(err)
    with pytest.raises(SceneError) as err:
        Scene(img, split="blocks:train", block=32, test_fraction=1.0)
    assert "holds no pixel" in _one_line(err)
    with pytest.raises(SceneError) as err:
        Scene(img, lab, classes=CLASSES, split="blocks:train", block=0)
    assert "T33UUU_X_B04.tif: block must be a whole number of pixels >= 1, not 0" in _one_line(err)
    with pytest.raises(SceneError) as err:
        Scene(img, tile=0)
    assert "T33UUU_X_B04.tif: tile must be a whole number of pixels >= 1, not 0" in _one_line(err)
    with pytest.raises(SceneError) as err:
        Scene(img, bands=[])
    assert "T33UUU_X_B04.tif: bands=[] chooses no band" in _one_line(err)
